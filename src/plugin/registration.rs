//! Registration, owned by Rust: the symbols TensorRT and applications look
//! for in `libtrt_layernorm.so` (a cdylib exports only Rust-defined symbols),
//! and the load-time registration. The creator objects live in C++
//! (`plugin_cpp/src/registry.cpp`); these functions forward to it.
//!
//! - Load time (`dlopen`, `trtexec --plugins` on 8.6, `--staticPlugins` on
//!   10/11): an `.init_array` entry registers every creator (FP32LayerNorm,
//!   FP32RMSNorm and FP32SkipLayerNorm, versions 1 and 2: six) in the registry of
//!   the TensorRT already in the process (found with `dlsym`, never linked).
//! - `IPluginRegistry::loadLibrary` / `--dynamicPlugins` / engines with
//!   serialized plugin libraries: TensorRT calls `getCreators` (10+) or
//!   `getPluginCreators` (8.6: the version-1 creators) and registers what they return; the load-time
//!   registration steps aside first, because loadLibrary fails on a creator
//!   that is already registered.
//! - Builder applications: `initTrtLayerNormPlugins` / [`init_plugins`].

use super::bridge::guard;
use std::ffi::{c_char, c_void, CString};
use std::ptr;

extern "C" {
    fn tln_on_load();
    fn tln_step_aside();
    fn tln_plugin_creators(nb_creators: *mut i32) -> *const *mut c_void;
    fn tln_creators(nb_creators: *mut i32) -> *const *mut c_void;
    fn tln_set_logger_finder(finder: *mut c_void);
    fn tln_init_plugins(logger: *mut c_void, plugin_namespace: *const c_char) -> bool;
}

/// `extern "C" IPluginCreator* const* getPluginCreators(int32_t& nbCreators)`:
/// the version-1 creators of every plugin (what TensorRT 8.6's loadLibrary asks for).
///
/// # Safety
/// `nb_creators` points to an `int32_t` (TensorRT passes a reference).
#[no_mangle]
pub unsafe extern "C" fn getPluginCreators(nb_creators: *mut i32) -> *const *mut c_void {
    guard("getPluginCreators", ptr::null(), || {
        if nb_creators.is_null() {
            return ptr::null();
        }
        // SAFETY: plain C++ calls; `nb_creators` is valid (checked non-null, TensorRT's reference).
        unsafe {
            tln_step_aside();
            tln_plugin_creators(nb_creators)
        }
    })
}

/// `extern "C" IPluginCreatorInterface* const* getCreators(int32_t& nbCreators)`:
/// versions 1 and 2 of every plugin (TensorRT >= 10 asks for these first).
///
/// # Safety
/// `nb_creators` points to an `int32_t`.
#[no_mangle]
pub unsafe extern "C" fn getCreators(nb_creators: *mut i32) -> *const *mut c_void {
    guard("getCreators", ptr::null(), || {
        if nb_creators.is_null() {
            return ptr::null();
        }
        // SAFETY: as in getPluginCreators.
        unsafe {
            tln_step_aside();
            tln_creators(nb_creators)
        }
    })
}

/// `extern "C" void setLoggerFinder(nvinfer1::ILoggerFinder* finder)`: TensorRT
/// hands over its logger (loadLibrary path).
///
/// # Safety
/// `finder` is null or an `ILoggerFinder*` that outlives this library's use of it.
#[no_mangle]
pub unsafe extern "C" fn setLoggerFinder(finder: *mut c_void) {
    // SAFETY: stores the pointer; see above.
    guard("setLoggerFinder", (), || unsafe { tln_set_logger_finder(finder) })
}

/// `extern "C" bool initTrtLayerNormPlugins(void* logger, char const* pluginNamespace)`
/// (declared in `plugin_cpp/include/trt_layernorm.h`).
///
/// # Safety
/// `logger` is null or an `nvinfer1::ILogger*` that outlives the library's use;
/// `plugin_namespace` is null or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn initTrtLayerNormPlugins(logger: *mut c_void, plugin_namespace: *const c_char) -> bool {
    // SAFETY: forwarded contract.
    guard("initTrtLayerNormPlugins", false, || unsafe { tln_init_plugins(logger, plugin_namespace) })
}

/// Why [`init_plugins`] did not register the creators.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistrationError {
    #[error("plugin namespace contains a NUL byte")]
    Namespace,
    #[error("the FP32LayerNorm / FP32RMSNorm / FP32SkipLayerNorm creators could not be registered (no TensorRT of the matching major version in this process, or another copy already registered); TensorRT's logger has the reason")]
    NotRegistered,
}

/// Registers every creator (every plugin, both versions) under `namespace` in the TensorRT of this process,
/// for Rust applications that drive TensorRT themselves.
///
/// # Safety
/// `logger` is null or an `nvinfer1::ILogger*` valid for as long as TensorRT uses the plugin.
pub unsafe fn init_plugins(logger: *mut c_void, namespace: &str) -> Result<(), RegistrationError> {
    let ns = CString::new(namespace).map_err(|_| RegistrationError::Namespace)?;
    // SAFETY: forwarded contract; `ns` is NUL-terminated and lives across the call.
    if unsafe { initTrtLayerNormPlugins(logger, ns.as_ptr()) } {
        Ok(())
    } else {
        Err(RegistrationError::NotRegistered)
    }
}

/// Runs when the library is loaded (`.init_array`): registers the creators if
/// TensorRT is already in the process. Must not panic or unwind.
extern "C" fn on_load() {
    // SAFETY: C++ noexcept function, takes no arguments.
    guard("load-time registration", (), || unsafe { tln_on_load() })
}

#[used]
#[link_section = ".init_array"]
static ON_LOAD: extern "C" fn() = on_load;
