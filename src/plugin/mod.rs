//! The TensorRT plugin `FP32LayerNorm`: every decision it makes, in Rust.
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

pub use config::{OutputType, PluginConfig, ShapeError};
pub use fields::FieldError;
pub use wire::WireError;

/// The plugin's name in TensorRT's registry (and the ONNX `op_type`).
pub const PLUGIN_NAME: &str = "FP32LayerNorm";
/// IPluginV2DynamicExt + IPluginCreator (TensorRT 8.6, 10.x, 11.x).
pub const PLUGIN_VERSION_V2: &str = "1";
/// IPluginV3 + IPluginCreatorV3One (TensorRT >= 10).
pub const PLUGIN_VERSION_V3: &str = "2";

/// Whether this build contains the TensorRT plugin classes (TensorRT headers were found).
pub const BUILT: bool = cfg!(trt_plugin);
