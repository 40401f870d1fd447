//! Build recipe:
//!   1. find nvcc and compile `kernels/*.cu` into one fatbin (cubins for every
//!      supported GPU architecture plus PTX for newer ones), embedded by src/fatbin.rs;
//!   2. run bindgen on `kernels/layernorm_abi.h`, the one definition of the
//!      launch parameters, so Rust and CUDA cannot drift;
//!   3. build the TensorRT plugin classes in `plugin_cpp/` when TensorRT headers are found;
//!   4. generate the ONNX protobuf messages from the vendored `src/onnx/proto/onnx-ml.proto`
//!      (rust-protobuf's pure-Rust parser: no `protoc`), included by src/onnx/proto/mod.rs.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Architectures with a cubin in the fatbin; PTX of the last one rides along
/// so that GPUs newer than all of these still run (JIT-compiled by the driver).
const DEFAULT_ARCHS: &[u32] = &[75, 80, 86, 89, 90, 100, 120];

/// Narrows the list for quick local builds, e.g. `TRT_LAYERNORM_CUDA_ARCHS=90`.
const ARCHS_ENV: &str = "TRT_LAYERNORM_CUDA_ARCHS";

fn main() {
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));

    let archs = cuda_archs();
    compile_kernels(&find_nvcc(), &archs, &out_dir);
    generate_abi_bindings(&out_dir);
    build_tensorrt_plugin(&out_dir);
    generate_onnx_messages(&out_dir);
}

// ---------------------------------------------------------------------------
// 1. Kernels
// ---------------------------------------------------------------------------

fn find_nvcc() -> PathBuf {
    for var in ["NVCC", "CUDA_PATH", "CUDA_HOME"] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    println!("cargo:rerun-if-env-changed=PATH");

    if let Some(nvcc) = env::var_os("NVCC").filter(|v| !v.is_empty()) {
        return PathBuf::from(nvcc);
    }
    for var in ["CUDA_PATH", "CUDA_HOME"] {
        if let Some(root) = env::var_os(var).filter(|v| !v.is_empty()) {
            let nvcc = Path::new(&root).join("bin").join("nvcc");
            if nvcc.is_file() {
                return nvcc;
            }
        }
    }
    if let Some(nvcc) = env::var_os("PATH")
        .iter()
        .flat_map(env::split_paths)
        .map(|dir| dir.join("nvcc"))
        .find(|p| p.is_file())
    {
        return nvcc;
    }
    panic!(
        "\n\ntrt-layernorm: no CUDA compiler (nvcc) found.\n\
         Looked at $NVCC, $CUDA_PATH/bin/nvcc, $CUDA_HOME/bin/nvcc and $PATH.\n\
         Either install the CUDA toolkit (12.x or 13.x) and set CUDA_PATH, or get nvcc from PyPI:\n\
         \x20   python3 -m venv /opt/cuda-venv\n\
         \x20   /opt/cuda-venv/bin/pip install nvidia-cuda-nvcc==13.0.88 nvidia-cuda-crt==13.0.88 \\\n\
         \x20       nvidia-cuda-runtime==13.0.96 nvidia-cuda-cccl==13.0.85 nvidia-nvvm==13.0.88\n\
         \x20   export NVCC=/opt/cuda-venv/lib/python3.11/site-packages/nvidia/cu13/bin/nvcc\n\
         (scripts/with-cuda.sh does exactly this.)\n\n"
    );
}

fn cuda_archs() -> Vec<u32> {
    println!("cargo:rerun-if-env-changed={ARCHS_ENV}");
    let Ok(list) = env::var(ARCHS_ENV) else {
        return DEFAULT_ARCHS.to_vec();
    };
    let archs: Vec<u32> = list
        .split([',', ';', ' '])
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.trim_start_matches("sm_")
                .parse()
                .unwrap_or_else(|_| panic!("{ARCHS_ENV}: `{s}` is not an architecture like 90 or sm_90"))
        })
        .collect();
    assert!(!archs.is_empty(), "{ARCHS_ENV} is set but names no architecture");
    archs
}

fn compile_kernels(nvcc: &Path, archs: &[u32], out_dir: &Path) {
    let kernels = Path::new("kernels");
    println!("cargo:rerun-if-changed={}", kernels.display());
    let sources: Vec<PathBuf> = std::fs::read_dir(kernels)
        .expect("kernels/ exists")
        .map(|e| e.expect("readable kernels/ entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "cu"))
        .collect();
    assert_eq!(sources.len(), 1, "the fatbin is built from exactly one translation unit, kernels/layernorm.cu");

    let fatbin = out_dir.join("layernorm.fatbin");
    let mut cmd = Command::new(nvcc);
    cmd.args(["-fatbin", "-O3", "-std=c++17", "-Xptxas=-warn-spills,-warn-lmem-usage"])
        .arg("-I")
        .arg(kernels)
        .arg("-o")
        .arg(&fatbin)
        .arg(&sources[0]);
    let newest = *archs.iter().max().expect("at least one architecture");
    for &a in archs {
        let code = if a == newest { format!("[sm_{a},compute_{a}]") } else { format!("sm_{a}") };
        cmd.arg(format!("-gencode=arch=compute_{a},code={code}"));
    }
    if env::var_os("TRT_LAYERNORM_PTXAS_VERBOSE").is_some() {
        cmd.arg("-Xptxas=-v");
    }
    println!("cargo:rerun-if-env-changed=TRT_LAYERNORM_PTXAS_VERBOSE");

    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("trt-layernorm: could not run {}: {e}", nvcc.display()));
    assert!(status.success(), "trt-layernorm: nvcc failed ({status}) compiling {}", sources[0].display());

    let list = archs.iter().map(|a| format!("sm_{a}")).collect::<Vec<_>>().join(",");
    println!("cargo:rustc-env=TRT_LAYERNORM_FATBIN_ARCHS={list}+compute_{newest}");
}

// ---------------------------------------------------------------------------
// 2. ABI bindings
// ---------------------------------------------------------------------------

fn generate_abi_bindings(out_dir: &Path) {
    let header = "kernels/layernorm_abi.h";
    bindgen::Builder::default()
        .header(header)
        .allowlist_type("Tln.*")
        .allowlist_var("TLN_.*")
        .rustified_enum("TlnDType|TlnVariant|TlnNorm")
        .derive_default(true)
        .derive_debug(true)
        .layout_tests(true)
        .generate()
        .unwrap_or_else(|e| panic!("trt-layernorm: bindgen failed on {header}: {e} (is libclang installed? apt-get install libclang-dev)"))
        .write_to_file(out_dir.join("abi.rs"))
        .expect("write abi.rs");
}

// ---------------------------------------------------------------------------
// 3. TensorRT plugin classes
// ---------------------------------------------------------------------------

/// Builds the C++ classes in `plugin_cpp/` and the cxx bridge when TensorRT's
/// headers (and the CUDA runtime headers they include) are found; otherwise
/// the crate builds without them and says so. Nothing links libnvinfer: the
/// library finds TensorRT in the process that loads it.
fn build_tensorrt_plugin(_out_dir: &Path) {
    // `cfg(trt_plugin)`: the C++ classes, the cxx bridge and the exported entry points are built.
    println!("cargo::rustc-check-cfg=cfg(trt_plugin)");
    println!("cargo:rerun-if-changed=plugin_cpp");
    println!("cargo:rerun-if-changed=src/plugin/bridge.rs");

    let Some(trt_include) = find_tensorrt_headers() else {
        println!(
            "cargo:warning=trt-layernorm: TensorRT headers not found (set TENSORRT_ROOT or TENSORRT_INCLUDE_DIR); \
             the TensorRT plugin library was skipped (kernels and Rust API are built)"
        );
        return;
    };
    let Some(cuda_include) = find_cuda_runtime_headers() else {
        println!(
            "cargo:warning=trt-layernorm: TensorRT headers found at {} but not cuda_runtime_api.h, which they include \
             (set CUDA_INCLUDE_DIR); the TensorRT plugin library was skipped",
            trt_include.display()
        );
        return;
    };
    let major = tensorrt_major(&trt_include);

    let sources: Vec<PathBuf> = std::fs::read_dir("plugin_cpp/src")
        .expect("plugin_cpp/src exists")
        .map(|e| e.expect("readable plugin_cpp/src entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "cpp"))
        .collect();
    let mut build = cxx_build::bridge("src/plugin/bridge.rs");
    build.files(&sources).include("plugin_cpp/include").include("plugin_cpp/src").std("c++17");
    // TensorRT's and CUDA's headers are system headers: their warnings are not ours.
    for dir in [&trt_include, &cuda_include] {
        build.flag("-isystem").flag(dir.to_str().expect("UTF-8 include path"));
    }
    build.flag("-Wall").flag("-Wextra").flag("-fvisibility=hidden");
    println!("cargo:rerun-if-env-changed=TRT_LAYERNORM_WERROR");
    if env::var_os("TRT_LAYERNORM_WERROR").is_some() {
        build.flag("-Werror");
    }
    build.compile("trt_layernorm_plugin");
    println!("cargo:rustc-link-lib=dl");
    // Once loaded, the library stays mapped (dlclose / deregisterLibrary do not unmap it):
    // CUDA modules and thread-local caches of its code may outlive a dlclose, and
    // TensorRT's registry keeps looking at a creator it has seen after deregisterLibrary
    // (getCreator on a deregistered, unmapped creator crashes the 10.x/11.x runtimes).
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
    println!("cargo:rustc-cfg=trt_plugin");
    println!("cargo:rustc-env=TRT_LAYERNORM_TENSORRT_MAJOR={major}");
    println!("cargo:rustc-env=TRT_LAYERNORM_TENSORRT_INCLUDE={}", trt_include.display());

    build_lean_harness(&trt_include, &cuda_include);
    build_builtin_harness(&trt_include, &cuda_include);
}

/// `TENSORRT_INCLUDE_DIR`, `$TENSORRT_ROOT/include`, then the usual system locations.
fn find_tensorrt_headers() -> Option<PathBuf> {
    for var in ["TENSORRT_INCLUDE_DIR", "TENSORRT_ROOT"] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    let has_headers = |dir: &Path| dir.join("NvInferRuntime.h").is_file() && dir.join("NvInferVersion.h").is_file();
    let from_env = [
        env::var_os("TENSORRT_INCLUDE_DIR").filter(|v| !v.is_empty()).map(PathBuf::from),
        env::var_os("TENSORRT_ROOT").filter(|v| !v.is_empty()).map(|r| Path::new(&r).join("include")),
    ];
    for dir in from_env.into_iter().flatten() {
        if has_headers(&dir) {
            return Some(dir);
        }
        println!("cargo:warning=trt-layernorm: no NvInferRuntime.h in {} (from the environment)", dir.display());
    }
    ["/usr/include/x86_64-linux-gnu", "/usr/include/aarch64-linux-gnu", "/usr/local/tensorrt/include", "/usr/include"]
        .iter()
        .map(PathBuf::from)
        .find(|d| has_headers(d))
}

/// `cuda_runtime_api.h`: `CUDA_INCLUDE_DIR`, next to nvcc, `$CUDA_PATH`/`$CUDA_HOME`, /usr/local/cuda.
fn find_cuda_runtime_headers() -> Option<PathBuf> {
    println!("cargo:rerun-if-env-changed=CUDA_INCLUDE_DIR");
    let nvcc = find_nvcc();
    let candidates = [
        env::var_os("CUDA_INCLUDE_DIR").filter(|v| !v.is_empty()).map(PathBuf::from),
        nvcc.parent().and_then(Path::parent).map(|root| root.join("include")),
        env::var_os("CUDA_PATH").filter(|v| !v.is_empty()).map(|r| Path::new(&r).join("include")),
        env::var_os("CUDA_HOME").filter(|v| !v.is_empty()).map(|r| Path::new(&r).join("include")),
        Some(PathBuf::from("/usr/local/cuda/include")),
        Some(PathBuf::from("/usr/include")),
    ];
    candidates.into_iter().flatten().find(|d| d.join("cuda_runtime_api.h").is_file())
}

/// The TensorRT major version the headers declare (`NV_TENSORRT_MAJOR`, or
/// `TRT_MAJOR_ENTERPRISE` it is defined as from 10 on).
fn tensorrt_major(include: &Path) -> u32 {
    let text = std::fs::read_to_string(include.join("NvInferVersion.h")).expect("NvInferVersion.h is readable");
    let define = |name: &str| {
        text.lines().find_map(|l| {
            let mut words = l.split_whitespace();
            (words.next() == Some("#define") && words.next() == Some(name)).then(|| words.next()).flatten().map(str::to_owned)
        })
    };
    let mut value = define("NV_TENSORRT_MAJOR").expect("NvInferVersion.h defines NV_TENSORRT_MAJOR");
    if let Ok(n) = value.parse() {
        return n;
    }
    value = define(&value).unwrap_or_default();
    value.parse().unwrap_or_else(|_| panic!("trt-layernorm: cannot read NV_TENSORRT_MAJOR from {}", include.display()))
}

/// The C++ side of the lean-runtime test (`tests/plugin_lean_runtime.rs`),
/// linked into test executables only.
fn build_lean_harness(trt_include: &Path, cuda_include: &Path) {
    build_harness("plugin_cpp/tests/lean_harness.cpp", "tln_lean_harness", "tests", trt_include, cuda_include);
}

/// The C++ side of the `builtin` criterion group (`benches/layernorm.rs`):
/// TensorRT's normalization layer against the plugin, through a libnvinfer
/// loaded at run time. Linked into bench executables only.
fn build_builtin_harness(trt_include: &Path, cuda_include: &Path) {
    println!("cargo:rerun-if-changed=benches/builtin_harness.cpp");
    build_harness("benches/builtin_harness.cpp", "tln_builtin_harness", "benches", trt_include, cuda_include);
}

/// Compiles one C++ harness into lib<name>.a and links it into the `targets`
/// (`tests` or `benches`) only, never into the library.
fn build_harness(source: &str, name: &str, targets: &str, trt_include: &Path, cuda_include: &Path) {
    let mut build = cc::Build::new();
    build.cpp(true).std("c++17").file(source).include("plugin_cpp/include");
    for dir in [trt_include, cuda_include] {
        build.flag("-isystem").flag(dir.to_str().expect("UTF-8 include path"));
    }
    build.flag("-Wall").flag("-Wextra").cargo_metadata(false);
    if env::var_os("TRT_LAYERNORM_WERROR").is_some() {
        build.flag("-Werror");
    }
    build.compile(name);
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rustc-link-arg-{targets}={}", out_dir.join(format!("lib{name}.a")).display());
    println!("cargo:rustc-link-arg-{targets}=-lstdc++");
    println!("cargo:rustc-link-arg-{targets}=-ldl");
}

// ---------------------------------------------------------------------------
// 4. ONNX messages
// ---------------------------------------------------------------------------

/// Writes `OUT_DIR/onnx/{mod.rs,onnx_ml.rs}` from the vendored schema.
/// protobuf-codegen is pinned to the `protobuf` runtime's version (Cargo.toml):
/// generated code checks that it runs against the runtime it was made for.
fn generate_onnx_messages(out_dir: &Path) {
    let dir = "src/onnx/proto";
    let proto = format!("{dir}/onnx-ml.proto");
    println!("cargo:rerun-if-changed={proto}");
    let gen_dir = out_dir.join("onnx");
    std::fs::create_dir_all(&gen_dir).expect("create OUT_DIR/onnx");
    protobuf_codegen::Codegen::new()
        .pure()
        .include(dir)
        .input(&proto)
        .out_dir(&gen_dir)
        .run()
        .unwrap_or_else(|e| panic!("trt-layernorm: protobuf-codegen failed on {proto}: {e:#}"));
}
