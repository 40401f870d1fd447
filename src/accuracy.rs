//! The accuracy harness: generates rows (ordinary and hostile), runs the
//! kernel on the GPU, and measures every output element against the f64
//! reference computed from the same rounded inputs.
//!
//! Shared by the GPU test suite and `trt-layernorm selftest`, so what the
//! tests assert and what a user sees are the same measurement.

use crate::dtype::{DType, Element};
use crate::error::Result;
use crate::launch::{DeviceParam, LayerNorm};
use crate::select::PlanHints;
use crate::problem::{NormKind, SkipOptions};
use crate::reference::{fp16_arithmetic_row, layernorm_row, output_error, rmsnorm_row, ulp_error, ErrorStats};
use cudarc::driver::{CudaSlice, CudaStream};
use half::{bf16, f16};
use std::fmt;
use std::sync::Arc;

/// Bound for FP32 outputs: |y - exact| <= 2^-20 * max(1, |exact|).
pub const F32_REL_BOUND: f64 = 1.0 / (1u64 << 20) as f64;

/// How an output element compares with its bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Within the bound of its type: 1 ulp for 16-bit outputs, 2^-20 * max(1, |exact|) for FP32.
    Within,
    /// A 16-bit output more than 1 ulp off where the exact result is a
    /// cancellation of scale * x_hat and bias, far smaller than the terms: no
    /// FP32 computation can round it correctly. Accepted within 1 ulp plus the
    /// FP32 bound of the terms, 2^-20 * (|scale| * max(1, |x_hat|) + |bias|).
    Cancellation,
    Violation,
}

/// Judges one output element. `terms` is |scale| * max(1, |x_hat|) + |bias| in f64.
pub fn judge(y: DType, got: f64, exact: f64, terms: f64) -> Verdict {
    let err = (got - exact).abs();
    let within = match y {
        DType::F32 => err <= F32_REL_BOUND * exact.abs().max(1.0),
        _ => ulp_error(y, got, exact) <= 1.0,
    };
    if within {
        Verdict::Within
    } else if y != DType::F32 && err <= y.ulp(y.round(exact)) + F32_REL_BOUND * terms {
        Verdict::Cancellation
    } else {
        Verdict::Violation
    }
}

/// What the values of a row look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowKind {
    /// N(mu, sigma^2) with mu in [-2, 2], sigma in [0.5, 2].
    Normal,
    /// |x| in [60000, 65504], random signs: FP16's largest finite values.
    NearFp16Max,
    /// Every element equal.
    Constant,
    /// Mean 1e3..1e4 times the spread (as far as the type can represent it).
    MeanFarAboveSpread,
    /// A normal row with one huge element.
    Outlier,
    /// A normal row whose first element is huge: the kernels that centre
    /// on a row's first element must not lose the others' low bits to it.
    LeadingOutlier,
    /// Subnormal values of the input type.
    Subnormal,
    /// |x| around 1e30 (FP32 and BF16 only; FP16 saturates): exercises the
    /// kernel's power-of-two rescaling.
    Huge,
}

impl RowKind {
    pub const HOSTILE: [RowKind; 7] = [
        RowKind::NearFp16Max,
        RowKind::Constant,
        RowKind::MeanFarAboveSpread,
        RowKind::Outlier,
        RowKind::LeadingOutlier,
        RowKind::Subnormal,
        RowKind::Huge,
    ];

    pub fn name(self) -> &'static str {
        match self {
            RowKind::Normal => "normal",
            RowKind::NearFp16Max => "near-65504",
            RowKind::Constant => "constant",
            RowKind::MeanFarAboveSpread => "mean>>spread",
            RowKind::Outlier => "outlier",
            RowKind::LeadingOutlier => "outlier-first",
            RowKind::Subnormal => "subnormal",
            RowKind::Huge => "huge(1e30)",
        }
    }
}

/// Small, fast, seedable generator (SplitMix64): reproducible across machines
/// and parallel by seeding per row.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }
    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
    pub fn sign(&mut self) -> f64 {
        if self.next_u64() & 1 == 0 {
            1.0
        } else {
            -1.0
        }
    }
}

/// Fills `row` with values of `kind`, already rounded to `dtype`.
pub fn generate_row(kind: RowKind, dtype: DType, rng: &mut Rng, row: &mut [f64]) {
    let kind = if kind == RowKind::Huge && dtype == DType::F16 { RowKind::NearFp16Max } else { kind };
    match kind {
        RowKind::Normal => {
            let (mu, sigma) = (rng.range(-2.0, 2.0), rng.range(0.5, 2.0));
            row.iter_mut().for_each(|v| *v = mu + sigma * rng.normal());
        }
        RowKind::NearFp16Max => row.iter_mut().for_each(|v| *v = rng.sign() * rng.range(60000.0, 65504.0)),
        RowKind::Constant => {
            let c = rng.range(-100.0, 100.0);
            row.iter_mut().for_each(|v| *v = c);
        }
        RowKind::MeanFarAboveSpread => {
            // The spread is a few ulps of the type at the mean, or mean/1e4 where finer.
            let mean = match dtype {
                DType::F32 => 1.0e4,
                DType::F16 => 2000.0,
                DType::BF16 => 1.0e4,
            };
            let spread = (mean / 1.0e4_f64).max(2.0 * dtype.ulp(mean));
            row.iter_mut().for_each(|v| *v = mean + spread * rng.normal());
        }
        RowKind::Outlier | RowKind::LeadingOutlier => {
            row.iter_mut().for_each(|v| *v = rng.normal());
            let big = if dtype == DType::F16 { 30000.0 } else { 1.0e6 };
            let at = if kind == RowKind::Outlier { (rng.next_u64() % row.len() as u64) as usize } else { 0 };
            row[at] = rng.sign() * big;
        }
        RowKind::Subnormal => {
            let smallest = match dtype {
                DType::F16 => 2f64.powi(-24),
                DType::BF16 | DType::F32 => 2f64.powi(-149) * 2f64.powi(if dtype == DType::BF16 { 16 } else { 0 }),
            };
            let max_k = if dtype == DType::F32 { 1 << 20 } else { 120 };
            row.iter_mut().for_each(|v| *v = rng.sign() * smallest * (1 + rng.next_u64() % max_k) as f64);
        }
        RowKind::Huge => row.iter_mut().for_each(|v| *v = 1.0e30 * rng.normal()),
    }
    row.iter_mut().for_each(|v| *v = dtype.round(*v));
}

/// One accuracy case: shape, types, and which kinds of rows (cycled over the rows).
#[derive(Clone, Debug)]
pub struct Case {
    pub rows: usize,
    pub cols: usize,
    pub x: DType,
    pub y: DType,
    pub scale: Option<DType>,
    pub bias: Option<DType>,
    pub kinds: Vec<RowKind>,
    pub epsilon: f32,
    pub seed: u64,
    /// Also measure a plain FP16-arithmetic LayerNorm on the same rows (X FP16 only).
    pub compare_fp16_arithmetic: bool,
    /// Plan choices to force instead of the defaults (where the row fits them).
    pub hints: PlanHints,
    /// LayerNorm unless asked (RMSNorm cases have no bias).
    pub norm: NormKind,
    /// SkipLayerNorm: whether the case has a residual bias and reads S back.
    pub skip: SkipOptions,
    /// Scale all ones and bias all zeros (where present): the kernels that
    /// take both run, and y is x_hat itself, with no affine cancellation.
    pub unit_affine: bool,
}

impl Case {
    /// `rows` x `cols` of `kinds` rows, scale and bias in X's type.
    pub fn new(rows: usize, cols: usize, x: DType, y: DType, kinds: &[RowKind]) -> Self {
        Case { rows, cols, x, y, scale: Some(x), bias: Some(x), kinds: kinds.to_vec(), epsilon: 1e-5, seed: 0x5EED ^ (rows * 31 + cols) as u64, compare_fp16_arithmetic: false, hints: PlanHints::default(), norm: NormKind::LayerNorm, skip: SkipOptions::default(), unit_affine: false }
    }

    /// A SkipLayerNorm case: X of `kinds` rows plus a Skip row each (and a
    /// residual bias) small enough that s keeps the kind's character.
    pub fn skip(rows: usize, cols: usize, x: DType, y: DType, kinds: &[RowKind], skip: SkipOptions) -> Self {
        Case { norm: NormKind::SkipLayerNorm, skip, seed: 0x5C1 ^ (rows * 41 + cols) as u64, ..Case::new(rows, cols, x, y, kinds) }
    }

    /// An RMSNorm case: scale in X's type, no bias.
    pub fn rms(rows: usize, cols: usize, x: DType, y: DType, kinds: &[RowKind]) -> Self {
        Case { bias: None, norm: NormKind::RmsNorm, seed: 0x4D5 ^ (rows * 37 + cols) as u64, ..Case::new(rows, cols, x, y, kinds) }
    }

    /// The f64 reference of one row of this case's norm.
    fn reference(&self, x: &[f64], scale: Option<&[f64]>, bias: Option<&[f64]>, out: &mut [f64]) {
        match self.norm {
            // SkipLayerNorm: `x` is already the rounded sum s (see `Case::skip`).
            NormKind::LayerNorm | NormKind::SkipLayerNorm => layernorm_row(x, scale, bias, self.epsilon as f64, out),
            NormKind::RmsNorm => rmsnorm_row(x, scale, self.epsilon as f64, out),
        }
    }
}

impl fmt::Display for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let opt = |d: Option<DType>| d.map_or("-", DType::name);
        write!(
            f,
            "{}{}x{} x={} y={} scale={} bias={} rows={}",
            match (self.norm, self.skip.residual_bias, self.skip.sum_output) {
                (NormKind::LayerNorm, ..) => "",
                (NormKind::RmsNorm, ..) => "rmsnorm ",
                (NormKind::SkipLayerNorm, false, false) => "skip ",
                (NormKind::SkipLayerNorm, true, false) => "skip+rbias ",
                (NormKind::SkipLayerNorm, false, true) => "skip+S ",
                (NormKind::SkipLayerNorm, true, true) => "skip+rbias+S ",
            },
            self.rows,
            self.cols,
            self.x,
            self.y,
            opt(self.scale),
            opt(self.bias),
            self.kinds.iter().map(|k| k.name()).collect::<Vec<_>>().join("+")
        )?;
        if self.unit_affine {
            write!(f, " (scale 1, bias 0)")?;
        }
        Ok(())
    }
}

/// What one case measured.
#[derive(Clone, Debug, Default)]
pub struct CaseReport {
    /// Every element but the cancellations, in the units of [`output_error`].
    pub stats: ErrorStats,
    /// 16-bit outputs judged [`Verdict::Cancellation`].
    pub cancellation_allowed: u64,
    /// Elements outside the bound: must be 0.
    pub violations: u64,
    /// The worst violation: (row, col, got, exact).
    pub worst: Option<(usize, usize, f64, f64)>,
    /// The same rows through FP16 arithmetic (only when X is FP16).
    pub fp16_arithmetic: Option<ErrorStats>,
    /// SkipLayerNorm with S: elements of S not bit-identical to the graph's
    /// rounded sum. Must be 0.
    pub sum_mismatches: u64,
}

impl CaseReport {
    pub fn passed(&self) -> bool {
        self.violations == 0 && self.sum_mismatches == 0
    }
}

/// Host values of a case, rounded to their types, kept as f64 for the reference.
struct HostCase {
    x: Vec<f64>,
    scale: Option<Vec<f64>>,
    bias: Option<Vec<f64>>,
    /// SkipLayerNorm: Skip, the residual bias, and s = (x + rbias) + skip
    /// rounded as the graph rounds it (the rows the reference normalizes).
    skip: Option<SkipHost>,
}

struct SkipHost {
    skip: Vec<f64>,
    rbias: Option<Vec<f64>>,
    sum: Vec<f64>,
}

impl HostCase {
    /// The rows the norm normalizes: s for SkipLayerNorm, else X.
    fn normalized(&self) -> &[f64] {
        self.skip.as_ref().map_or(&self.x, |s| &s.sum)
    }
}

/// Skip and residual bias for `x`, and the rounded sum. Each Skip element
/// points towards 0 from its x and is at most 2^-12 of the row's largest
/// |x|, so |s| never exceeds the row's largest |x| (no overflow near 65504)
/// and the row keeps its kind's character; constant rows get a constant Skip.
fn skip_host(case: &Case, x: &[f64]) -> SkipHost {
    let (cols, t) = (case.cols, case.x);
    let mut rng = Rng::new(case.seed.wrapping_add(29));
    let rbias: Option<Vec<f64>> = case.skip.residual_bias.then(|| (0..cols).map(|_| t.round(rng.range(-1.0, 1.0) * 2f64.powi(-7))).collect());
    let mut skip = vec![0.0; x.len()];
    let mut sum = vec![0.0; x.len()];
    for (r, (xr, (kr, sr))) in x.chunks(cols).zip(skip.chunks_mut(cols).zip(sum.chunks_mut(cols))).enumerate() {
        let amax = xr.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let constant = case.kinds[r % case.kinds.len()] == RowKind::Constant;
        let c0 = t.round(rng.normal() * amax * 2f64.powi(-12));
        for c in 0..cols {
            kr[c] = if constant { c0 } else { t.round(-xr[c].signum() * rng.normal().abs() * amax * 2f64.powi(-12)) };
            // f64 holds the exact sum of two values of any of the types
            // when it is rounded once more to T (53 >= 2p + 2 bits).
            let with_bias = rbias.as_ref().map_or(xr[c], |b| t.round(xr[c] + b[c]));
            sr[c] = t.round(with_bias + kr[c]);
        }
    }
    SkipHost { skip, rbias, sum }
}

/// Host threads the harness generates and measures rows with.
fn worker_threads() -> usize {
    std::thread::available_parallelism().map_or(4, |n| n.get()).min(32)
}

/// Splits `rows` into one contiguous range per core and runs `work` on each.
fn parallel_rows<T: Send>(rows: usize, cols: usize, work: impl Fn(std::ops::Range<usize>) -> T + Sync) -> Vec<T> {
    let per = rows.div_ceil(worker_threads()).max(1).max(4096 / cols.max(1));
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..rows)
            .step_by(per)
            .map(|lo| {
                let work = &work;
                s.spawn(move || work(lo..(lo + per).min(rows)))
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("accuracy worker panicked")).collect()
    })
}

fn generate(case: &Case) -> HostCase {
    let cols = case.cols;
    let mut x = vec![0.0; case.rows * cols];
    let rows_per_part = case.rows.div_ceil(worker_threads()).max(1);
    std::thread::scope(|s| {
        for (part, chunk) in x.chunks_mut(rows_per_part * cols).enumerate() {
            s.spawn(move || {
                for (i, row) in chunk.chunks_mut(cols).enumerate() {
                    let r = part * rows_per_part + i;
                    let mut rng = Rng::new(case.seed ^ (r as u64).wrapping_mul(0xD6E8_FEB8_6659_FD93));
                    generate_row(case.kinds[r % case.kinds.len()], case.x, &mut rng, row);
                }
            });
        }
    });
    let mut rng = Rng::new(case.seed.wrapping_add(17));
    let scale = case.scale.map(|d| (0..cols).map(|_| if case.unit_affine { 1.0 } else { d.round(rng.sign() * rng.range(0.25, 2.0)) }).collect());
    let bias = case.bias.map(|d| (0..cols).map(|_| if case.unit_affine { 0.0 } else { d.round(rng.range(-1.0, 1.0)) }).collect());
    let skip = (case.norm == NormKind::SkipLayerNorm).then(|| skip_host(case, &x));
    HostCase { x, scale, bias, skip }
}

fn to_host<T: Element>(v: &[f64]) -> Vec<T> {
    v.iter().map(|&a| T::from_f64(a)).collect()
}

fn upload_param(stream: &Arc<CudaStream>, dtype: DType, v: &[f64]) -> Result<ParamBuf> {
    let err = |e: cudarc::driver::DriverError| crate::Error::Driver { call: "cuMemcpyHtoD", code: e.0 };
    Ok(match dtype {
        DType::F32 => ParamBuf::F32(stream.clone_htod(&to_host::<f32>(v)).map_err(err)?),
        DType::F16 => ParamBuf::F16(stream.clone_htod(&to_host::<f16>(v)).map_err(err)?),
        DType::BF16 => ParamBuf::BF16(stream.clone_htod(&to_host::<bf16>(v)).map_err(err)?),
    })
}

enum ParamBuf {
    F32(CudaSlice<f32>),
    F16(CudaSlice<f16>),
    BF16(CudaSlice<bf16>),
}

impl ParamBuf {
    fn as_param(&self) -> DeviceParam<'_> {
        match self {
            ParamBuf::F32(s) => s.into(),
            ParamBuf::F16(s) => s.into(),
            ParamBuf::BF16(s) => s.into(),
        }
    }
}

/// Runs the kernel on `case` and returns Y (and S, where the case reads it back) as f64.
fn run_on_gpu<X: Element, Y: Element>(ln: &LayerNorm, stream: &Arc<CudaStream>, case: &Case, host: &HostCase) -> Result<(Vec<f64>, Option<Vec<f64>>)> {
    let err = |call: &'static str| move |e: cudarc::driver::DriverError| crate::Error::Driver { call, code: e.0 };
    let x = stream.clone_htod(&to_host::<X>(&host.x)).map_err(err("cuMemcpyHtoD"))?;
    // Poison Y (all-ones bytes are NaN in every type), so an unwritten element cannot pass.
    let mut y = stream.clone_htod(&vec![Y::from_f64(f64::NAN); host.x.len()]).map_err(err("cuMemcpyHtoD"))?;
    let scale = match (case.scale, &host.scale) {
        (Some(d), Some(v)) => Some(upload_param(stream, d, v)?),
        _ => None,
    };
    let bias = match (case.bias, &host.bias) {
        (Some(d), Some(v)) => Some(upload_param(stream, d, v)?),
        _ => None,
    };
    let skip_bufs = match &host.skip {
        Some(h) => Some((
            stream.clone_htod(&to_host::<X>(&h.skip)).map_err(err("cuMemcpyHtoD"))?,
            h.rbias.as_ref().map(|b| stream.clone_htod(&to_host::<X>(b))).transpose().map_err(err("cuMemcpyHtoD"))?,
        )),
        None => None,
    };
    let mut sum = match case.skip.sum_output && host.skip.is_some() {
        true => Some(stream.clone_htod(&vec![X::from_f64(f64::NAN); host.x.len()]).map_err(err("cuMemcpyHtoD"))?),
        false => None,
    };
    let skip = skip_bufs.as_ref().map(|(s, rb)| crate::launch::SkipTensors { skip: s, residual_bias: rb.as_ref(), sum: sum.as_mut() });
    ln.forward_hinted(
        stream,
        &x,
        &mut y,
        case.cols,
        scale.as_ref().map(ParamBuf::as_param),
        bias.as_ref().map(ParamBuf::as_param),
        case.epsilon,
        case.norm,
        skip,
        case.hints,
    )?;
    let out: Vec<Y> = stream.clone_dtoh(&y).map_err(err("cuMemcpyDtoH"))?;
    let sum_out = match &sum {
        Some(s) => Some(stream.clone_dtoh(s).map_err(err("cuMemcpyDtoH"))?.iter().map(|v| v.to_f64()).collect()),
        None => None,
    };
    Ok((out.iter().map(|v| v.to_f64()).collect(), sum_out))
}

/// Runs one case on the GPU and measures every element.
pub fn run_case(ln: &LayerNorm, stream: &Arc<CudaStream>, case: &Case) -> Result<CaseReport> {
    let host = generate(case);
    let got = match (case.x, case.y) {
        (DType::F32, DType::F32) => run_on_gpu::<f32, f32>(ln, stream, case, &host)?,
        (DType::F16, DType::F16) => run_on_gpu::<f16, f16>(ln, stream, case, &host)?,
        (DType::F16, DType::F32) => run_on_gpu::<f16, f32>(ln, stream, case, &host)?,
        (DType::BF16, DType::BF16) => run_on_gpu::<bf16, bf16>(ln, stream, case, &host)?,
        (DType::BF16, DType::F32) => run_on_gpu::<bf16, f32>(ln, stream, case, &host)?,
        (x, y) => return Err(crate::Error::UnsupportedOutputType { x, y }),
    };
    let (y, sum) = got;
    let mut report = measure(case, &host, &y);
    if let (Some(s), Some(h)) = (sum, &host.skip) {
        report.sum_mismatches = s.iter().zip(&h.sum).filter(|(g, e)| g.to_bits() != e.to_bits()).count() as u64;
    }
    Ok(report)
}

fn measure(case: &Case, host: &HostCase, got: &[f64]) -> CaseReport {
    let cols = case.cols;
    let parts = parallel_rows(case.rows, cols, |range| {
        let mut rep = CaseReport::default();
        let mut fp16 = ErrorStats::default();
        let (mut exact, mut terms, mut arith) = (vec![0.0; cols], vec![0.0; cols], vec![0.0; cols]);
        for r in range {
            let xr = &host.normalized()[r * cols..(r + 1) * cols];
            let yr = &got[r * cols..(r + 1) * cols];
            case.reference(xr, host.scale.as_deref(), host.bias.as_deref(), &mut exact);
            // |scale| * max(1, |x_hat|) + |bias|: the size of the affine step's
            // inputs, x_hat counted at least 1 (FP32 gives it an absolute error
            // of a few 2^-24: the statistics are FP32 numbers).
            case.reference(xr, None, None, &mut terms);
            for (c, t) in terms.iter_mut().enumerate() {
                *t = host.scale.as_ref().map_or(1.0, |s| s[c]).abs() * t.abs().max(1.0) + host.bias.as_ref().map_or(0.0, |b| b[c].abs());
            }
            for c in 0..cols {
                let (g, e) = (yr[c], exact[c]);
                match judge(case.y, g, e, terms[c]) {
                    Verdict::Within => rep.stats.add(output_error(case.y, g, e)),
                    Verdict::Cancellation => rep.cancellation_allowed += 1,
                    Verdict::Violation => {
                        rep.stats.add(output_error(case.y, g, e));
                        rep.violations += 1;
                        let err = (g - e).abs();
                        if rep.worst.is_none_or(|(_, _, wg, we)| (wg - we).abs() < err || err.is_nan()) {
                            rep.worst = Some((r, c, g, e));
                        }
                    }
                }
            }
            if case.x == DType::F16 && case.compare_fp16_arithmetic {
                fp16_arithmetic_row(xr, host.scale.as_deref(), host.bias.as_deref(), case.epsilon as f64, &mut arith);
                for c in 0..cols {
                    fp16.add(ulp_error(DType::F16, arith[c], exact[c]));
                }
            }
        }
        if case.x == DType::F16 && case.compare_fp16_arithmetic {
            rep.fp16_arithmetic = Some(fp16);
        }
        rep
    });
    parts.into_iter().fold(CaseReport::default(), |mut acc, p| {
        acc.stats.merge(&p.stats);
        acc.cancellation_allowed += p.cancellation_allowed;
        acc.violations += p.violations;
        if let Some(w) = p.worst {
            if acc.worst.is_none_or(|(_, _, g, e)| (g - e).abs() < (w.2 - w.3).abs()) {
                acc.worst = Some(w);
            }
        }
        if let Some(f) = p.fp16_arithmetic {
            acc.fp16_arithmetic.get_or_insert_with(ErrorStats::default).merge(&f);
        }
        acc
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_reproducible_and_rounded() {
        for kind in [RowKind::Normal].into_iter().chain(RowKind::HOSTILE) {
            for dtype in DType::ALL {
                let (mut a, mut b) = (vec![0.0; 257], vec![0.0; 257]);
                generate_row(kind, dtype, &mut Rng::new(5), &mut a);
                generate_row(kind, dtype, &mut Rng::new(5), &mut b);
                assert_eq!(a, b);
                assert!(a.iter().all(|v| v.is_finite() && dtype.round(*v) == *v), "{kind:?} {dtype}");
            }
        }
    }

    #[test]
    fn hostile_rows_are_what_they_claim() {
        let mut row = vec![0.0; 1000];
        generate_row(RowKind::NearFp16Max, DType::F16, &mut Rng::new(1), &mut row);
        assert!(row.iter().all(|v| (60000.0..=65504.0).contains(&v.abs())));
        generate_row(RowKind::Constant, DType::BF16, &mut Rng::new(1), &mut row);
        assert!(row.iter().all(|v| *v == row[0]));
        generate_row(RowKind::Subnormal, DType::F16, &mut Rng::new(1), &mut row);
        assert!(row.iter().all(|v| v.abs() < 2f64.powi(-14) && *v != 0.0));
        generate_row(RowKind::MeanFarAboveSpread, DType::F32, &mut Rng::new(1), &mut row);
        let mean = row.iter().sum::<f64>() / 1000.0;
        let sd = (row.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 1000.0).sqrt();
        assert!(mean / sd > 5000.0, "mean/sd = {}", mean / sd);
    }

    #[test]
    fn measure_flags_unwritten_and_wrong_outputs() {
        let case = Case { rows: 2, cols: 4, x: DType::F16, y: DType::F16, scale: None, bias: None, kinds: vec![RowKind::Normal], epsilon: 1e-5, seed: 3, compare_fp16_arithmetic: false, hints: PlanHints::default(), norm: NormKind::LayerNorm, skip: SkipOptions::default(), unit_affine: false };
        let host = generate(&case);
        let mut exact = [0.0; 8];
        for r in 0..2 {
            layernorm_row(&host.x[r * 4..(r + 1) * 4], None, None, 1e-5, &mut exact[r * 4..(r + 1) * 4]);
        }
        let rounded: Vec<f64> = exact.iter().map(|v| DType::F16.round(*v)).collect();
        assert!(measure(&case, &host, &rounded).passed());
        let mut bad = rounded.clone();
        bad[5] = f64::NAN;
        let rep = measure(&case, &host, &bad);
        assert_eq!(rep.violations, 1);
        assert_eq!(rep.worst.map(|w| (w.0, w.1)), Some((1, 1)));
    }
}
