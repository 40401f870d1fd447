//! The TensorRT plugins `FP32LayerNorm`, `FP32RMSNorm` and
//! `FP32SkipLayerNorm`: every decision they make, in Rust. One set of rooms
//! for all three: the norm kind ([`NormKind`]) is data carried by the
//! configuration, the field parser, the serialized form and the creators,
//! never a copy of the code; what differs (inputs, the `sum_output` field and
//! a second output) is per-kind data in [`config`] and [`fields`].
//!
//! - [`fields`]: the plugin fields (ONNX attributes) and their checks;
//! - [`config`]: the configuration and the type, format and shape rules;
//! - [`wire`]: the serialized form stored in engines (version-1 plugins);
//! - `bridge` (with TensorRT headers): the one cxx bridge the C++ classes in
//!   `plugin_cpp/` call through, panic-safe, logging through TensorRT's logger;
//! - `registration` (with TensorRT headers): the exported entry points
//!   (`getPluginCreators`, `getCreators`, `setLoggerFinder`,
//!   `initTrtLayerNormPlugins`) and the load-time registration.
//!
//! Name and versions are stable: engines and ONNX files depend on them.

pub mod config;
pub mod fields;
pub mod wire;

#[cfg(trt_plugin)]
mod bridge;
#[cfg(trt_plugin)]
pub mod registration;

pub use crate::problem::NormKind;
pub use config::{OutputType, PluginConfig, ShapeError};
pub use fields::FieldError;
pub use wire::WireError;

/// The LayerNorm plugin's name in TensorRT's registry (and the ONNX `op_type`).
pub const PLUGIN_NAME: &str = "FP32LayerNorm";
/// The RMSNorm plugin's name in TensorRT's registry (and the ONNX `op_type`).
pub const RMS_PLUGIN_NAME: &str = "FP32RMSNorm";

/// The fused residual + LayerNorm plugin's name in TensorRT's registry (and the ONNX `op_type`).
pub const SKIP_PLUGIN_NAME: &str = "FP32SkipLayerNorm";

/// The plugin name of a norm kind (same versions and namespace handling for every kind).
pub fn plugin_name(kind: NormKind) -> &'static str {
    match kind {
        NormKind::LayerNorm => PLUGIN_NAME,
        NormKind::RmsNorm => RMS_PLUGIN_NAME,
        NormKind::SkipLayerNorm => SKIP_PLUGIN_NAME,
    }
}

/// The norm kind of a plugin name, if it is one of this library's.
pub fn kind_of_plugin(name: &str) -> Option<NormKind> {
    NormKind::ALL.into_iter().find(|&k| plugin_name(k) == name)
}
/// IPluginV2DynamicExt + IPluginCreator (TensorRT 8.6, 10.x, 11.x).
pub const PLUGIN_VERSION_V2: &str = "1";
/// IPluginV3 + IPluginCreatorV3One (TensorRT >= 10).
pub const PLUGIN_VERSION_V3: &str = "2";

/// Whether this build contains the TensorRT plugin classes (TensorRT headers were found).
pub const BUILT: bool = cfg!(trt_plugin);
