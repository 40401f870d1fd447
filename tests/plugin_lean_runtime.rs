//! FP32LayerNorm, FP32RMSNorm and FP32SkipLayerNorm inside NVIDIA's real plugin registry: the lean TensorRT
//! runtime (`libnvinfer_lean.so` from the PyPI packages
//! `tensorrt-lean-cu12-libs` 10.x / `tensorrt-lean-cu13-libs` 11.x), which
//! has the registry but no builder.
//!
//! The C++ half (`plugin_cpp/tests/lean_harness.cpp`) loads
//! `libtrt_layernorm.so` by `loadLibrary` and by `dlopen`, finds every
//! creator (every plugin, versions 1 and 2: six) and drives the plugins as
//! TensorRT does, including a blob of one plugin handed to another's
//! creator (refused) and FP32SkipLayerNorm's second output. Registration and
//! the plugin lifecycle need no GPU; with a GPU every plugin (created,
//! round-tripped and cloned) enqueues on real buffers, with a workspace of
//! what its `getWorkspaceSize` asked for, and must match a direct
//! `launch_raw` with the same workspace bit for bit (FP32SkipLayerNorm: Y and S).
//!
//! Environment:
//! - `TRT_LEAN_LIB`: path of `libnvinfer_lean.so.<major>` (skipped when unset);
//!   its major version must be the one of the headers this crate was built with;
//! - `TRT_LAYERNORM_PLUGIN_LIB`: the plugin library (default: the one `cargo test`
//!   links into `target/<profile>/deps/`, else `target/<profile>/`; see tests/plugin_lib);
//! - `TRT_LEAN_REQUIRE_GPU=1`: fail instead of skipping the GPU part.
//!
//! e.g. `TENSORRT_INCLUDE_DIR=/opt/tensorrt-headers/11.1/include cargo build --release &&
//! TRT_LEAN_LIB=.../libnvinfer_lean.so.11 cargo test --release --test plugin_lean_runtime -- --nocapture`

#[cfg(not(trt_plugin))]
#[test]
fn lean_runtime() {
    println!("skipped: built without TensorRT headers (set TENSORRT_INCLUDE_DIR), so there is no plugin library to test");
}

#[cfg(trt_plugin)]
#[test]
fn lean_runtime() {
    lean::run();
}

/// The loadLibrary-first path, in a process of its own (spawned by `lean_runtime`):
/// once loaded, the library stays loaded, so each path is only "alone" in a fresh process.
#[cfg(trt_plugin)]
#[test]
fn lean_runtime_child() {
    if std::env::var_os(lean::CHILD_ENV).is_some() {
        lean::child();
    }
}

#[cfg(trt_plugin)]
mod plugin_lib;

#[cfg(trt_plugin)]
mod lean {
    use super::plugin_lib::plugin_path;
    use half::{bf16, f16};
    use std::ffi::{c_char, CStr, CString};
    use trt_layernorm::plugin::config;
    use trt_layernorm::problem::SkipOptions;
    use trt_layernorm::{launch_raw, workspace_bytes, DType, DevicePtrs, NormKind, Problem};

    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct TlnLeanCase {
        version: i32,
        epsilon: f32,
        axis: i32,
        output_type: i32,
        nb_inputs: i32,
        types: [i32; 4],
        nb_dims: i32,
        dims: [i64; 8],
        param_nb_dims: i32,
        param_dims: [i64; 8],
        /// In the plugin's input order (FP32SkipLayerNorm: X, Skip, Scale, Bias, ResidualBias).
        inputs: [u64; 5],
        /// Y of the created, the round-tripped and the cloned plugin.
        outputs: [u64; 3],
        stream: u64,
        /// 0 = FP32LayerNorm, 1 = FP32RMSNorm, 2 = FP32SkipLayerNorm.
        kind: i32,
        /// FP32SkipLayerNorm: 1 = S is a second output.
        sum_output: i32,
        /// S of the same three plugins.
        sums: [u64; 3],
        /// Device memory TensorRT would reserve for the plugin (0 = none), and its size.
        workspace: u64,
        workspace_bytes: u64,
    }

    /// The harness's kind index (plugin_cpp/tests/lean_harness.cpp: kLN, kRMS, kSKIP).
    fn kind_index(kind: NormKind) -> i32 {
        match kind {
            NormKind::LayerNorm => 0,
            NormKind::RmsNorm => 1,
            NormKind::SkipLayerNorm => 2,
        }
    }

    extern "C" {
        fn tln_lean_open(lean: *const c_char, plugin: *const c_char, report: *mut c_char, len: usize) -> i32;
        fn tln_lean_load_checks(mode: i32, report: *mut c_char, len: usize) -> i32;
        fn tln_lean_plugin_checks(report: *mut c_char, len: usize) -> i32;
        fn tln_lean_close(report: *mut c_char, len: usize) -> i32;
        fn tln_lean_memory_cycles(cycles: i32, before: *mut i64, after: *mut i64, report: *mut c_char, len: usize) -> i32;
        fn tln_lean_enqueue(case: *const TlnLeanCase, report: *mut c_char, len: usize) -> i32;
        fn tln_lean_enqueue_timing(
            case: *const TlnLeanCase,
            batches: i32,
            per_batch: i32,
            sync: extern "C" fn(u64),
            ns_per_call: *mut f64,
            report: *mut c_char,
            len: usize,
        ) -> i32;
    }

    const MAJOR: &str = env!("TRT_LAYERNORM_TENSORRT_MAJOR");

    /// Calls a harness function with a report buffer; prints the report.
    fn with_report(f: impl FnOnce(*mut c_char, usize) -> i32) -> (i32, String) {
        let mut buf = vec![0 as c_char; 1 << 16];
        let rc = f(buf.as_mut_ptr(), buf.len());
        // SAFETY: the harness NUL-terminates within the buffer (it starts zeroed).
        let text = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().into_owned();
        for line in text.lines() {
            println!("  {line}");
        }
        (rc, text)
    }

    pub const CHILD_ENV: &str = "TLN_LEAN_CHILD";

    /// Opens the lean runtime; None (and a printed reason) where the test is skipped.
    fn open() -> Option<()> {
        let Some(lean) = std::env::var_os("TRT_LEAN_LIB") else {
            println!("skipped: TRT_LEAN_LIB is not set (path of libnvinfer_lean.so.{MAJOR} from tensorrt-lean-cu1x-libs)");
            return None;
        };
        let plugin = plugin_path();
        assert!(plugin.is_file(), "plugin library {} not found: `cargo build` it first (same profile), or set TRT_LAYERNORM_PLUGIN_LIB", plugin.display());
        // `cargo test` does not relink the cdylib; one built without TensorRT headers has no entry points.
        let bytes = std::fs::read(&plugin).expect("read the plugin library");
        assert!(
            bytes.windows(24).any(|w| w == b"initTrtLayerNormPlugins\0"),
            "{} has no TensorRT entry points (built without TensorRT headers?): run `cargo build` with TENSORRT_INCLUDE_DIR set first",
            plugin.display()
        );
        let lean_c = CString::new(lean.to_str().expect("UTF-8 path")).unwrap();
        let plugin_c = CString::new(plugin.to_str().expect("UTF-8 path")).unwrap();
        println!("plugin: {} (built with TensorRT {MAJOR} headers)", plugin.display());

        // SAFETY: NUL-terminated paths and a report buffer of the given length.
        let (rc, _) = with_report(|b, n| unsafe { tln_lean_open(lean_c.as_ptr(), plugin_c.as_ptr(), b, n) });
        assert_eq!(rc, 0, "could not open the lean runtime");
        Some(())
    }

    /// Child process: loadLibrary first.
    pub fn child() {
        if open().is_none() {
            return;
        }
        // SAFETY: report buffer of the given length.
        let (failures, _) = with_report(|b, n| unsafe { tln_lean_load_checks(0, b, n) });
        assert_eq!(failures, 0, "load checks (loadLibrary first) failed");
    }

    pub fn run() {
        if open().is_none() {
            return;
        }
        // loadLibrary first: in a fresh process.
        let exe = std::env::current_exe().expect("test executable path");
        let out = std::process::Command::new(exe)
            .args(["--exact", "lean_runtime_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, "1")
            .output()
            .expect("spawn the loadLibrary-first child");
        let text = String::from_utf8_lossy(&out.stdout);
        for line in text.lines().filter(|l| l.starts_with("  ")) {
            println!("{line}");
        }
        assert!(out.status.success(), "loadLibrary-first child failed:\n{text}\n{}", String::from_utf8_lossy(&out.stderr));

        // dlopen first: here.
        // SAFETY: report buffer of the given length.
        let (failures, _) = with_report(|b, n| unsafe { tln_lean_load_checks(1, b, n) });
        assert_eq!(failures, 0, "load checks (dlopen first) failed");
        // SAFETY: report buffer of the given length.
        let (failures, _) = with_report(|b, n| unsafe { tln_lean_plugin_checks(b, n) });
        assert_eq!(failures, 0, "plugin lifecycle checks failed");

        let (mut before, mut after) = (0i64, 0i64);
        // SAFETY: out-pointers and report buffer valid for the call.
        let (failures, _) = with_report(|b, n| unsafe { tln_lean_memory_cycles(1000, &mut before, &mut after, b, n) });
        assert_eq!(failures, 0);
        assert!(before > 0 && after > 0, "RSS not readable");
        assert!(after - before <= 512, "host memory grew by {} KiB over 1000 create/destroy cycles", after - before);

        match trt_layernorm::driver_ready() {
            Ok(()) => gpu::run(),
            Err(e) if std::env::var("TRT_LEAN_REQUIRE_GPU").is_ok_and(|v| v == "1") => {
                panic!("TRT_LEAN_REQUIRE_GPU=1 but the GPU part cannot run: {e}")
            }
            Err(e) => println!("  GPU part skipped: {e}"),
        }
        // SAFETY: report buffer of the given length.
        let (failures, _) = with_report(|b, n| unsafe { tln_lean_close(b, n) });
        assert_eq!(failures, 0, "deregisterLibrary left creators behind");
        println!("lean runtime (TensorRT {MAJOR}): PASS");
    }

    mod gpu {
        use super::*;
        use cudarc::driver::{result, CudaContext};
        use trt_layernorm::plugin::config::dtype_to_trt;

        fn bytes_of(d: DType, vals: &[f32]) -> Vec<u8> {
            match d {
                DType::F32 => vals.iter().flat_map(|v| v.to_le_bytes()).collect(),
                DType::F16 => vals.iter().flat_map(|v| f16::from_f32(*v).to_le_bytes()).collect(),
                DType::BF16 => vals.iter().flat_map(|v| bf16::from_f32(*v).to_le_bytes()).collect(),
            }
        }

        /// Deterministic values in about [-4, 4] with an offset, so rows have a mean.
        fn values(n: usize, seed: u64) -> Vec<f32> {
            let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (0..n)
                .map(|_| {
                    s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    ((s >> 33) as f64 / (1u64 << 31) as f64 * 8.0 - 4.0 + 1.5) as f32
                })
                .collect()
        }

        struct DeviceBuf(u64);
        impl DeviceBuf {
            fn upload(bytes: &[u8]) -> DeviceBuf {
                // SAFETY: a context is current; sizes match.
                unsafe {
                    let p = result::malloc_sync(bytes.len().max(1)).expect("cuMemAlloc");
                    if !bytes.is_empty() {
                        result::memcpy_htod_sync(p, bytes).expect("cuMemcpyHtoD");
                    }
                    DeviceBuf(p)
                }
            }
            fn zeroed(len: usize) -> DeviceBuf {
                DeviceBuf::upload(&vec![0xA5; len])
            }
            fn download(&self, len: usize) -> Vec<u8> {
                let mut out = vec![0u8; len];
                if len > 0 {
                    // SAFETY: the buffer holds at least `len` bytes.
                    unsafe { result::memcpy_dtoh_sync(&mut out, self.0).expect("cuMemcpyDtoH") };
                }
                out
            }
        }
        impl Drop for DeviceBuf {
            fn drop(&mut self) {
                // SAFETY: allocated by malloc_sync in the current context.
                unsafe {
                    let _ = result::free_sync(self.0);
                }
            }
        }

        /// One enqueue case: which plugin, version and tensors.
        #[derive(Clone, Copy, Debug)]
        struct Case<'a> {
            kind: NormKind,
            version: i32,
            x: DType,
            output_type: i32,
            nb_inputs: i32,
            dims: &'a [i64],
            axis: i32,
            scale: DType,
            bias: DType,
            /// FP32SkipLayerNorm: S is a second output.
            sum_output: bool,
        }

        pub fn run() {
            let ctx = CudaContext::new(0).expect("CUDA context on GPU 0");
            ctx.bind_to_thread().expect("bind context");
            let stream = ctx.new_stream().expect("stream");
            let versions: &[i32] = if MAJOR == "8" { &[1] } else { &[1, 2] };
            let kinds = NormKind::ALL;
            // (X dims, axis)
            // 2 x 65536: rows of 4 to 8 grid tiles (the grid variant, in the workspace the plugin asks for).
            let shapes: &[(&[i64], i32)] =
                &[(&[2, 3, 64], -1), (&[4, 8, 32], -2), (&[3, 1000], -1), (&[5, 4096], 1), (&[0, 16], -1), (&[7], 0), (&[2, 65536], -1)];
            let mut cases = 0;
            let mut per_kind = Vec::new();
            for &kind in &kinds {
                let before = cases;
                let (min, max) = (config::min_inputs(kind), config::max_inputs(kind));
                let sums: &[bool] = if kind == NormKind::SkipLayerNorm { &[false, true] } else { &[false] };
                for &version in versions {
                    for x in DType::ALL {
                        for output_type in [0, 1] {
                            for nb_inputs in min..=max {
                                for &sum_output in sums {
                                    for (si, &(dims, axis)) in shapes.iter().enumerate() {
                                        let scale = DType::ALL[(si + nb_inputs as usize) % 3];
                                        let bias = DType::ALL[(si + 2 * nb_inputs as usize + 1) % 3];
                                        let case = Case { kind, version, x, output_type, nb_inputs, dims, axis, scale, bias, sum_output };
                                        run_case(&stream, &case, cases as u64);
                                        cases += 1;
                                    }
                                }
                            }
                        }
                    }
                }
                per_kind.push(format!("{kind} {}", cases - before));
            }
            println!("  GPU: {cases} enqueue cases ({}), each plugin (created, round-tripped, cloned) bit-identical to launch_raw", per_kind.join(", "));

            // 8 threads, each on its own stream, create, enqueue (the plugin, its
            // round-tripped copy and its clone) and destroy plugins concurrently;
            // every output is compared with launch_raw bit for bit.
            let kinds = &kinds; // shared by the threads below
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
            let counts: Vec<usize> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..8usize)
                    .map(|t| {
                        let ctx = ctx.clone();
                        s.spawn(move || {
                            ctx.bind_to_thread().expect("bind context");
                            let stream = ctx.new_stream().expect("stream");
                            let mut k = 0usize;
                            while std::time::Instant::now() < deadline {
                                let kind = kinds[(t + k / 2) % kinds.len()];
                                let x = DType::ALL[(t + k) % 3];
                                let (dims, axis): (&[i64], i32) = if t % 2 == 0 { (&[64, 1024], -1) } else { (&[3, 7, 4096], 1) };
                                let case = Case {
                                    kind,
                                    version: versions[k % versions.len()],
                                    x,
                                    output_type: (k % 2) as i32,
                                    nb_inputs: config::max_inputs(kind),
                                    dims,
                                    axis,
                                    scale: x,
                                    bias: DType::F32,
                                    sum_output: kind == NormKind::SkipLayerNorm && (k / 3) % 2 == 0,
                                };
                                run_case(&stream, &case, (t * 100_000 + k) as u64);
                                k += 1;
                            }
                            k
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().expect("plugin thread")).collect()
            });
            println!("  GPU: 8 threads x own stream, concurrent create/enqueue/clone/destroy for 3 s: {counts:?} cases, all bit-identical to launch_raw");
            dispatch_overhead(&stream, versions);
        }

        /// The harness's stream synchronize between timed batches (no panic crosses back into C++).
        extern "C" fn sync_stream(stream: u64) {
            // SAFETY: the stream handle came from this test's live stream.
            let _ = unsafe { result::stream::synchronize(stream as cudarc::driver::sys::CUstream) };
        }

        /// Host time per enqueue through the plugin interfaces against the
        /// direct Rust launch, same shape, same stream, same batching (the
        /// performance issue's dispatch target). Printed, never asserted.
        fn dispatch_overhead(stream: &std::sync::Arc<cudarc::driver::CudaStream>, versions: &[i32]) {
            const BATCHES: i32 = 41;
            const PER_BATCH: i32 = 200;
            let (rows, cols) = (1i64, 768i64);
            let x = DeviceBuf::upload(&bytes_of(DType::F16, &values(768, 1)));
            let scale = DeviceBuf::upload(&bytes_of(DType::F16, &values(768, 2)));
            let bias = DeviceBuf::upload(&bytes_of(DType::F16, &values(768, 3)));
            let y = DeviceBuf::zeroed(768 * 2);
            let problem = Problem::new(rows as u64, cols as u64, DType::F16, DType::F16, Some(DType::F16), Some(DType::F16), 1e-5).expect("valid problem");
            let ptrs = DevicePtrs { x: x.0, y: y.0, scale: scale.0, bias: bias.0, ..DevicePtrs::default() };
            let mut direct = Vec::new();
            for _ in 0..BATCHES {
                let t0 = std::time::Instant::now();
                for _ in 0..PER_BATCH {
                    // SAFETY: buffers sized for the problem, in the current context, on its stream.
                    unsafe { launch_raw(&problem, &ptrs, stream.cu_stream()) }.expect("direct launch");
                }
                direct.push(t0.elapsed().as_secs_f64() * 1e9 / PER_BATCH as f64);
                stream.synchronize().expect("stream synchronize");
            }
            direct.sort_by(f64::total_cmp);
            let direct_ns = direct[direct.len() / 2];
            let mut line = format!("  dispatch: host time per enqueue, 1 x 768 FP16, median of {BATCHES} batches of {PER_BATCH}: direct launch_raw {:.2} us", direct_ns / 1e3);
            for &version in versions {
                let mut c = TlnLeanCase {
                    version,
                    epsilon: 1e-5,
                    axis: -1,
                    output_type: 0,
                    nb_inputs: 3,
                    types: [dtype_to_trt(DType::F16); 4],
                    nb_dims: 2,
                    param_nb_dims: 1,
                    inputs: [x.0, scale.0, bias.0, 0, 0],
                    outputs: [y.0, 0, 0],
                    stream: stream.cu_stream() as u64,
                    ..Default::default()
                };
                c.dims[..2].copy_from_slice(&[rows, cols]);
                c.param_dims[0] = cols;
                let mut ns = 0f64;
                let mut report = vec![0 as c_char; 1 << 12];
                // SAFETY: the case describes live device buffers; out-pointer and report buffer valid for the call.
                let failures = unsafe { tln_lean_enqueue_timing(&c, BATCHES, PER_BATCH, sync_stream, &mut ns, report.as_mut_ptr(), report.len()) };
                stream.synchronize().expect("stream synchronize");
                // SAFETY: NUL-terminated by the harness.
                let text = unsafe { CStr::from_ptr(report.as_ptr()) }.to_string_lossy().into_owned();
                assert_eq!(failures, 0, "timing enqueue v{version}: {text}");
                let iface = if version == 1 { "IPluginV2DynamicExt" } else { "IPluginV3" };
                line += &format!(", {iface}::enqueue {:.2} us ({:+.2} us)", ns / 1e3, (ns - direct_ns) / 1e3);
            }
            println!("{line}");
        }

        /// Runs one case: the direct launch into reference buffers, then the plugin
        /// (created, round-tripped, cloned) through the harness; every Y (and S) must
        /// equal the reference bit for bit.
        fn run_case(stream: &std::sync::Arc<cudarc::driver::CudaStream>, case: &Case<'_>, seed: u64) {
            let &Case { kind, version, x: x_t, output_type, nb_inputs, dims, axis, scale: scale_t, bias: bias_t, sum_output } = case;
            let skip_kind = kind == NormKind::SkipLayerNorm;
            let rank = dims.len() as i32;
            let a = if axis < 0 { axis + rank } else { axis } as usize;
            let rows: i64 = dims[..a].iter().product();
            let cols: i64 = dims[a..].iter().product();
            let n = (rows * cols) as usize;
            let y_t = if output_type == 1 { DType::F32 } else { x_t };
            let epsilon = 1e-5f32;

            let x = DeviceBuf::upload(&bytes_of(x_t, &values(n, seed)));
            let skip = DeviceBuf::upload(&bytes_of(x_t, &values(n, seed + 3000)));
            let scale = DeviceBuf::upload(&bytes_of(scale_t, &values(cols as usize, seed + 1000)));
            let bias = DeviceBuf::upload(&bytes_of(bias_t, &values(cols as usize, seed + 2000)));
            let residual_bias = DeviceBuf::upload(&bytes_of(x_t, &values(cols as usize, seed + 4000)));
            let y_len = n * y_t.size_bytes();
            let s_len = n * x_t.size_bytes();
            // The workspace TensorRT would reserve (getWorkspaceSize of these shapes, at
            // most 1 MiB): the direct launch uses it too, so both take the same plan.
            let workspace = DeviceBuf::zeroed(1 << 20);
            let y_ref = DeviceBuf::zeroed(y_len);
            let s_ref = DeviceBuf::zeroed(s_len);
            let ys = [DeviceBuf::zeroed(y_len), DeviceBuf::zeroed(y_len), DeviceBuf::zeroed(y_len)];
            let ss = [DeviceBuf::zeroed(s_len), DeviceBuf::zeroed(s_len), DeviceBuf::zeroed(s_len)];

            // The plugin's inputs by position: X, Scale, Bias; FP32SkipLayerNorm: X, Skip, Scale, Bias, ResidualBias.
            let order: Vec<u64> = if skip_kind { vec![x.0, skip.0, scale.0, bias.0, residual_bias.0] } else { vec![x.0, scale.0, bias.0] };
            let given = |ptr: u64| order.iter().position(|&p| p == ptr).is_some_and(|i| (i as i32) < nb_inputs);
            let (has_scale, has_bias, has_rbias) = (given(scale.0), given(bias.0), skip_kind && given(residual_bias.0));
            if n > 0 {
                let problem = Problem::new(
                    rows as u64,
                    cols as u64,
                    x_t,
                    y_t,
                    has_scale.then_some(scale_t),
                    has_bias.then_some(bias_t),
                    epsilon,
                )
                .and_then(|p| if skip_kind { p.with_skip(SkipOptions { residual_bias: has_rbias, sum_output }) } else { p.with_norm(kind) })
                .expect("valid problem");
                let ptrs = DevicePtrs {
                    x: x.0,
                    y: y_ref.0,
                    scale: if has_scale { scale.0 } else { 0 },
                    bias: if has_bias { bias.0 } else { 0 },
                    skip: if skip_kind { skip.0 } else { 0 },
                    residual_bias: if has_rbias { residual_bias.0 } else { 0 },
                    sum: if sum_output { s_ref.0 } else { 0 },
                    workspace: workspace.0,
                    workspace_bytes: workspace_bytes(&problem),
                };
                // SAFETY: buffers sized for the problem, in the current context, on its stream.
                unsafe { launch_raw(&problem, &ptrs, stream.cu_stream()) }.expect("direct launch");
            }

            let mut inputs = [0u64; 5];
            inputs[..order.len()].copy_from_slice(&order);
            let mut c = TlnLeanCase {
                version,
                epsilon,
                axis,
                output_type,
                nb_inputs,
                types: [dtype_to_trt(x_t), dtype_to_trt(scale_t), dtype_to_trt(bias_t), dtype_to_trt(y_t)],
                nb_dims: rank,
                param_nb_dims: rank - a as i32,
                inputs,
                outputs: [ys[0].0, ys[1].0, ys[2].0],
                stream: stream.cu_stream() as u64,
                kind: kind_index(kind),
                sum_output: i32::from(sum_output),
                sums: [ss[0].0, ss[1].0, ss[2].0],
                workspace: workspace.0,
                workspace_bytes: 1 << 20,
                ..Default::default()
            };
            c.dims[..dims.len()].copy_from_slice(dims);
            c.param_dims[..dims.len() - a].copy_from_slice(&dims[a..]);
            let mut report = vec![0 as c_char; 1 << 14];
            // SAFETY: the case describes live device buffers; report buffer of the given length.
            let failures = unsafe { tln_lean_enqueue(&c, report.as_mut_ptr(), report.len()) };
            stream.synchronize().expect("stream synchronize");
            let what = format!(
                "{kind} v{version} x={x_t} y={y_t} inputs={nb_inputs} dims={dims:?} axis={axis} scale={scale_t} bias={bias_t} sum_output={sum_output}"
            );
            if failures != 0 {
                // SAFETY: NUL-terminated by the harness.
                let text = unsafe { CStr::from_ptr(report.as_ptr()) }.to_string_lossy().into_owned();
                panic!("{what}: {failures} failures\n{text}");
            }
            let compare = |name: &str, reference: &DeviceBuf, outs: &[DeviceBuf; 3], len: usize| {
                let expected = reference.download(len);
                for (i, out) in outs.iter().enumerate() {
                    let got = out.download(len);
                    if got != expected {
                        let first = got.iter().zip(&expected).position(|(a, b)| a != b).unwrap_or(0);
                        panic!("{what}: plugin #{i} output {name} differs from launch_raw (first differing byte {first})");
                    }
                }
            };
            compare("Y", &y_ref, &ys, y_len);
            if sum_output {
                compare("S", &s_ref, &ss, s_len);
            } else {
                // Without sum_output nothing is written where S would be.
                compare("S (untouched)", &s_ref, &ss, s_len);
            }
        }
    }
}
