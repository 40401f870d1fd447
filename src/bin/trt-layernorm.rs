//! `trt-layernorm`: what this build contains, whether the local GPU computes
//! LayerNorm accurately with it, how fast, and model patching for TensorRT.

use clap::{Parser, Subcommand};
use std::process::ExitCode;
use trt_layernorm::accuracy::{run_case, Case, RowKind};
use trt_layernorm::select::PlanHints;
use trt_layernorm::{driver, fatbin, DType, LayerNorm, NormKind};

#[derive(Parser)]
#[command(name = "trt-layernorm", version, about = "FP32-accumulating LayerNorm, RMSNorm and SkipLayerNorm plugins for TensorRT: demo, info, self-test, benchmark, ONNX patching")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Patches a bundled GPT-2 block, shows what TensorRT-RTX's builder makes of it
    /// before and after (no GPU needed), then runs the self-test where a GPU exists.
    Demo {
        /// Skip the builder step (it installs TensorRT-RTX from PyPI once, about 240 MB,
        /// into ~/.cache/trt-layernorm/rtx-venv).
        #[arg(long)]
        no_builder: bool,
        /// Rows per self-test case.
        #[arg(long, default_value_t = 256)]
        rows: usize,
    },
    /// Version, embedded GPU architectures, CUDA driver and GPU found.
    Info,
    /// Runs the accuracy suite on the local GPU (LayerNorm beside FP16 arithmetic, then RMSNorm and
    /// SkipLayerNorm over every row kind).
    Selftest {
        /// Rows per case (more rows, more confidence, longer run).
        #[arg(long, default_value_t = 256)]
        rows: usize,
    },
    /// Times the kernel on the local GPU (device time per call, CUDA graphs) against
    /// the device-to-device copy bandwidth and an empty launch measured in the same run.
    Bench {
        /// Shapes as ROWSxH, comma-separated (default: the anchor grid plus huge rows).
        #[arg(long, value_delimiter = ',')]
        shapes: Vec<String>,
        /// Element types of X (Y is the same type), comma-separated.
        #[arg(long, value_delimiter = ',', default_values_t = [String::from("f16"), String::from("bf16"), String::from("f32")])]
        dtypes: Vec<String>,
        /// Scale and bias in X's type (as in the anchors); --no-affine to drop them.
        #[arg(long)]
        no_affine: bool,
        /// Which norm: layernorm, rmsnorm (scale only), or skiplayernorm
        /// (s = x + skip, written as a second output, then LayerNorm of s).
        #[arg(long, default_value = "layernorm", value_parser = parse_norm)]
        norm: NormKind,
        /// One JSON object per line instead of a table (for benches/peers.py).
        #[arg(long)]
        json: bool,
        /// Also time the register variant forced to these chunks per thread (1,2,4,8; 16: fast16), where a row fits.
        #[arg(long, value_delimiter = ',')]
        per_thread: Vec<u32>,
        /// Also time the split variants forced to these blocks per row (powers of two), where they apply.
        #[arg(long, value_delimiter = ',')]
        cluster: Vec<u32>,
        /// Also time every register plan above with the general register
        /// kernels where the `fast` ones apply (to compare the two).
        #[arg(long)]
        general: bool,
        /// Also time the fast plans above with each block prefetching into L2
        /// the rows this many quarters of a wave of resident rows ahead (0 = none).
        #[arg(long, value_delimiter = ',')]
        prefetch_quarters: Vec<u32>,
        /// Also time the --cluster plans with their slices streamed from
        /// global memory where shared memory would hold them.
        #[arg(long)]
        stream: bool,
        /// Also time the split plans above (the default plan's if no
        /// --cluster) with at most this many clusters in the grid (rows in flight).
        #[arg(long, value_delimiter = ',')]
        split_clusters: Vec<u32>,
        /// Also time the streamed split plans above (the default plan's if no
        /// --cluster) with bulk L2 prefetches this many steps of their walk ahead (0 = none).
        #[arg(long, value_delimiter = ',')]
        split_prefetch: Vec<u32>,
        /// Also time the grid variant where the row is in 16-byte chunks, and
        /// the best plan without it.
        #[arg(long)]
        grid: bool,
        /// Also time the grid variant with tiles of these many 16-byte chunks
        /// (multiples of 256 up to 2048, the default), where it can run.
        #[arg(long, value_delimiter = ',')]
        grid_tile: Vec<u64>,
    },
    /// Rewrites an ONNX model's LayerNorms and RMSNorms (LayerNormalization and
    /// RMSNormalization nodes and the decomposed patterns exporters emit) into
    /// FP32LayerNorm and FP32RMSNorm plugin nodes, and residual Adds before a
    /// LayerNorm into FP32SkipLayerNorm (unless --no-fuse-skip).
    Patch(trt_layernorm::onnx::PatchArgs),
}

/// The shapes of shared/anchors/pytorch_layernorm_h100.json, plus the huge-row target.
const DEFAULT_SHAPES: &[(usize, usize)] = &[
    (1, 768), (1, 4096), (128, 768), (512, 1024), (4096, 768), (4096, 4096),
    (8192, 8192), (16384, 12288), (4096, 16384), (256, 65536), (32, 1 << 20),
];

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Demo { no_builder, rows } => demo(no_builder, rows),
        Command::Info => info(),
        Command::Selftest { rows } => selftest(rows),
        Command::Bench { shapes, dtypes, no_affine, norm, json, per_thread, cluster, general, prefetch_quarters, stream, split_clusters, split_prefetch, grid, grid_tile } => {
            let sweep = Sweep {
                per_thread: &per_thread,
                cluster: &cluster,
                general,
                prefetch_quarters: &prefetch_quarters,
                stream,
                split_clusters: &split_clusters,
                split_prefetch: &split_prefetch,
                grid,
                grid_tile: &grid_tile,
            };
            bench(&shapes, &dtypes, !no_affine, norm, json, &sweep)
        }
        Command::Patch(args) => match args.run() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

/// The demo's model: a real PyTorch 2.11 export (two GPT-2 layers, 5 LayerNorms, FP16 weights).
const DEMO_MODEL: &[u8] = include_bytes!("../../tests/fixtures/onnx/torch_gpt2_block_fp16_op13.onnx");
const DEMO_NAME: &str = "torch_gpt2_block_fp16_op13.onnx";

fn demo(no_builder: bool, rows: usize) -> ExitCode {
    let dir = std::env::temp_dir().join(format!("trt-layernorm-demo-{}", std::process::id()));
    let result = demo_steps(&dir, no_builder, rows);
    let _ = std::fs::remove_dir_all(&dir);
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("demo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn demo_steps(dir: &std::path::Path, no_builder: bool, rows: usize) -> Result<ExitCode, String> {
    use trt_layernorm::onnx::{patch_file, PatchOptions};
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let original = dir.join(DEMO_NAME);
    let patched = dir.join("gpt2.plugin.onnx");
    std::fs::write(&original, DEMO_MODEL).map_err(|e| format!("cannot write {}: {e}", original.display()))?;

    println!("== 1. patch: a GPT-2 block exported by PyTorch with FP16 weights (opset 13; tests/fixtures/onnx/{DEMO_NAME})");
    // The defaults: the residual Add (and the dense bias Add) before a LayerNorm is
    // fused into one FP32SkipLayerNorm node; the block's first LayerNorm has none.
    println!("$ trt-layernorm patch {DEMO_NAME} -o gpt2.plugin.onnx --plugin-version 2");
    let options = PatchOptions { plugin_version: "2".into(), ..Default::default() };
    let summary = patch_file(&original, &patched, &options).map_err(|e| e.to_string())?;
    print!("{}", summary.replace(&format!("{}/", dir.display()), ""));

    println!("\n== 2. build: TensorRT-RTX's ONNX parser and builder (runs on the CPU; plans need a GPU it supports)");
    if no_builder {
        println!("builder: skipped (--no-builder)");
    } else {
        demo_builder(&original, &patched)?;
    }

    println!("\n== 3. accuracy self-test on the local GPU");
    Ok(selftest(rows))
}

/// Builds the original and the patched model with TensorRT-RTX (scripts/with-rtx.sh installs it once).
fn demo_builder(original: &std::path::Path, patched: &std::path::Path) -> Result<(), String> {
    use std::process::Command as Process;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let (script, driver) = (root.join("scripts/with-rtx.sh"), root.join("tests/engine/rtx_build.py"));
    if !script.is_file() || !driver.is_file() {
        println!("builder: skipped: {} not found (this step runs from the source tree)", script.display());
        return Ok(());
    }
    let install = Process::new(&script).arg("--install-only").output().map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !install.status.success() {
        return Err(format!(
            "installing TensorRT-RTX failed ({}); `trt-layernorm demo --no-builder` skips this step",
            String::from_utf8_lossy(&install.stderr).trim()
        ));
    }
    let run = |extra: &[&std::ffi::OsStr], model: &std::path::Path| -> Result<(), String> {
        let status = Process::new(&script).arg("python").arg(&driver).arg("--text").args(extra).arg(model).status();
        match status {
            Ok(s) if s.success() => Ok(()),
            Ok(s) => Err(format!("the builder failed on {} ({s})", model.display())),
            Err(e) => Err(format!("cannot run {}: {e}", script.display())),
        }
    };
    println!("before (the exported model):");
    run(&[], original)?;
    println!("  -> every LayerNorm is inside that ForeignNode, where per-layer precision requests cannot reach it.");

    println!("after (patched):");
    // Next to the binary (`cargo build`), or in deps/ (`cargo run` may leave it there).
    let plugin = std::env::current_exe().ok().and_then(|e| {
        let dir = e.parent()?;
        [dir.join("libtrt_layernorm.so"), dir.join("deps/libtrt_layernorm.so")].into_iter().find(|p| p.is_file())
    });
    let major: u32 = option_env!("TRT_LAYERNORM_TENSORRT_MAJOR").and_then(|m| m.parse().ok()).unwrap_or(0);
    let has_entry_points = plugin
        .as_ref()
        .and_then(|p| std::fs::read(p).ok())
        .is_some_and(|b| b.windows(24).any(|w| w == b"initTrtLayerNormPlugins\0"));
    match plugin {
        _ if major == 0 => println!(
            "  skipped: this build has no TensorRT plugin classes (no TensorRT headers were found when it was built);\n  \
             with TensorRT 10.x/11.x headers (TENSORRT_INCLUDE_DIR=.../include scripts/with-cuda.sh cargo run --release -- demo)\n  \
             the builder gets one plugin layer (FP32LayerNorm or FP32SkipLayerNorm) per patched node here"
        ),
        _ if major < 10 => println!("  skipped: built against TensorRT {major} headers; TensorRT-RTX takes IPluginV3 plugins only (10.x/11.x headers)"),
        Some(p) if has_entry_points => {
            run(&[std::ffi::OsStr::new("--plugin"), p.as_os_str()], patched)?;
            println!("  -> one plugin layer per LayerNorm, all in the plan: FP32SkipLayerNorm where the residual Add before it was");
            println!("     fused in, FP32LayerNorm for the first (it reads the model input). TensorRT-RTX's Myelin hosts plugin layers inside its ForeignNode");
            println!("     (it cannot change their arithmetic); docs/plugin.md says what was verified where.");
        }
        p => println!(
            "  skipped: {} has no plugin entry points (run `cargo build --release` with the same TensorRT headers)",
            p.map_or_else(|| "libtrt_layernorm.so".into(), |p| p.display().to_string())
        ),
    }
    Ok(())
}

fn info() -> ExitCode {
    println!("trt-layernorm {}", env!("CARGO_PKG_VERSION"));
    println!("kernels built for: {}", fatbin::ARCHS);
    match driver::driver_version() {
        Ok((major, minor)) => println!("CUDA driver: found (supports CUDA {major}.{minor})"),
        Err(e) => {
            println!("CUDA driver: not found ({e})");
            return ExitCode::SUCCESS;
        }
    }
    match cudarc::driver::CudaContext::new(0) {
        Ok(ctx) => {
            let name = ctx.name().unwrap_or_else(|_| "?".into());
            match LayerNorm::new(&ctx) {
                Ok(ln) => {
                    let (major, minor) = ln.compute_capability();
                    println!("GPU 0: {name} (compute capability {major}.{minor}), kernels load: yes");
                }
                Err(e) => println!("GPU 0: {name}, kernels load: NO ({e})"),
            }
        }
        Err(e) => println!("GPU 0: cannot create a context ({e})"),
    }
    ExitCode::SUCCESS
}

fn selftest(rows: usize) -> ExitCode {
    if let Err(e) = trt_layernorm::driver_ready() {
        println!("selftest skipped: {e}. It needs an NVIDIA GPU and its driver.");
        return ExitCode::SUCCESS;
    }
    let ctx = match cudarc::driver::CudaContext::new(0) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("selftest: cannot create a CUDA context on GPU 0: {e}");
            return ExitCode::FAILURE;
        }
    };
    let stream = ctx.default_stream();
    let ln = match LayerNorm::new(&ctx) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("selftest: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("LayerNorm accuracy on {} vs an f64 reference of the same inputs ({rows} rows per case)", ctx.name().unwrap_or_default());
    println!("FP16 arithmetic = the same rows computed entirely in FP16, as a fused FP16 kernel does.\n");
    println!("{:<14} {:>6} {:<10} | {:>9} {:>9} | {:>12} {:>12}", "rows", "H", "X->Y", "ours ulp", "exact %", "FP16-arith ulp", "exact %");

    let kinds: Vec<RowKind> = [RowKind::Normal].into_iter().chain(RowKind::HOSTILE).collect();
    let mut all_ok = true;
    for kind in &kinds {
        for &(x, y) in &[(DType::F16, DType::F16), (DType::BF16, DType::BF16), (DType::F32, DType::F32)] {
            for cols in [768, 4096] {
                let case = Case { compare_fp16_arithmetic: true, ..Case::new(rows, cols, x, y, &[*kind]) };
                match run_case(&ln, &stream, &case) {
                    Ok(rep) => {
                        let fp16 = rep.fp16_arithmetic.map_or_else(
                            || format!("{:>14} {:>12}", "-", "-"),
                            |f| format!("{:>14} {:>11.2}%", fmt_ulp(f.max_ulp), 100.0 * f.exact_fraction()),
                        );
                        println!(
                            "{:<14} {:>6} {:<10} | {:>9} {:>8.3}% | {fp16}{}",
                            kind.name(),
                            cols,
                            format!("{x}->{y}"),
                            fmt_ulp(rep.stats.max_ulp),
                            100.0 * rep.stats.exact_fraction(),
                            if rep.passed() { "" } else { "   <-- OUT OF BOUNDS" }
                        );
                        all_ok &= rep.passed();
                    }
                    Err(e) => {
                        println!("{:<14} {:>6} {x}->{y}: launch failed: {e}", kind.name(), cols);
                        all_ok = false;
                    }
                }
            }
        }
    }
    // The other two norms, every row kind in each case (cycled over the rows).
    println!("\n{:<30} {:>6} {:<10} | {:>9} {:>9}", "norm (all row kinds)", "H", "X->Y", "ours ulp", "exact %");
    let skip = trt_layernorm::SkipOptions { residual_bias: true, sum_output: true };
    for norm in ["rmsnorm", "skip+rbias+S (S bitwise)"] {
        for &(x, y) in &[(DType::F16, DType::F16), (DType::BF16, DType::BF16), (DType::F32, DType::F32)] {
            for cols in [768, 4096] {
                let case = if norm == "rmsnorm" { Case::rms(rows, cols, x, y, &kinds) } else { Case::skip(rows, cols, x, y, &kinds, skip) };
                match run_case(&ln, &stream, &case) {
                    Ok(rep) => {
                        println!(
                            "{norm:<30} {cols:>6} {:<10} | {:>9} {:>8.3}%{}",
                            format!("{x}->{y}"),
                            fmt_ulp(rep.stats.max_ulp),
                            100.0 * rep.stats.exact_fraction(),
                            if rep.passed() { "" } else { "   <-- OUT OF BOUNDS (or S differs)" }
                        );
                        all_ok &= rep.passed();
                    }
                    Err(e) => {
                        println!("{norm:<30} {cols:>6} {x}->{y}: launch failed: {e}");
                        all_ok = false;
                    }
                }
            }
        }
    }
    println!("\nulp: of the output type at the exact result; for FP32 outputs, of FP32 at max(1, |y|).");
    println!("bounds: 16-bit outputs within 1 ulp; where scale*x_hat + bias cancels to far below its terms,");
    println!("        1 ulp + 2^-20 * (|scale| * max(1, |x_hat|) + |bias|);");
    println!("        FP32 outputs within 2^-20 * max(1, |y|) = 8 ulp.");
    if all_ok {
        println!("selftest: PASS");
        ExitCode::SUCCESS
    } else {
        println!("selftest: FAIL");
        ExitCode::FAILURE
    }
}

fn parse_dtype(s: &str) -> Option<DType> {
    DType::ALL.into_iter().find(|d| d.name() == s.trim())
}

fn parse_shape(s: &str) -> Option<(usize, usize)> {
    let (m, h) = s.trim().split_once(['x', 'X'])?;
    Some((m.parse().ok()?, h.parse().ok()?))
}

/// Which plans `bench` times besides the default.
struct Sweep<'a> {
    per_thread: &'a [u32],
    cluster: &'a [u32],
    general: bool,
    prefetch_quarters: &'a [u32],
    stream: bool,
    split_clusters: &'a [u32],
    split_prefetch: &'a [u32],
    grid: bool,
    grid_tile: &'a [u64],
}

impl Sweep<'_> {
    fn hints(&self) -> Vec<PlanHints> {
        let mut hints: Vec<PlanHints> = std::iter::once(PlanHints::default())
            .chain(self.per_thread.iter().map(|&n| PlanHints { chunks_per_thread: Some(n), ..Default::default() }))
            .collect();
        let prefetched: Vec<PlanHints> =
            hints.iter().flat_map(|&h| self.prefetch_quarters.iter().map(move |&w| PlanHints { prefetch_quarters: Some(w), ..h })).collect();
        if self.general {
            let general: Vec<PlanHints> = hints.iter().map(|&h| PlanHints { fast: Some(false), ..h }).collect();
            hints.extend(general);
        }
        hints.extend(prefetched);
        let mut split: Vec<PlanHints> = self.cluster.iter().map(|&c| PlanHints { cluster_ctas: Some(c), ..Default::default() }).collect();
        if self.stream {
            let streamed: Vec<PlanHints> = split.iter().map(|&h| PlanHints { split_stream: true, ..h }).collect();
            split.extend(streamed);
        }
        // The split plans the --split-* variations apply to: the --cluster ones, else the default.
        let split_base = if split.is_empty() { vec![PlanHints::default()] } else { split.clone() };
        let capped: Vec<PlanHints> =
            split_base.iter().flat_map(|&h| self.split_clusters.iter().map(move |&c| PlanHints { split_clusters: Some(c), ..h })).collect();
        let split_prefetched: Vec<PlanHints> = split_base
            .iter()
            .flat_map(|&h| self.split_prefetch.iter().map(move |&n| PlanHints { split_prefetch_steps: Some(n), ..h }))
            .collect();
        hints.extend(split);
        hints.extend(capped);
        hints.extend(split_prefetched);
        if self.grid {
            hints.extend([true, false].map(|g| PlanHints { grid: Some(g), ..Default::default() }));
        }
        hints.extend(self.grid_tile.iter().map(|&t| PlanHints { grid: Some(true), grid_tile_chunks: Some(t), ..Default::default() }));
        hints
    }
}

fn parse_norm(s: &str) -> Result<NormKind, String> {
    NormKind::ALL.into_iter().find(|n| n.name() == s.trim()).ok_or_else(|| format!("`{s}` is not one of layernorm, rmsnorm, skiplayernorm"))
}

fn bench(shapes: &[String], dtypes: &[String], affine: bool, norm: NormKind, json: bool, sweep: &Sweep) -> ExitCode {
    let shapes: Vec<(usize, usize)> = if shapes.is_empty() {
        DEFAULT_SHAPES.to_vec()
    } else {
        match shapes.iter().map(|s| parse_shape(s).ok_or(s)).collect::<Result<_, _>>() {
            Ok(v) => v,
            Err(bad) => {
                eprintln!("bench: `{bad}` is not a shape like 4096x768");
                return ExitCode::FAILURE;
            }
        }
    };
    let dtypes: Vec<DType> = match dtypes.iter().map(|s| parse_dtype(s).ok_or(s)).collect::<Result<_, _>>() {
        Ok(v) => v,
        Err(bad) => {
            eprintln!("bench: `{bad}` is not one of f32, f16, bf16");
            return ExitCode::FAILURE;
        }
    };
    let b = match trt_layernorm::bench::Bench::new() {
        Ok(b) => b,
        Err(trt_layernorm::Error::NoDriver(e)) | Err(trt_layernorm::Error::NoDevice(e)) => {
            println!("bench skipped: no GPU ({e})");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    if json {
        println!("{{\"device\": \"{}\", \"copy_gbps\": {:.1}, \"empty_us\": {:.3}}}", b.device_name(), b.copy_gbps, b.empty_us);
    } else {
        println!("{}: device-to-device copy {:.0} GB/s (read+write), empty launch {:.2} us/call", b.device_name(), b.copy_gbps, b.empty_us);
        println!("{:<6} {:>6} {:>8} | {:>9} {:>8} {:>7} | variant/threads per row, blocks per row, grid blocks", "dtype", "rows", "H", "us/call", "GB/s", "% copy");
    }
    let mut ok = true;
    let hints = sweep.hints();
    for &dtype in &dtypes {
        for &(rows, cols) in &shapes {
            let mut seen = Vec::new();
            for &hint in &hints {
                let result = b.prepare(rows, cols, dtype, dtype, affine.then_some(dtype), norm, hint).and_then(|p| Ok((b.measure(&p)?, *p.plan())));
                match result {
                    Ok((_, plan)) if seen.contains(&plan) => {}
                    Ok((m, plan)) => {
                        seen.push(plan);
                        let tag = if hint == PlanHints::default() { "default" } else { "forced" };
                        if json {
                            println!(
                                "{{\"norm\": \"{norm}\", \"dtype\": \"{dtype}\", \"m\": {rows}, \"h\": {cols}, \"us\": {:.3}, \"gbps\": {:.1}, \"frac_copy\": {:.4}, \"variant\": \"{}\", \"threads_per_row\": {}, \"cluster\": {}, \"grid_blocks\": {}, \"prefetch_rows\": {}, \"prefetch_chunks\": {}, \"plan\": \"{tag}\"}}",
                                m.us, m.gbps, m.gbps / b.copy_gbps, plan.variant.name(), plan.threads_per_row, plan.cluster_ctas, plan.grid_blocks, plan.prefetch_rows, plan.prefetch_chunks
                            );
                        } else {
                            println!(
                                "{:<6} {:>6} {:>8} | {:>9.2} {:>8.0} {:>6.1}% | {:>12}/{:<4} x{:<2} g{:<6} pf{:<6} l2+{:<6} {tag}",
                                dtype.name(), rows, cols, m.us, m.gbps, 100.0 * m.gbps / b.copy_gbps, plan.variant.name(), plan.threads_per_row, plan.cluster_ctas, plan.grid_blocks, plan.prefetch_rows, plan.prefetch_chunks
                            );
                        }
                    }
                    Err(e) => {
                        eprintln!("bench: {dtype} {rows}x{cols}: {e}");
                        ok = false;
                    }
                }
            }
        }
    }
    if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

fn fmt_ulp(u: f64) -> String {
    if u.is_infinite() {
        "inf/NaN".into()
    } else if u >= 1000.0 {
        format!("{u:.1e}")
    } else {
        format!("{u:.2}")
    }
}
