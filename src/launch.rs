//! Launching the kernel: on a raw `CUstream` (what TensorRT hands to
//! `enqueue`), or through a safe API on cudarc types for Rust applications.

use crate::abi::{TlnParams, TLN_MAX_SYNCING_GROUPS};
use crate::driver::{check, cluster_attribute, current_context_kernels, programmatic_serialization_attribute, ContextKernels, Kernel};
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::problem::{DevicePtrs, NormKind, Problem, SkipOptions};
use crate::select::{can_vectorize, plan, plan_with, LaunchPlan, PlanHints, Variant};
use cudarc::driver::sys;
use cudarc::driver::{CudaContext, CudaSlice, CudaStream, DevicePtr, DevicePtrMut, SyncOnDrop};
use std::ffi::c_void;
use std::sync::Arc;

/// The plan a launch of `problem` on `ptrs` uses in the kernels' context,
/// with `hints` forced where they fit (default hints: the normal choice).
/// A plan whose workspace `ptrs` cannot hold is replaced by the best one that needs none.
pub fn plan_for(kernels: &ContextKernels, problem: &Problem, ptrs: &DevicePtrs, hints: PlanHints) -> LaunchPlan {
    let plan = plan_with(problem, can_vectorize(problem, ptrs), &kernels.limits, hints);
    if plan.workspace_bytes <= ptrs.workspace_bytes {
        return plan;
    }
    plan_with(problem, can_vectorize(problem, ptrs), &kernels.limits, PlanHints { grid: Some(false), ..hints })
}

/// The workspace the plan [`plan_for`] prefers would use, given enough:
/// what a caller that owns the workspace allocates before launching.
pub(crate) fn wanted_workspace_bytes(kernels: &ContextKernels, problem: &Problem, ptrs: &DevicePtrs, hints: PlanHints) -> u64 {
    plan_with(problem, can_vectorize(problem, ptrs), &kernels.limits, hints).workspace_bytes
}

/// The workspace ([`DevicePtrs::workspace`]) a [`launch_raw`] of `problem`
/// may use: 0 for rows of at most one grid tile (32 KB), at most 1 MiB; it
/// grows with rows and columns, so it covers every smaller problem (what a
/// TensorRT plugin asks for at build time). Given less, a launch takes a
/// plan that needs none: slower on few long rows, never wrong.
pub fn workspace_bytes(problem: &Problem) -> u64 {
    crate::select::grid_workspace_bound(problem.rows(), problem.cols(), problem.x_dtype())
}

/// Launches LayerNorm on `stream` in the context current on this thread.
///
/// The kernels are loaded into that context on its first launch; later
/// launches only pick a plan and call `cuLaunchKernel`.
///
/// # Safety
/// `ptrs` must point to device memory of the current context holding at least
/// `rows * cols` elements of X and Y (Y not overlapping X unless equal to it)
/// and `cols` elements of scale and bias where present, all valid until the
/// kernel has run; `stream` must be a stream of the current context (or null
/// for the legacy default stream). A workspace (`ptrs.workspace`, see
/// [`workspace_bytes`]) must hold `ptrs.workspace_bytes` bytes of device
/// memory that nothing else uses until the launch's kernels have run.
pub unsafe fn launch_raw(problem: &Problem, ptrs: &DevicePtrs, stream: sys::CUstream) -> Result<()> {
    ptrs.check(problem)?;
    if problem.rows() == 0 {
        return Ok(());
    }
    let kernels = current_context_kernels()?;
    // SAFETY: forwarded from the caller's contract.
    unsafe { launch_with(&kernels, problem, ptrs, stream) }
}

/// [`launch_raw`] with the context's kernels already in hand.
///
/// # Safety
/// As [`launch_raw`]; `kernels` must belong to the context current on this thread.
pub(crate) unsafe fn launch_with(kernels: &ContextKernels, problem: &Problem, ptrs: &DevicePtrs, stream: sys::CUstream) -> Result<()> {
    // SAFETY: forwarded from the caller's contract.
    unsafe { launch_planned(kernels, problem, ptrs, &plan_for(kernels, problem, ptrs, PlanHints::default()), stream) }
}

/// Launches with a given plan (benchmark sweeps use other plans than the default).
///
/// # Safety
/// As [`launch_with`]; `plan` must come from [`crate::select`] for this problem
/// and pointers' alignment on this context's device.
pub(crate) unsafe fn launch_planned(kernels: &ContextKernels, problem: &Problem, ptrs: &DevicePtrs, plan: &LaunchPlan, stream: sys::CUstream) -> Result<()> {
    let kernel = kernels.kernel(plan.variant, problem.x_dtype(), problem.y_dtype(), problem.norm());
    let mut params = TlnParams {
        x: ptrs.x as *const c_void,
        y: ptrs.y as *mut c_void,
        scale: ptrs.scale as *const c_void,
        bias: ptrs.bias as *const c_void,
        rows: problem.rows() as i64,
        cols: problem.cols() as i64,
        epsilon: problem.epsilon(),
        scale_dtype: problem.scale_dtype().unwrap_or(DType::F32).abi() as i32,
        bias_dtype: problem.bias_dtype().unwrap_or(DType::F32).abi() as i32,
        threads_per_row: plan.threads_per_row as i32,
        cluster_ctas: plan.cluster_ctas as i32,
        // Both roundings to nearest, as the kernels' own conversion and division.
        inv_cols: 1.0 / problem.cols() as f32,
        slice_chunks: plan.slice_chunks as i64,
        vectorized: i32::from(plan.vectorized),
        norm: problem.norm().abi(),
        skip: ptrs.skip as *const c_void,
        residual_bias: ptrs.residual_bias as *const c_void,
        sum: ptrs.sum as *mut c_void,
        prefetch_rows: plan.prefetch_rows as i32,
        prefetch_chunks: plan.prefetch_chunks as i32,
        workspace: if plan.workspace_bytes > 0 { ptrs.workspace as *mut c_void } else { std::ptr::null_mut() },
    };
    // Groups wider than a warp synchronize on barrier ids 0 and 1 only
    // (kernels/layernorm.cu, GroupReducerT::barrier): a block holding more
    // of them would mix their barriers. crate::select never plans one.
    if plan.threads_per_row > 32 && plan.block_threads / plan.threads_per_row > TLN_MAX_SYNCING_GROUPS {
        return Err(Error::invalid("plan", format!("{} rows of {} threads in a block", plan.block_threads / plan.threads_per_row, plan.threads_per_row)));
    }
    if plan.workspace_bytes > ptrs.workspace_bytes {
        return Err(Error::invalid("workspace", format!("{} bytes given, the plan needs {}", ptrs.workspace_bytes, plan.workspace_bytes)));
    }
    let mut args = [(&mut params as *mut TlnParams).cast::<c_void>()];
    if plan.variant == Variant::Grid {
        // The tiles' statistics into the workspace, then Y, both on `stream`.
        // SAFETY: as below; the workspace holds one 16-byte partial per block (checked above).
        check("cuLaunchKernel", unsafe {
            let stats = kernels.grid_stats(problem.x_dtype()).function;
            sys::cuLaunchKernel(stats, plan.grid_blocks, 1, 1, plan.block_threads, 1, 1, 0, stream, args.as_mut_ptr(), std::ptr::null_mut())
        })?;
        // From compute capability 9.0, a programmatic dependent launch: its
        // blocks start loading X while the first launch's last blocks run,
        // and wait for its results in the kernel (griddepcontrol.wait).
        let mut pdl = [programmatic_serialization_attribute()];
        let attrs = if kernels.compute_capability().0 >= 9 { &mut pdl[..] } else { &mut pdl[..0] };
        // SAFETY: as below.
        return unsafe { launch_ex(kernel, plan, stream, attrs, &mut args) };
    }
    if plan.cluster_ctas <= 1 {
        // SAFETY: the kernel takes exactly one TlnParams by value; `args` and
        // `params` outlive the call (the driver copies them before returning);
        // the plan keeps block size and shared memory within what was opted in.
        return check("cuLaunchKernel", unsafe {
            sys::cuLaunchKernel(
                kernel.function,
                plan.grid_blocks,
                1,
                1,
                plan.block_threads,
                1,
                1,
                plan.dynamic_smem_bytes,
                stream,
                args.as_mut_ptr(),
                std::ptr::null_mut(),
            )
        });
    }
    // SAFETY: as above; the grid is a multiple of the cluster size, which the
    // device was probed to support when the kernels were loaded.
    unsafe { launch_ex(kernel, plan, stream, &mut [cluster_attribute(plan.cluster_ctas)], &mut args) }
}

/// `cuLaunchKernelEx` of `kernel` on the plan's grid, block and shared
/// memory, with launch attributes `attrs` (cluster size, dependent launch).
///
/// # Safety
/// As `cuLaunchKernel` in [`launch_planned`]: `args` is the kernel's one
/// `TlnParams`, the plan fits the kernel and the device.
unsafe fn launch_ex(kernel: Kernel, plan: &LaunchPlan, stream: sys::CUstream, attrs: &mut [sys::CUlaunchAttribute], args: &mut [*mut c_void]) -> Result<()> {
    let config = sys::CUlaunchConfig {
        gridDimX: plan.grid_blocks,
        gridDimY: 1,
        gridDimZ: 1,
        blockDimX: plan.block_threads,
        blockDimY: 1,
        blockDimZ: 1,
        sharedMemBytes: plan.dynamic_smem_bytes,
        hStream: stream,
        attrs: attrs.as_mut_ptr(),
        numAttrs: attrs.len() as u32,
    };
    // SAFETY: `config` and `attrs` live across the call; the rest is the caller's contract.
    check("cuLaunchKernelEx", unsafe { sys::cuLaunchKernelEx(&config, kernel.function, args.as_mut_ptr(), std::ptr::null_mut()) })
}

/// Device memory allocated and freed in stream order (cuMemAllocAsync and
/// cuMemFreeAsync): the grid variant's partials for one launch.
struct StreamScratch {
    ptr: u64,
    stream: sys::CUstream,
}

impl StreamScratch {
    /// None where the allocation fails (no memory pools on this device, or no memory).
    fn new(bytes: u64, stream: sys::CUstream) -> Option<Self> {
        let mut ptr = 0;
        // SAFETY: out-pointer valid; `stream` belongs to the current context (the caller bound it).
        let r = unsafe { sys::cuMemAllocAsync(&mut ptr, bytes as usize, stream) };
        (r == sys::CUresult::CUDA_SUCCESS && ptr != 0).then_some(StreamScratch { ptr, stream })
    }
}

impl Drop for StreamScratch {
    fn drop(&mut self) {
        // SAFETY: allocated on `stream` by `new`; freed after the work enqueued on it before this point.
        unsafe { sys::cuMemFreeAsync(self.ptr, self.stream) };
    }
}

/// Scale or bias on the device, in any supported type.
#[derive(Clone, Copy)]
pub enum DeviceParam<'a> {
    F32(&'a CudaSlice<f32>),
    F16(&'a CudaSlice<half::f16>),
    BF16(&'a CudaSlice<half::bf16>),
}

impl DeviceParam<'_> {
    fn dtype(&self) -> DType {
        match self {
            DeviceParam::F32(_) => DType::F32,
            DeviceParam::F16(_) => DType::F16,
            DeviceParam::BF16(_) => DType::BF16,
        }
    }
    fn device_ptr<'s>(self, stream: &'s CudaStream) -> (u64, SyncOnDrop<'s>)
    where
        Self: 's,
    {
        match self {
            DeviceParam::F32(s) => s.device_ptr(stream),
            DeviceParam::F16(s) => s.device_ptr(stream),
            DeviceParam::BF16(s) => s.device_ptr(stream),
        }
    }
    fn len(&self) -> usize {
        match self {
            DeviceParam::F32(s) => s.len(),
            DeviceParam::F16(s) => s.len(),
            DeviceParam::BF16(s) => s.len(),
        }
    }
}

impl<'a> From<&'a CudaSlice<f32>> for DeviceParam<'a> {
    fn from(s: &'a CudaSlice<f32>) -> Self {
        DeviceParam::F32(s)
    }
}
impl<'a> From<&'a CudaSlice<half::f16>> for DeviceParam<'a> {
    fn from(s: &'a CudaSlice<half::f16>) -> Self {
        DeviceParam::F16(s)
    }
}
impl<'a> From<&'a CudaSlice<half::bf16>> for DeviceParam<'a> {
    fn from(s: &'a CudaSlice<half::bf16>) -> Self {
        DeviceParam::BF16(s)
    }
}

/// SkipLayerNorm's tensors besides X (all in X's type): Skip (X's shape),
/// an optional residual bias (`cols` elements) and an optional output S
/// (X's shape) for the sum.
pub struct SkipTensors<'a, X> {
    pub skip: &'a CudaSlice<X>,
    pub residual_bias: Option<&'a CudaSlice<X>>,
    pub sum: Option<&'a mut CudaSlice<X>>,
}

/// LayerNorm over the last `cols` elements, for Rust applications on cudarc.
///
/// ```no_run
/// # use trt_layernorm::LayerNorm;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let ctx = cudarc::driver::CudaContext::new(0)?;
/// let stream = ctx.default_stream();
/// let ln = LayerNorm::new(&ctx)?;
/// let x = stream.clone_htod(&vec![half::f16::ONE; 4 * 768])?;
/// let gamma = stream.clone_htod(&vec![1.0f32; 768])?;
/// let mut y = stream.alloc_zeros::<half::f16>(4 * 768)?;
/// ln.forward(&stream, &x, &mut y, 768, Some((&gamma).into()), None, 1e-5)?;
/// # Ok(()) }
/// ```
pub struct LayerNorm {
    ctx: Arc<CudaContext>,
    kernels: Arc<ContextKernels>,
}

impl LayerNorm {
    /// Loads the kernels into `ctx` (once per context; later calls share them).
    pub fn new(ctx: &Arc<CudaContext>) -> Result<Self> {
        crate::driver::driver_ready()?;
        ctx.bind_to_thread().map_err(|e| Error::Driver { call: "cuCtxSetCurrent", code: e.0 })?;
        Ok(LayerNorm { ctx: ctx.clone(), kernels: current_context_kernels()? })
    }

    /// Normalizes `x` (rows of `cols` elements) into `y` on `stream`.
    #[allow(clippy::too_many_arguments)]
    pub fn forward<X: Element, Y: Element>(
        &self,
        stream: &CudaStream,
        x: &CudaSlice<X>,
        y: &mut CudaSlice<Y>,
        cols: usize,
        scale: Option<DeviceParam<'_>>,
        bias: Option<DeviceParam<'_>>,
        epsilon: f32,
    ) -> Result<()> {
        self.forward_hinted(stream, x, y, cols, scale, bias, epsilon, NormKind::LayerNorm, None, PlanHints::default())
    }

    /// SkipLayerNorm: LayerNorm of s = (x + residual_bias) + skip, each add
    /// rounded in X's type (as an unfused graph's `Add`s), statistics in
    /// FP32; s is also written to `skip.sum` when given.
    #[allow(clippy::too_many_arguments)]
    pub fn forward_skip<X: Element, Y: Element>(
        &self,
        stream: &CudaStream,
        x: &CudaSlice<X>,
        skip: SkipTensors<'_, X>,
        y: &mut CudaSlice<Y>,
        cols: usize,
        scale: Option<DeviceParam<'_>>,
        bias: Option<DeviceParam<'_>>,
        epsilon: f32,
    ) -> Result<()> {
        self.forward_hinted(stream, x, y, cols, scale, bias, epsilon, NormKind::SkipLayerNorm, Some(skip), PlanHints::default())
    }

    /// RMSNorm of `x` (rows of `cols` elements) into `y` on `stream`:
    /// `x / sqrt(mean(x^2) + epsilon) * scale`, statistics in FP32.
    pub fn forward_rms<X: Element, Y: Element>(
        &self,
        stream: &CudaStream,
        x: &CudaSlice<X>,
        y: &mut CudaSlice<Y>,
        cols: usize,
        scale: Option<DeviceParam<'_>>,
        epsilon: f32,
    ) -> Result<()> {
        self.forward_hinted(stream, x, y, cols, scale, None, epsilon, NormKind::RmsNorm, None, PlanHints::default())
    }

    /// [`LayerNorm::forward`] (or [`LayerNorm::forward_rms`]) with plan
    /// choices forced where the row fits them (tests run every variant on
    /// the same rows).
    /// Not part of the stable API: tests and benchmarks force plans with it.
    #[doc(hidden)]
    #[allow(clippy::too_many_arguments)]
    pub fn forward_hinted<X: Element, Y: Element>(
        &self,
        stream: &CudaStream,
        x: &CudaSlice<X>,
        y: &mut CudaSlice<Y>,
        cols: usize,
        scale: Option<DeviceParam<'_>>,
        bias: Option<DeviceParam<'_>>,
        epsilon: f32,
        norm: NormKind,
        skip: Option<SkipTensors<'_, X>>,
        hints: PlanHints,
    ) -> Result<()> {
        if cols == 0 {
            return Err(Error::invalid("cols", "the normalized size H must be at least 1"));
        }
        if x.len() % cols != 0 {
            return Err(Error::invalid("x", format!("length {} is not a multiple of cols = {cols}", x.len())));
        }
        if y.len() != x.len() {
            return Err(Error::invalid("y", format!("length {} differs from x's {}", y.len(), x.len())));
        }
        for (name, p) in [("scale", &scale), ("bias", &bias)] {
            if let Some(p) = p {
                if p.len() != cols {
                    return Err(Error::invalid(name, format!("length {} differs from cols = {cols}", p.len())));
                }
            }
        }
        if (norm == NormKind::SkipLayerNorm) != skip.is_some() {
            return Err(Error::invalid("skip", "given exactly for SkipLayerNorm"));
        }
        if let Some(s) = &skip {
            if s.skip.len() != x.len() {
                return Err(Error::invalid("skip", format!("length {} differs from x's {}", s.skip.len(), x.len())));
            }
            if let Some(sum) = &s.sum {
                if sum.len() != x.len() {
                    return Err(Error::invalid("sum", format!("length {} differs from x's {}", sum.len(), x.len())));
                }
            }
            if let Some(rb) = s.residual_bias {
                if rb.len() != cols {
                    return Err(Error::invalid("residual_bias", format!("length {} differs from cols = {cols}", rb.len())));
                }
            }
        }
        if !Arc::ptr_eq(stream.context(), &self.ctx) {
            return Err(Error::invalid("stream", "belongs to another CUDA context than this LayerNorm"));
        }
        let problem = Problem::new(
            (x.len() / cols) as u64,
            cols as u64,
            X::DTYPE,
            Y::DTYPE,
            scale.as_ref().map(DeviceParam::dtype),
            bias.as_ref().map(DeviceParam::dtype),
            epsilon,
        )?
        .with_norm(norm)?;
        let problem = match &skip {
            Some(s) => problem.with_skip(SkipOptions { residual_bias: s.residual_bias.is_some(), sum_output: s.sum.is_some() })?,
            None => problem,
        };
        if problem.rows() == 0 {
            return Ok(());
        }
        self.ctx.bind_to_thread().map_err(|e| Error::Driver { call: "cuCtxSetCurrent", code: e.0 })?;

        let (x_ptr, _x_sync) = x.device_ptr(stream);
        let (y_ptr, _y_sync) = y.device_ptr_mut(stream);
        let (scale_ptr, _scale_sync) = scale.map(|p| p.device_ptr(stream)).unzip();
        let (bias_ptr, _bias_sync) = bias.map(|p| p.device_ptr(stream)).unzip();
        let (skip_ptr, _skip_sync) = skip.as_ref().map(|s| s.skip.device_ptr(stream)).unzip();
        let (rbias_ptr, _rbias_sync) = skip.as_ref().and_then(|s| s.residual_bias).map(|r| r.device_ptr(stream)).unzip();
        let mut skip = skip;
        let (sum_ptr, _sum_sync) = skip.as_mut().and_then(|s| s.sum.as_deref_mut()).map(|s| s.device_ptr_mut(stream)).unzip();
        let mut ptrs = DevicePtrs {
            x: x_ptr,
            y: y_ptr,
            scale: scale_ptr.unwrap_or(0),
            bias: bias_ptr.unwrap_or(0),
            skip: skip_ptr.unwrap_or(0),
            residual_bias: rbias_ptr.unwrap_or(0),
            sum: sum_ptr.unwrap_or(0),
            ..DevicePtrs::default()
        };
        ptrs.check(&problem)?;
        let wanted = wanted_workspace_bytes(&self.kernels, &problem, &ptrs, hints);
        // The grid variant's partials, stream-ordered; where the device has
        // no memory pools (or no memory), a plan that needs none runs.
        let _workspace = if wanted > 0 { StreamScratch::new(wanted, stream.cu_stream()) } else { None };
        if let Some(w) = &_workspace {
            (ptrs.workspace, ptrs.workspace_bytes) = (w.ptr, wanted);
        }
        let plan = plan_for(&self.kernels, &problem, &ptrs, hints);
        // SAFETY: every pointer comes from a live CudaSlice of this context
        // whose length was checked against the problem above; the stream
        // belongs to this context, which is bound to the thread.
        unsafe { launch_planned(&self.kernels, &problem, &ptrs, &plan, stream.cu_stream()) }
    }

    /// The plan `forward` would use for a problem with 16-byte aligned tensors.
    pub fn plan(&self, problem: &Problem) -> LaunchPlan {
        plan(problem, true, &self.kernels.limits)
    }

    pub fn compute_capability(&self) -> (i32, i32) {
        self.kernels.compute_capability()
    }

    /// The limits the variant selection works with on this context's device.
    pub fn limits(&self) -> crate::select::DeviceLimits {
        self.kernels.limits
    }

    pub(crate) fn kernels(&self) -> &ContextKernels {
        &self.kernels
    }
}
