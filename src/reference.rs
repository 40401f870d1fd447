//! The f64 reference LayerNorm and the error measures the tests and the
//! self-test report (ulps of the output type).

use crate::dtype::DType;

/// ONNX LayerNormalization of one row in f64:
/// `(x - mean) / sqrt(var + eps) * scale + bias`, with the population variance.
/// `scale` and `bias` are `x.len()` long when present.
pub fn layernorm_row(x: &[f64], scale: Option<&[f64]>, bias: Option<&[f64]>, epsilon: f64, out: &mut [f64]) {
    assert_eq!(x.len(), out.len(), "reference: output row length");
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    let rstd = 1.0 / (var + epsilon).sqrt();
    for (i, (o, v)) in out.iter_mut().zip(x).enumerate() {
        let g = scale.map_or(1.0, |s| s[i]);
        let b = bias.map_or(0.0, |s| s[i]);
        *o = (v - mean) * rstd * g + b;
    }
}

/// RMSNorm of one row in f64 (LLaMA's, ONNX RMSNormalization's):
/// `x / sqrt(mean(x^2) + eps) * scale`. `scale` is `x.len()` long when present.
pub fn rmsnorm_row(x: &[f64], scale: Option<&[f64]>, epsilon: f64, out: &mut [f64]) {
    assert_eq!(x.len(), out.len(), "reference: output row length");
    let ms = x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64;
    let rstd = 1.0 / (ms + epsilon).sqrt();
    for (i, (o, v)) in out.iter_mut().zip(x).enumerate() {
        *o = v * rstd * scale.map_or(1.0, |s| s[i]);
    }
}

/// How far `got` (a value of type `dtype`) is from the exact result `exact`, in ulps of `dtype`.
///
/// The unit is the ulp at the correctly rounded result, so an output equal to
/// the correctly rounded value is 0 and one of its neighbours is 1.
pub fn ulp_error(dtype: DType, got: f64, exact: f64) -> f64 {
    if got.is_nan() || exact.is_nan() {
        return if got.is_nan() && exact.is_nan() { 0.0 } else { f64::INFINITY };
    }
    let rounded = dtype.round(exact);
    if got == rounded {
        return 0.0;
    }
    if got.is_infinite() || rounded.is_infinite() {
        return f64::INFINITY;
    }
    (got - rounded).abs() / dtype.ulp(rounded.abs().min(got.abs()))
}

/// Error of one output element in the unit its bound is stated in:
/// ulps of `dtype` at the correctly rounded result for 16-bit outputs, and
/// ulps of FP32 at max(1, |exact|) for FP32 outputs (whose bound,
/// 2^-20 * max(1, |exact|), is 8 of these units). 0 means correctly rounded.
pub fn output_error(dtype: DType, got: f64, exact: f64) -> f64 {
    match dtype {
        DType::F32 => {
            if got.is_nan() || exact.is_nan() {
                return if got.is_nan() && exact.is_nan() { 0.0 } else { f64::INFINITY };
            }
            if got == dtype.round(exact) {
                return 0.0;
            }
            (got - exact).abs() / DType::F32.ulp(exact.abs().max(1.0))
        }
        _ => ulp_error(dtype, got, exact),
    }
}

/// Error statistics over many elements, in the units of [`output_error`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ErrorStats {
    pub elements: u64,
    /// Elements equal to the correctly rounded reference.
    pub exact: u64,
    pub max_ulp: f64,
    /// Elements that are NaN or infinite where the reference is finite.
    pub non_finite: u64,
}

impl ErrorStats {
    /// Records one element's error (as returned by [`output_error`]).
    pub fn add(&mut self, ulp: f64) {
        self.elements += 1;
        self.exact += u64::from(ulp == 0.0);
        self.non_finite += u64::from(ulp.is_infinite());
        self.max_ulp = self.max_ulp.max(ulp);
    }

    pub fn merge(&mut self, o: &ErrorStats) {
        self.elements += o.elements;
        self.exact += o.exact;
        self.non_finite += o.non_finite;
        self.max_ulp = self.max_ulp.max(o.max_ulp);
    }

    /// Fraction of elements equal to the correctly rounded reference.
    pub fn exact_fraction(&self) -> f64 {
        if self.elements == 0 {
            1.0
        } else {
            self.exact as f64 / self.elements as f64
        }
    }
}

/// LayerNorm computed the way a plain FP16 kernel does (every operation
/// rounded to FP16, E[x^2] - E[x]^2 variance). Shown beside ours by
/// `trt-layernorm selftest` so a user sees what FP32 statistics buy.
pub fn fp16_arithmetic_row(x: &[f64], scale: Option<&[f64]>, bias: Option<&[f64]>, epsilon: f64, out: &mut [f64]) {
    let r = |v: f64| DType::F16.round(v);
    let n = r(x.len() as f64);
    let (mut s, mut s2) = (0.0, 0.0);
    for &v in x {
        s = r(s + v);
        s2 = r(s2 + r(v * v));
    }
    let mean = r(s / n);
    let var = r(r(s2 / n) - r(mean * mean)).max(0.0);
    let rstd = r(1.0 / r(r(var + r(epsilon)).sqrt()));
    for (i, (o, &v)) in out.iter_mut().zip(x).enumerate() {
        let g = scale.map_or(1.0, |s| s[i]);
        let b = bias.map_or(0.0, |s| s[i]);
        *o = r(r(r(r(v - mean) * rstd) * g) + b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_form_two_values() {
        // x = [a, b]: mean (a+b)/2, var ((a-b)/2)^2, y = +-1 / sqrt(1 + eps/var).
        let mut out = [0.0; 2];
        layernorm_row(&[1.0, 3.0], None, None, 0.0, &mut out);
        assert_eq!(out, [-1.0, 1.0]);
        layernorm_row(&[1.0, 3.0], Some(&[2.0, 3.0]), Some(&[0.5, -0.5]), 0.0, &mut out);
        assert_eq!(out, [-1.5, 2.5]);
    }

    #[test]
    fn constant_row_and_single_element_give_the_bias() {
        let mut out = [9.0; 4];
        layernorm_row(&[7.0; 4], None, Some(&[1.0, 2.0, 3.0, 4.0]), 1e-5, &mut out);
        assert_eq!(out, [1.0, 2.0, 3.0, 4.0]);
        let mut one = [9.0];
        layernorm_row(&[-3.5], Some(&[2.0]), None, 1e-5, &mut one);
        assert_eq!(one, [0.0]);
    }

    #[test]
    fn standardizes() {
        let x: Vec<f64> = (0..1000).map(|i| ((i * 7919) % 1000) as f64 * 0.37 - 100.0).collect();
        let mut y = vec![0.0; x.len()];
        layernorm_row(&x, None, None, 0.0, &mut y);
        let mean = y.iter().sum::<f64>() / 1000.0;
        let var = y.iter().map(|v| v * v).sum::<f64>() / 1000.0;
        assert!(mean.abs() < 1e-12 && (var - 1.0).abs() < 1e-12);
    }

    #[test]
    fn ulp_errors() {
        assert_eq!(ulp_error(DType::F16, 1.0, 1.0 + 2f64.powi(-12)), 0.0);
        assert_eq!(ulp_error(DType::F16, 1.0 + 2f64.powi(-10), 1.0), 1.0);
        assert_eq!(ulp_error(DType::F16, f64::NAN, 1.0), f64::INFINITY);
        assert_eq!(ulp_error(DType::F16, f64::INFINITY, 65504.0), f64::INFINITY);
        assert_eq!(ulp_error(DType::BF16, 2.0, 2.0 + 2f64.powi(-6)), 1.0);
    }

    #[test]
    fn fp32_errors_are_in_ulps_at_max_one_and_y() {
        assert_eq!(output_error(DType::F32, 1.0 + 2f64.powi(-22), 1.0), 2.0);
        assert_eq!(output_error(DType::F32, 1e-3 + 2f64.powi(-23), 1e-3), 1.0);
        assert_eq!(output_error(DType::F32, 1e-30, 1e-30), 0.0);
        let mut s = ErrorStats::default();
        [0.0, 1.0, f64::INFINITY].into_iter().for_each(|u| s.add(u));
        assert_eq!((s.elements, s.exact, s.non_finite), (3, 1, 1));
    }

    #[test]
    fn fp16_arithmetic_loses_accuracy_where_ours_must_not() {
        // Mean far above the spread: E[x^2] - E[x]^2 cancels catastrophically in FP16.
        let x: Vec<f64> = (0..768).map(|i| DType::F16.round(1000.0 + (i % 7) as f64 * 0.5)).collect();
        let (mut exact, mut fp16) = (vec![0.0; 768], vec![0.0; 768]);
        layernorm_row(&x, None, None, 1e-5, &mut exact);
        fp16_arithmetic_row(&x, None, None, 1e-5, &mut fp16);
        let worst = exact.iter().zip(&fp16).map(|(e, g)| ulp_error(DType::F16, *g, *e)).fold(0.0, f64::max);
        assert!(worst > 100.0, "FP16 arithmetic should be far off here, got {worst} ulp");
    }

    #[test]
    fn rmsnorm_row_divides_by_the_root_mean_square() {
        let mut out = [0.0; 2];
        rmsnorm_row(&[3.0, 4.0], None, 0.0, &mut out); // rms = sqrt(12.5)
        assert!((out[0] - 3.0 / 12.5f64.sqrt()).abs() < 1e-15 && (out[1] - 4.0 / 12.5f64.sqrt()).abs() < 1e-15);
        rmsnorm_row(&[3.0, 4.0], Some(&[2.0, -1.0]), 0.0, &mut out);
        assert!((out[0] - 6.0 / 12.5f64.sqrt()).abs() < 1e-15 && (out[1] + 4.0 / 12.5f64.sqrt()).abs() < 1e-15);
        let mut zero = [1.0; 3];
        rmsnorm_row(&[0.0; 3], None, 1e-5, &mut zero);
        assert_eq!(zero, [0.0; 3], "a zero row stays zero");
    }
}
