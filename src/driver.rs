//! The CUDA driver, seen from here: whether one exists, and the kernels
//! loaded once per CUDA context (never inside a launch).
//!
//! cudarc loads libcuda lazily and panics when it is missing, so every path
//! into the driver goes through [`driver_ready`] first; no machine without a
//! GPU ever reaches that panic.

use crate::abi::{TlnVariant, TLN_MAX_THREADS_PER_BLOCK};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::fatbin;
use crate::select::{DeviceLimits, Variant};
use cudarc::driver::sys::{self, CUdevice_attribute, CUfunction_attribute, CUresult};
use std::cell::RefCell;
use std::ffi::{CStr, CString};
use std::sync::{Arc, Mutex, OnceLock};

/// Turns a driver status into a typed error naming the call.
pub(crate) fn check(call: &'static str, code: CUresult) -> Result<()> {
    if code == CUresult::CUDA_SUCCESS {
        Ok(())
    } else {
        Err(Error::Driver { call, code })
    }
}

/// Loads libcuda and initializes the driver, once per process.
/// Err(NoDriver) where no driver library exists, Err(NoDevice) where it has no GPU.
pub fn driver_ready() -> Result<()> {
    static READY: OnceLock<Result<()>> = OnceLock::new();
    READY
        .get_or_init(|| {
            // SAFETY: only tries dlopen on the candidate names; no symbol is called.
            if !unsafe { sys::is_culib_present() } {
                return Err(Error::NoDriver("libcuda.so.1 could not be loaded".into()));
            }
            // SAFETY: the library is present, so cudarc's symbol lookup cannot panic.
            let init = unsafe { sys::cuInit(0) };
            if init != CUresult::CUDA_SUCCESS {
                return Err(Error::NoDevice(format!("cuInit returned {init:?}")));
            }
            let mut count = 0;
            // SAFETY: the driver is initialized; `count` outlives the call.
            check("cuDeviceGetCount", unsafe { sys::cuDeviceGetCount(&mut count) })?;
            if count == 0 {
                return Err(Error::NoDevice("the driver reports 0 devices".into()));
            }
            Ok(())
        })
        .clone()
}

/// Driver version as (major, minor), if a driver is present.
pub fn driver_version() -> Result<(i32, i32)> {
    driver_ready()?;
    let mut v = 0;
    // SAFETY: driver initialized; `v` outlives the call.
    check("cuDriverGetVersion", unsafe { sys::cuDriverGetVersion(&mut v) })?;
    Ok((v / 1000, (v % 1000) / 10))
}

/// One kernel of the fatbin, resolved in one context.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Kernel {
    pub function: sys::CUfunction,
}

/// The fatbin loaded into one CUDA context, its kernels resolved and the
/// device limits read: everything a launch needs, computed once.
#[derive(Debug)]
pub struct ContextKernels {
    context_id: u64,
    /// Kernels indexed by [variant][x dtype][y is f32].
    kernels: [[[Option<Kernel>; 2]; 3]; 2],
    /// `tln_empty`, for measuring the launch floor.
    pub(crate) empty: Kernel,
    pub(crate) limits: DeviceLimits,
    pub(crate) compute_capability: (i32, i32),
}

// SAFETY: CUfunction handles are plain driver handles, valid from any thread
// while their context lives; the driver API is thread-safe.
unsafe impl Send for ContextKernels {}
// SAFETY: as above; ContextKernels is immutable after loading.
unsafe impl Sync for ContextKernels {}

fn kernel_name(variant: Variant, x: DType, y: DType) -> String {
    format!("tln_{}_{}_{}", variant.name(), x.name(), y.name())
}

fn variant_index(v: Variant) -> usize {
    match v {
        Variant::Cached => TlnVariant::TLN_VARIANT_CACHED as usize,
        Variant::Stream => TlnVariant::TLN_VARIANT_STREAM as usize,
    }
}

impl ContextKernels {
    pub(crate) fn kernel(&self, variant: Variant, x: DType, y: DType) -> Kernel {
        let k = self.kernels[variant_index(variant)][x.abi() as usize][usize::from(y != x)];
        k.expect("every (variant, x, y) that Problem::new admits is loaded in ContextKernels::load")
    }

    pub fn limits(&self) -> DeviceLimits {
        self.limits
    }

    pub fn compute_capability(&self) -> (i32, i32) {
        self.compute_capability
    }

    /// Loads the fatbin into the current context and resolves every kernel.
    fn load(context_id: u64) -> Result<Self> {
        let mut device = 0;
        // SAFETY: a context is current (the caller checked); out-pointer valid.
        check("cuCtxGetDevice", unsafe { sys::cuCtxGetDevice(&mut device) })?;
        let attr = |a: CUdevice_attribute| -> Result<i32> {
            let mut v = 0;
            // SAFETY: `device` came from the driver; out-pointer valid.
            check("cuDeviceGetAttribute", unsafe { sys::cuDeviceGetAttribute(&mut v, a, device) })?;
            Ok(v)
        };
        let cc = (
            attr(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)?,
            attr(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)?,
        );
        let sm_count = attr(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)?;
        let smem_optin = attr(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN)?;

        let mut module = std::ptr::null_mut();
        // SAFETY: the fatbin is a complete, 64-byte aligned image that lives for the process.
        let loaded = unsafe { sys::cuModuleLoadData(&mut module, fatbin::image().as_ptr().cast()) };
        match loaded {
            CUresult::CUDA_SUCCESS => {}
            CUresult::CUDA_ERROR_NO_BINARY_FOR_GPU | CUresult::CUDA_ERROR_INVALID_PTX | CUresult::CUDA_ERROR_UNSUPPORTED_PTX_VERSION => {
                return Err(Error::NoKernelImage {
                    major: cc.0,
                    minor: cc.1,
                    built_for: fatbin::ARCHS,
                    detail: format!("cuModuleLoadData returned {loaded:?}"),
                })
            }
            code => return Err(Error::Driver { call: "cuModuleLoadData", code }),
        }

        let mut kernels: [[[Option<Kernel>; 2]; 3]; 2] = Default::default();
        let mut max_static_smem = 0;
        for variant in [Variant::Cached, Variant::Stream] {
            for x in DType::ALL {
                let ys: &[DType] = if x == DType::F32 { &[DType::F32] } else { &[x, DType::F32] };
                for &y in ys {
                    let name = CString::new(kernel_name(variant, x, y)).expect("kernel names have no NUL");
                    let mut function = std::ptr::null_mut();
                    // SAFETY: module loaded above; name is NUL-terminated; out-pointer valid.
                    check("cuModuleGetFunction", unsafe { sys::cuModuleGetFunction(&mut function, module, name.as_ptr()) })?;
                    let mut static_smem = 0;
                    // SAFETY: `function` was just resolved.
                    check("cuFuncGetAttribute", unsafe {
                        sys::cuFuncGetAttribute(&mut static_smem, CUfunction_attribute::CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES, function)
                    })?;
                    max_static_smem = max_static_smem.max(static_smem);
                    kernels[variant_index(variant)][x.abi() as usize][usize::from(y != x)] = Some(Kernel { function });
                }
            }
        }

        // Opt every kernel in to the largest dynamic shared memory the device allows,
        // once, here: launches then never need to touch function attributes.
        let max_dynamic = (smem_optin - max_static_smem).max(0);
        for k in kernels.iter().flatten().flatten().flatten() {
            // SAFETY: `k.function` belongs to the module loaded above.
            check("cuFuncSetAttribute", unsafe {
                sys::cuFuncSetAttribute(k.function, CUfunction_attribute::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, max_dynamic)
            })?;
        }
        debug_assert!(TLN_MAX_THREADS_PER_BLOCK <= 1024);

        let mut empty = std::ptr::null_mut();
        // SAFETY: module loaded above; literal name; out-pointer valid.
        check("cuModuleGetFunction", unsafe { sys::cuModuleGetFunction(&mut empty, module, c"tln_empty".as_ptr()) })?;

        Ok(ContextKernels {
            context_id,
            kernels,
            empty: Kernel { function: empty },
            limits: DeviceLimits { sm_count: sm_count as u32, max_dynamic_smem_per_block: max_dynamic as u32 },
            compute_capability: cc,
        })
    }
}

/// The kernels of the context current on this thread, loading them on first use.
///
/// A one-entry thread-local cache makes the common case (same context as the
/// last launch) free of locks; the process-wide list is consulted otherwise.
/// Contexts are keyed by the driver's unique context id, so a context created
/// at the address of a destroyed one never sees stale kernels.
pub fn current_context_kernels() -> Result<Arc<ContextKernels>> {
    thread_local! {
        static LAST: RefCell<Option<Arc<ContextKernels>>> = const { RefCell::new(None) };
    }
    static ALL: Mutex<Vec<Arc<ContextKernels>>> = Mutex::new(Vec::new());

    driver_ready()?;
    let mut ctx = std::ptr::null_mut();
    // SAFETY: driver initialized; out-pointer valid.
    check("cuCtxGetCurrent", unsafe { sys::cuCtxGetCurrent(&mut ctx) })?;
    if ctx.is_null() {
        return Err(Error::NoCurrentContext);
    }
    let mut id = 0;
    // SAFETY: `ctx` is the current, live context.
    check("cuCtxGetId", unsafe { sys::cuCtxGetId(ctx, &mut id) })?;

    if let Some(hit) = LAST.with_borrow(|last| last.as_ref().filter(|k| k.context_id == id).cloned()) {
        return Ok(hit);
    }
    let kernels = {
        let mut all = ALL.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match all.iter().find(|k| k.context_id == id) {
            Some(k) => k.clone(),
            None => {
                let k = Arc::new(ContextKernels::load(id)?);
                all.push(k.clone());
                k
            }
        }
    };
    LAST.with_borrow_mut(|last| *last = Some(kernels.clone()));
    Ok(kernels)
}

/// Human-readable name of a driver status, for messages.
pub fn error_string(code: CUresult) -> String {
    if driver_ready().is_err() {
        return format!("{code:?}");
    }
    let mut s = std::ptr::null();
    // SAFETY: driver present; on success the driver returns a static C string.
    if unsafe { sys::cuGetErrorString(code, &mut s) } == CUresult::CUDA_SUCCESS && !s.is_null() {
        // SAFETY: non-null, NUL-terminated, static.
        return unsafe { CStr::from_ptr(s) }.to_string_lossy().into_owned();
    }
    format!("{code:?}")
}
