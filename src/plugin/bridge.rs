//! The one bridge between TensorRT's C++ interfaces (`plugin_cpp/`) and the
//! Rust that decides everything. C++ passes what TensorRT handed it (field
//! collections by address, tensor descriptions, device pointers, the stream)
//! and gets back yes/no, a type code, bytes or a status.
//!
//! The norm kind (`PluginKind`: FP32LayerNorm, FP32RMSNorm or
//! FP32SkipLayerNorm) is data: the C++ creators are constructed per kind and
//! pass it in; a `PluginCore` carries it from then on. Input and output
//! counts (FP32SkipLayerNorm: 2 to 5 inputs, 1 or 2 outputs) are Rust's
//! answers too; C++ only sizes its arrays for the most of any kind.
//!
//! Nothing unwinds into C++: every function runs inside [`guard`], which
//! turns a panic into a logged internal error and a failure value. Refusals
//! are logged through TensorRT's logger (C++ `tln::log_message`), prefixed
//! with the plugin's name.

use super::config::{FieldSource, PluginConfig, TensorInfo, MAX_RANK};
use super::fields::{self, FieldType, FieldValue, RawField, MAX_FIELDS};
use super::wire;
use crate::problem::{DevicePtrs, NormKind};
use std::ffi::{c_char, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

#[cxx::bridge(namespace = "tln")]
mod ffi {
    /// A tensor as TensorRT describes it (`PluginTensorDesc`), dims widened to 64 bits.
    #[derive(Clone, Copy)]
    struct TensorDescIn {
        dtype: i32,
        format: i32,
        nb_dims: i32,
        dims: [i64; 8],
    }

    /// Which plugin: one creator of each interface per kind.
    #[repr(u8)]
    enum PluginKind {
        LayerNorm = 0,
        RmsNorm = 1,
        SkipLayerNorm = 2,
    }

    extern "Rust" {
        type PluginCore;

        /// The plugin name of a kind, NUL-terminated ("FP32LayerNorm\0", "FP32RMSNorm\0", "FP32SkipLayerNorm\0").
        fn plugin_name(kind: PluginKind) -> &'static str;
        /// The most inputs a plugin of `kind` takes (3, 2 or 5; 0 for an unknown kind).
        fn max_inputs(kind: PluginKind) -> i32;

        /// From a `PluginFieldCollection const*` (its address; 0 = none): a network's
        /// fields, or (`from_engine`: IPluginV3 at run time) an engine's. Check `is_valid`.
        unsafe fn core_from_fields(kind: PluginKind, collection: usize, from_engine: bool, context: &str) -> Box<PluginCore>;
        /// From a version-1 serialized blob, which must be of `kind`. Check `is_valid`.
        fn core_from_serialized(kind: PluginKind, blob: &[u8]) -> Box<PluginCore>;
        fn is_valid(self: &PluginCore) -> bool;
        fn duplicate(self: &PluginCore) -> Box<PluginCore>;

        fn serialized_size(self: &PluginCore) -> usize;
        fn write_serialized(self: &PluginCore, out: &mut [u8]) -> bool;

        /// The value of field `index` (`getFieldNames` order) as its 4 bytes (float32 bits or int32).
        fn field_bits(self: &PluginCore, index: usize) -> u32;
        /// 1, or 2 (FP32SkipLayerNorm with sum_output = 1); 0 for an invalid core.
        fn nb_outputs(self: &PluginCore) -> i32;

        fn check_io(self: &PluginCore, nb_inputs: i32, nb_outputs: i32, context: &str) -> bool;
        /// The input count is the kind's and `index` is one of this plugin's outputs.
        fn check_output(self: &PluginCore, nb_inputs: i32, index: i32, context: &str) -> bool;
        fn supports_format(self: &PluginCore, pos: i32, in_out: &[TensorDescIn], nb_inputs: i32, nb_outputs: i32) -> bool;
        fn output_data_type(self: &PluginCore, index: i32, input_types: &[i32], out: &mut i32) -> bool;
        fn configure(self: &mut PluginCore, inputs: &[TensorDescIn], nb_outputs: i32, context: &str) -> bool;
        fn configured_inputs(self: &PluginCore) -> i32;
        /// `getWorkspaceSize` for the largest shapes TensorRT will run (0 where none is used or on any refusal).
        fn workspace_size(self: &PluginCore, inputs: &[TensorDescIn], outputs: &[TensorDescIn]) -> usize;
        /// `workspace`: TensorRT's workspace address (0 = none), of at least what
        /// `workspace_size` asked for when the engine was built.
        unsafe fn enqueue(
            self: &PluginCore,
            inputs: &[TensorDescIn],
            outputs: &[TensorDescIn],
            input_ptrs: &[usize],
            output_ptrs: &[usize],
            workspace: usize,
            stream: usize,
        ) -> i32;

        /// The fields `getFieldNames` announces for `kind`: count, NUL-terminated name, `PluginFieldType` code.
        fn field_count(kind: PluginKind) -> usize;
        fn field_name(kind: PluginKind, index: usize) -> &'static str;
        fn field_type(kind: PluginKind, index: usize) -> i32;
    }

    unsafe extern "C++" {
        include!("trt-layernorm/plugin_cpp/src/bridge_support.h");
        /// Logs through the TensorRT logger this library was given (stderr for errors where none).
        fn log_message(severity: i32, message: &str);
    }
}

use ffi::{PluginKind, TensorDescIn};

/// The norm kind C++ passed; `None` for a value outside the enum.
fn norm_of(kind: PluginKind) -> Option<NormKind> {
    match kind {
        PluginKind::LayerNorm => Some(NormKind::LayerNorm),
        PluginKind::RmsNorm => Some(NormKind::RmsNorm),
        PluginKind::SkipLayerNorm => Some(NormKind::SkipLayerNorm),
        _ => None,
    }
}

fn plugin_name(kind: PluginKind) -> &'static str {
    match norm_of(kind) {
        Some(NormKind::LayerNorm) => "FP32LayerNorm\0",
        Some(NormKind::RmsNorm) => "FP32RMSNorm\0",
        Some(NormKind::SkipLayerNorm) => "FP32SkipLayerNorm\0",
        None => "trt-layernorm\0",
    }
}

fn max_inputs(kind: PluginKind) -> i32 {
    norm_of(kind).map_or(0, super::config::max_inputs)
}

/// Logs `message` prefixed with the plugin's name.
fn log_for(kind: NormKind, severity: Severity, message: &str) {
    log(severity, &format!("{}: {message}", super::plugin_name(kind)));
}

/// `ILogger::Severity` values.
#[derive(Clone, Copy)]
#[repr(i32)]
pub(crate) enum Severity {
    InternalError = 0,
    Error = 1,
    Warning = 2,
    #[allow(dead_code)]
    Info = 3,
    Verbose = 4,
}

pub(crate) fn log(severity: Severity, message: &str) {
    ffi::log_message(severity as i32, message);
}

/// Runs `f`; a panic becomes a logged internal error and `fallback`.
pub(crate) fn guard<T>(what: &str, fallback: T, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            // Logging itself must not unwind either.
            let _ = catch_unwind(|| log(Severity::InternalError, &format!("trt-layernorm: internal error in {what}: {msg}")));
            fallback
        }
    }
}

/// TensorRT's `PluginField`, as laid out in every supported version (the C++
/// side `static_assert`s this against the headers through `plugin_field_layout`).
#[repr(C)]
struct PluginFieldC {
    name: *const c_char,
    data: *const c_void,
    field_type: i32,
    length: i32,
}

/// TensorRT's `PluginFieldCollection`.
#[repr(C)]
struct PluginFieldCollectionC {
    nb_fields: i32,
    fields: *const PluginFieldC,
}

/// A configured or unconfigured plugin's state, owned by its C++ object.
pub struct PluginCore {
    /// The plugin's kind (the creator's; a valid config has the same).
    kind: NormKind,
    config: Option<PluginConfig>,
    /// Inputs seen by the last configurePlugin / onShapeChange (0 = not yet).
    configured_inputs: i32,
}

impl PluginCore {
    fn invalid(kind: NormKind) -> Box<PluginCore> {
        Box::new(PluginCore { kind, config: None, configured_inputs: 0 })
    }
    fn ready(config: PluginConfig, configured_inputs: i32) -> Box<PluginCore> {
        Box::new(PluginCore { kind: config.norm(), config: Some(config), configured_inputs })
    }
    fn config(&self) -> PluginConfig {
        self.config.expect("C++ discards a PluginCore that is not valid right after creating it")
    }
    fn log(&self, severity: Severity, message: &str) {
        log_for(self.kind, severity, message);
    }
}

/// Reads the fields of a collection: names and the values of float32/int32
/// fields of length 1 (other types are judged by name and type only; their
/// data is never read).
///
/// # Safety
/// `collection` is 0 or the address of a live `PluginFieldCollection` whose
/// `fields` points to `nb_fields` fields with NUL-terminated names and data
/// holding `length` elements of `type`.
unsafe fn read_collection(kind: NormKind, collection: usize, source: FieldSource) -> Result<PluginConfig, String> {
    if collection == 0 {
        return PluginConfig::from_fields_of(kind, &[], source).map_err(|e| e.to_string());
    }
    // SAFETY: the caller guarantees a live collection at this address.
    let fc = unsafe { &*(collection as *const PluginFieldCollectionC) };
    let n = fc.nb_fields;
    if n < 0 || n as usize > MAX_FIELDS {
        return Err(format!("plugin field collection has nbFields = {n}; expected 0 to {MAX_FIELDS}"));
    }
    if n > 0 && fc.fields.is_null() {
        return Err(format!("plugin field collection has nbFields = {n} but a null fields pointer"));
    }
    let raw_fields: &[PluginFieldC] = if n == 0 {
        &[]
    } else {
        // SAFETY: non-null, `n` fields, per the caller's contract.
        unsafe { std::slice::from_raw_parts(fc.fields, n as usize) }
    };
    let mut raw = Vec::with_capacity(raw_fields.len());
    for f in raw_fields {
        // SAFETY: a non-null name is NUL-terminated per the contract.
        let name = (!f.name.is_null()).then(|| unsafe { CStr::from_ptr(f.name) }).and_then(|c| c.to_str().ok());
        let field_type = FieldType::from_code(f.field_type);
        let ours = name.and_then(|n| fields::expected_type(kind, n)).is_some_and(|t| t == field_type);
        let value = if ours && f.length == 1 && !f.data.is_null() {
            // SAFETY: one element of the declared (4-byte) type; read unaligned to be safe.
            match field_type {
                FieldType::Float32 => Some(FieldValue::F32(unsafe { (f.data as *const f32).read_unaligned() })),
                FieldType::Int32 => Some(FieldValue::I32(unsafe { (f.data as *const i32).read_unaligned() })),
                _ => None,
            }
        } else {
            None
        };
        raw.push(RawField { name, field_type, length: f.length, value });
    }
    PluginConfig::from_fields_of(kind, &raw, source).map_err(|e| e.to_string())
}

/// The kind C++ passed, or a logged error and an invalid core.
fn known_kind(kind: PluginKind, context: &str) -> Result<NormKind, Box<PluginCore>> {
    norm_of(kind).ok_or_else(|| {
        log(Severity::Error, &format!("trt-layernorm: {context}: unknown plugin kind {}", kind.repr));
        PluginCore::invalid(NormKind::LayerNorm)
    })
}

/// # Safety
/// See [`read_collection`].
unsafe fn core_from_fields(kind: PluginKind, collection: usize, from_engine: bool, context: &str) -> Box<PluginCore> {
    let kind = match known_kind(kind, context) {
        Ok(k) => k,
        Err(invalid) => return invalid,
    };
    guard(context, PluginCore::invalid(kind), || {
        // SAFETY: forwarded from TensorRT's createPlugin contract.
        let source = if from_engine { FieldSource::Engine } else { FieldSource::Build };
        match unsafe { read_collection(kind, collection, source) } {
            Ok(config) => PluginCore::ready(config, 0),
            Err(e) => {
                log_for(kind, Severity::Error, &format!("{context}: {e}"));
                PluginCore::invalid(kind)
            }
        }
    })
}

fn core_from_serialized(kind: PluginKind, blob: &[u8]) -> Box<PluginCore> {
    let kind = match known_kind(kind, "deserializePlugin") {
        Ok(k) => k,
        Err(invalid) => return invalid,
    };
    guard("deserializePlugin", PluginCore::invalid(kind), || match wire::decode_as(kind, blob) {
        Ok((config, inputs)) => PluginCore::ready(config, inputs as i32),
        Err(e) => {
            log_for(kind, Severity::Error, &format!("deserializePlugin: {e}"));
            PluginCore::invalid(kind)
        }
    })
}

/// The descriptions of tensors `first..first + descs.len()` of a plugin of `kind` with `nb_inputs` inputs.
fn descs_to_info(kind: NormKind, descs: &[TensorDescIn], first: usize, nb_inputs: usize) -> Result<Vec<TensorInfo<'_>>, String> {
    descs
        .iter()
        .enumerate()
        .map(|(i, d)| {
            if d.nb_dims < 0 || d.nb_dims as usize > MAX_RANK {
                let name = super::config::tensor_name(kind, first + i, nb_inputs);
                return Err(format!("{name} has nbDims = {}; expected 0 to {MAX_RANK}", d.nb_dims));
            }
            Ok(TensorInfo { dtype: d.dtype, format: d.format, dims: &d.dims[..d.nb_dims as usize] })
        })
        .collect()
}

impl PluginCore {
    fn is_valid(&self) -> bool {
        self.config.is_some()
    }

    fn duplicate(&self) -> Box<PluginCore> {
        guard("clone", PluginCore::invalid(self.kind), || {
            Box::new(PluginCore { kind: self.kind, config: self.config, configured_inputs: self.configured_inputs })
        })
    }

    fn serialized_size(&self) -> usize {
        guard("getSerializationSize", 0, || wire::encode(&self.config(), self.configured_inputs as u8).len())
    }

    fn write_serialized(&self, out: &mut [u8]) -> bool {
        guard("serialize", false, || {
            let blob = wire::encode(&self.config(), self.configured_inputs as u8);
            if out.len() != blob.len() {
                self.log(Severity::Error, &format!("serialize: buffer of {} bytes, {} needed", out.len(), blob.len()));
                return false;
            }
            out.copy_from_slice(&blob);
            true
        })
    }

    fn field_bits(&self, index: usize) -> u32 {
        guard("getFieldsToSerialize", 0, || {
            let spec = fields::field_specs(self.kind)[index];
            match self.config().field_value(spec.name).expect("a field of this kind") {
                FieldValue::F32(v) => v.to_bits(),
                FieldValue::I32(v) => v as u32,
            }
        })
    }

    fn nb_outputs(&self) -> i32 {
        guard("getNbOutputs", 0, || self.config.map_or(0, |c| c.nb_outputs()))
    }

    fn check_io(&self, nb_inputs: i32, nb_outputs: i32, context: &str) -> bool {
        guard(context, false, || match self.config().check_io_counts(nb_inputs, nb_outputs) {
            Ok(()) => true,
            Err(e) => {
                self.log(Severity::Error, &format!("{context}: {e}"));
                false
            }
        })
    }

    fn check_output(&self, nb_inputs: i32, index: i32, context: &str) -> bool {
        guard(context, false, || match self.config().check_output(nb_inputs, index) {
            Ok(()) => true,
            Err(e) => {
                self.log(Severity::Error, &format!("{context}: {e}"));
                false
            }
        })
    }

    fn supports_format(&self, pos: i32, in_out: &[TensorDescIn], nb_inputs: i32, nb_outputs: i32) -> bool {
        guard("supportsFormatCombination", false, || {
            let infos = match descs_to_info(self.kind, in_out, 0, nb_inputs.max(0) as usize) {
                Ok(i) => i,
                Err(e) => {
                    self.log(Severity::Error, &format!("supportsFormatCombination: {e}"));
                    return false;
                }
            };
            match self.config().supports_combination(pos, &infos, nb_inputs, nb_outputs) {
                Ok(()) => true,
                Err(e) => {
                    // Refusing is the normal answer for most combinations TensorRT asks about.
                    self.log(Severity::Verbose, &format!("supportsFormatCombination(pos {pos}): no: {e}"));
                    false
                }
            }
        })
    }

    fn output_data_type(&self, index: i32, input_types: &[i32], out: &mut i32) -> bool {
        guard("getOutputDataType", false, || match self.config().output_type_code(index, input_types) {
            Ok(code) => {
                *out = code;
                true
            }
            Err(e) => {
                self.log(Severity::Error, &format!("getOutputDataType: {e}"));
                false
            }
        })
    }

    fn configure(&mut self, inputs: &[TensorDescIn], nb_outputs: i32, context: &str) -> bool {
        guard(context, false, || {
            let result = descs_to_info(self.kind, inputs, 0, inputs.len()).and_then(|infos| {
                let dims: Vec<&[i64]> = infos.iter().map(|t| t.dims).collect();
                let config = self.config();
                config.check_shapes(&dims, nb_outputs).and_then(|()| config.check_input_types(&infos)).map_err(|e| e.to_string())
            });
            match result {
                Ok(()) => {
                    self.configured_inputs = inputs.len() as i32;
                    true
                }
                Err(e) => {
                    self.log(Severity::Error, &format!("{context}: {e}"));
                    false
                }
            }
        })
    }

    fn configured_inputs(&self) -> i32 {
        guard("enqueue", 0, || self.configured_inputs)
    }

    fn workspace_size(&self, inputs: &[TensorDescIn], outputs: &[TensorDescIn]) -> usize {
        guard("getWorkspaceSize", 0, || {
            let size = descs_to_info(self.kind, inputs, 0, inputs.len()).and_then(|ins| {
                let outs = descs_to_info(self.kind, outputs, inputs.len(), inputs.len())?;
                self.config().workspace_size(&ins, &outs).map_err(|e| e.to_string())
            });
            match size {
                Ok(bytes) => usize::try_from(bytes).unwrap_or(0),
                Err(e) => {
                    // No status to return: asking for none only costs the few long rows their fastest plan.
                    self.log(Severity::Warning, &format!("getWorkspaceSize: {e}; asking for no workspace"));
                    0
                }
            }
        })
    }

    /// # Safety
    /// The pointers are TensorRT's device buffers for the described tensors
    /// in the current CUDA context; `stream` is TensorRT's `cudaStream_t`.
    unsafe fn enqueue(
        &self,
        inputs: &[TensorDescIn],
        outputs: &[TensorDescIn],
        input_ptrs: &[usize],
        output_ptrs: &[usize],
        workspace: usize,
        stream: usize,
    ) -> i32 {
        guard("enqueue", 1, || {
            let run = || -> Result<(), String> {
                let ins = descs_to_info(self.kind, inputs, 0, inputs.len())?;
                let outs = descs_to_info(self.kind, outputs, inputs.len(), inputs.len())?;
                if input_ptrs.len() != ins.len() || output_ptrs.len() != outs.len() {
                    return Err("pointer count differs from tensor count".into());
                }
                let config = self.config();
                let Some(problem) = config.problem(&ins, &outs).map_err(|e| e.to_string())? else {
                    return Ok(());
                };
                // Which pointer is which tensor is the configuration's (by input role;
                // FP32SkipLayerNorm: X, Skip, Scale, Bias, ResidualBias; Y, S).
                let wide = |p: &[usize]| p.iter().map(|&a| a as u64).collect::<Vec<u64>>();
                let mut ptrs: DevicePtrs = config.device_ptrs(&wide(input_ptrs), &wide(output_ptrs));
                // What getWorkspaceSize asked for at build time covers these shapes (it grows
                // with them); an engine whose plugin never asked (`workspace` = 0, as in every
                // engine built before the field existed) gets none used.
                let workspace_bytes = config.workspace_bytes(&problem);
                if workspace_bytes > 0 && workspace != 0 {
                    ptrs.workspace = workspace as u64;
                    ptrs.workspace_bytes = workspace_bytes;
                }
                // SAFETY: TensorRT's buffers for exactly these shapes and types, on its
                // stream, in the context current on this thread (the enqueue contract).
                unsafe { crate::launch::launch_raw(&problem, &ptrs, stream as cudarc::driver::sys::CUstream) }
                    .map_err(|e| e.to_string())
            };
            match run() {
                Ok(()) => 0,
                Err(e) => {
                    self.log(Severity::Error, &format!("enqueue: {e}"));
                    1
                }
            }
        })
    }
}

fn specs(kind: PluginKind) -> &'static [fields::FieldSpec] {
    norm_of(kind).map_or(&[], fields::field_specs)
}
fn field_count(kind: PluginKind) -> usize {
    specs(kind).len()
}
fn field_name(kind: PluginKind, index: usize) -> &'static str {
    guard("getFieldNames", "\0", || specs(kind)[index].c_name)
}
fn field_type(kind: PluginKind, index: usize) -> i32 {
    guard("getFieldNames", FieldType::Unknown.code(), || specs(kind)[index].field_type.code())
}
// The C++ side static_asserts TensorRT's PluginField / PluginFieldCollection against these numbers.
const _: () = {
    assert!(std::mem::size_of::<PluginFieldC>() == 24);
    assert!(std::mem::offset_of!(PluginFieldC, name) == 0);
    assert!(std::mem::offset_of!(PluginFieldC, data) == 8);
    assert!(std::mem::offset_of!(PluginFieldC, field_type) == 16);
    assert!(std::mem::offset_of!(PluginFieldC, length) == 20);
    assert!(std::mem::size_of::<PluginFieldCollectionC>() == 16);
    assert!(std::mem::offset_of!(PluginFieldCollectionC, fields) == 8);
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_become_the_fallback() {
        assert_eq!(guard("test", 7, || -> i32 { panic!("boom") }), 7);
        assert!(!guard("test", false, || -> bool { panic!("{}", String::from("boom")) }));
        assert_eq!(guard("test", 0, || 3), 3);
    }

    #[test]
    fn invalid_cores_and_bad_descriptions_are_refused_without_panicking() {
        let core = core_from_serialized(PluginKind::LayerNorm, b"not a plugin");
        assert!(!core.is_valid());
        // SAFETY: 0 is "no collection".
        let core = unsafe { core_from_fields(PluginKind::LayerNorm, 0, false, "test") };
        assert!(core.is_valid());
        let bad = TensorDescIn { dtype: 0, format: 0, nb_dims: 9, dims: [1; 8] };
        assert!(!core.supports_format(0, &[bad, bad], 1, 1));
        let mut core = core;
        assert!(!core.configure(&[bad], 1, "test"));
        assert_eq!(core.configured_inputs(), 0);
        let x = TensorDescIn { dtype: 1, format: 0, nb_dims: 2, dims: [4, 16, 0, 0, 0, 0, 0, 0] };
        assert!(core.configure(&[x], 1, "test"));
        assert_eq!(core.configured_inputs(), 1);
        let mut out = 0;
        assert!(core.output_data_type(0, &[1], &mut out) && out == 1);
        assert!(!core.output_data_type(1, &[1], &mut out), "one output");
        assert_eq!(core.nb_outputs(), 1);
        assert!(core.check_output(1, 0, "test") && !core.check_output(1, 1, "test") && !core.check_output(4, 0, "test"));
        assert_eq!(f32::from_bits(core.field_bits(0)), 1e-5);
        assert_eq!((core.field_bits(1) as i32, core.field_bits(2), core.field_bits(3)), (-1, 0, 1), "workspace defaults to 1 in a build");
        assert_eq!(core.field_bits(4), 0, "no fifth field: a panic caught, the fallback returned");
        let mut blob = vec![0u8; core.serialized_size()];
        assert!(core.write_serialized(&mut blob));
        let back = core_from_serialized(PluginKind::LayerNorm, &blob);
        assert!(back.is_valid() && back.configured_inputs() == 1);
        assert!(!core_from_serialized(PluginKind::RmsNorm, &blob).is_valid(), "a LayerNorm blob is not an RMSNorm");
        assert!(!core.write_serialized(&mut [0u8; 3]), "wrong buffer size is refused");
        assert_eq!(field_count(PluginKind::LayerNorm), 4);
        assert!(field_name(PluginKind::LayerNorm, 0).ends_with('\0'));
        assert_eq!(field_name(PluginKind::LayerNorm, 99), "\0", "out-of-range index: a panic caught, not an unwind into C++");
    }

    #[test]
    fn rmsnorm_cores() {
        assert_eq!((plugin_name(PluginKind::LayerNorm), plugin_name(PluginKind::RmsNorm)), ("FP32LayerNorm\0", "FP32RMSNorm\0"));
        assert_eq!((max_inputs(PluginKind::LayerNorm), max_inputs(PluginKind::RmsNorm)), (3, 2));
        let bogus = PluginKind { repr: 7 };
        assert_eq!((plugin_name(bogus), max_inputs(bogus), field_count(bogus)), ("trt-layernorm\0", 0, 0));
        assert_eq!(field_name(bogus, 0), "\0");
        // SAFETY: 0 is "no collection".
        assert!(!unsafe { core_from_fields(bogus, 0, false, "test") }.is_valid(), "an unknown kind is refused");
        assert!(!core_from_serialized(bogus, &[]).is_valid());

        // SAFETY: 0 is "no collection".
        let mut core = unsafe { core_from_fields(PluginKind::RmsNorm, 0, false, "test") };
        assert!(core.is_valid() && core.config().norm() == NormKind::RmsNorm);
        assert_eq!(field_count(PluginKind::RmsNorm), 4);
        for i in 0..4 {
            assert_eq!(field_name(PluginKind::RmsNorm, i), field_name(PluginKind::LayerNorm, i));
            assert_eq!(field_type(PluginKind::RmsNorm, i), field_type(PluginKind::LayerNorm, i));
        }
        assert!(core.check_io(2, 1, "test"));
        assert!(!core.check_io(3, 1, "test"), "no Bias");
        let x = TensorDescIn { dtype: 7, format: 0, nb_dims: 2, dims: [4, 16, 0, 0, 0, 0, 0, 0] };
        let g = TensorDescIn { dtype: 0, format: 0, nb_dims: 1, dims: [16, 0, 0, 0, 0, 0, 0, 0] };
        assert!(!core.configure(&[x, g, g], 1, "test"));
        assert!(core.configure(&[x, g], 1, "test"));
        assert!(core.supports_format(2, &[x, g, x], 2, 1));
        assert!(!core.supports_format(3, &[x, g, g, x], 3, 1));
        let mut out = 0;
        assert!(core.output_data_type(0, &[7, 0], &mut out) && out == 7);
        assert!(!core.output_data_type(0, &[7, 0, 0], &mut out));
        let mut blob = vec![0u8; core.serialized_size()];
        assert!(core.write_serialized(&mut blob));
        let back = core_from_serialized(PluginKind::RmsNorm, &blob);
        assert!(back.is_valid() && back.configured_inputs() == 2 && back.config() == core.config());
        assert!(!core_from_serialized(PluginKind::LayerNorm, &blob).is_valid(), "an RMSNorm blob is not a LayerNorm");
        let dup = core.duplicate();
        assert!(dup.is_valid() && dup.config().norm() == NormKind::RmsNorm);
        // Enqueue with 3 inputs is refused before any launch (a logged error, status 1).
        // SAFETY: refused before any pointer is used.
        assert_eq!(unsafe { core.enqueue(&[x, g, g], &[x], &[1, 2, 3], &[4], 0, 0) }, 1);
    }

    /// A linear tensor description of `dtype` (TensorRT code) and `dims`.
    fn desc(dtype: i32, dims: &[i64]) -> TensorDescIn {
        let mut d = [0i64; 8];
        d[..dims.len()].copy_from_slice(dims);
        TensorDescIn { dtype, format: 0, nb_dims: dims.len() as i32, dims: d }
    }

    /// A field collection as TensorRT passes it, for `core_from_fields`.
    struct Collection {
        _values: Vec<i32>,
        _fields: Vec<PluginFieldC>,
        fc: PluginFieldCollectionC,
    }

    fn int_fields(named: &[(&'static std::ffi::CStr, i32)]) -> Collection {
        let values: Vec<i32> = named.iter().map(|&(_, v)| v).collect();
        let fields: Vec<PluginFieldC> = named
            .iter()
            .zip(&values)
            .map(|(&(n, _), v)| PluginFieldC { name: n.as_ptr(), data: (v as *const i32).cast(), field_type: FieldType::INT32_CODE, length: 1 })
            .collect();
        let fc = PluginFieldCollectionC { nb_fields: fields.len() as i32, fields: fields.as_ptr() };
        Collection { _values: values, _fields: fields, fc }
    }

    #[test]
    fn skiplayernorm_cores() {
        let kind = PluginKind::SkipLayerNorm;
        assert_eq!((plugin_name(kind), max_inputs(kind), field_count(kind)), ("FP32SkipLayerNorm\0", 5, 5));
        assert_eq!((field_name(kind, 3), field_type(kind, 3)), ("sum_output\0", FieldType::INT32_CODE));
        assert_eq!((field_name(kind, 4), field_type(kind, 4)), ("workspace\0", FieldType::INT32_CODE));
        for i in 0..3 {
            assert_eq!((field_name(kind, i), field_type(kind, i)), (field_name(PluginKind::LayerNorm, i), field_type(PluginKind::LayerNorm, i)));
        }
        let c = int_fields(&[(c"sum_output", 1), (c"output_type", 1)]);
        // SAFETY: a live collection of two int32 fields.
        let mut core = unsafe { core_from_fields(kind, &c.fc as *const PluginFieldCollectionC as usize, false, "test") };
        assert!(core.is_valid());
        assert_eq!((core.nb_outputs(), core.field_bits(3), core.field_bits(2)), (2, 1, 1));
        // SAFETY: as above; sum_output 2 is refused (logged), as is sum_output on FP32LayerNorm.
        let bad = int_fields(&[(c"sum_output", 2)]);
        assert!(!unsafe { core_from_fields(kind, &bad.fc as *const PluginFieldCollectionC as usize, false, "test") }.is_valid());
        let zero = int_fields(&[(c"sum_output", 0)]);
        // SAFETY: as above.
        assert!(!unsafe { core_from_fields(PluginKind::LayerNorm, &zero.fc as *const PluginFieldCollectionC as usize, false, "test") }.is_valid());
        // SAFETY: as above.
        assert_eq!(unsafe { core_from_fields(kind, &zero.fc as *const PluginFieldCollectionC as usize, false, "test") }.nb_outputs(), 1);

        let x = desc(1, &[4, 16]);
        let g = desc(0, &[16]);
        let r = desc(1, &[16]);
        let y = desc(0, &[4, 16]);
        assert!(!core.check_io(1, 2, "test") && !core.check_io(6, 2, "test") && !core.check_io(2, 1, "test"));
        assert!(core.check_io(2, 2, "test") && core.check_io(5, 2, "test"));
        assert!(core.check_output(2, 1, "test") && !core.check_output(2, 2, "test") && !core.check_output(1, 0, "test"));
        let mut out = -1;
        assert!(core.output_data_type(0, &[1, 1], &mut out) && out == 0, "Y in FP32 (output_type 1)");
        assert!(core.output_data_type(1, &[1, 1], &mut out) && out == 1, "S in X's type");
        assert!(!core.output_data_type(2, &[1, 1], &mut out));
        let io = [x, x, g, g, r, y, x];
        for pos in 0..7 {
            assert!(core.supports_format(pos, &io, 5, 2), "pos {pos}");
        }
        assert!(!core.supports_format(1, &[x, desc(7, &[4, 16]), y, x], 2, 2), "Skip in another type");
        assert!(!core.supports_format(3, &[x, x, y, desc(0, &[4, 16])], 2, 2), "S in another type");
        assert!(core.configure(&io[..5], 2, "test") && core.configured_inputs() == 5);
        assert!(!core.configure(&[x, desc(1, &[16])], 2, "test"), "Skip of another shape");
        assert!(!core.configure(&[x, desc(7, &[4, 16])], 2, "test"), "Skip of another type");
        assert!(!core.configure(&[x, x, g, g, desc(0, &[16])], 2, "test"), "ResidualBias of another type");
        assert!(!core.configure(&[x], 2, "test"), "one input");
        assert!(core.configure(&io[..3], 2, "test"));
        let mut blob = vec![0u8; core.serialized_size()];
        assert!(core.write_serialized(&mut blob));
        let back = core_from_serialized(kind, &blob);
        assert!(back.is_valid() && back.configured_inputs() == 3 && back.config() == core.config() && back.nb_outputs() == 2);
        assert!(!core_from_serialized(PluginKind::LayerNorm, &blob).is_valid(), "a SkipLayerNorm blob is not a LayerNorm");
        assert!(!core_from_serialized(PluginKind::RmsNorm, &blob).is_valid());
        let dup = core.duplicate();
        assert!(dup.is_valid() && dup.config() == core.config());
        // Enqueue with a mismatched output count or a Skip of another shape is refused before any
        // launch (a logged error, status 1).
        // SAFETY: refused before any pointer is used.
        assert_eq!(unsafe { core.enqueue(&[x, x], &[y], &[16, 32], &[64], 0, 0) }, 1);
        // SAFETY: as above.
        assert_eq!(unsafe { core.enqueue(&[x, desc(1, &[4, 15])], &[y, x], &[16, 32], &[64, 128], 0, 0) }, 1);
        // SAFETY: as above.
        assert_eq!(unsafe { core.enqueue(&[x, x], &[y, x], &[16, 32, 48], &[64, 128], 0, 0) }, 1, "pointer count");
    }

    #[test]
    fn workspace_is_asked_for_in_builds_and_never_assumed_from_older_engines() {
        // FP16 8 x 2^20: rows of 64 grid tiles (32 KB each); 16 bytes per tile.
        let x = desc(1, &[8, 1 << 20]);
        let g = desc(1, &[1 << 20]);
        let expected = 8 * 64 * 16;
        for kind in [PluginKind::LayerNorm, PluginKind::RmsNorm] {
            // SAFETY: 0 is "no collection".
            let build = unsafe { core_from_fields(kind, 0, false, "test") };
            assert_eq!(build.field_bits(3), 1);
            assert_eq!(build.workspace_size(&[x, g], &[x]), expected, "{}", plugin_name(kind));
            assert_eq!(build.workspace_size(&[desc(1, &[8, 768]), desc(1, &[768])], &[desc(1, &[8, 768])]), 0, "one tile a row: none");
            assert_eq!(build.workspace_size(&[desc(1, &[8, -1]), g], &[x]), 0, "unresolved: none (logged)");
            assert_eq!(build.workspace_size(&[x, g, g, g], &[x]), 0, "bad input count: none (logged)");
            // An engine's fields without `workspace` (built before it existed): none, and
            // enqueue then ignores any workspace pointer.
            // SAFETY: as above.
            let engine = unsafe { core_from_fields(kind, 0, true, "test") };
            assert_eq!((engine.field_bits(3), engine.workspace_size(&[x, g], &[x])), (0, 0));
            let c = int_fields(&[(c"workspace", 1)]);
            // SAFETY: a live collection of one int32 field.
            let stored = unsafe { core_from_fields(kind, &c.fc as *const PluginFieldCollectionC as usize, true, "test") };
            assert_eq!(stored.workspace_size(&[x, g], &[x]), expected, "an engine that stored workspace = 1");
            let off = int_fields(&[(c"workspace", 0)]);
            // SAFETY: as above.
            let off = unsafe { core_from_fields(kind, &off.fc as *const PluginFieldCollectionC as usize, false, "test") };
            assert_eq!(off.workspace_size(&[x, g], &[x]), 0, "workspace = 0: never");
            let bad = int_fields(&[(c"workspace", 2)]);
            // SAFETY: as above.
            assert!(!unsafe { core_from_fields(kind, &bad.fc as *const PluginFieldCollectionC as usize, false, "test") }.is_valid());
            // Serialized, each keeps its value (version-2 blobs, which have none, read as 0: wire.rs).
            let mut blob = vec![0u8; build.serialized_size()];
            assert!(build.write_serialized(&mut blob));
            assert_eq!(core_from_serialized(kind, &blob).workspace_size(&[x, g], &[x]), expected);
            let config = build.config().with_workspace(0).unwrap();
            let v2 = wire::encode(&config, 0);
            assert_eq!(core_from_serialized(kind, &v2).field_bits(3), 0);
        }
        // FP32SkipLayerNorm: from two tiles a row.
        // SAFETY: 0 is "no collection".
        let skip = unsafe { core_from_fields(PluginKind::SkipLayerNorm, 0, false, "test") };
        let x = desc(0, &[64, 16384]);
        assert_eq!(skip.workspace_size(&[x, x], &[x]), 64 * 2 * 16);
    }
}
