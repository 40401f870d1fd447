//! ONNX integration: rewriting a model's LayerNorms into FP32LayerNorm plugin nodes.
//! (Placeholder: the patcher lands with the ONNX issue.)

use std::path::Path;

/// What `trt-layernorm patch` was asked to do.
#[derive(Clone, Debug, Default)]
pub struct PatchOptions {
    pub plugin_version: String,
    pub output_fp32: bool,
    pub only: Vec<String>,
    pub dry_run: bool,
}

/// Errors of the patcher.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    #[error("not implemented yet")]
    NotImplemented,
}

/// Patches `input` into `output`; returns the summary to print.
pub fn patch_file(_input: &Path, _output: &Path, _options: &PatchOptions) -> Result<String, PatchError> {
    Err(PatchError::NotImplemented)
}
