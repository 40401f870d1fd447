//! Errors are values: every way a launch can be refused or fail.

use crate::dtype::DType;
use cudarc::driver::sys::CUresult;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// A problem parameter is out of range; `name` is the parameter.
    #[error("invalid LayerNorm parameter `{name}`: {reason}")]
    InvalidParameter { name: &'static str, reason: String },

    /// Y must be X's type or FP32.
    #[error("unsupported type combination: X is {x}, Y is {y} (Y must be X's type or f32)")]
    UnsupportedOutputType { x: DType, y: DType },

    /// No CUDA driver library could be loaded on this machine.
    #[error("no CUDA driver on this machine ({0})")]
    NoDriver(String),

    /// The driver loaded but reports no usable GPU.
    #[error("no CUDA device available ({0})")]
    NoDevice(String),

    /// A raw-stream launch needs a current CUDA context on the calling thread.
    #[error("no CUDA context is current on this thread")]
    NoCurrentContext,

    /// The embedded fatbin has neither a cubin nor PTX this GPU can run.
    #[error("the embedded kernels cannot run on this GPU (compute capability {major}.{minor}; built for {built_for}): {detail}")]
    NoKernelImage { major: i32, minor: i32, built_for: &'static str, detail: String },

    /// A CUDA driver call failed.
    #[error("CUDA driver call {call} failed: {code:?}")]
    Driver { call: &'static str, code: CUresult },
}

impl Error {
    pub(crate) fn invalid(name: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidParameter { name, reason: reason.into() }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
