//! `patch` on hostile graphs that protobuf parsing alone rarely reaches: a
//! valid fixture (first byte) edited by the rest of the input (4-byte edits:
//! cycles, dangling and duplicate names, missing initializers, huge and
//! negative dims, hostile axes/epsilons/types, unsorted nodes, nested
//! subgraphs; see `trt_layernorm_fuzz::onnx`), serialized and read back as
//! the CLI reads a file, then patched with the `onnx` target's checks.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| trt_layernorm_fuzz::onnx::check_edits(data));
