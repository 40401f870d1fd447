//! The plugin's configuration and every rule TensorRT asks the plugin about:
//! which formats and types it supports, the output types, how X's shape
//! splits into rows and columns, and whether the other inputs fit. The norm
//! kind is part of the configuration, and so are its inputs ([`input_roles`]):
//!
//! - FP32LayerNorm: X, Scale, Bias (1 to 3);
//! - FP32RMSNorm: X, Scale (1 or 2; no Bias);
//! - FP32SkipLayerNorm: X, Skip, Scale, Bias, ResidualBias (2 to 5), and a
//!   second output S (the sum) when `sum_output` = 1.
//!
//! The rules are per input role, not per plugin: Scale, Bias and ResidualBias
//! have the normalized dims of X; Skip has X's shape; Skip, ResidualBias and S
//! have X's type; Y has X's type or FP32 (`output_type`).
//!
//! TensorRT passes types, formats and shapes as plain integers; they arrive
//! here unchanged and are judged here.

use super::fields::{self, FieldError, RawField};
use super::plugin_name;
use crate::dtype::DType;
use crate::error::Error;
use crate::problem::{DevicePtrs, NormKind, Problem, SkipOptions};

/// Default `epsilon` (ONNX LayerNormalization's default).
pub const DEFAULT_EPSILON: f32 = 1e-5;
/// Default `axis`: normalize over the last dimension.
pub const DEFAULT_AXIS: i32 = -1;
/// Default `sum_output` (FP32SkipLayerNorm): Y only.
pub const DEFAULT_SUM_OUTPUT: i32 = 0;

/// Where a plugin's fields come from. Only `workspace`'s default depends on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldSource {
    /// A network being built (ONNX attributes, a builder application):
    /// `workspace` defaults to 1, and TensorRT is asked for the workspace.
    Build,
    /// The fields an engine stored (IPluginV3 at run time): `workspace`
    /// defaults to 0, since an engine built before the field existed
    /// never asked TensorRT for a workspace and gets none.
    Engine,
}

impl FieldSource {
    pub fn default_workspace(self) -> i32 {
        match self {
            FieldSource::Build => 1,
            FieldSource::Engine => 0,
        }
    }
}

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

/// The most inputs and outputs of any plugin (the C++ side's `kMaxInputs` /
/// `kMaxOutputs` arrays; a test checks every kind stays within them).
pub const MAX_INPUTS: usize = 5;
pub const MAX_OUTPUTS: usize = 2;

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

/// What an input is to the plugin; each rule is the role's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The normalized tensor (FP32SkipLayerNorm: the first addend).
    X,
    /// FP32SkipLayerNorm: the residual added to X; X's shape and type.
    Skip,
    /// Normalized dims of X, any supported type.
    Scale,
    /// Normalized dims of X, any supported type.
    Bias,
    /// FP32SkipLayerNorm: added to X before Skip; normalized dims, X's type.
    ResidualBias,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::X => "X",
            Role::Skip => "Skip",
            Role::Scale => "Scale",
            Role::Bias => "Bias",
            Role::ResidualBias => "ResidualBias",
        }
    }
}

/// The inputs of a plugin of `kind`, by position.
pub fn input_roles(kind: NormKind) -> &'static [Role] {
    const LAYER: [Role; 3] = [Role::X, Role::Scale, Role::Bias];
    const SKIP: [Role; 5] = [Role::X, Role::Skip, Role::Scale, Role::Bias, Role::ResidualBias];
    match kind {
        NormKind::LayerNorm => &LAYER,
        NormKind::RmsNorm => &LAYER[..2],
        NormKind::SkipLayerNorm => &SKIP,
    }
}

/// The names of the inputs of a plugin of `kind`, in order.
pub fn input_names(kind: NormKind) -> Vec<&'static str> {
    input_roles(kind).iter().map(|r| r.name()).collect()
}

/// The fewest inputs a plugin of `kind` takes: X (FP32SkipLayerNorm: X and Skip).
pub fn min_inputs(kind: NormKind) -> i32 {
    match kind {
        NormKind::SkipLayerNorm => 2,
        NormKind::LayerNorm | NormKind::RmsNorm => 1,
    }
}

/// The most inputs a plugin of `kind` takes: 3 (LayerNorm), 2 (RMSNorm), 5 (SkipLayerNorm).
pub fn max_inputs(kind: NormKind) -> i32 {
    input_roles(kind).len() as i32
}

/// The outputs a plugin of `kind` can have, in order: Y, and S (FP32SkipLayerNorm with `sum_output` = 1).
pub fn output_names(kind: NormKind) -> &'static [&'static str] {
    match kind {
        NormKind::SkipLayerNorm => &["Y", "S"],
        NormKind::LayerNorm | NormKind::RmsNorm => &["Y"],
    }
}

fn output_count_message(kind: NormKind, expected: i32, got: i32) -> String {
    let name = plugin_name(kind);
    match kind {
        NormKind::SkipLayerNorm if expected == 2 => format!("{name} has exactly 2 outputs (Y, S) with sum_output = 1, got {got}"),
        NormKind::SkipLayerNorm => format!("{name} has exactly 1 output (Y) with sum_output = 0, got {got}"),
        _ => format!("{name} has exactly 1 output, got {got}"),
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
    /// FP32SkipLayerNorm: S is a second output. Always false for the other kinds.
    sum_output: bool,
    /// `workspace` = 1: TensorRT was (or will be) asked for a workspace, and
    /// few long rows may take the grid variant in it.
    workspace: bool,
}

impl Default for PluginConfig {
    /// FP32LayerNorm with every field at its default.
    fn default() -> Self {
        PluginConfig {
            norm: NormKind::LayerNorm,
            epsilon: DEFAULT_EPSILON,
            axis: DEFAULT_AXIS,
            output_type: OutputType::SameAsInput,
            sum_output: false,
            workspace: true,
        }
    }
}

/// Why TensorRT's request about tensors, types or shapes is refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ShapeError {
    #[error("{} takes {} to {} inputs ({}), got {got}", plugin_name(*kind), min_inputs(*kind), max_inputs(*kind), input_names(*kind).join(", "))]
    InputCount { kind: NormKind, got: i32 },
    #[error("{}", output_count_message(*kind, *expected, *got))]
    OutputCount { kind: NormKind, expected: i32, got: i32 },
    #[error("output index {index} is out of range ({} has {nb_outputs} output(s) here)", plugin_name(*kind))]
    OutputIndex { kind: NormKind, index: i32, nb_outputs: i32 },
    #[error("position {pos} is out of range for {total} tensors")]
    Position { pos: i32, total: i32 },
    #[error("{tensor} has TensorRT data type code {code}; supported: FP32 (0), FP16 (1), BF16 (7)")]
    UnsupportedType { tensor: &'static str, code: i32 },
    #[error("{tensor} has TensorRT format code {code}; only linear (0) is supported")]
    UnsupportedFormat { tensor: &'static str, code: i32 },
    #[error("Y must be {expected} for X in {x} with output_type = {output_type}, got TensorRT type code {got}")]
    OutputTypeMismatch { x: DType, expected: DType, output_type: i32, got: i32 },
    #[error("{tensor} must have X's type ({x}), got TensorRT type code {got}")]
    NotXType { tensor: &'static str, x: DType, got: i32 },
    #[error("X has rank {rank}; the rank must be 1 to {MAX_RANK}")]
    Rank { rank: usize },
    #[error("axis {axis} is out of range for X of rank {rank} (valid: -{rank} to {max})", max = *rank as i64 - 1)]
    Axis { axis: i32, rank: usize },
    #[error("{tensor} dimension {index} is {value}; dimensions must be >= 0 (or -1 while still unknown)")]
    BadDim { tensor: &'static str, index: usize, value: i64 },
    #[error("{tensor} has shape {got:?} but must have the normalized dims of X {expected:?} (leading 1s allowed)")]
    ParamShape { tensor: &'static str, got: Vec<i64>, expected: Vec<i64> },
    #[error("{tensor} has shape {got:?} but must have X's shape {expected:?}")]
    NotXShape { tensor: &'static str, got: Vec<i64>, expected: Vec<i64> },
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

/// Name of tensor `pos` among the inputs and outputs of a plugin of `kind` (for messages).
pub fn tensor_name(kind: NormKind, pos: usize, nb_inputs: usize) -> &'static str {
    if pos < nb_inputs {
        input_roles(kind).get(pos).map_or("input", |r| r.name())
    } else {
        output_names(kind).get(pos - nb_inputs).copied().unwrap_or("output")
    }
}

fn strip_leading_ones(dims: &[i64]) -> &[i64] {
    let first = dims.iter().position(|&d| d != 1).unwrap_or(dims.len());
    &dims[first..]
}

/// Scale/Bias/ResidualBias fit the normalized dims: the same shape once
/// leading 1s are dropped. With dims still unknown (-1) only a provable
/// mismatch is refused: aligned from the right, two known dims differ, or a
/// known dim other than 1 has no partner.
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

/// Skip fits X: the same rank, and no two known dims differ (no broadcasting).
fn same_shape_fits(dims: &[i64], x: &[i64]) -> bool {
    dims.len() == x.len() && dims.iter().zip(x).all(|(&a, &b)| a == -1 || b == -1 || a == b)
}

fn check_dims(tensor: &'static str, dims: &[i64]) -> Result<(), ShapeError> {
    if let Some((index, &value)) = dims.iter().enumerate().find(|(_, &d)| d < -1) {
        return Err(ShapeError::BadDim { tensor, index, value });
    }
    Ok(())
}

impl PluginConfig {
    /// An FP32LayerNorm configuration with `workspace` = 1 (see
    /// [`PluginConfig::with_norm`] for the other kinds,
    /// [`PluginConfig::with_sum_output`] for FP32SkipLayerNorm's extra field,
    /// [`PluginConfig::with_workspace`]); range-checks the values; the error
    /// names the field.
    pub fn new(epsilon: f32, axis: i32, output_type: i32) -> Result<Self, FieldError> {
        // 0 is valid: a LayerNorm whose exporter folded epsilon away (a constant row then
        // gives NaN, as the original graph does).
        if !(epsilon.is_finite() && epsilon >= 0.0) {
            return Err(FieldError::OutOfRange {
                name: fields::EPSILON,
                value: format!("{epsilon:e}"),
                reason: "must be finite and >= 0",
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
        Ok(PluginConfig { norm: NormKind::LayerNorm, epsilon, axis, output_type, sum_output: false, workspace: true })
    }

    /// The same fields for a plugin of another norm kind (every kind takes
    /// `epsilon`, `axis` and `output_type` with the same ranges). `sum_output`
    /// is kept for FP32SkipLayerNorm only (the other kinds have no such field).
    pub fn with_norm(self, norm: NormKind) -> Self {
        PluginConfig { norm, sum_output: self.sum_output && norm == NormKind::SkipLayerNorm, ..self }
    }

    /// FP32SkipLayerNorm's `sum_output`: 0 (Y only) or 1 (Y and S), range-checked.
    /// The other kinds have no such field: 0 leaves them as they are, anything
    /// else is refused as an unknown field of that plugin.
    pub fn with_sum_output(self, sum_output: i32) -> Result<Self, FieldError> {
        match (self.norm, sum_output) {
            (_, 0) => Ok(PluginConfig { sum_output: false, ..self }),
            (NormKind::SkipLayerNorm, 1) => Ok(PluginConfig { sum_output: true, ..self }),
            (NormKind::SkipLayerNorm, _) => Err(FieldError::OutOfRange {
                name: fields::SUM_OUTPUT,
                value: sum_output.to_string(),
                reason: "must be 0 (Y only) or 1 (Y and the sum S)",
            }),
            (kind, _) => Err(FieldError::Unknown { name: fields::SUM_OUTPUT.to_owned(), kind }),
        }
    }

    /// `workspace`: 0 (never ask TensorRT for a workspace) or 1, range-checked.
    pub fn with_workspace(self, workspace: i32) -> Result<Self, FieldError> {
        match workspace {
            0 | 1 => Ok(PluginConfig { workspace: workspace == 1, ..self }),
            _ => Err(FieldError::OutOfRange {
                name: fields::WORKSPACE,
                value: workspace.to_string(),
                reason: "must be 0 (no workspace) or 1 (a workspace for few long rows)",
            }),
        }
    }

    /// From the field collection of a network being built ([`FieldSource::Build`]).
    pub fn from_fields(kind: NormKind, fields: &[RawField<'_>]) -> Result<Self, FieldError> {
        Self::from_fields_of(kind, fields, FieldSource::Build)
    }

    /// From the field collection of a plugin of `kind`: names and types
    /// checked, defaults for absent fields (`workspace`'s from `source`),
    /// ranges checked (in the order epsilon, axis, output_type, sum_output,
    /// workspace).
    pub fn from_fields_of(kind: NormKind, fields: &[RawField<'_>], source: FieldSource) -> Result<Self, FieldError> {
        let given = fields::collect(kind, fields)?;
        PluginConfig::new(
            given.epsilon.unwrap_or(DEFAULT_EPSILON),
            given.axis.unwrap_or(DEFAULT_AXIS),
            given.output_type.unwrap_or(OutputType::SameAsInput.code()),
        )?
        .with_norm(kind)
        .with_sum_output(given.sum_output.unwrap_or(DEFAULT_SUM_OUTPUT))?
        .with_workspace(given.workspace.unwrap_or(source.default_workspace()))
    }

    /// Which norm, hence which plugin (FP32LayerNorm, FP32RMSNorm or FP32SkipLayerNorm).
    pub fn norm(&self) -> NormKind {
        self.norm
    }
    /// The plugin this configuration belongs to.
    pub fn plugin_name(&self) -> &'static str {
        plugin_name(self.norm)
    }
    /// At least this many inputs.
    pub fn min_inputs(&self) -> i32 {
        min_inputs(self.norm)
    }
    /// At most this many inputs.
    pub fn max_inputs(&self) -> i32 {
        max_inputs(self.norm)
    }
    /// Exactly this many outputs: 1, or 2 for FP32SkipLayerNorm with `sum_output` = 1.
    pub fn nb_outputs(&self) -> i32 {
        1 + i32::from(self.sum_output)
    }

    /// The input count is the kind's (1 to 3, 1 to 2, 2 to 5), the output count this configuration's.
    pub fn check_io_counts(&self, nb_inputs: i32, nb_outputs: i32) -> Result<(), ShapeError> {
        if !(self.min_inputs()..=self.max_inputs()).contains(&nb_inputs) {
            return Err(ShapeError::InputCount { kind: self.norm, got: nb_inputs });
        }
        if nb_outputs != self.nb_outputs() {
            return Err(ShapeError::OutputCount { kind: self.norm, expected: self.nb_outputs(), got: nb_outputs });
        }
        Ok(())
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
    /// FP32SkipLayerNorm: whether S is a second output (false for the other kinds).
    pub fn sum_output(&self) -> bool {
        self.sum_output
    }
    /// Whether TensorRT is asked for a workspace (`workspace` = 1).
    pub fn workspace(&self) -> bool {
        self.workspace
    }

    /// The value of the field `name` as the plugin reports it (`getFieldsToSerialize`),
    /// if it is one of this kind's fields: from_fields of these values gives `self` back.
    pub fn field_value(&self, name: &str) -> Option<fields::FieldValue> {
        use fields::FieldValue::{F32, I32};
        fields::expected_type(self.norm, name)?;
        match name {
            fields::EPSILON => Some(F32(self.epsilon)),
            fields::AXIS => Some(I32(self.axis)),
            fields::OUTPUT_TYPE => Some(I32(self.output_type.code())),
            fields::SUM_OUTPUT => Some(I32(i32::from(self.sum_output))),
            fields::WORKSPACE => Some(I32(i32::from(self.workspace))),
            _ => None,
        }
    }

    /// Y's type for X's type.
    pub fn output_dtype(&self, x: DType) -> DType {
        match self.output_type {
            OutputType::SameAsInput => x,
            OutputType::Float32 => DType::F32,
        }
    }

    /// Questions about one output (`getOutputDimensions`, `getOutputDataType`):
    /// the input count is the kind's, and `index` is one of this configuration's outputs.
    pub fn check_output(&self, nb_inputs: i32, index: i32) -> Result<(), ShapeError> {
        if !(self.min_inputs()..=self.max_inputs()).contains(&nb_inputs) {
            return Err(ShapeError::InputCount { kind: self.norm, got: nb_inputs });
        }
        if !(0..self.nb_outputs()).contains(&index) {
            return Err(ShapeError::OutputIndex { kind: self.norm, index, nb_outputs: self.nb_outputs() });
        }
        Ok(())
    }

    /// `getOutputDataType(s)`: the TensorRT type code of output `index` (Y: by
    /// `output_type`; S: X's type) from the input type codes.
    pub fn output_type_code(&self, index: i32, input_types: &[i32]) -> Result<i32, ShapeError> {
        self.check_output(input_types.len() as i32, index)?;
        let x = dtype_from_trt(input_types[0]).ok_or(ShapeError::UnsupportedType { tensor: "X", code: input_types[0] })?;
        Ok(dtype_to_trt(if index == 0 { self.output_dtype(x) } else { x }))
    }

    /// The role of input `pos` (a position the count check let through).
    fn role(&self, pos: usize) -> Role {
        input_roles(self.norm)[pos]
    }

    /// Where the input of `role` is among this kind's inputs, if it has one.
    fn position(&self, role: Role) -> Option<usize> {
        input_roles(self.norm).iter().position(|&r| r == role)
    }

    /// The type rule of input `pos`: a supported type, and X's own for Skip and ResidualBias.
    fn check_input_type(&self, pos: usize, dtype_code: i32, x_code: i32) -> Result<DType, ShapeError> {
        let tensor = self.role(pos).name();
        let dtype = dtype_from_trt(dtype_code).ok_or(ShapeError::UnsupportedType { tensor, code: dtype_code })?;
        if matches!(self.role(pos), Role::Skip | Role::ResidualBias) {
            let x = dtype_from_trt(x_code).ok_or(ShapeError::UnsupportedType { tensor: "X", code: x_code })?;
            if dtype != x {
                return Err(ShapeError::NotXType { tensor, x, got: dtype_code });
            }
        }
        Ok(dtype)
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
        let tensor = tensor_name(self.norm, pos, nb_inputs as usize);
        let desc = in_out[pos];
        if desc.format != FORMAT_LINEAR {
            return Err(ShapeError::UnsupportedFormat { tensor, code: desc.format });
        }
        if pos < nb_inputs as usize {
            self.check_input_type(pos, desc.dtype, in_out[0].dtype)?;
            return Ok(());
        }
        let dtype = dtype_from_trt(desc.dtype).ok_or(ShapeError::UnsupportedType { tensor, code: desc.dtype })?;
        let x = dtype_from_trt(in_out[0].dtype).ok_or(ShapeError::UnsupportedType { tensor: "X", code: in_out[0].dtype })?;
        if pos == nb_inputs as usize {
            let expected = self.output_dtype(x);
            if dtype != expected {
                return Err(ShapeError::OutputTypeMismatch { x, expected, output_type: self.output_type.code(), got: desc.dtype });
            }
        } else if dtype != x {
            // S, the sum: X's type.
            return Err(ShapeError::NotXType { tensor, x, got: desc.dtype });
        }
        Ok(())
    }

    /// `configurePlugin` / `onShapeChange`: the input types (each supported;
    /// Skip and ResidualBias in X's type), which supportsFormatCombination
    /// already let through when TensorRT asked it.
    pub fn check_input_types(&self, inputs: &[TensorInfo<'_>]) -> Result<(), ShapeError> {
        let nb_inputs = inputs.len() as i32;
        if !(self.min_inputs()..=self.max_inputs()).contains(&nb_inputs) {
            return Err(ShapeError::InputCount { kind: self.norm, got: nb_inputs });
        }
        for (pos, t) in inputs.iter().enumerate() {
            self.check_input_type(pos, t.dtype, inputs[0].dtype)?;
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

    /// `configurePlugin` / `onShapeChange`: checks X's rank against `axis`,
    /// Skip against X's shape and Scale/Bias/ResidualBias against X's
    /// normalized dims. Dims still unknown (-1, at build time) are not
    /// compared; everything known must fit.
    pub fn check_shapes(&self, inputs: &[&[i64]], nb_outputs: i32) -> Result<(), ShapeError> {
        self.check_io_counts(inputs.len() as i32, nb_outputs)?;
        let x = inputs[0];
        check_dims("X", x)?;
        let axis = self.axis_index(x.len())?;
        let normalized = &x[axis..];
        for (i, dims) in inputs.iter().enumerate().skip(1) {
            let role = self.role(i);
            let tensor = role.name();
            check_dims(tensor, dims)?;
            if role == Role::Skip {
                if !same_shape_fits(dims, x) {
                    return Err(ShapeError::NotXShape { tensor, got: dims.to_vec(), expected: x.to_vec() });
                }
            } else if !param_shape_fits(dims, normalized) {
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
    /// (RMSNorm: never a bias, the input count allows none; SkipLayerNorm:
    /// Scale, Bias and ResidualBias where given, S where `sum_output` = 1).
    /// `Ok(None)` where X is empty (nothing to compute).
    pub fn problem(&self, inputs: &[TensorInfo<'_>], outputs: &[TensorInfo<'_>]) -> Result<Option<Problem>, ShapeError> {
        self.check_io_counts(inputs.len() as i32, outputs.len() as i32)?;
        let dims: Vec<&[i64]> = inputs.iter().map(|t| t.dims).collect();
        for (i, t) in inputs.iter().enumerate() {
            if t.dims.iter().any(|&d| d < 0) {
                return Err(ShapeError::Unresolved { tensor: self.role(i).name(), dims: t.dims.to_vec() });
            }
        }
        self.check_shapes(&dims, outputs.len() as i32)?;
        let all: Vec<TensorInfo<'_>> = inputs.iter().chain(outputs).copied().collect();
        for pos in 0..all.len() {
            self.supports_combination(pos as i32, &all, inputs.len() as i32, outputs.len() as i32)?;
        }
        for (k, out) in outputs.iter().enumerate() {
            if out.dims != inputs[0].dims {
                return Err(ShapeError::NotXShape { tensor: output_names(self.norm)[k], got: out.dims.to_vec(), expected: inputs[0].dims.to_vec() });
            }
        }
        let RowsCols { rows, cols } = self.rows_cols(inputs[0].dims)?;
        if rows == 0 || cols == 0 {
            return Ok(None);
        }
        let dt = |t: &TensorInfo<'_>| dtype_from_trt(t.dtype).expect("checked by supports_combination");
        let given = |role| self.position(role).and_then(|i| inputs.get(i)).map(dt);
        let problem = Problem::new(rows, cols, dt(&inputs[0]), dt(&outputs[0]), given(Role::Scale), given(Role::Bias), self.epsilon)?;
        let problem = match self.norm {
            NormKind::SkipLayerNorm => problem.with_skip(SkipOptions { residual_bias: given(Role::ResidualBias).is_some(), sum_output: self.sum_output })?,
            norm => problem.with_norm(norm)?,
        };
        Ok(Some(problem))
    }

    /// `getWorkspaceSize`: the bytes to ask TensorRT for, for these shapes
    /// and every smaller one (TensorRT passes the largest it will run;
    /// [`crate::launch::workspace_bytes`] grows with rows and columns): 0
    /// with `workspace` = 0 or where no plan for such rows uses one, at most 1 MiB.
    pub fn workspace_size(&self, inputs: &[TensorInfo<'_>], outputs: &[TensorInfo<'_>]) -> Result<u64, ShapeError> {
        if !self.workspace {
            return Ok(0);
        }
        Ok(self.problem(inputs, outputs)?.map_or(0, |p| self.workspace_bytes(&p)))
    }

    /// The workspace a launch of `problem` may use: what `workspace_size`
    /// asked for, for these shapes (0 with `workspace` = 0). `enqueue` uses
    /// this much of TensorRT's workspace.
    pub fn workspace_bytes(&self, problem: &Problem) -> u64 {
        if self.workspace {
            crate::launch::workspace_bytes(problem)
        } else {
            0
        }
    }

    /// `enqueue`: which device pointer is which tensor of the launch, from
    /// TensorRT's input and output pointers in the plugin's order (0 for a
    /// tensor not given). Counts are [`PluginConfig::problem`]'s to check.
    pub fn device_ptrs(&self, input_ptrs: &[u64], output_ptrs: &[u64]) -> DevicePtrs {
        let input = |role| self.position(role).and_then(|i| input_ptrs.get(i)).copied().unwrap_or(0);
        DevicePtrs {
            x: input(Role::X),
            y: output_ptrs.first().copied().unwrap_or(0),
            scale: input(Role::Scale),
            bias: input(Role::Bias),
            skip: input(Role::Skip),
            residual_bias: input(Role::ResidualBias),
            sum: if self.sum_output { output_ptrs.get(1).copied().unwrap_or(0) } else { 0 },
            ..DevicePtrs::default()
        }
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
        for eps in [-1e-5, -f32::MIN_POSITIVE, f32::from_bits(0x8000_0001), f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            assert_eq!(name(PluginConfig::new(eps, -1, 0)), "epsilon");
        }
        // 0 is valid (an exporter folded epsilon away); -0 is 0.
        for eps in [0.0, -0.0] {
            assert_eq!(PluginConfig::new(eps, -1, 0).unwrap().epsilon().to_bits(), eps.to_bits());
        }
        assert!(PluginConfig::new(-1.0, -1, 0).unwrap_err().to_string().contains("must be finite and >= 0"));
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
        assert_eq!(same.supports_combination(0, &io, 1, 2), Err(ShapeError::OutputCount { kind: NormKind::LayerNorm, expected: 1, got: 2 }));
        assert_eq!(same.supports_combination(0, &io[..1], 1, 1), Err(ShapeError::Position { pos: 0, total: 2 }));
    }

    #[test]
    fn output_types() {
        let same = PluginConfig::default();
        let fp32 = PluginConfig::new(1e-5, -1, 1).unwrap();
        assert_eq!(same.output_type_code(0, &[1, 0, 0]), Ok(1));
        assert_eq!(same.output_type_code(0, &[7]), Ok(7));
        assert_eq!(fp32.output_type_code(0, &[1]), Ok(0));
        assert_eq!(fp32.output_type_code(0, &[7, 7]), Ok(0));
        assert_eq!(same.output_type_code(0, &[2]), Err(ShapeError::UnsupportedType { tensor: "X", code: 2 }));
        assert_eq!(same.output_type_code(0, &[]), Err(ShapeError::InputCount { kind: NormKind::LayerNorm, got: 0 }));
        assert_eq!(same.output_type_code(0, &[0, 0, 0, 0]), Err(ShapeError::InputCount { kind: NormKind::LayerNorm, got: 4 }));
        for index in [1, -1, i32::MAX] {
            assert_eq!(same.output_type_code(index, &[1]), Err(ShapeError::OutputIndex { kind: NormKind::LayerNorm, index, nb_outputs: 1 }));
        }
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
        assert!(matches!(c.problem(&[info(1, x)], &[info(0, &[2, 3, 63])]), Err(ShapeError::NotXShape { tensor: "Y", .. })));
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
        assert_eq!(rms.output_type_code(0, &[1, 0, 0]), Err(ShapeError::InputCount { kind: NormKind::RmsNorm, got: 3 }));
        assert_eq!(rms.output_type_code(0, &[7, 1]), Ok(7));

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

    #[test]
    fn every_kind_fits_the_cpp_arrays() {
        for kind in NormKind::ALL {
            assert!(max_inputs(kind) as usize <= MAX_INPUTS && output_names(kind).len() <= MAX_OUTPUTS);
            assert!((1..=max_inputs(kind)).contains(&min_inputs(kind)));
            assert_eq!(input_roles(kind)[0], Role::X);
        }
        assert_eq!(input_names(NormKind::LayerNorm), ["X", "Scale", "Bias"]);
        assert_eq!(input_names(NormKind::RmsNorm), ["X", "Scale"]);
        assert_eq!(input_names(NormKind::SkipLayerNorm), ["X", "Skip", "Scale", "Bias", "ResidualBias"]);
        assert_eq!(tensor_name(NormKind::SkipLayerNorm, 1, 5), "Skip");
        assert_eq!(tensor_name(NormKind::SkipLayerNorm, 6, 5), "S");
        assert_eq!(tensor_name(NormKind::SkipLayerNorm, 2, 2), "Y");
        assert_eq!(tensor_name(NormKind::LayerNorm, 1, 2), "Scale");
        assert_eq!(tensor_name(NormKind::LayerNorm, 3, 2), "output");
    }

    const SKIP: NormKind = NormKind::SkipLayerNorm;

    fn skip_config(output_type: i32, sum_output: i32) -> PluginConfig {
        PluginConfig::new(1e-5, -1, output_type).unwrap().with_norm(SKIP).with_sum_output(sum_output).unwrap()
    }

    #[test]
    fn skiplayernorm_fields_and_counts() {
        let plain = PluginConfig::from_fields(SKIP, &[]).unwrap();
        assert_eq!(plain, PluginConfig::default().with_norm(SKIP));
        assert_eq!((plain.norm(), plain.plugin_name(), plain.sum_output(), plain.nb_outputs()), (SKIP, "FP32SkipLayerNorm", false, 1));
        assert_eq!((plain.min_inputs(), plain.max_inputs()), (2, 5));
        let field = |v| RawField { name: Some("sum_output"), field_type: FieldType::Int32, length: 1, value: Some(FieldValue::I32(v)) };
        let sum = PluginConfig::from_fields(SKIP, &[field(1)]).unwrap();
        assert_eq!((sum.sum_output(), sum.nb_outputs()), (true, 2));
        assert_eq!(sum, skip_config(0, 1));
        assert_ne!(sum, plain, "sum_output is part of the configuration");
        assert_eq!(PluginConfig::from_fields(SKIP, &[field(0)]).unwrap(), plain);
        for bad in [2, -1, i32::MAX, i32::MIN] {
            let e = PluginConfig::from_fields(SKIP, &[field(bad)]).unwrap_err();
            assert!(matches!(e, FieldError::OutOfRange { name: "sum_output", .. }), "{e:?}");
            assert!(e.to_string().contains("`sum_output`") && e.to_string().contains("must be 0 (Y only) or 1"), "{e}");
        }
        // Range checks run in field order: a bad epsilon is named before a bad sum_output.
        let eps = RawField { name: Some("epsilon"), field_type: FieldType::Float32, length: 1, value: Some(FieldValue::F32(-1.0)) };
        assert!(matches!(PluginConfig::from_fields(SKIP, &[field(5), eps]), Err(FieldError::OutOfRange { name: "epsilon", .. })));
        // Only FP32SkipLayerNorm has the field; the kind conversion drops it.
        assert_eq!(PluginConfig::default().with_sum_output(1), Err(FieldError::Unknown { name: "sum_output".into(), kind: NormKind::LayerNorm }));
        assert_eq!(PluginConfig::default().with_sum_output(0), Ok(PluginConfig::default()));
        assert!(PluginConfig::from_fields(NormKind::RmsNorm, &[field(0)]).is_err(), "an RMSNorm has no sum_output field");
        assert!(!sum.with_norm(NormKind::LayerNorm).sum_output());
        assert_eq!(sum.with_norm(NormKind::LayerNorm).nb_outputs(), 1);

        // Counts: 2 to 5 inputs; 1 output, or 2 with sum_output = 1.
        let one = plain.check_io_counts(1, 1).unwrap_err();
        assert_eq!(one.to_string(), "FP32SkipLayerNorm takes 2 to 5 inputs (X, Skip, Scale, Bias, ResidualBias), got 1");
        assert_eq!(plain.check_io_counts(6, 1), Err(ShapeError::InputCount { kind: SKIP, got: 6 }));
        for n in 2..=5 {
            assert_eq!(plain.check_io_counts(n, 1), Ok(()));
            assert_eq!(sum.check_io_counts(n, 2), Ok(()));
        }
        assert_eq!(plain.check_io_counts(2, 2).unwrap_err().to_string(), "FP32SkipLayerNorm has exactly 1 output (Y) with sum_output = 0, got 2");
        assert_eq!(sum.check_io_counts(2, 1).unwrap_err().to_string(), "FP32SkipLayerNorm has exactly 2 outputs (Y, S) with sum_output = 1, got 1");
        assert_eq!(sum.check_io_counts(2, 1), Err(ShapeError::OutputCount { kind: SKIP, expected: 2, got: 1 }));

        // Output types: Y by output_type, S in X's type.
        let sum32 = skip_config(1, 1);
        assert_eq!(sum32.output_type_code(0, &[1, 1]), Ok(0));
        assert_eq!(sum32.output_type_code(1, &[1, 1]), Ok(1));
        assert_eq!(sum.output_type_code(1, &[7, 7, 0, 0, 7]), Ok(7));
        assert_eq!(plain.output_type_code(1, &[1, 1]), Err(ShapeError::OutputIndex { kind: SKIP, index: 1, nb_outputs: 1 }));
        assert_eq!(sum.output_type_code(2, &[1, 1]), Err(ShapeError::OutputIndex { kind: SKIP, index: 2, nb_outputs: 2 }));
        assert_eq!(sum.output_type_code(0, &[1]), Err(ShapeError::InputCount { kind: SKIP, got: 1 }));
    }

    #[test]
    fn skiplayernorm_shapes() {
        let c = skip_config(0, 0);
        let x: &[i64] = &[2, 16, 768];
        let g: &[i64] = &[768];
        assert_eq!(c.check_shapes(&[x, x], 1), Ok(()));
        assert_eq!(c.check_shapes(&[x, x, g, &[1, 768], g], 1), Ok(()));
        // Skip: exactly X's shape, no broadcasting, no leading 1s.
        for bad in [&[768][..], &[1, 16, 768], &[1, 2, 16, 768], &[2, 16, 767], &[16, 768]] {
            let e = c.check_shapes(&[x, bad], 1).unwrap_err();
            assert_eq!(e, ShapeError::NotXShape { tensor: "Skip", got: bad.to_vec(), expected: x.to_vec() });
            assert!(e.to_string().starts_with("Skip has shape"), "{e}");
        }
        // Unknown dims are judged once known; a known mismatch or another rank is refused now.
        assert_eq!(c.check_shapes(&[&[-1, -1, 768], &[-1, 16, -1]], 1), Ok(()));
        assert!(matches!(c.check_shapes(&[&[-1, -1, 768], &[-1, 16, 512]], 1), Err(ShapeError::NotXShape { tensor: "Skip", .. })));
        assert!(matches!(c.check_shapes(&[&[-1, -1, 768], &[-1, 768]], 1), Err(ShapeError::NotXShape { tensor: "Skip", .. })));
        assert!(matches!(c.check_shapes(&[x, &[2, -3, 768]], 1), Err(ShapeError::BadDim { tensor: "Skip", index: 1, value: -3 })));
        // Scale, Bias, ResidualBias: the normalized dims, at positions 2, 3, 4.
        let wrong: &[i64] = &[767];
        assert!(matches!(c.check_shapes(&[x, x, wrong], 1), Err(ShapeError::ParamShape { tensor: "Scale", .. })));
        assert!(matches!(c.check_shapes(&[x, x, g, wrong], 1), Err(ShapeError::ParamShape { tensor: "Bias", .. })));
        let e = c.check_shapes(&[x, x, g, g, wrong], 1).unwrap_err();
        assert!(matches!(e, ShapeError::ParamShape { tensor: "ResidualBias", .. }), "{e:?}");
        assert!(e.to_string().starts_with("ResidualBias has shape [767]"), "{e}");
        assert!(matches!(c.check_shapes(&[x, x, g, g, x], 1), Err(ShapeError::ParamShape { tensor: "ResidualBias", .. })), "no broadcasting");
        let two = PluginConfig::new(1e-5, -2, 0).unwrap().with_norm(SKIP);
        assert_eq!(two.check_shapes(&[x, x, &[16, 768], &[16, 768], &[1, 16, 768]], 1), Ok(()));
        assert_eq!(c.check_shapes(&[x], 1), Err(ShapeError::InputCount { kind: SKIP, got: 1 }));
        assert_eq!(c.check_shapes(&[x, x, g, g, g, g], 1), Err(ShapeError::InputCount { kind: SKIP, got: 6 }));
        assert!(matches!(c.check_shapes(&[x, x], 2), Err(ShapeError::OutputCount { .. })));
        assert_eq!(skip_config(0, 1).check_shapes(&[x, x], 2), Ok(()));
        assert!(matches!(c.check_shapes(&[&[2, 1 << 32], &[2, 1 << 32]], 1), Err(ShapeError::RowTooLong { .. })));
    }

    #[test]
    fn skiplayernorm_formats() {
        let d: &[i64] = &[2, 8];
        let p: &[i64] = &[8];
        for (sum_output, nb_out) in [(0, 1), (1, 2)] {
            for output_type in [0, 1] {
                let c = skip_config(output_type, sum_output);
                for x in [0, 1, 7] {
                    let y = if output_type == 1 { 0 } else { x };
                    for s in [0, 1, 7] {
                        // X, Skip, Scale, Bias, ResidualBias, Y, S
                        let io = [info(x, d), info(x, d), info(s, p), info(s, p), info(x, p), info(y, d), info(x, d)];
                        for n in 2..=5 {
                            let tensors: Vec<TensorInfo<'_>> = io[..n as usize].iter().chain(&io[5..5 + nb_out as usize]).copied().collect();
                            for pos in 0..n + nb_out {
                                assert_eq!(c.supports_combination(pos, &tensors, n, nb_out), Ok(()), "x {x} s {s} n {n} pos {pos}");
                            }
                            assert!(c.check_input_types(&tensors[..n as usize]).is_ok());
                        }
                        let other = if x == 1 { 7 } else { 1 };
                        let mut bad = io;
                        bad[1] = info(other, d);
                        assert_eq!(
                            c.supports_combination(1, &bad[..5 + nb_out as usize], 5, nb_out),
                            Err(ShapeError::NotXType { tensor: "Skip", x: dtype_from_trt(x).unwrap(), got: other })
                        );
                        assert!(c.check_input_types(&bad[..5]).unwrap_err().to_string().starts_with("Skip must have X's type"));
                        let mut bad = io;
                        bad[4] = info(other, p);
                        let e = c.supports_combination(4, &bad[..5 + nb_out as usize], 5, nb_out).unwrap_err();
                        assert!(matches!(e, ShapeError::NotXType { tensor: "ResidualBias", .. }), "{e:?}");
                        assert_eq!(c.check_input_types(&bad[..5]), Err(e));
                        let mut bad = io;
                        bad[5] = info(if y == 0 { 1 } else { 0 }, d);
                        assert!(matches!(c.supports_combination(5, &bad[..5 + nb_out as usize], 5, nb_out), Err(ShapeError::OutputTypeMismatch { .. })));
                        if nb_out == 2 {
                            let mut bad = io;
                            bad[6] = info(other, d);
                            assert_eq!(
                                c.supports_combination(6, &bad, 5, 2),
                                Err(ShapeError::NotXType { tensor: "S", x: dtype_from_trt(x).unwrap(), got: other })
                            );
                        }
                    }
                }
                let io = [info(1, d), info(1, d), info(1, d)];
                assert_eq!(c.supports_combination(0, &io[..1 + nb_out as usize], 1, nb_out), Err(ShapeError::InputCount { kind: SKIP, got: 1 }));
                let chw = [info(1, d), TensorInfo { format: 1, ..info(1, d) }, info(1, d), info(1, d)];
                assert_eq!(
                    c.supports_combination(1, &chw[..2 + nb_out as usize], 2, nb_out),
                    Err(ShapeError::UnsupportedFormat { tensor: "Skip", code: 1 })
                );
                let int8 = [info(1, d), info(2, d), info(1, d), info(1, d)];
                assert_eq!(c.supports_combination(1, &int8[..2 + nb_out as usize], 2, nb_out), Err(ShapeError::UnsupportedType { tensor: "Skip", code: 2 }));
            }
        }
        let c = skip_config(0, 1);
        let io = [info(1, d), info(1, d), info(1, d), info(1, d)];
        assert_eq!(c.supports_combination(4, &io, 2, 2), Err(ShapeError::Position { pos: 4, total: 4 }));
        assert!(c.supports_combination(0, &io[..3], 2, 1).is_err(), "sum_output = 1 needs 2 outputs");
    }

    #[test]
    fn skiplayernorm_problem_and_pointers() {
        let x: &[i64] = &[2, 3, 64];
        let g: &[i64] = &[64];
        let c = PluginConfig::new(1e-6, -1, 1).unwrap().with_norm(SKIP).with_sum_output(1).unwrap();
        let full = [info(1, x), info(1, x), info(0, g), info(7, g), info(1, g)];
        let outs = [info(0, x), info(1, x)];
        let p = c.problem(&full, &outs).unwrap().unwrap();
        assert_eq!((p.norm(), p.rows(), p.cols(), p.x_dtype(), p.y_dtype()), (SKIP, 6, 64, DType::F16, DType::F32));
        assert_eq!((p.scale_dtype(), p.bias_dtype(), p.epsilon()), (Some(DType::F32), Some(DType::BF16), 1e-6));
        assert_eq!(p.skip(), Some(SkipOptions { residual_bias: true, sum_output: true }));
        for (n, scale, bias) in [(2, None, None), (3, Some(DType::F32), None), (4, Some(DType::F32), Some(DType::BF16))] {
            let p = c.problem(&full[..n], &outs).unwrap().unwrap();
            assert_eq!((p.scale_dtype(), p.bias_dtype(), p.skip()), (scale, bias, Some(SkipOptions { residual_bias: false, sum_output: true })), "{n} inputs");
        }
        let plain = skip_config(0, 0);
        let p = plain.problem(&full, &outs[1..]).unwrap().unwrap();
        assert_eq!((p.y_dtype(), p.skip()), (DType::F16, Some(SkipOptions { residual_bias: true, sum_output: false })));
        assert!(matches!(plain.problem(&full, &outs), Err(ShapeError::OutputCount { .. })));
        assert!(matches!(c.problem(&full, &[info(0, x), info(1, &[2, 3, 63])]), Err(ShapeError::NotXShape { tensor: "S", .. })));
        assert!(matches!(c.problem(&full, &[info(0, x), info(0, x)]), Err(ShapeError::NotXType { tensor: "S", .. })));
        assert!(matches!(c.problem(&[info(1, x), info(7, x)], &outs), Err(ShapeError::NotXType { tensor: "Skip", .. })));
        assert!(matches!(c.problem(&[info(1, x), info(1, &[2, 3, -1])], &outs), Err(ShapeError::Unresolved { tensor: "Skip", .. })));
        assert!(matches!(c.problem(&[info(1, x), info(1, &[6, 64])], &outs), Err(ShapeError::NotXShape { tensor: "Skip", .. })));
        assert_eq!(c.problem(&[info(1, &[0, 64]), info(1, &[0, 64])], &[info(0, &[0, 64]), info(1, &[0, 64])]), Ok(None));

        // Pointers by role: X, Skip, Scale, Bias, ResidualBias; Y, S.
        let ins = [0x10, 0x20, 0x30, 0x40, 0x50];
        let outs = [0x60, 0x70];
        let all = DevicePtrs { x: 0x10, y: 0x60, scale: 0x30, bias: 0x40, skip: 0x20, residual_bias: 0x50, sum: 0x70, ..DevicePtrs::default() };
        assert_eq!(c.device_ptrs(&ins, &outs), all);
        assert_eq!(c.device_ptrs(&ins[..2], &outs), DevicePtrs { scale: 0, bias: 0, residual_bias: 0, ..all });
        assert_eq!(c.device_ptrs(&ins[..4], &outs), DevicePtrs { residual_bias: 0, ..all });
        assert_eq!(plain.device_ptrs(&ins, &outs[..1]), DevicePtrs { sum: 0, ..all });
        assert_eq!(plain.device_ptrs(&ins, &outs), DevicePtrs { sum: 0, ..all }, "S only with sum_output = 1");
        let ln = DevicePtrs { x: 0x10, y: 0x60, scale: 0x20, bias: 0x30, ..DevicePtrs::default() };
        assert_eq!(PluginConfig::default().device_ptrs(&ins[..3], &outs[..1]), ln);
        assert_eq!(PluginConfig::default().with_norm(NormKind::RmsNorm).device_ptrs(&ins[..2], &outs[..1]), DevicePtrs { bias: 0, ..ln });
        // Each problem's pointer check accepts exactly the pointers the mapping gives it.
        for n in 2..=5 {
            let p = c.problem(&full[..n], &[info(0, x), info(1, x)]).unwrap().unwrap();
            let aligned: Vec<u64> = (1..=n as u64).map(|i| i * 0x100).collect();
            assert_eq!(c.device_ptrs(&aligned, &[0x1000, 0x2000]).check(&p), Ok(()), "{n} inputs");
        }
    }

    #[test]
    fn field_values_give_the_configuration_back() {
        let mut all = vec![PluginConfig::default(), PluginConfig::new(0.0, -8, 1).unwrap(), PluginConfig::new(f32::MAX, 7, 0).unwrap()];
        all.extend(all.clone().iter().map(|c| c.with_norm(NormKind::RmsNorm)));
        all.extend([0, 1].map(|s| PluginConfig::new(1e-6, 2, 1).unwrap().with_norm(SKIP).with_sum_output(s).unwrap()));
        for c in all {
            let specs = fields::field_specs(c.norm());
            let raw: Vec<RawField<'_>> = specs
                .iter()
                .map(|s| RawField { name: Some(s.name), field_type: s.field_type, length: 1, value: c.field_value(s.name) })
                .collect();
            assert!(raw.iter().all(|f| f.value.is_some()));
            assert_eq!(PluginConfig::from_fields(c.norm(), &raw), Ok(c));
        }
        assert_eq!(PluginConfig::default().field_value("sum_output"), None, "not a field of FP32LayerNorm");
        assert_eq!(PluginConfig::default().field_value("num_inputs"), None);
        assert_eq!(skip_config(0, 1).field_value("sum_output"), Some(FieldValue::I32(1)));
    }
}
