//! GPU robustness: concurrent streams from many threads, two CUDA contexts in
//! one process, and a tensor past 2^31 elements. Each test prints one
//! `skipped: <reason>` line and passes where its resources are missing.

use cudarc::driver::{sys, CudaContext};
use half::f16;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use trt_layernorm::accuracy::{run_case, Case, Rng, RowKind};
use trt_layernorm::reference::{layernorm_row, ulp_error};
use trt_layernorm::{launch_raw, DType, DevicePtrs, LayerNorm, Problem};

fn skip(reason: impl std::fmt::Display) {
    // Straight to stderr: the test harness captures print macros of passing tests.
    let _ = writeln!(std::io::stderr(), "skipped: {reason}");
}

/// One test on the GPU at a time: they load it fully.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn random_rows(rows: usize, cols: usize, seed: u64) -> Vec<f16> {
    let mut rng = Rng::new(seed);
    (0..rows * cols).map(|_| f16::from_f64(rng.normal() * 2.0 + 0.5)).collect()
}

/// Every output element within 1 ulp of the f64 reference (no affine: no cancellations).
fn check_against_reference(x: &[f16], y: &[f16], cols: usize, what: &str) {
    let mut exact = vec![0.0; cols];
    for (r, (xr, yr)) in x.chunks(cols).zip(y.chunks(cols)).enumerate() {
        let xr: Vec<f64> = xr.iter().map(|v| v.to_f64()).collect();
        layernorm_row(&xr, None, None, 1e-5, &mut exact);
        for c in 0..cols {
            let u = ulp_error(DType::F16, yr[c].to_f64(), exact[c]);
            assert!(u <= 1.0, "{what}: row {r} col {c}: {} vs {} ({u} ulp)", yr[c], exact[c]);
        }
    }
}

/// 8 threads, each with its own stream and buffers, launch back to back for
/// a few seconds; every output of every launch is compared with the first,
/// which is checked against the reference.
#[test]
fn eight_threads_eight_streams() {
    if let Err(e) = trt_layernorm::driver_ready() {
        return skip(e);
    }
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let ctx = CudaContext::new(0).expect("context");
    let ln = Arc::new(LayerNorm::new(&ctx).expect("kernels"));
    let deadline = Instant::now() + Duration::from_secs(3);
    let launches: Vec<usize> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let (ctx, ln) = (ctx.clone(), ln.clone());
                s.spawn(move || {
                    // Different shapes per thread, so different variants run side by side.
                    let (rows, cols) = [(256, 4096), (1000, 768), (7, 65536), (64, 12288)][t % 4];
                    let stream = ctx.new_stream().expect("stream");
                    let xs = random_rows(rows, cols, 100 + t as u64);
                    let x = stream.clone_htod(&xs).unwrap();
                    let mut y = stream.alloc_zeros::<f16>(rows * cols).unwrap();
                    ln.forward(&stream, &x, &mut y, cols, None, None, 1e-5).unwrap();
                    let first = stream.clone_dtoh(&y).unwrap();
                    // The message names the kernel, so that a failure says which variant to look at.
                    let problem = Problem::new(rows as u64, cols as u64, DType::F16, DType::F16, None, None, 1e-5).unwrap();
                    let plan = ln.plan(&problem);
                    let what = format!("thread {t}, {rows}x{cols}, {}/{} x{}", plan.variant.name(), plan.threads_per_row, plan.cluster_ctas);
                    check_against_reference(&xs, &first, cols, &what);
                    let mut n = 1;
                    while Instant::now() < deadline {
                        stream.memset_zeros(&mut y).unwrap();
                        ln.forward(&stream, &x, &mut y, cols, None, None, 1e-5).unwrap();
                        let again = stream.clone_dtoh(&y).unwrap();
                        assert!(again == first, "thread {t}: launch {n} differs from the first");
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("worker")).collect()
    });
    let _ = writeln!(std::io::stderr(), "launches per thread in 3 s, all outputs checked: {launches:?}");
    assert!(launches.iter().all(|&n| n > 1));
}

fn drv(call: &str, r: sys::CUresult) {
    assert_eq!(r, sys::CUresult::CUDA_SUCCESS, "{call}");
}

/// The primary context and a second context of the same device each get
/// their own copy of the kernels, and both compute correctly.
#[test]
fn two_contexts_in_one_process() {
    if let Err(e) = trt_layernorm::driver_ready() {
        return skip(e);
    }
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let (rows, cols) = (33usize, 1000usize);
    let xs = random_rows(rows, cols, 7);
    let problem = Problem::new(rows as u64, cols as u64, DType::F16, DType::F16, None, None, 1e-5).unwrap();
    let bytes = rows * cols * 2;

    // SAFETY: plain driver calls with valid out-pointers; every buffer is
    // `bytes` long, and the context each call uses is current on this thread.
    unsafe {
        let mut dev = 0;
        drv("cuDeviceGet", sys::cuDeviceGet(&mut dev, 0));
        let mut contexts = Vec::new();
        // One context created here, then the primary context through cudarc.
        let mut own = std::ptr::null_mut();
        drv("cuCtxCreate", sys::cuCtxCreate_v2(&mut own, 0, dev));
        contexts.push(own);
        let primary = CudaContext::new(0).expect("primary context");
        contexts.push(primary.cu_ctx());

        for (i, &ctx) in contexts.iter().enumerate() {
            drv("cuCtxSetCurrent", sys::cuCtxSetCurrent(ctx));
            let (mut x, mut y) = (0, 0);
            drv("cuMemAlloc", sys::cuMemAlloc_v2(&mut x, bytes));
            drv("cuMemAlloc", sys::cuMemAlloc_v2(&mut y, bytes));
            drv("cuMemcpyHtoD", sys::cuMemcpyHtoD_v2(x, xs.as_ptr().cast(), bytes));
            launch_raw(&problem, &DevicePtrs { x, y, ..DevicePtrs::default() }, std::ptr::null_mut()).expect("launch in this context");
            let mut out = vec![f16::ZERO; rows * cols];
            drv("cuMemcpyDtoH", sys::cuMemcpyDtoH_v2(out.as_mut_ptr().cast(), y, bytes));
            check_against_reference(&xs, &out, cols, &format!("context {i}"));
            drv("cuMemFree", sys::cuMemFree_v2(x));
            drv("cuMemFree", sys::cuMemFree_v2(y));
        }
        drv("cuCtxSetCurrent", sys::cuCtxSetCurrent(std::ptr::null_mut()));
        drv("cuCtxDestroy", sys::cuCtxDestroy_v2(own));
    }
}

fn mem_available_bytes() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

/// 524289 rows of 4096 FP16 elements: 2^31 + 4096 elements, past every
/// 32-bit offset. Every element is checked against the f64 reference.
#[test]
fn a_tensor_past_two_to_the_31_elements() {
    if let Err(e) = trt_layernorm::driver_ready() {
        return skip(e);
    }
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let (rows, cols) = (524_289usize, 4096usize);
    let elements = rows * cols;
    assert!(elements > 1 << 31);
    // The harness keeps X and Y as f64 on the host (plus typed copies): ~40 GiB.
    let host_needed = elements as u64 * 20;
    match mem_available_bytes() {
        Some(avail) if avail >= host_needed => {}
        avail => return skip(format!("needs {} GiB of host memory, {:?} GiB available", host_needed >> 30, avail.map(|a| a >> 30))),
    }
    let ctx = CudaContext::new(0).expect("context");
    let (free, _) = ctx.mem_get_info().expect("memory info");
    if (free as u64) < elements as u64 * 4 + (1 << 30) {
        return skip(format!("needs {} GiB of GPU memory, {} GiB free", (elements as u64 * 4) >> 30, free >> 30));
    }
    let stream = ctx.default_stream();
    let ln = LayerNorm::new(&ctx).expect("kernels");
    let case = Case::new(rows, cols, DType::F16, DType::F16, &[RowKind::Normal, RowKind::Outlier]);
    let rep = run_case(&ln, &stream, &case).expect("launch");
    let _ = writeln!(
        std::io::stderr(),
        "{case}: {} elements, {:.5}% exactly rounded, max {:.2} ulp, {} cancellations, {} out of bounds",
        rep.stats.elements,
        100.0 * rep.stats.exact_fraction(),
        rep.stats.max_ulp,
        rep.cancellation_allowed,
        rep.violations
    );
    assert_eq!(rep.stats.elements + rep.cancellation_allowed, elements as u64, "every element measured");
    assert!(rep.passed(), "worst (row, col, got, exact) = {:?}", rep.worst);
}
