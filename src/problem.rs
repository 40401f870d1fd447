//! A validated description of one normalization launch: which norm, shapes,
//! types, epsilon. Pure data, checked once, so the launch path never sees a
//! bad value.

use crate::dtype::DType;
use crate::error::{Error, Result};

/// Largest row (hidden size) accepted. Offsets are 64-bit and nothing in the
/// arithmetic breaks above it, but one row is reduced by one thread block (or
/// one cluster), so a longer row would take seconds per launch.
pub const MAX_COLS: u64 = 1 << 31;

/// Which normalization a launch computes over each row (statistics in FP32).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NormKind {
    /// y = (x - mean(x)) / sqrt(var(x) + epsilon) * scale + bias.
    #[default]
    LayerNorm,
    /// y = x / sqrt(mean(x^2) + epsilon) * scale (no bias).
    RmsNorm,
    /// LayerNorm of s = (x + residual_bias) + skip, each add rounded in X's
    /// type as the unfused graph's `Add`s round it; s is optionally a second
    /// output ([`SkipOptions`]).
    SkipLayerNorm,
}

impl NormKind {
    pub const ALL: [NormKind; 3] = [NormKind::LayerNorm, NormKind::RmsNorm, NormKind::SkipLayerNorm];

    /// The code `TlnParams::norm` carries (kernels/layernorm_abi.h).
    pub fn abi(self) -> i32 {
        match self {
            NormKind::LayerNorm => crate::abi::TlnNorm::TLN_NORM_LAYER as i32,
            NormKind::RmsNorm => crate::abi::TlnNorm::TLN_NORM_RMS as i32,
            NormKind::SkipLayerNorm => crate::abi::TlnNorm::TLN_NORM_SKIP_LAYER as i32,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            NormKind::LayerNorm => "layernorm",
            NormKind::RmsNorm => "rmsnorm",
            NormKind::SkipLayerNorm => "skiplayernorm",
        }
    }

    /// Whether the norm has a bias input (RMSNorm has none).
    pub fn has_bias(self) -> bool {
        self != NormKind::RmsNorm
    }
}

/// What a SkipLayerNorm reads and writes besides X, Skip, scale and bias.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SkipOptions {
    /// A residual bias of `cols` elements in X's type: s = (x + residual_bias) + skip.
    pub residual_bias: bool,
    /// Whether s is written as a second output (X's shape and type).
    pub sum_output: bool,
}

impl std::fmt::Display for NormKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `rows` rows of `cols` elements, normalized over each row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Problem {
    rows: u64,
    cols: u64,
    x: DType,
    y: DType,
    scale: Option<DType>,
    bias: Option<DType>,
    epsilon: f32,
    norm: NormKind,
    /// Meaningful for SkipLayerNorm only (default otherwise).
    skip: SkipOptions,
}

impl Problem {
    /// Checks every parameter; the error names the one that is wrong.
    pub fn new(
        rows: u64,
        cols: u64,
        x: DType,
        y: DType,
        scale: Option<DType>,
        bias: Option<DType>,
        epsilon: f32,
    ) -> Result<Self> {
        if cols == 0 {
            return Err(Error::invalid("cols", "the normalized size H must be at least 1"));
        }
        if cols > MAX_COLS {
            return Err(Error::invalid("cols", format!("H = {cols} exceeds the supported maximum {MAX_COLS}")));
        }
        if rows.checked_mul(cols).and_then(|n| n.checked_mul(x.size_bytes().max(y.size_bytes()) as u64)).is_none_or(|b| b > i64::MAX as u64) {
            return Err(Error::invalid("rows", format!("{rows} rows of {cols} elements do not fit a 64-bit byte offset")));
        }
        if !(epsilon.is_finite() && epsilon >= 0.0) {
            return Err(Error::invalid("epsilon", format!("must be finite and >= 0, got {epsilon}")));
        }
        if y != x && y != DType::F32 {
            return Err(Error::UnsupportedOutputType { x, y });
        }
        Ok(Problem { rows, cols, x, y, scale, bias, epsilon, norm: NormKind::LayerNorm, skip: SkipOptions::default() })
    }

    /// The same problem computing `norm` (LayerNorm unless asked). RMSNorm
    /// has no bias.
    pub fn with_norm(self, norm: NormKind) -> Result<Self> {
        if norm == NormKind::RmsNorm && self.bias.is_some() {
            return Err(Error::invalid("bias", "RMSNorm takes no bias"));
        }
        Ok(Problem { norm, skip: SkipOptions::default(), ..self })
    }

    /// The same problem as a SkipLayerNorm with `options`: Skip has X's
    /// shape and type, the residual bias (if any) X's type.
    pub fn with_skip(self, options: SkipOptions) -> Result<Self> {
        Ok(Problem { skip: options, ..self.with_norm(NormKind::SkipLayerNorm)? })
    }

    /// The SkipLayerNorm's options, None for the other norms.
    pub fn skip(&self) -> Option<SkipOptions> {
        (self.norm == NormKind::SkipLayerNorm).then_some(self.skip)
    }

    pub fn norm(&self) -> NormKind {
        self.norm
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }
    pub fn cols(&self) -> u64 {
        self.cols
    }
    pub fn x_dtype(&self) -> DType {
        self.x
    }
    pub fn y_dtype(&self) -> DType {
        self.y
    }
    pub fn scale_dtype(&self) -> Option<DType> {
        self.scale
    }
    pub fn bias_dtype(&self) -> Option<DType> {
        self.bias
    }
    pub fn epsilon(&self) -> f32 {
        self.epsilon
    }
    pub fn elements(&self) -> u64 {
        self.rows * self.cols
    }
    /// Bytes a launch must move at least: X read once, Y written once, scale and bias read once;
    /// for SkipLayerNorm also Skip read once, S written once and the residual bias read once.
    pub fn min_bytes_moved(&self) -> u64 {
        let x = self.x.size_bytes() as u64;
        let params: u64 = [self.scale, self.bias].iter().flatten().map(|d| d.size_bytes() as u64 * self.cols).sum();
        let skip = match self.skip() {
            None => 0,
            Some(o) => self.elements() * x * (1 + u64::from(o.sum_output)) + u64::from(o.residual_bias) * self.cols * x,
        };
        self.elements() * (x + self.y.size_bytes() as u64) + params + skip
    }
}

/// Device addresses of one launch's tensors; 0 for each one the problem does
/// not have (scale, bias; skip, residual_bias and sum outside SkipLayerNorm).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DevicePtrs {
    pub x: u64,
    pub y: u64,
    pub scale: u64,
    pub bias: u64,
    /// SkipLayerNorm: Skip, X's shape and type.
    pub skip: u64,
    /// SkipLayerNorm with a residual bias: `cols` elements of X's type.
    pub residual_bias: u64,
    /// SkipLayerNorm with a sum output: S, X's shape and type.
    pub sum: u64,
    /// Scratch device memory the launch may use (the grid variant's
    /// partials), 16-byte aligned, `workspace_bytes` long; 0 and 0 for none
    /// (plans that need more take another variant).
    pub workspace: u64,
    pub workspace_bytes: u64,
}

impl DevicePtrs {
    /// Every pointer the problem needs is non-null and aligned to its element
    /// type; scale and bias are given exactly when the problem has them.
    pub fn check(&self, p: &Problem) -> Result<()> {
        let need = |name: &'static str, addr: u64, dtype: DType| -> Result<()> {
            if addr == 0 {
                return Err(Error::invalid(name, "null device pointer"));
            }
            if addr % dtype.size_bytes() as u64 != 0 {
                return Err(Error::invalid(name, format!("address {addr:#x} is not aligned to its {dtype} elements")));
            }
            Ok(())
        };
        need("x", self.x, p.x)?;
        need("y", self.y, p.y)?;
        match (p.scale, self.scale) {
            (Some(d), a) => need("scale", a, d)?,
            (None, 0) => {}
            (None, _) => return Err(Error::invalid("scale", "pointer given but the problem has no scale")),
        }
        match (p.bias, self.bias) {
            (Some(d), a) => need("bias", a, d)?,
            (None, 0) => {}
            (None, _) => return Err(Error::invalid("bias", "pointer given but the problem has no bias")),
        }
        let skip = p.skip().unwrap_or_default();
        let is_skip = p.skip().is_some();
        for (name, addr, wanted) in [
            ("skip", self.skip, is_skip),
            ("residual_bias", self.residual_bias, skip.residual_bias),
            ("sum", self.sum, skip.sum_output),
        ] {
            match (wanted, addr) {
                (true, a) => need(name, a, p.x)?,
                (false, 0) => {}
                (false, _) => return Err(Error::invalid(name, "pointer given but the problem has none")),
            }
        }
        if self.workspace_bytes > 0 && (self.workspace == 0 || self.workspace % 16 != 0) {
            return Err(Error::invalid("workspace", format!("address {:#x} is not a 16-byte aligned buffer", self.workspace)));
        }
        // S is written in the first pass, while later passes of the split
        // variants still re-read X and Skip: it must not be either of them.
        if skip.sum_output && (self.sum == self.x || self.sum == self.skip) {
            return Err(Error::invalid("sum", "must not be the address of X or Skip"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DType::*;

    fn ok(rows: u64, cols: u64) -> Result<Problem> {
        Problem::new(rows, cols, F16, F16, Some(F32), Some(F32), 1e-5)
    }

    #[test]
    fn accepts_the_supported_combinations() {
        for x in DType::ALL {
            assert!(Problem::new(1, 1, x, x, None, None, 0.0).is_ok());
            assert!(Problem::new(1, 1, x, F32, Some(BF16), Some(F16), 1e-5).is_ok());
        }
        assert!(ok(0, 768).is_ok(), "zero rows is an empty launch, not an error");
        assert!(ok(1, MAX_COLS).is_ok());
    }

    #[test]
    fn names_the_bad_parameter() {
        let name = |r: Result<Problem>| match r {
            Err(Error::InvalidParameter { name, .. }) => name,
            other => panic!("expected InvalidParameter, got {other:?}"),
        };
        assert_eq!(name(ok(1, 0)), "cols");
        assert_eq!(name(ok(1, MAX_COLS + 1)), "cols");
        assert_eq!(name(ok(u64::MAX / 2, 1024)), "rows");
        for eps in [f32::NAN, -1e-5, f32::INFINITY] {
            assert_eq!(name(Problem::new(1, 8, F32, F32, None, None, eps)), "epsilon");
        }
    }

    #[test]
    fn output_must_be_input_type_or_f32() {
        assert_eq!(
            Problem::new(1, 8, F32, F16, None, None, 1e-5),
            Err(Error::UnsupportedOutputType { x: F32, y: F16 })
        );
        assert!(Problem::new(1, 8, F16, BF16, None, None, 1e-5).is_err());
    }

    #[test]
    fn pointer_checks() {
        let p = ok(2, 8).unwrap();
        let good = DevicePtrs { x: 0x1000, y: 0x2000, scale: 0x3000, bias: 0x4000, ..DevicePtrs::default() };
        assert!(good.check(&p).is_ok());
        assert!(DevicePtrs { x: 0, ..good }.check(&p).is_err());
        assert!(DevicePtrs { y: 0x2001, ..good }.check(&p).is_err());
        assert!(DevicePtrs { scale: 0x3002, ..good }.check(&p).is_err(), "f32 scale needs 4-byte alignment");
        let no_affine = Problem::new(2, 8, F16, F16, None, None, 1e-5).unwrap();
        assert!(DevicePtrs { scale: 0, bias: 0, ..good }.check(&no_affine).is_ok());
        assert!(good.check(&no_affine).is_err(), "stray scale pointer is refused");
    }

    #[test]
    fn bytes_moved() {
        let p = Problem::new(4, 8, F16, F32, Some(F32), None, 1e-5).unwrap();
        assert_eq!(p.min_bytes_moved(), 32 * (2 + 4) + 8 * 4);
    }

    #[test]
    fn rms_norm_has_no_bias() {
        let p = Problem::new(2, 8, F16, F16, Some(F16), None, 1e-5).unwrap();
        assert_eq!(p.norm(), NormKind::LayerNorm);
        assert_eq!(p.with_norm(NormKind::RmsNorm).unwrap().norm(), NormKind::RmsNorm);
        let with_bias = Problem::new(2, 8, F16, F16, Some(F16), Some(F16), 1e-5).unwrap();
        assert!(matches!(with_bias.with_norm(NormKind::RmsNorm), Err(Error::InvalidParameter { name: "bias", .. })));
        assert_eq!(NormKind::RmsNorm.abi(), 1);
    }

    #[test]
    fn skip_layer_norm_options_pointers_and_bytes() {
        let base = Problem::new(4, 8, F16, F16, Some(F16), Some(F16), 1e-5).unwrap();
        assert_eq!(base.skip(), None);
        let plain = base.with_norm(NormKind::SkipLayerNorm).unwrap();
        assert_eq!(plain.skip(), Some(SkipOptions::default()));
        assert_eq!(plain.min_bytes_moved(), base.min_bytes_moved() + 32 * 2);
        let full = base.with_skip(SkipOptions { residual_bias: true, sum_output: true }).unwrap();
        assert_eq!(full.min_bytes_moved(), base.min_bytes_moved() + 2 * 32 * 2 + 8 * 2);
        assert_eq!(full.with_norm(NormKind::LayerNorm).unwrap().skip(), None, "options do not outlive the kind");

        let ptrs = DevicePtrs { x: 0x1000, y: 0x2000, scale: 0x3000, bias: 0x4000, skip: 0x5000, residual_bias: 0x6000, sum: 0x7000, ..DevicePtrs::default() };
        assert!(ptrs.check(&full).is_ok());
        assert!(DevicePtrs { workspace: 0x8008, workspace_bytes: 16, ..ptrs }.check(&full).is_err(), "workspace off 16 bytes");
        assert!(DevicePtrs { workspace: 0, workspace_bytes: 16, ..ptrs }.check(&full).is_err(), "null workspace with a size");
        assert!(DevicePtrs { workspace: 0x8000, workspace_bytes: 16, ..ptrs }.check(&full).is_ok());
        let name = |r: Result<()>| match r {
            Err(Error::InvalidParameter { name, .. }) => name,
            other => panic!("expected InvalidParameter, got {other:?}"),
        };
        assert_eq!(name(DevicePtrs { skip: 0, ..ptrs }.check(&full)), "skip");
        assert_eq!(name(DevicePtrs { sum: 0x7001, ..ptrs }.check(&full)), "sum");
        assert_eq!(name(DevicePtrs { sum: 0x1000, ..ptrs }.check(&full)), "sum", "S may not overwrite X");
        assert_eq!(name(ptrs.check(&plain)), "residual_bias", "stray pointer refused");
        assert_eq!(name(ptrs.check(&base)), "skip");
        assert!(DevicePtrs { residual_bias: 0, sum: 0, ..ptrs }.check(&plain).is_ok());
    }
}
