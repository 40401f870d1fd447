//! Criterion benchmarks of the LayerNorm kernels on GPU 0.
//!
//! Device time per call comes from CUDA events around replays of CUDA graphs
//! (`trt_layernorm::bench`), so host launch overhead is not counted; inputs
//! rotate past the L2 cache. Each group prints, measured in this process,
//! effective GB/s and the fraction of a device-to-device copy.
//!
//! The `builtin` group (TensorRT's own normalization layer through enqueueV3)
//! needs a full TensorRT (libnvinfer with its builder); it prints one line and
//! skips where none can be loaded. Without a GPU every group skips.
//!
//!     cargo bench --bench layernorm [-- FILTER]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::time::Duration;
use trt_layernorm::bench::Bench;
use trt_layernorm::select::PlanHints;
use trt_layernorm::{DType, NormKind};

/// (rows, H): the anchor grid of shared/anchors/pytorch_layernorm_h100.json plus huge rows.
const SHAPES: &[(usize, usize)] = &[
    (1, 768),
    (1, 4096),
    (128, 768),
    (512, 1024),
    (4096, 768),
    (4096, 4096),
    (8192, 8192),
    (16384, 12288),
    (4096, 16384),
    (256, 65536),
    (32, 1 << 20),
];

fn layernorm(c: &mut Criterion) {
    let bench = match Bench::new() {
        Ok(b) => b,
        Err(e) => {
            println!("layernorm: skipped: {e}");
            return;
        }
    };
    println!(
        "{}: device-to-device copy {:.0} GB/s, empty launch {:.2} us (this process)",
        bench.device_name(),
        bench.copy_gbps,
        bench.empty_us
    );
    for dtype in [DType::F16, DType::BF16, DType::F32] {
        let mut group = c.benchmark_group(format!("layernorm_{dtype}"));
        group.sample_size(20).measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(300));
        for &(rows, cols) in SHAPES {
            let prepared = match bench.prepare(rows, cols, dtype, dtype, Some(dtype), NormKind::LayerNorm, PlanHints::default()) {
                Ok(p) => p,
                Err(e) => {
                    println!("layernorm_{dtype}/{rows}x{cols}: {e}");
                    continue;
                }
            };
            group.throughput(criterion::Throughput::Bytes(prepared.problem().min_bytes_moved()));
            group.bench_function(BenchmarkId::from_parameter(format!("{rows}x{cols}")), |b| {
                b.iter_custom(|iters| Duration::from_secs_f64(bench.time_calls(&prepared, iters).expect("timed launches")))
            });
            if let Ok(m) = bench.measure(&prepared) {
                println!(
                    "  {dtype} {rows}x{cols}: {:.2} us, {:.0} GB/s = {:.1}% of copy; {} ({} threads/row, {} blocks/row)",
                    m.us,
                    m.gbps,
                    100.0 * m.gbps / bench.copy_gbps,
                    prepared.plan().variant.name(),
                    prepared.plan().threads_per_row,
                    prepared.plan().cluster_ctas
                );
            }
        }
        group.finish();
    }
}

/// TensorRT's INormalizationLayer against FP32LayerNorm, both through enqueueV3.
#[cfg(not(trt_plugin))]
fn builtin(_c: &mut Criterion) {
    println!("builtin: skipped: built without TensorRT headers (set TENSORRT_INCLUDE_DIR), so without the comparison harness");
}

/// TensorRT's INormalizationLayer against FP32LayerNorm, both through enqueueV3.
#[cfg(trt_plugin)]
fn builtin(c: &mut Criterion) {
    builtin::run(c)
}

#[cfg(trt_plugin)]
mod builtin {
    //! One-layer engines built by a full TensorRT (libnvinfer.so.<major of the
    //! headers this crate was built with>, found by the dynamic loader or at
    //! `TRT_LIBNVINFER`), strongly typed: the built-in layer runs in X's type.
    //! Same input buffer, same stream, device time per enqueueV3.
    use super::*;
    use std::ffi::{c_char, c_void, CStr, CString};
    use std::path::PathBuf;
    use trt_layernorm::plugin::config::dtype_to_trt;

    extern "C" {
        fn tln_builtin_open(libnvinfer: *const c_char, plugin_lib: *const c_char, report: *mut c_char, len: usize) -> i32;
        fn tln_builtin_engine(kind: i32, dtype: i32, rows: i64, cols: i64, x: u64, y: u64, report: *mut c_char, len: usize) -> *mut c_void;
        fn tln_builtin_enqueue(engine: *mut c_void, stream: u64) -> i32;
        fn tln_builtin_destroy(engine: *mut c_void);
    }

    const MAJOR: &str = env!("TRT_LAYERNORM_TENSORRT_MAJOR");
    /// Shapes of the comparison: transformer rows and a large tensor.
    const SHAPES: &[(usize, usize)] = &[(1, 768), (4096, 768), (4096, 4096), (8192, 8192)];
    const KINDS: [&str; 2] = ["INormalizationLayer", "FP32LayerNorm"];

    /// An engine from the harness, destroyed on drop.
    struct Engine(*mut c_void);
    impl Drop for Engine {
        fn drop(&mut self) {
            // SAFETY: a live engine from tln_builtin_engine, destroyed once.
            unsafe { tln_builtin_destroy(self.0) }
        }
    }

    fn report_text(buf: &[c_char]) -> String {
        // SAFETY: the harness NUL-terminates within the (zeroed) buffer.
        unsafe { CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().into_owned()
    }

    /// libtrt_layernorm.so next to the bench executable's target directory, or TRT_LAYERNORM_PLUGIN_LIB.
    fn plugin_lib() -> PathBuf {
        if let Some(p) = std::env::var_os("TRT_LAYERNORM_PLUGIN_LIB") {
            return PathBuf::from(p);
        }
        let exe = std::env::current_exe().expect("bench executable path");
        exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>/deps").join("libtrt_layernorm.so")
    }

    pub fn run(c: &mut Criterion) {
        let lib = std::env::var("TRT_LIBNVINFER").unwrap_or_else(|_| format!("libnvinfer.so.{MAJOR}"));
        // SAFETY: loading a shared library runs its initializers; libnvinfer's are benign.
        if unsafe { libloading::Library::new(&lib) }.is_err() {
            println!("builtin: skipped: no full TensorRT {MAJOR} here ({lib} cannot be loaded; set TRT_LIBNVINFER to its path)");
            return;
        }
        let plugin = plugin_lib();
        if !plugin.is_file() {
            println!("builtin: skipped: {} not found (`cargo build --release` it, or set TRT_LAYERNORM_PLUGIN_LIB)", plugin.display());
            return;
        }
        let bench = match Bench::new() {
            Ok(b) => b,
            Err(e) => {
                println!("builtin: skipped: {e}");
                return;
            }
        };
        let (lib_c, plugin_c) = (CString::new(lib.clone()).unwrap(), CString::new(plugin.to_str().expect("UTF-8 path")).unwrap());
        let mut report = vec![0 as c_char; 4096];
        // SAFETY: NUL-terminated strings and a report buffer of the given length.
        if unsafe { tln_builtin_open(lib_c.as_ptr(), plugin_c.as_ptr(), report.as_mut_ptr(), report.len()) } != 0 {
            println!("builtin: skipped: {}", report_text(&report));
            return;
        }
        println!("builtin: {lib} with {}; device time per enqueueV3, same input and stream", plugin.display());
        let stream = bench.cu_stream() as u64;
        for dtype in [DType::F16, DType::BF16, DType::F32] {
            let mut group = c.benchmark_group(format!("builtin_{dtype}"));
            group.sample_size(20).measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(300));
            for &(rows, cols) in SHAPES {
                let (_buffers, x, y) = match bench.foreign_io(rows * cols, dtype) {
                    Ok(io) => io,
                    Err(e) => {
                        println!("builtin_{dtype}/{rows}x{cols}: {e}");
                        continue;
                    }
                };
                let mut us = [f64::NAN; 2];
                for (kind, name) in KINDS.iter().enumerate() {
                    report.fill(0);
                    // SAFETY: x and y hold rows*cols elements of dtype on this device; report buffer of the given length.
                    let engine = unsafe { tln_builtin_engine(kind as i32, dtype_to_trt(dtype), rows as i64, cols as i64, x, y, report.as_mut_ptr(), report.len()) };
                    if engine.is_null() {
                        println!("builtin_{dtype}/{rows}x{cols}/{name}: {}", report_text(&report));
                        continue;
                    }
                    let engine = Engine(engine);
                    let mut failed = false;
                    let mut enqueue = || {
                        // SAFETY: a live engine bound to live buffers; the bench stream.
                        failed |= unsafe { tln_builtin_enqueue(engine.0, stream) } != 0;
                        Ok(())
                    };
                    us[kind] = bench.measure_foreign(50, &mut enqueue).unwrap_or(f64::NAN);
                    group.bench_function(BenchmarkId::new(*name, format!("{rows}x{cols}")), |b| {
                        b.iter_custom(|iters| Duration::from_secs_f64(bench.time_foreign(iters, &mut enqueue).expect("timed enqueues")))
                    });
                    if failed {
                        println!("builtin_{dtype}/{rows}x{cols}/{name}: enqueueV3 failed");
                    }
                }
                println!(
                    "  builtin {dtype} {rows}x{cols}: INormalizationLayer {:.2} us, FP32LayerNorm {:.2} us, ratio {:.2}x",
                    us[0],
                    us[1],
                    us[0] / us[1]
                );
            }
            group.finish();
        }
    }
}

criterion_group!(benches, layernorm, builtin);
criterion_main!(benches);
