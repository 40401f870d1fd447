//! The ONNX reader and `patch` on untrusted bytes: `io::parse_model` (what
//! `trt-layernorm patch` reads a file with), then `patch_model` in memory
//! (dry run, default, plugin v2 with FP32 output). Never a panic, a hang or
//! an abort; errors are one line; a patched model serializes, reads back and
//! patches again (`trt_layernorm_fuzz::onnx::check_model`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| trt_layernorm_fuzz::onnx::check_bytes(data));
