//! ONNX protobuf messages, generated from the vendored `onnx-ml.proto`.
//!
//! `onnx-ml.proto` is the ONNX project's schema (Apache-2.0, see its
//! SPDX header), copied from the `onnx` Python package 1.23.2. `onnx_ml.rs` is
//! committed generated code: rust-protobuf 3.7.2 with its pure-Rust parser
//! (`protobuf_codegen::Codegen::new().pure().include(DIR).input(DIR/onnx-ml.proto)`),
//! so no `protoc` and no build-script step are needed. The runtime crate is
//! pinned to `=3.7.2` in Cargo.toml because generated code checks the exact
//! runtime version; regenerate with the same codegen version when bumping it.
//!
//! rust-protobuf keeps unknown fields (`special_fields`) and field presence
//! (proto2 `Option`s), so a model written by a newer ONNX survives a
//! parse/serialize round trip without losing anything.

#[rustfmt::skip]
mod onnx_ml;

pub use onnx_ml::*;
