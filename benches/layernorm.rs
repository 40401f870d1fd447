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
use trt_layernorm::DType;

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
            let prepared = match bench.prepare(rows, cols, dtype, dtype, Some(dtype), PlanHints::default()) {
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
fn builtin(_c: &mut Criterion) {
    let found = ["libnvinfer.so.11", "libnvinfer.so.10", "libnvinfer.so.8"]
        .into_iter()
        // SAFETY: loading a shared library runs its initializers; libnvinfer's are benign.
        .find(|name| unsafe { libloading::Library::new(name) }.is_ok());
    match found {
        None => println!("builtin: skipped: no full TensorRT (libnvinfer with a builder) can be loaded here"),
        Some(lib) => println!(
            "builtin: {lib} is loadable, but building the one-layer comparison engines is not implemented yet (see README, Benchmarks)"
        ),
    }
}

criterion_group!(benches, layernorm, builtin);
criterion_main!(benches);
