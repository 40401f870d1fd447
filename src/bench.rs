//! GPU timing shared by the criterion benchmarks and `trt-layernorm bench`:
//! device time per call from CUDA graphs of back-to-back launches (so host
//! launch overhead is not counted), with inputs rotated so that large shapes
//! are not served from L2, plus the two references every number is read
//! against in the same run: device-to-device copy bandwidth and an empty launch.

use crate::accuracy::Rng;
use crate::driver::check;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::launch::{launch_planned, plan_for, wanted_workspace_bytes, LayerNorm};
use crate::select::{LaunchPlan, PlanHints};
use crate::problem::{DevicePtrs, NormKind, Problem, SkipOptions};
use cudarc::driver::{sys, CudaContext, CudaGraph, CudaSlice, CudaStream, DevicePtr, DriverError};
use std::sync::Arc;

fn drv(call: &'static str) -> impl Fn(DriverError) -> Error {
    move |e| Error::Driver { call, code: e.0 }
}

/// Bytes of rotating inputs a large shape cycles through: well above the
/// 50 MB L2 of an H100, so each call reads X from DRAM.
const ROTATION_BYTES: usize = 512 << 20;
/// Target device time of one graph replay.
const GRAPH_SECONDS: f64 = 2e-3;
/// Trials; the median is reported.
const TRIALS: usize = 7;

/// One measured configuration.
#[derive(Clone, Copy, Debug)]
pub struct Measurement {
    /// Device time per call.
    pub us: f64,
    /// Minimum bytes moved (X read, Y written, scale and bias read) per second.
    pub gbps: f64,
}

/// A GPU, its stream, the kernels, and the reference figures of this run.
pub struct Bench {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    ln: LayerNorm,
    /// 256 MiB device-to-device copy, counting read + write.
    pub copy_gbps: f64,
    /// Device time of an empty kernel launch, per call.
    pub empty_us: f64,
}

/// Buffers and a captured graph for one shape.
pub struct Prepared {
    _buffers: Vec<CudaSlice<u8>>,
    graph: CudaGraph,
    calls_per_graph: usize,
    problem: Problem,
    plan: LaunchPlan,
}

impl Prepared {
    pub fn problem(&self) -> &Problem {
        &self.problem
    }
    /// The plan every captured launch uses.
    pub fn plan(&self) -> &LaunchPlan {
        &self.plan
    }
}

impl Bench {
    /// Device 0; measures copy bandwidth and the empty-launch floor first.
    pub fn new() -> Result<Self> {
        crate::driver::driver_ready()?;
        let ctx = CudaContext::new(0).map_err(drv("cuDevicePrimaryCtxRetain"))?;
        let stream = ctx.new_stream().map_err(drv("cuStreamCreate"))?;
        let ln = LayerNorm::new(&ctx)?;
        let mut b = Bench { ctx, stream, ln, copy_gbps: 0.0, empty_us: 0.0 };
        b.copy_gbps = b.measure_copy()?;
        b.empty_us = b.measure_empty()?;
        Ok(b)
    }

    pub fn device_name(&self) -> String {
        self.ctx.name().unwrap_or_default()
    }

    fn measure_copy(&self) -> Result<f64> {
        let bytes = 256usize << 20;
        let src = self.stream.alloc_zeros::<u8>(bytes).map_err(drv("cuMemAlloc"))?;
        let mut dst = self.stream.alloc_zeros::<u8>(bytes).map_err(drv("cuMemAlloc"))?;
        let secs = self.median_seconds(|| self.stream.memcpy_dtod(&src, &mut dst).map_err(drv("cuMemcpyDtoD")), 10)?;
        Ok(2.0 * bytes as f64 / secs / 1e9)
    }

    fn measure_empty(&self) -> Result<f64> {
        let calls = 1000;
        let graph = self.capture(|| {
            for _ in 0..calls {
                // SAFETY: tln_empty takes no parameters and touches no memory.
                check("cuLaunchKernel", unsafe {
                    sys::cuLaunchKernel(self.ln.kernels().empty.function, 1, 1, 1, 32, 1, 1, 0, self.stream.cu_stream(), std::ptr::null_mut(), std::ptr::null_mut())
                })?;
            }
            Ok(())
        })?;
        Ok(self.median_seconds(|| graph.launch().map_err(drv("cuGraphLaunch")), 1)? / calls as f64 * 1e6)
    }

    /// Allocates rotating inputs filled with random values and captures a graph of launches.
    /// `hints` force plan choices where the row fits them (sweeps).
    /// RMSNorm (`norm`) reads no bias; SkipLayerNorm reads a Skip and writes S
    /// (no residual bias), both rotated with X.
    #[allow(clippy::too_many_arguments)]
    pub fn prepare(&self, rows: usize, cols: usize, x: DType, y: DType, affine: Option<DType>, norm: NormKind, hints: PlanHints) -> Result<Prepared> {
        let bias = if norm.has_bias() { affine } else { None };
        let problem = Problem::new(rows as u64, cols as u64, x, y, affine, bias, 1e-5)?.with_norm(norm)?;
        let skip = norm == NormKind::SkipLayerNorm;
        let problem = if skip { problem.with_skip(SkipOptions { residual_bias: false, sum_output: true })? } else { problem };
        let (xb, yb) = (rows * cols * x.size_bytes(), rows * cols * y.size_bytes());
        let per_set = if skip { 3 * xb + yb } else { xb + yb };
        let sets = (ROTATION_BYTES / per_set.max(1)).clamp(1, 64);
        // Skip: X's values shifted by one element (other values, same distribution).
        let host_skip = if skip {
            let mut v = random_bytes(rows * cols, x);
            v.rotate_left(x.size_bytes());
            v
        } else {
            Vec::new()
        };

        let host_x = random_bytes(rows * cols, x);
        let mut buffers = Vec::new();
        let mut ptrs = Vec::new();
        let param = match affine {
            Some(d) => Some(self.stream.clone_htod(&random_bytes(cols, d)).map_err(drv("cuMemcpyHtoD"))?),
            None => None,
        };
        let param_ptr = param.as_ref().map_or(0, |p| p.device_ptr(&self.stream).0);
        for _ in 0..sets {
            let xs = self.stream.clone_htod(&host_x).map_err(drv("cuMemcpyHtoD"))?;
            let ys = self.stream.alloc_zeros::<u8>(yb).map_err(drv("cuMemAlloc"))?;
            let bias_ptr = if bias.is_some() { param_ptr } else { 0 };
            let mut set = DevicePtrs { x: xs.device_ptr(&self.stream).0, y: ys.device_ptr(&self.stream).0, scale: param_ptr, bias: bias_ptr, ..DevicePtrs::default() };
            buffers.push(xs);
            buffers.push(ys);
            if skip {
                let skips = self.stream.clone_htod(&host_skip).map_err(drv("cuMemcpyHtoD"))?;
                let sums = self.stream.alloc_zeros::<u8>(xb).map_err(drv("cuMemAlloc"))?;
                (set.skip, set.sum) = (skips.device_ptr(&self.stream).0, sums.device_ptr(&self.stream).0);
                buffers.push(skips);
                buffers.push(sums);
            }
            ptrs.push(set);
        }
        buffers.extend(param);
        self.stream.synchronize().map_err(drv("cuStreamSynchronize"))?;

        let est_seconds = problem.min_bytes_moved() as f64 / (self.copy_gbps * 1e9) + self.empty_us * 1e-6;
        let calls_per_graph = ((GRAPH_SECONDS / est_seconds) as usize).clamp(20, 2000);
        let kernels = self.ln.kernels();
        // One workspace per set, as large as the plan asks.
        let wanted = wanted_workspace_bytes(kernels, &problem, &ptrs[0], hints);
        if wanted > 0 {
            for set in &mut ptrs {
                let ws = self.stream.alloc_zeros::<u8>(wanted as usize).map_err(drv("cuMemAlloc"))?;
                (set.workspace, set.workspace_bytes) = (ws.device_ptr(&self.stream).0, wanted);
                buffers.push(ws);
            }
        }
        let plan = plan_for(kernels, &problem, &ptrs[0], hints);
        let graph = self.capture(|| {
            for i in 0..calls_per_graph {
                // SAFETY: the buffers hold rows*cols elements of X and Y and cols of scale/bias, and
                // live in `Prepared` as long as the graph; the context is current (LayerNorm::new).
                unsafe { launch_planned(kernels, &problem, &ptrs[i % sets], &plan, self.stream.cu_stream()) }?;
            }
            Ok(())
        })?;
        Ok(Prepared { _buffers: buffers, graph, calls_per_graph, problem, plan })
    }

    /// Device buffers for work launched outside this crate (the `builtin`
    /// comparison's TensorRT engines): X of `elements` random values of
    /// `dtype`, Y zeroed, as (buffers, X address, Y address).
    pub fn foreign_io(&self, elements: usize, dtype: DType) -> Result<(Vec<CudaSlice<u8>>, u64, u64)> {
        let x = self.stream.clone_htod(&random_bytes(elements, dtype)).map_err(drv("cuMemcpyHtoD"))?;
        let y = self.stream.alloc_zeros::<u8>(elements * dtype.size_bytes()).map_err(drv("cuMemAlloc"))?;
        let (xp, yp) = (x.device_ptr(&self.stream).0, y.device_ptr(&self.stream).0);
        self.stream.synchronize().map_err(drv("cuStreamSynchronize"))?;
        Ok((vec![x, y], xp, yp))
    }

    /// The bench stream's handle, for work launched outside this crate.
    pub fn cu_stream(&self) -> sys::CUstream {
        self.stream.cu_stream()
    }

    /// Median device time per call of `call` (work it puts on [`Bench::cu_stream`]),
    /// `reps` calls back to back per trial, after a warm-up.
    pub fn measure_foreign(&self, reps: usize, call: impl FnMut() -> Result<()>) -> Result<f64> {
        Ok(self.median_seconds(call, reps)? * 1e6)
    }

    /// Device seconds of `calls` calls of `call` (for criterion's `iter_custom`).
    pub fn time_foreign(&self, calls: u64, mut call: impl FnMut() -> Result<()>) -> Result<f64> {
        self.time_seconds(|| (0..calls).try_for_each(|_| call()))
    }

    /// Median device time per call of a prepared shape.
    pub fn measure(&self, p: &Prepared) -> Result<Measurement> {
        let secs = self.median_seconds(|| p.graph.launch().map_err(drv("cuGraphLaunch")), 1)? / p.calls_per_graph as f64;
        Ok(Measurement { us: secs * 1e6, gbps: p.problem.min_bytes_moved() as f64 / secs / 1e9 })
    }

    /// Device seconds for `calls` calls (replays whole graphs; for criterion's `iter_custom`).
    pub fn time_calls(&self, p: &Prepared, calls: u64) -> Result<f64> {
        let replays = calls.div_ceil(p.calls_per_graph as u64).max(1);
        let secs = self.time_seconds(|| {
            for _ in 0..replays {
                p.graph.launch().map_err(drv("cuGraphLaunch"))?;
            }
            Ok(())
        })?;
        Ok(secs * calls as f64 / (replays * p.calls_per_graph as u64) as f64)
    }

    fn capture(&self, body: impl FnOnce() -> Result<()>) -> Result<CudaGraph> {
        self.stream
            .begin_capture(sys::CUstreamCaptureMode::CU_STREAM_CAPTURE_MODE_THREAD_LOCAL)
            .map_err(drv("cuStreamBeginCapture"))?;
        let captured = body();
        let graph = self.stream.end_capture(sys::CUgraphInstantiate_flags(0)).map_err(drv("cuStreamEndCapture"))?;
        captured?;
        graph.ok_or(Error::Driver { call: "cuStreamEndCapture", code: sys::CUresult::CUDA_ERROR_STREAM_CAPTURE_INVALIDATED })
    }

    fn time_seconds(&self, mut body: impl FnMut() -> Result<()>) -> Result<f64> {
        let flags = Some(sys::CUevent_flags::CU_EVENT_DEFAULT);
        let start = self.ctx.new_event(flags).map_err(drv("cuEventCreate"))?;
        let end = self.ctx.new_event(flags).map_err(drv("cuEventCreate"))?;
        start.record(&self.stream).map_err(drv("cuEventRecord"))?;
        body()?;
        end.record(&self.stream).map_err(drv("cuEventRecord"))?;
        end.synchronize().map_err(drv("cuEventSynchronize"))?;
        Ok(start.elapsed_ms(&end).map_err(drv("cuEventElapsedTime"))? as f64 * 1e-3)
    }

    /// Warm-up, then the median over TRIALS of `reps` back-to-back runs of `body`, per run.
    fn median_seconds(&self, mut body: impl FnMut() -> Result<()>, reps: usize) -> Result<f64> {
        self.time_seconds(&mut body)?;
        let mut t: Vec<f64> = (0..TRIALS)
            .map(|_| {
                self.time_seconds(|| {
                    for _ in 0..reps {
                        body()?;
                    }
                    Ok(())
                })
                .map(|s| s / reps as f64)
            })
            .collect::<Result<_>>()?;
        t.sort_by(f64::total_cmp);
        Ok(t[TRIALS / 2])
    }
}

/// `n` random values in [-2, 2) of `dtype`, as bytes (never zeros: zeros can time faster).
fn random_bytes(n: usize, dtype: DType) -> Vec<u8> {
    let mut rng = Rng::new(n as u64);
    let mut out = Vec::with_capacity(n * dtype.size_bytes());
    for _ in 0..n {
        let v = (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32 * 4.0 - 2.0;
        match dtype {
            DType::F32 => out.extend_from_slice(&v.to_le_bytes()),
            DType::F16 => out.extend_from_slice(&half::f16::from_f32(v).to_le_bytes()),
            DType::BF16 => out.extend_from_slice(&half::bf16::from_f32(v).to_le_bytes()),
        }
    }
    out
}
