//! The plugin's configuration and every rule TensorRT asks the plugin about:
//! which formats and types it supports, the output type, how X's shape splits
//! into rows and columns, and whether Scale and Bias fit. The norm kind is
//! part of the configuration: FP32RMSNorm has the same fields and rules as
//! FP32LayerNorm, but no Bias input (1 or 2 inputs: X, Scale).
//!
//! TensorRT passes types, formats and shapes as plain integers; they arrive
//! here unchanged and are judged here.

use super::fields::{self, FieldError, RawField};
use super::plugin_name;
use crate::dtype::DType;
use crate::error::Error;
use crate::problem::{NormKind, Problem};

/// Default `epsilon` (ONNX LayerNormalization's default).
pub const DEFAULT_EPSILON: f32 = 1e-5;
/// Default `axis`: normalize over the last dimension.
pub const DEFAULT_AXIS: i32 = -1;

/// TensorRT `DataType` codes this plugin reads (the C++ side checks them
/// against the headers with `static_assert`).
pub mod trt_type {
    pub const FLOAT: i32 = 0;
    pub const HALF: i32 = 1;
    /// Exists from TensorRT 9; 8.6 has no code 7 at all.
    pub const BF16: i32 = 7;
}

/// TensorRT `TensorFormat::kLINEAR`.
pub const FORMAT_LINEAR: i32 = 0;

/// Largest rank TensorRT passes (`Dims::MAX_DIMS`).
pub const MAX_RANK: usize = 8;

/// Y's type: X's own, or FP32 (`output_type` = 0 or 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputType {
    SameAsInput,
    Float32,
}

impl OutputType {
    pub fn code(self) -> i32 {
        match self {
            OutputType::SameAsInput => 0,
            OutputType::Float32 => 1,
        }
    }
}

/// One plugin node's configuration: which norm (the plugin it belongs to),
/// and what its fields (or its serialized blob) said, range-checked.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PluginConfig {
    norm: NormKind,
    epsilon: f32,
    axis: i32,
    output_type: OutputType,
}

impl Default for PluginConfig {
    /// FP32LayerNorm with every field at its default.
    fn default() -> Self {
        PluginConfig { norm: NormKind::LayerNorm, epsilon: DEFAULT_EPSILON, axis: DEFAULT_AXIS, output_type: OutputType::SameAsInput }
    }
}

/// The most inputs a plugin of `kind` takes: X, Scale, Bias (LayerNorm) or X, Scale (RMSNorm).
pub fn max_inputs(kind: NormKind) -> i32 {
    input_names(kind).len() as i32
}

/// The inputs of a plugin of `kind`, in order.
pub fn input_names(kind: NormKind) -> &'static [&'static str] {
    match kind {
        NormKind::LayerNorm => &INPUT_NAMES,
        NormKind::RmsNorm => &INPUT_NAMES[..2],
        NormKind::SkipLayerNorm => &INPUT_NAMES, // TODO(plugin): X, Skip, Scale, Bias, ResidualBias
    }
}

/// Why TensorRT's request about tensors, types or shapes is refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ShapeError {
    #[error("{} takes 1 to {} inputs ({}), got {got}", plugin_name(*kind), max_inputs(*kind), input_names(*kind).join(", "))]
    InputCount { kind: NormKind, got: i32 },
    #[error("{} has exactly 1 output, got {got}", plugin_name(*kind))]
    OutputCount { kind: NormKind, got: i32 },
    #[error("position {pos} is out of range for {total} tensors")]
    Position { pos: i32, total: i32 },
    #[error("{tensor} has TensorRT data type code {code}; supported: FP32 (0), FP16 (1), BF16 (7)")]
    UnsupportedType { tensor: &'static str, code: i32 },
    #[error("{tensor} has TensorRT format code {code}; only linear (0) is supported")]
    UnsupportedFormat { tensor: &'static str, code: i32 },
    #[error("Y must be {expected} for X in {x} with output_type = {output_type}, got TensorRT type code {got}")]
    OutputTypeMismatch { x: DType, expected: DType, output_type: i32, got: i32 },
    #[error("X has rank {rank}; the rank must be 1 to {MAX_RANK}")]
    Rank { rank: usize },
    #[error("axis {axis} is out of range for X of rank {rank} (valid: -{rank} to {max})", max = *rank as i64 - 1)]
    Axis { axis: i32, rank: usize },
    #[error("{tensor} dimension {index} is {value}; dimensions must be >= 0 (or -1 while still unknown)")]
    BadDim { tensor: &'static str, index: usize, value: i64 },
    #[error("{tensor} has shape {got:?} but must have the normalized dims of X {expected:?} (leading 1s allowed)")]
    ParamShape { tensor: &'static str, got: Vec<i64>, expected: Vec<i64> },
    #[error("{tensor} dims are not known at enqueue time: {dims:?}")]
    Unresolved { tensor: &'static str, dims: Vec<i64> },
    #[error("X of shape {dims:?} normalizes {cols} elements per row; the kernels take at most {max}")]
    RowTooLong { dims: Vec<i64>, cols: u64, max: u64 },
    #[error(transparent)]
    Problem(#[from] Error),
}

/// A tensor as TensorRT describes it: type code, format code, dims (-1 = not yet known).
#[derive(Clone, Copy, Debug)]
pub struct TensorInfo<'a> {
    pub dtype: i32,
    pub format: i32,
    pub dims: &'a [i64],
}

/// Rows and columns of one concrete X shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowsCols {
    pub rows: u64,
    pub cols: u64,
}

/// The element type for a TensorRT type code, if this plugin computes in it.
pub fn dtype_from_trt(code: i32) -> Option<DType> {
    match code {
        trt_type::FLOAT => Some(DType::F32),
        trt_type::HALF => Some(DType::F16),
        trt_type::BF16 => Some(DType::BF16),
        _ => None,
    }
}

/// The TensorRT type code of an element type.
pub fn dtype_to_trt(d: DType) -> i32 {
    match d {
        DType::F32 => trt_type::FLOAT,
        DType::F16 => trt_type::HALF,
        DType::BF16 => trt_type::BF16,
    }
}

const INPUT_NAMES: [&str; 3] = ["X", "Scale", "Bias"];

/// Name of tensor `pos` among the plugin's inputs and outputs (for messages).
pub fn tensor_name(pos: usize, nb_inputs: usize) -> &'static str {
    if pos < nb_inputs {
        INPUT_NAMES.get(pos).copied().unwrap_or("input")
    } else {
        "Y"
    }
}

/// 1 to 3 inputs (LayerNorm) or 1 to 2 (RMSNorm), exactly 1 output.
pub fn check_io_counts(kind: NormKind, nb_inputs: i32, nb_outputs: i32) -> Result<(), ShapeError> {
    if !(1..=max_inputs(kind)).contains(&nb_inputs) {
        return Err(ShapeError::InputCount { kind, got: nb_inputs });
    }
    if nb_outputs != 1 {
        return Err(ShapeError::OutputCount { kind, got: nb_outputs });
    }
    Ok(())
}

fn strip_leading_ones(dims: &[i64]) -> &[i64] {
    let first = dims.iter().position(|&d| d != 1).unwrap_or(dims.len());
    &dims[first..]
}

/// Scale/Bias fit the normalized dims: the same shape once leading 1s are
/// dropped. With dims still unknown (-1) only a provable mismatch is refused:
/// aligned from the right, two known dims differ, or a known dim other than 1
/// has no partner.
fn param_shape_fits(param: &[i64], normalized: &[i64]) -> bool {
    if !param.contains(&-1) && !normalized.contains(&-1) {
        return strip_leading_ones(param) == strip_leading_ones(normalized);
    }
    let n = param.len().max(normalized.len());
    (0..n).all(|k| {
        let p = param.len().checked_sub(k + 1).map(|i| param[i]);
        let q = normalized.len().checked_sub(k + 1).map(|i| normalized[i]);
        match (p, q) {
            (Some(a), Some(b)) => a == -1 || b == -1 || a == b,
            (Some(d), None) | (None, Some(d)) => d == -1 || d == 1,
            (None, None) => true,
        }
    })
}

fn check_dims(tensor: &'static str, dims: &[i64]) -> Result<(), ShapeError> {
    if let Some((index, &value)) = dims.iter().enumerate().find(|(_, &d)| d < -1) {
        return Err(ShapeError::BadDim { tensor, index, value });
    }
    Ok(())
}

impl PluginConfig {
    /// An FP32LayerNorm configuration (see [`PluginConfig::with_norm`] for the
    /// other kinds); range-checks the values; the error names the field.
    pub fn new(epsilon: f32, axis: i32, output_type: i32) -> Result<Self, FieldError> {
        if !(epsilon.is_finite() && epsilon > 0.0) {
            return Err(FieldError::OutOfRange {
                name: fields::EPSILON,
                value: format!("{epsilon:e}"),
                reason: "must be finite and > 0",
            });
        }
        if !(-(MAX_RANK as i32)..MAX_RANK as i32).contains(&axis) {
            return Err(FieldError::OutOfRange {
                name: fields::AXIS,
                value: axis.to_string(),
                reason: "must be in -8..=7 (TensorRT tensors have at most 8 dims)",
            });
        }
        let output_type = match output_type {
            0 => OutputType::SameAsInput,
            1 => OutputType::Float32,
            _ => {
                return Err(FieldError::OutOfRange {
                    name: fields::OUTPUT_TYPE,
                    value: output_type.to_string(),
                    reason: "must be 0 (same as X) or 1 (FP32)",
                })
            }
        };
        Ok(PluginConfig { norm: NormKind::LayerNorm, epsilon, axis, output_type })
    }

    /// The same fields for a plugin of another norm kind (every kind takes
    /// the same fields with the same ranges).
    pub fn with_norm(self, norm: NormKind) -> Self {
        PluginConfig { norm, ..self }
    }

    /// From the field collection of a plugin of `kind`: names and types
    /// checked, defaults for absent fields, ranges checked.
    pub fn from_fields(kind: NormKind, fields: &[RawField<'_>]) -> Result<Self, FieldError> {
        let given = fields::collect(kind, fields)?;
        Ok(PluginConfig::new(
            given.epsilon.unwrap_or(DEFAULT_EPSILON),
            given.axis.unwrap_or(DEFAULT_AXIS),
            given.output_type.unwrap_or(OutputType::SameAsInput.code()),
        )?
        .with_norm(kind))
    }

    /// Which norm, hence which plugin (FP32LayerNorm or FP32RMSNorm).
    pub fn norm(&self) -> NormKind {
        self.norm
    }
    /// The plugin this configuration belongs to.
    pub fn plugin_name(&self) -> &'static str {
        plugin_name(self.norm)
    }
    /// 1 to this many inputs.
    pub fn max_inputs(&self) -> i32 {
        max_inputs(self.norm)
    }
    /// [`check_io_counts`] for this configuration's kind.
    pub fn check_io_counts(&self, nb_inputs: i32, nb_outputs: i32) -> Result<(), ShapeError> {
        check_io_counts(self.norm, nb_inputs, nb_outputs)
    }

    pub fn epsilon(&self) -> f32 {
        self.epsilon
    }
    pub fn axis(&self) -> i32 {
        self.axis
    }
    pub fn output_type(&self) -> OutputType {
        self.output_type
    }

    /// Y's type for X's type.
    pub fn output_dtype(&self, x: DType) -> DType {
        match self.output_type {
            OutputType::SameAsInput => x,
            OutputType::Float32 => DType::F32,
        }
    }

    /// `getOutputDataType(s)`: Y's TensorRT type code from the input type codes.
    pub fn output_type_code(&self, input_types: &[i32]) -> Result<i32, ShapeError> {
        self.check_io_counts(input_types.len() as i32, 1)?;
        let x = dtype_from_trt(input_types[0]).ok_or(ShapeError::UnsupportedType { tensor: "X", code: input_types[0] })?;
        Ok(dtype_to_trt(self.output_dtype(x)))
    }

    /// `supportsFormatCombination`: may tensor `pos` have the type and format
    /// in `in_out[pos]`, given the choices already made for positions before it?
    pub fn supports_combination(&self, pos: i32, in_out: &[TensorInfo<'_>], nb_inputs: i32, nb_outputs: i32) -> Result<(), ShapeError> {
        self.check_io_counts(nb_inputs, nb_outputs)?;
        let total = nb_inputs + nb_outputs;
        if pos < 0 || pos >= total || in_out.len() != total as usize {
            return Err(ShapeError::Position { pos, total });
        }
        let pos = pos as usize;
        let tensor = tensor_name(pos, nb_inputs as usize);
        let desc = in_out[pos];
        if desc.format != FORMAT_LINEAR {
            return Err(ShapeError::UnsupportedFormat { tensor, code: desc.format });
        }
        let dtype = dtype_from_trt(desc.dtype).ok_or(ShapeError::UnsupportedType { tensor, code: desc.dtype })?;
        if pos == nb_inputs as usize {
            let x = dtype_from_trt(in_out[0].dtype).ok_or(ShapeError::UnsupportedType { tensor: "X", code: in_out[0].dtype })?;
            let expected = self.output_dtype(x);
            if dtype != expected {
                return Err(ShapeError::OutputTypeMismatch { x, expected, output_type: self.output_type.code(), got: desc.dtype });
            }
        }
        Ok(())
    }

    /// The axis as an index into X's dims.
    pub fn axis_index(&self, rank: usize) -> Result<usize, ShapeError> {
        if rank == 0 || rank > MAX_RANK {
            return Err(ShapeError::Rank { rank });
        }
        let r = rank as i64;
        let a = self.axis as i64;
        if a < -r || a >= r {
            return Err(ShapeError::Axis { axis: self.axis, rank });
        }
        Ok(if a < 0 { (a + r) as usize } else { a as usize })
    }

    /// `configurePlugin` / `onShapeChange`: checks X's rank against `axis` and
    /// Scale/Bias against X's normalized dims. Dims still unknown (-1, at
    /// build time) are not compared; everything known must fit.
    pub fn check_shapes(&self, inputs: &[&[i64]], nb_outputs: i32) -> Result<(), ShapeError> {
        self.check_io_counts(inputs.len() as i32, nb_outputs)?;
        let x = inputs[0];
        check_dims("X", x)?;
        let axis = self.axis_index(x.len())?;
        let normalized = &x[axis..];
        for (i, dims) in inputs.iter().enumerate().skip(1) {
            let tensor = INPUT_NAMES[i];
            check_dims(tensor, dims)?;
            if !param_shape_fits(dims, normalized) {
                return Err(ShapeError::ParamShape { tensor, got: dims.to_vec(), expected: normalized.to_vec() });
            }
        }
        // Sizes the kernels cannot take are refused here, when TensorRT
        // configures the plugin, not at enqueue.
        if normalized.iter().all(|&d| d >= 0) {
            let cols = normalized.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d as u64));
            if cols.is_none_or(|c| c > crate::problem::MAX_COLS) {
                return Err(ShapeError::RowTooLong { dims: x.to_vec(), cols: cols.unwrap_or(u64::MAX), max: crate::problem::MAX_COLS });
            }
        }
        if x.iter().all(|&d| d >= 0) {
            self.rows_cols(x)?;
        }
        Ok(())
    }

    /// Rows and columns of a concrete X shape (all dims known).
    pub fn rows_cols(&self, x: &[i64]) -> Result<RowsCols, ShapeError> {
        let axis = self.axis_index(x.len())?;
        if x.iter().any(|&d| d < 0) {
            return Err(ShapeError::Unresolved { tensor: "X", dims: x.to_vec() });
        }
        // Exact or None: a zero dim makes the product 0 wherever it stands (found by proptest:
        // [2^59, 8, 4, 0] was refused as overflowing although X is empty).
        let product = |ds: &[i64]| if ds.contains(&0) { Some(0) } else { ds.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d as u64)) };
        let overflow = || Error::InvalidParameter { name: "rows", reason: format!("X of shape {x:?} has more elements than fit 64 bits") };
        let rows = product(&x[..axis]).ok_or_else(overflow)?;
        let cols = product(&x[axis..]).ok_or_else(overflow)?;
        Ok(RowsCols { rows, cols })
    }

    /// `enqueue`: the launch for concrete input and output descriptions
    /// (RMSNorm: never a bias, the input count allows none).
    /// `Ok(None)` where X is empty (nothing to compute).
    pub fn problem(&self, inputs: &[TensorInfo<'_>], outputs: &[TensorInfo<'_>]) -> Result<Option<Problem>, ShapeError> {
        self.check_io_counts(inputs.len() as i32, outputs.len() as i32)?;
        let dims: Vec<&[i64]> = inputs.iter().map(|t| t.dims).collect();
        for (i, t) in inputs.iter().enumerate() {
            if t.dims.iter().any(|&d| d < 0) {
                return Err(ShapeError::Unresolved { tensor: INPUT_NAMES[i], dims: t.dims.to_vec() });
            }
        }
        self.check_shapes(&dims, 1)?;
        let all: Vec<TensorInfo<'_>> = inputs.iter().chain(outputs).copied().collect();
        for pos in 0..all.len() {
            self.supports_combination(pos as i32, &all, inputs.len() as i32, 1)?;
        }
        let y = outputs[0];
        if y.dims != inputs[0].dims {
            return Err(ShapeError::ParamShape { tensor: "Y", got: y.dims.to_vec(), expected: inputs[0].dims.to_vec() });
        }
        let RowsCols { rows, cols } = self.rows_cols(inputs[0].dims)?;
        if rows == 0 || cols == 0 {
            return Ok(None);
        }
        let dt = |t: &TensorInfo<'_>| dtype_from_trt(t.dtype).expect("checked by supports_combination");
        let problem = Problem::new(
            rows,
            cols,
            dt(&inputs[0]),
            dt(&y),
            inputs.get(1).map(dt),
            inputs.get(2).map(dt),
            self.epsilon,
        )?
        .with_norm(self.norm)?;
        Ok(Some(problem))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::fields::{FieldType, FieldValue};

    #[test]
    fn rows_too_long_for_the_kernels_are_refused_at_configure() {
        let c = PluginConfig::default();
        let long: &[i64] = &[2, 1 << 32];
        assert!(matches!(c.check_shapes(&[long], 1), Err(ShapeError::RowTooLong { .. })));
        let fine: &[i64] = &[524_289, 4096];
        assert_eq!(c.check_shapes(&[fine], 1), Ok(()));
        let unknown: &[i64] = &[-1, 4096];
        assert_eq!(c.check_shapes(&[unknown], 1), Ok(()), "unknown dims are checked once known");
        let huge: &[i64] = &[1 << 40, 1 << 40];
        assert!(matches!(c.check_shapes(&[huge], 1), Err(ShapeError::RowTooLong { .. })));
    }

    fn info(dtype: i32, dims: &[i64]) -> TensorInfo<'_> {
        TensorInfo { dtype, format: FORMAT_LINEAR, dims }
    }

    #[test]
    fn defaults() {
        let c = PluginConfig::from_fields(NormKind::LayerNorm, &[]).unwrap();
        assert_eq!(c, PluginConfig::default());
        assert_eq!((c.epsilon(), c.axis(), c.output_type()), (1e-5, -1, OutputType::SameAsInput));
    }

    #[test]
    fn range_checks_name_the_field() {
        let name = |r: Result<PluginConfig, FieldError>| match r {
            Err(FieldError::OutOfRange { name, .. }) => name,
            other => panic!("expected OutOfRange, got {other:?}"),
        };
        for eps in [0.0, -0.0, -1e-5, f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            assert_eq!(name(PluginConfig::new(eps, -1, 0)), "epsilon");
        }
        for axis in [8, -9, i32::MAX, i32::MIN] {
            assert_eq!(name(PluginConfig::new(1e-5, axis, 0)), "axis");
        }
        for ot in [-1, 2, 7, i32::MIN] {
            assert_eq!(name(PluginConfig::new(1e-5, -1, ot)), "output_type");
        }
        assert!(PluginConfig::new(f32::MIN_POSITIVE / 2.0, -8, 1).is_ok(), "subnormal epsilon is > 0");
        assert!(PluginConfig::new(1.0, 7, 0).is_ok());
        let f = RawField { name: Some("epsilon"), field_type: FieldType::Float32, length: 1, value: Some(FieldValue::F32(-1.0)) };
        assert!(PluginConfig::from_fields(NormKind::LayerNorm, &[f]).unwrap_err().to_string().contains("`epsilon`"));
    }

    #[test]
    fn format_rules() {
        let same = PluginConfig::default();
        let fp32 = PluginConfig::new(1e-5, -1, 1).unwrap();
        let d: &[i64] = &[2, 8];
        let p: &[i64] = &[8];
        for x in [0, 1, 7] {
            for s in [0, 1, 7] {
                // X, Scale, Bias, Y
                let io = [info(x, d), info(s, p), info(s, p), info(x, d)];
                for pos in 0..4 {
                    assert!(same.supports_combination(pos, &io, 3, 1).is_ok());
                }
                let io32 = [info(x, d), info(s, p), info(s, p), info(0, d)];
                assert!(fp32.supports_combination(3, &io32, 3, 1).is_ok());
                if x != 0 {
                    assert!(same.supports_combination(3, &io32, 3, 1).is_err(), "Y must be X's type");
                    assert!(fp32.supports_combination(3, &io, 3, 1).is_err(), "Y must be FP32");
                }
            }
        }
        for bad in [2, 3, 4, 5, 6, 8, 9, -1, 100] {
            let io = [info(bad, d), info(bad, d)];
            assert_eq!(same.supports_combination(0, &io, 1, 1), Err(ShapeError::UnsupportedType { tensor: "X", code: bad }));
            assert!(same.supports_combination(1, &io, 1, 1).is_err());
            let io2 = [info(0, d), info(bad, p), info(0, d)];
            assert_eq!(same.supports_combination(1, &io2, 2, 1), Err(ShapeError::UnsupportedType { tensor: "Scale", code: bad }));
        }
        let chw = [TensorInfo { format: 1, ..info(0, d) }, info(0, d)];
        assert_eq!(same.supports_combination(0, &chw, 1, 1), Err(ShapeError::UnsupportedFormat { tensor: "X", code: 1 }));
        let io = [info(0, d), info(0, d)];
        assert_eq!(same.supports_combination(2, &io, 1, 1), Err(ShapeError::Position { pos: 2, total: 2 }));
        assert_eq!(same.supports_combination(-1, &io, 1, 1), Err(ShapeError::Position { pos: -1, total: 2 }));
        assert_eq!(same.supports_combination(0, &io, 0, 2), Err(ShapeError::InputCount { kind: NormKind::LayerNorm, got: 0 }));
        assert_eq!(same.supports_combination(0, &io, 1, 2), Err(ShapeError::OutputCount { kind: NormKind::LayerNorm, got: 2 }));
        assert_eq!(same.supports_combination(0, &io[..1], 1, 1), Err(ShapeError::Position { pos: 0, total: 2 }));
    }

    #[test]
    fn output_types() {
        let same = PluginConfig::default();
        let fp32 = PluginConfig::new(1e-5, -1, 1).unwrap();
        assert_eq!(same.output_type_code(&[1, 0, 0]), Ok(1));
        assert_eq!(same.output_type_code(&[7]), Ok(7));
        assert_eq!(fp32.output_type_code(&[1]), Ok(0));
        assert_eq!(fp32.output_type_code(&[7, 7]), Ok(0));
        assert_eq!(same.output_type_code(&[2]), Err(ShapeError::UnsupportedType { tensor: "X", code: 2 }));
        assert_eq!(same.output_type_code(&[]), Err(ShapeError::InputCount { kind: NormKind::LayerNorm, got: 0 }));
        assert_eq!(same.output_type_code(&[0, 0, 0, 0]), Err(ShapeError::InputCount { kind: NormKind::LayerNorm, got: 4 }));
    }

    #[test]
    fn axis_semantics_follow_onnx() {
        let at = |axis: i32, rank: usize| PluginConfig::new(1e-5, axis, 0).unwrap().axis_index(rank);
        assert_eq!(at(-1, 3), Ok(2));
        assert_eq!(at(-3, 3), Ok(0));
        assert_eq!(at(0, 1), Ok(0));
        assert_eq!(at(2, 3), Ok(2));
        assert_eq!(at(3, 3), Err(ShapeError::Axis { axis: 3, rank: 3 }));
        assert_eq!(at(-4, 3), Err(ShapeError::Axis { axis: -4, rank: 3 }));
        assert_eq!(at(-1, 0), Err(ShapeError::Rank { rank: 0 }));
        assert_eq!(at(-1, 9), Err(ShapeError::Rank { rank: 9 }));
        let c = PluginConfig::new(1e-5, -2, 0).unwrap();
        assert_eq!(c.rows_cols(&[4, 3, 5, 7]), Ok(RowsCols { rows: 12, cols: 35 }));
        assert_eq!(PluginConfig::default().rows_cols(&[768]), Ok(RowsCols { rows: 1, cols: 768 }));
        assert_eq!(PluginConfig::new(1e-5, 0, 0).unwrap().rows_cols(&[2, 3]), Ok(RowsCols { rows: 1, cols: 6 }));
    }

    #[test]
    fn scale_and_bias_shapes() {
        let last = PluginConfig::default();
        let two = PluginConfig::new(1e-5, -2, 0).unwrap();
        let x: &[i64] = &[2, 16, 768];
        assert!(last.check_shapes(&[x], 1).is_ok());
        assert!(last.check_shapes(&[x, &[768], &[768]], 1).is_ok());
        assert!(last.check_shapes(&[x, &[1, 1, 768], &[1, 768]], 1).is_ok(), "leading 1s are the same shape");
        assert!(two.check_shapes(&[x, &[16, 768]], 1).is_ok());
        let err = last.check_shapes(&[x, &[767]], 1).unwrap_err();
        assert!(matches!(err, ShapeError::ParamShape { tensor: "Scale", .. }), "{err:?}");
        assert!(err.to_string().contains("Scale"));
        assert!(matches!(last.check_shapes(&[x, &[768], &[16, 768]], 1), Err(ShapeError::ParamShape { tensor: "Bias", .. })));
        assert!(matches!(two.check_shapes(&[x, &[768]], 1), Err(ShapeError::ParamShape { tensor: "Scale", .. })));
        assert!(matches!(two.check_shapes(&[x, &[768, 16]], 1), Err(ShapeError::ParamShape { .. })));
        assert!(matches!(last.check_shapes(&[x, &[2, 768]], 1), Err(ShapeError::ParamShape { .. })), "no broadcasting");
        // Build time: unknown dims are not judged, known ones are.
        assert!(last.check_shapes(&[&[-1, -1, 768], &[768]], 1).is_ok());
        assert!(two.check_shapes(&[&[-1, -1, 768], &[16, 768]], 1).is_ok());
        assert!(last.check_shapes(&[&[-1, -1, -1], &[768]], 1).is_ok());
        assert!(matches!(last.check_shapes(&[&[-1, -1, 768], &[512]], 1), Err(ShapeError::ParamShape { .. })));
        assert!(matches!(last.check_shapes(&[&[2, -2, 768]], 1), Err(ShapeError::BadDim { tensor: "X", index: 1, value: -2 })));
        assert!(matches!(last.check_shapes(&[x, &[-5]], 1), Err(ShapeError::BadDim { tensor: "Scale", .. })));
        assert!(matches!(PluginConfig::new(1e-5, 3, 0).unwrap().check_shapes(&[x], 1), Err(ShapeError::Axis { .. })));
        assert_eq!(last.check_shapes(&[x, x, x, x], 1), Err(ShapeError::InputCount { kind: NormKind::LayerNorm, got: 4 }));
    }

    #[test]
    fn problem_for_enqueue() {
        let c = PluginConfig::new(1e-6, -1, 1).unwrap();
        let x: &[i64] = &[2, 3, 64];
        let p = c.problem(&[info(1, x), info(0, &[64]), info(7, &[64])], &[info(0, x)]).unwrap().unwrap();
        assert_eq!((p.rows(), p.cols(), p.x_dtype(), p.y_dtype()), (6, 64, DType::F16, DType::F32));
        assert_eq!((p.scale_dtype(), p.bias_dtype(), p.epsilon()), (Some(DType::F32), Some(DType::BF16), 1e-6));
        assert_eq!(c.problem(&[info(1, &[0, 64])], &[info(0, &[0, 64])]), Ok(None), "empty X: nothing to launch");
        assert!(matches!(c.problem(&[info(1, x)], &[info(1, x)]), Err(ShapeError::OutputTypeMismatch { .. })));
        assert!(matches!(c.problem(&[info(1, x)], &[info(0, &[2, 3, 63])]), Err(ShapeError::ParamShape { tensor: "Y", .. })));
        assert!(matches!(c.problem(&[info(1, &[-1, 64])], &[info(0, &[-1, 64])]), Err(ShapeError::Unresolved { .. })));
        assert!(matches!(c.problem(&[info(1, x), info(0, &[63])], &[info(0, x)]), Err(ShapeError::ParamShape { .. })));
        assert!(matches!(c.problem(&[info(2, x)], &[info(0, x)]), Err(ShapeError::UnsupportedType { tensor: "X", .. })));
        assert!(matches!(c.problem(&[info(0, &[1 << 40, 1 << 40])], &[info(0, &[1 << 40, 1 << 40])]), Err(ShapeError::RowTooLong { .. })));
        assert!(matches!(c.problem(&[info(0, &[1 << 40, 1 << 30])], &[info(0, &[1 << 40, 1 << 30])]), Err(ShapeError::Problem(_))));
    }
    #[test]
    fn rmsnorm_takes_x_and_scale_only() {
        let rms = PluginConfig::new(1e-6, -1, 0).unwrap().with_norm(NormKind::RmsNorm);
        assert_eq!((rms.norm(), rms.plugin_name(), rms.max_inputs()), (NormKind::RmsNorm, "FP32RMSNorm", 2));
        assert_eq!((rms.epsilon(), rms.axis(), rms.output_type()), (1e-6, -1, OutputType::SameAsInput));
        assert_ne!(rms, rms.with_norm(NormKind::LayerNorm), "the kind is part of the configuration");
        let from = PluginConfig::from_fields(NormKind::RmsNorm, &[]).unwrap();
        assert_eq!(from, PluginConfig::default().with_norm(NormKind::RmsNorm));
        let axis8 = RawField { name: Some("axis"), field_type: FieldType::Int32, length: 1, value: Some(FieldValue::I32(8)) };
        let e = PluginConfig::from_fields(NormKind::RmsNorm, &[axis8]);
        assert!(matches!(e, Err(FieldError::OutOfRange { name: "axis", .. })), "{e:?}");

        let x: &[i64] = &[2, 16, 768];
        assert!(rms.check_shapes(&[x], 1).is_ok());
        assert!(rms.check_shapes(&[x, &[1, 768]], 1).is_ok());
        assert!(matches!(rms.check_shapes(&[x, &[767]], 1), Err(ShapeError::ParamShape { tensor: "Scale", .. })));
        let three = rms.check_shapes(&[x, &[768], &[768]], 1).unwrap_err();
        assert_eq!(three, ShapeError::InputCount { kind: NormKind::RmsNorm, got: 3 });
        assert_eq!(three.to_string(), "FP32RMSNorm takes 1 to 2 inputs (X, Scale), got 3");
        assert_eq!(
            PluginConfig::default().check_shapes(&[x, x, x, x], 1).unwrap_err().to_string(),
            "FP32LayerNorm takes 1 to 3 inputs (X, Scale, Bias), got 4"
        );
        assert_eq!(rms.check_io_counts(1, 2).unwrap_err().to_string(), "FP32RMSNorm has exactly 1 output, got 2");
        assert_eq!(rms.output_type_code(&[1, 0, 0]), Err(ShapeError::InputCount { kind: NormKind::RmsNorm, got: 3 }));
        assert_eq!(rms.output_type_code(&[7, 1]), Ok(7));

        // Formats: the same rules as FP32LayerNorm, over X, Scale, Y.
        let d: &[i64] = &[2, 8];
        let p: &[i64] = &[8];
        let fp32 = PluginConfig::new(1e-5, -1, 1).unwrap().with_norm(NormKind::RmsNorm);
        for x in [0, 1, 7] {
            for s in [0, 1, 7] {
                let io = [info(x, d), info(s, p), info(x, d)];
                for pos in 0..3 {
                    assert!(rms.supports_combination(pos, &io, 2, 1).is_ok());
                }
                let io32 = [info(x, d), info(s, p), info(0, d)];
                assert!(fp32.supports_combination(2, &io32, 2, 1).is_ok());
                if x != 0 {
                    assert!(rms.supports_combination(2, &io32, 2, 1).is_err(), "Y must be X's type");
                    assert!(fp32.supports_combination(2, &io, 2, 1).is_err(), "Y must be FP32");
                }
            }
        }
        let io4 = [info(0, d), info(0, p), info(0, p), info(0, d)];
        assert_eq!(rms.supports_combination(0, &io4, 3, 1), Err(ShapeError::InputCount { kind: NormKind::RmsNorm, got: 3 }));

        // Enqueue: an RMSNorm problem, never a bias.
        let p = rms.problem(&[info(1, x), info(7, &[768])], &[info(1, x)]).unwrap().unwrap();
        assert_eq!((p.norm(), p.rows(), p.cols(), p.scale_dtype(), p.bias_dtype()), (NormKind::RmsNorm, 32, 768, Some(DType::BF16), None));
        let p = rms.problem(&[info(0, x)], &[info(0, x)]).unwrap().unwrap();
        assert_eq!((p.norm(), p.scale_dtype(), p.bias_dtype()), (NormKind::RmsNorm, None, None));
        assert!(matches!(
            rms.problem(&[info(0, x), info(0, &[768]), info(0, &[768])], &[info(0, x)]),
            Err(ShapeError::InputCount { kind: NormKind::RmsNorm, got: 3 })
        ));
        let p = PluginConfig::default().problem(&[info(0, x), info(0, &[768]), info(0, &[768])], &[info(0, x)]).unwrap().unwrap();
        assert_eq!(p.norm(), NormKind::LayerNorm);
    }
}
