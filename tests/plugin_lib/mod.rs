//! Where the tests that load `libtrt_layernorm.so` into a TensorRT registry
//! find it: `TRT_LAYERNORM_PLUGIN_LIB`, else the copy `cargo test` links into
//! `target/<profile>/deps/` next to the test (current with this build), else
//! the one `cargo build` puts in `target/<profile>/`.

use std::path::PathBuf;

pub fn plugin_path() -> PathBuf {
    if let Some(p) = std::env::var_os("TRT_LAYERNORM_PLUGIN_LIB") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test executable path");
    let deps = exe.parent().expect("target/<profile>/deps");
    let here = deps.join("libtrt_layernorm.so");
    if here.is_file() {
        return here;
    }
    deps.parent().expect("target/<profile>").join("libtrt_layernorm.so")
}
