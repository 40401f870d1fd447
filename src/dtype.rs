//! Element types the kernels read and write.

use crate::abi::TlnDType;
use std::fmt;

/// An element type of X, Y, Scale or Bias.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    F32,
    F16,
    BF16,
}

impl DType {
    pub const ALL: [DType; 3] = [DType::F32, DType::F16, DType::BF16];

    pub const fn size_bytes(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F16 | DType::BF16 => 2,
        }
    }

    /// The short name used in kernel symbols and messages (`f32`, `f16`, `bf16`).
    pub const fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F16 => "f16",
            DType::BF16 => "bf16",
        }
    }

    /// The code the kernels understand (`TlnDType` in the ABI header).
    pub(crate) fn abi(self) -> TlnDType {
        match self {
            DType::F32 => TlnDType::TLN_DTYPE_F32,
            DType::F16 => TlnDType::TLN_DTYPE_F16,
            DType::BF16 => TlnDType::TLN_DTYPE_BF16,
        }
    }

    /// The inverse of [`DType::abi`] for codes that arrive as plain integers.
    pub fn from_abi_code(code: i32) -> Option<DType> {
        DType::ALL.into_iter().find(|d| d.abi() as i32 == code)
    }

    /// Unit in the last place of `v` in this type (the gap to the next
    /// representable value away from zero), as f64. Used to express errors.
    pub fn ulp(self, v: f64) -> f64 {
        let (mantissa_bits, min_exp) = match self {
            DType::F32 => (23, -126),
            DType::F16 => (10, -14),
            DType::BF16 => (7, -126),
        };
        let a = v.abs();
        let exp = if a == 0.0 { min_exp } else { (a.log2().floor() as i32).max(min_exp) };
        2f64.powi(exp - mantissa_bits)
    }

    /// Rounds an f64 to this type (round to nearest even) and back.
    pub fn round(self, v: f64) -> f64 {
        match self {
            DType::F32 => v as f32 as f64,
            DType::F16 => half::f16::from_f64(v).to_f64(),
            DType::BF16 => half::bf16::from_f64(v).to_f64(),
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Host element types with a matching [`DType`].
pub trait Element: Copy + Send + Sync + 'static + cudarc::driver::DeviceRepr {
    const DTYPE: DType;
    fn to_f64(self) -> f64;
    fn from_f64(v: f64) -> Self;
}

impl Element for f32 {
    const DTYPE: DType = DType::F32;
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}

impl Element for half::f16 {
    const DTYPE: DType = DType::F16;
    fn to_f64(self) -> f64 {
        half::f16::to_f64(self)
    }
    fn from_f64(v: f64) -> Self {
        half::f16::from_f64(v)
    }
}

impl Element for half::bf16 {
    const DTYPE: DType = DType::BF16;
    fn to_f64(self) -> f64 {
        half::bf16::to_f64(self)
    }
    fn from_f64(v: f64) -> Self {
        half::bf16::from_f64(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abi_codes_round_trip() {
        for d in DType::ALL {
            assert_eq!(DType::from_abi_code(d.abi() as i32), Some(d));
        }
        assert_eq!(DType::from_abi_code(3), None);
        assert_eq!(DType::from_abi_code(-1), None);
    }

    #[test]
    fn ulp_matches_the_formats() {
        assert_eq!(DType::F16.ulp(1.0), 2f64.powi(-10));
        assert_eq!(DType::F16.ulp(65504.0), 32.0);
        assert_eq!(DType::F16.ulp(0.0), 2f64.powi(-24));
        assert_eq!(DType::BF16.ulp(1.5), 2f64.powi(-7));
        assert_eq!(DType::F32.ulp(1.0), 2f64.powi(-23));
        assert_eq!(DType::F32.ulp(-3.0), 2f64.powi(-22));
    }

    #[test]
    fn rounding_is_to_nearest_even() {
        assert_eq!(DType::F16.round(1.0 + 2f64.powi(-11)), 1.0);
        assert_eq!(DType::F16.round(1.0 + 3.0 * 2f64.powi(-11)), 1.0 + 2f64.powi(-9));
        assert_eq!(DType::BF16.round(65504.0), 65536.0);
        assert!(DType::F16.round(65520.0).is_infinite());
    }
}
