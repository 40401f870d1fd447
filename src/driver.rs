//! The CUDA driver, seen from here: whether one exists, and the kernels
//! loaded once per CUDA context (never inside a launch).
//!
//! cudarc loads libcuda lazily and panics when it is missing, so every path
//! into the driver goes through [`driver_ready`] first; no machine without a
//! GPU ever reaches that panic.

use crate::abi::{TLN_MAX_CLUSTER_CTAS, TLN_SPLIT_MAX_THREADS};
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::fatbin;
use crate::problem::NormKind;
use crate::select::{DeviceLimits, Variant, FAST16_CHUNKS_PER_THREAD, REGS_CHUNKS_PER_THREAD};
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

/// The kernels of one (X, Y) type pair.
#[derive(Clone, Copy, Debug)]
struct KernelSet {
    /// Indexed like `REGS_CHUNKS_PER_THREAD`.
    regs: [Kernel; 4],
    /// Indexed like `REGS_CHUNKS_PER_THREAD`: LayerNorm, RMSNorm, SkipLayerNorm.
    fast: [Kernel; 4],
    fast_rms: [Kernel; 4],
    fast_skip: [Kernel; 4],
    /// `tln_fast16`, `tln_fastrms16`: 16-bit X only (select::fast16_eligible).
    fast16: Option<[Kernel; 2]>,
    split_cached: Kernel,
    split_stream: Kernel,
    /// The grid variant's two launches (`tln_gridstats_<x>` depends on X alone).
    grid_stats: Kernel,
    grid_norm: Kernel,
}

impl KernelSet {
    fn all(&self) -> impl Iterator<Item = &Kernel> {
        let fixed = [&self.split_cached, &self.split_stream, &self.grid_stats, &self.grid_norm];
        self.regs.iter().chain(&self.fast).chain(&self.fast_rms).chain(&self.fast_skip).chain(self.fast16.iter().flatten()).chain(fixed)
    }
}

/// The fatbin loaded into one CUDA context, its kernels resolved and the
/// device limits read: everything a launch needs, computed once.
#[derive(Debug)]
pub struct ContextKernels {
    context_id: u64,
    /// Indexed by [x dtype][y differs from x].
    sets: [[Option<KernelSet>; 2]; 3],
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

fn resolve(module: sys::CUmodule, name: &str) -> Result<Kernel> {
    let name = CString::new(name).expect("kernel names have no NUL");
    let mut function = std::ptr::null_mut();
    // SAFETY: module loaded by the caller; name is NUL-terminated; out-pointer valid.
    check("cuModuleGetFunction", unsafe { sys::cuModuleGetFunction(&mut function, module, name.as_ptr()) })?;
    Ok(Kernel { function })
}

fn func_attr(k: Kernel, a: CUfunction_attribute) -> Result<i32> {
    let mut v = 0;
    // SAFETY: `k` was resolved from a loaded module; out-pointer valid.
    check("cuFuncGetAttribute", unsafe { sys::cuFuncGetAttribute(&mut v, a, k.function) })?;
    Ok(v)
}

fn set_func_attr(k: Kernel, a: CUfunction_attribute, value: i32) -> Result<()> {
    // SAFETY: `k` was resolved from a loaded module.
    check("cuFuncSetAttribute", unsafe { sys::cuFuncSetAttribute(k.function, a, value) })
}

impl ContextKernels {
    /// The kernel of `variant` for these types; the fast kernels serve one norm each.
    pub(crate) fn kernel(&self, variant: Variant, x: DType, y: DType, norm: NormKind) -> Kernel {
        let set = self.sets[x.abi() as usize][usize::from(y != x)]
            .expect("every (x, y) that Problem::new admits is loaded in ContextKernels::load");
        let index = |n: u32| REGS_CHUNKS_PER_THREAD.iter().position(|&c| c == n).expect("plans use compiled chunk counts");
        match variant {
            Variant::Regs { chunks_per_thread } => set.regs[index(chunks_per_thread)],
            Variant::Fast { chunks_per_thread: FAST16_CHUNKS_PER_THREAD } => {
                let [layer, rms] = set.fast16.expect("select plans fast16 for 16-bit X only");
                match norm {
                    NormKind::LayerNorm => layer,
                    NormKind::RmsNorm => rms,
                    NormKind::SkipLayerNorm => unreachable!("select plans fast16 for LayerNorm and RMSNorm only"),
                }
            }
            Variant::Fast { chunks_per_thread } => match norm {
                NormKind::LayerNorm => set.fast[index(chunks_per_thread)],
                NormKind::RmsNorm => set.fast_rms[index(chunks_per_thread)],
                NormKind::SkipLayerNorm => set.fast_skip[index(chunks_per_thread)],
            },
            Variant::SplitCached => set.split_cached,
            Variant::SplitStream => set.split_stream,
            Variant::Grid => set.grid_norm,
        }
    }

    /// The grid variant's first launch (tile statistics) for X's type.
    pub(crate) fn grid_stats(&self, x: DType) -> Kernel {
        self.sets[x.abi() as usize][0].expect("every X type is loaded in ContextKernels::load").grid_stats
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
        let per_sm = |a: CUdevice_attribute| -> Result<u32> { Ok(attr(a)?.max(0) as u32) };
        let regs_per_sm = per_sm(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR)?;
        let max_threads_per_sm = per_sm(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR)?;
        let max_blocks_per_sm = per_sm(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR)?;

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

        let mut sets: [[Option<KernelSet>; 2]; 3] = Default::default();
        for x in DType::ALL {
            let ys: &[DType] = if x == DType::F32 { &[DType::F32] } else { &[x, DType::F32] };
            for &y in ys {
                let name = |variant: &str| format!("tln_{variant}_{}_{}", x.name(), y.name());
                let family = |prefix: &str| -> Result<[Kernel; 4]> {
                    let mut ks = [Kernel { function: std::ptr::null_mut() }; 4];
                    for (k, n) in ks.iter_mut().zip(REGS_CHUNKS_PER_THREAD) {
                        *k = resolve(module, &name(&format!("{prefix}{n}")))?;
                    }
                    Ok(ks)
                };
                sets[x.abi() as usize][usize::from(y != x)] = Some(KernelSet {
                    regs: family("regs")?,
                    fast: family("fast")?,
                    fast_rms: family("fastrms")?,
                    fast_skip: family("fastskip")?,
                    fast16: if x == DType::F32 {
                        None
                    } else {
                        let n = FAST16_CHUNKS_PER_THREAD;
                        Some([resolve(module, &name(&format!("fast{n}")))?, resolve(module, &name(&format!("fastrms{n}")))?])
                    },
                    split_cached: resolve(module, &name("split_cached"))?,
                    split_stream: resolve(module, &name("split_stream"))?,
                    grid_stats: resolve(module, &format!("tln_gridstats_{}", x.name()))?,
                    grid_norm: resolve(module, &name("gridnorm"))?,
                });
            }
        }
        let all = || sets.iter().flatten().flatten();

        // Opt the kernels in to the largest dynamic shared memory the device allows,
        // once, here: launches then never touch function attributes.
        let mut max_static = 0;
        for set in all() {
            for &k in set.all() {
                max_static = max_static.max(func_attr(k, CUfunction_attribute::CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES)?);
            }
        }
        let max_dynamic = (smem_optin - max_static).max(0);
        for set in all() {
            for &k in set.all() {
                set_func_attr(k, CUfunction_attribute::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, max_dynamic)?;
            }
        }

        // Thread-block clusters (compute capability 9.0 and newer): the split
        // kernels may use non-portable sizes up to 16 where the device can
        // schedule such a cluster with a full shared-memory slice per block.
        let max_cluster_ctas = if cc.0 >= 9 {
            let mut best = 1;
            for set in all() {
                for k in [set.split_cached, set.split_stream] {
                    set_func_attr(k, CUfunction_attribute::CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED, 1)?;
                }
            }
            let probe = all().next().expect("kernel sets loaded").split_cached;
            for ctas in [16u32, 8, 4, 2] {
                if ctas <= TLN_MAX_CLUSTER_CTAS && max_active_clusters(probe, ctas, max_dynamic as u32)? >= 1 {
                    best = ctas;
                    break;
                }
            }
            best
        } else {
            1
        };

        let empty = resolve(module, "tln_empty")?;
        Ok(ContextKernels {
            context_id,
            sets,
            empty,
            limits: DeviceLimits {
                sm_count: sm_count as u32,
                max_dynamic_smem_per_block: max_dynamic as u32,
                max_cluster_ctas,
                regs_per_sm,
                max_threads_per_sm,
                max_blocks_per_sm,
            },
            compute_capability: cc,
        })
    }
}

/// The launch attribute asking for clusters of `ctas` blocks along x.
pub(crate) fn cluster_attribute(ctas: u32) -> sys::CUlaunchAttribute {
    // SAFETY: a plain C struct (an id and a union of plain values): all-zero bytes are valid.
    let mut attr: sys::CUlaunchAttribute = unsafe { std::mem::zeroed() };
    attr.id = sys::CUlaunchAttributeID::CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION;
    attr.value.clusterDim = sys::CUlaunchAttributeValue_union__bindgen_ty_1 { x: ctas, y: 1, z: 1 };
    attr
}

/// A launch that may start before the previous kernel in its stream has
/// finished (programmatic dependent launch, compute capability 9.0+); the
/// kernel waits for that one's results itself.
pub(crate) fn programmatic_serialization_attribute() -> sys::CUlaunchAttribute {
    // SAFETY: a plain C struct (an id and a union of plain values): all-zero bytes are valid.
    let mut attr: sys::CUlaunchAttribute = unsafe { std::mem::zeroed() };
    attr.id = sys::CUlaunchAttributeID::CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
    attr.value.programmaticStreamSerializationAllowed = 1;
    attr
}

/// How many clusters of `ctas` split blocks (`smem` bytes each) fit on the device at once.
fn max_active_clusters(k: Kernel, ctas: u32, smem: u32) -> Result<i32> {
    let mut attr = cluster_attribute(ctas);
    let config = sys::CUlaunchConfig {
        gridDimX: ctas,
        gridDimY: 1,
        gridDimZ: 1,
        blockDimX: TLN_SPLIT_MAX_THREADS,
        blockDimY: 1,
        blockDimZ: 1,
        sharedMemBytes: smem,
        hStream: std::ptr::null_mut(),
        attrs: &mut attr,
        numAttrs: 1,
    };
    let mut n = 0;
    // SAFETY: `config` and `attr` outlive the call; `k` is a loaded kernel.
    match unsafe { sys::cuOccupancyMaxActiveClusters(&mut n, k.function, &config) } {
        CUresult::CUDA_SUCCESS => Ok(n),
        // An unsupported cluster size is an answer, not a failure.
        CUresult::CUDA_ERROR_INVALID_CLUSTER_SIZE | CUresult::CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES | CUresult::CUDA_ERROR_INVALID_VALUE => Ok(0),
        code => Err(Error::Driver { call: "cuOccupancyMaxActiveClusters", code }),
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
