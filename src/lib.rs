//! trt-layernorm: a LayerNorm whose statistics are always accumulated in
//! FP32 (I/O in FP32, FP16 or BF16), as CUDA kernels launched from Rust and
//! as a TensorRT plugin that Myelin cannot fuse.
//!
//! - [`Problem`] describes one launch and validates it;
//! - [`launch_raw`] launches on a raw `CUstream` (what TensorRT hands to `enqueue`);
//! - [`LayerNorm`] is the safe API on cudarc types;
//! - [`reference`] is the f64 reference the tests measure against.

mod abi;
pub mod accuracy;
pub mod bench;
pub mod driver;
pub mod dtype;
pub mod error;
pub mod fatbin;
pub mod launch;
pub mod onnx;
pub mod plugin;
pub mod problem;
pub mod reference;
pub mod select;

pub use driver::driver_ready;
pub use dtype::{DType, Element};
pub use error::{Error, Result};
pub use launch::{launch_raw, workspace_bytes, DeviceParam, LayerNorm, SkipTensors};
pub use problem::{DevicePtrs, NormKind, Problem, SkipOptions};
