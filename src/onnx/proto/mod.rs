//! ONNX protobuf messages, generated from the vendored `onnx-ml.proto`.
//!
//! `onnx-ml.proto` is the ONNX project's schema (Apache-2.0, see its
//! SPDX header), copied from the `onnx` Python package 1.23.2. The Rust code
//! is generated at build time by build.rs (step 4) into `OUT_DIR/onnx/`:
//! rust-protobuf 3.7.2 with its pure-Rust parser
//! (`protobuf_codegen::Codegen::new().pure()`), so no `protoc` is needed, and
//! the schema's `optimize_for = LITE_RUNTIME` gives lite-runtime code (no
//! reflection descriptors). The runtime crate and protobuf-codegen are both
//! pinned to `=3.7.2` in Cargo.toml because generated code checks the exact
//! runtime version; bump them together.
//!
//! rust-protobuf keeps unknown fields (`special_fields`) and field presence
//! (proto2 `Option`s), so a model written by a newer ONNX survives a
//! parse/serialize round trip without losing anything.

// The generated `mod.rs` declares `pub mod onnx_ml;` (the generated file
// carries its own `allow`s for clippy and rustc lints).
#[rustfmt::skip]
mod generated {
    include!(concat!(env!("OUT_DIR"), "/onnx/mod.rs"));
}

pub use generated::onnx_ml::*;
