//! Which kernel variant runs, with how many threads per row, on which grid.
//! A pure function of the problem, the pointers' alignment and the device's
//! limits, so every decision is unit-tested on the CPU.
//!
//! - `Regs`: rows of up to [`REGS_MAX_CHUNKS`] chunks live in registers, a
//!   group of threads per row, several rows per block: X is read once and no
//!   shared memory is touched. N chunks per thread, N in {1, 2, 4, 8}.
//! - `Fast`: the register rows of the common case in kernels of their own
//!   (16-byte chunks, scale and bias both present in X's type; see
//!   [`fast_eligible`]): rows widened to FP32 once (16-bit rows of 8 chunks
//!   per thread, but SkipLayerNorm's, stay packed: registers), one row
//!   group per block. 16-bit LayerNorm and RMSNorm rows of more than 2048
//!   chunks take `fast16` where they fill the GPU (see [`fast16_eligible`]).
//! - `SplitCached`: longer rows (or few rows) are split over a cluster of
//!   blocks, each keeping its slice in shared memory (filled with cp.async on
//!   sm_80+): X is still read once. FP32 rows past 1024 chunks and 16-bit
//!   rows from 2048 chunks (BF16: past 2048) that `fast16` does not take run
//!   here even when rows are many, in slices of at most 32 KB.
//! - `SplitStream`: slices too large for shared memory, few rows whose
//!   cached slices would leave one block per SM, and SkipLayerNorm rows
//!   that fill the GPU in one wave are re-read by the later passes (from L2
//!   when the working set fits); each block keeps a bulk L2 prefetch one
//!   step ahead of its walk (not SkipLayerNorm).
//! - `Grid`: rows too long for registers, when few (LayerNorm, RMSNorm) or
//!   for SkipLayerNorm, split over plain blocks of one 32 KB tile each, in
//!   two launches: tile statistics to a workspace, then the merge and Y
//!   ([`grid_default`] says where it beat the split variants). Only with a
//!   workspace: launches without one take the split variants.

use crate::abi::{
    TLN_GRID_CHUNKS_PER_THREAD, TLN_GRID_THREADS, TLN_FAST16_16BIT_MAX_REGS, TLN_FAST8_16BIT_MAX_REGS, TLN_FAST8_F32_MAX_REGS, TLN_FASTSKIP4_16BIT_MAX_REGS, TLN_FASTSKIP8_16BIT_MAX_REGS, TLN_FASTSKIP8_F32_MAX_REGS, TLN_FAST_MAX_REGS, TLN_MAX_CLUSTER_CTAS, TLN_MAX_THREADS_PER_BLOCK, TLN_SPLIT_MAX_THREADS,
};
use crate::dtype::DType;
use crate::problem::{DevicePtrs, NormKind, Problem};

/// What the selection needs to know about the GPU (read once per context).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceLimits {
    pub sm_count: u32,
    /// Dynamic shared memory one block may use after opting in, minus the kernels' static use.
    pub max_dynamic_smem_per_block: u32,
    /// Largest thread-block cluster the split kernels can be launched with (1: no clusters).
    pub max_cluster_ctas: u32,
    /// Per SM: registers, threads and blocks (how many rows of a fast
    /// kernel an SM holds at once).
    pub regs_per_sm: u32,
    pub max_threads_per_sm: u32,
    pub max_blocks_per_sm: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    Regs { chunks_per_thread: u32 },
    Fast { chunks_per_thread: u32 },
    SplitCached,
    SplitStream,
    /// Two launches over plain blocks, one per tile of a row (see [`grid_plan`]).
    Grid,
}

impl Variant {
    pub fn name(self) -> &'static str {
        match self {
            Variant::Regs { chunks_per_thread: 1 } => "regs1",
            Variant::Regs { chunks_per_thread: 2 } => "regs2",
            Variant::Regs { chunks_per_thread: 4 } => "regs4",
            Variant::Regs { .. } => "regs8",
            Variant::Fast { chunks_per_thread: 1 } => "fast1",
            Variant::Fast { chunks_per_thread: 2 } => "fast2",
            Variant::Fast { chunks_per_thread: 4 } => "fast4",
            Variant::Fast { chunks_per_thread: FAST16_CHUNKS_PER_THREAD } => "fast16",
            Variant::Fast { .. } => "fast8",
            Variant::SplitCached => "split_cached",
            Variant::SplitStream => "split_stream",
            Variant::Grid => "grid",
        }
    }
}

/// Choices a benchmark sweep or a test may force instead of the defaults;
/// a value that cannot hold the row is ignored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlanHints {
    /// Chunks per thread of the register variant (1, 2, 4 or 8; 16 for
    /// the `fast16` kernels where [`fast16_eligible`]).
    pub chunks_per_thread: Option<u32>,
    /// Blocks per row of the split variants (a power of two up to the device's cluster limit).
    pub cluster_ctas: Option<u32>,
    /// `Some(false)`: the general register kernels even where `Fast` applies
    /// (benchmarks compare the two).
    pub fast: Option<bool>,
    /// Fast variants: the L2 prefetch distance in quarters of a wave of
    /// resident rows (0: none; None: [`FAST_PREFETCH_QUARTERS`],
    /// [`FAST8_PACKED_PREFETCH_QUARTERS`] for 16-bit `fast8` rows, or
    /// [`FAST16_PREFETCH_QUARTERS`] for `fast16`).
    pub prefetch_quarters: Option<u32>,
    /// Split variants: stream the slices even where shared memory would
    /// hold them (benchmarks compare the two).
    pub split_stream: bool,
    /// Split variants: clusters in the grid, i.e. rows in flight at once
    /// (each cluster strides over the rows).
    pub split_clusters: Option<u32>,
    /// Streamed split variants: how far ahead of its walk each block keeps
    /// bulk L2 prefetches, in steps of the walk (0: none; None:
    /// [`SPLIT_STREAM_PREFETCH_STEPS`]).
    pub split_prefetch_steps: Option<u32>,
    /// `Some(true)`: the grid variant wherever it can run (16-byte chunks);
    /// `Some(false)`: never (a launch with too small a workspace).
    pub grid: Option<bool>,
    /// Grid variant: chunks per tile, a multiple of [`GRID_THREADS`] up to
    /// [`GRID_TILE_CHUNKS`] (what its kernels hold); others are ignored.
    /// None: [`GRID_TILE_CHUNKS`].
    pub grid_tile_chunks: Option<u64>,
}

/// Everything a launch needs besides the pointers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LaunchPlan {
    pub variant: Variant,
    pub threads_per_row: u32,
    pub block_threads: u32,
    pub grid_blocks: u32,
    /// Blocks per row (split variants; the cluster size when > 1).
    pub cluster_ctas: u32,
    /// Chunks of a row per block (split variants).
    pub slice_chunks: u64,
    pub dynamic_smem_bytes: u32,
    pub vectorized: bool,
    /// Fast variants: each block prefetches into L2 the rows this many rows
    /// after its own (0: none). See [`FAST_PREFETCH_QUARTERS`].
    pub prefetch_rows: u32,
    /// Streamed split variants: each block keeps bulk L2 prefetches of its
    /// slice this many chunks ahead of its walk (0: none). See
    /// [`SPLIT_STREAM_PREFETCH_STEPS`].
    pub prefetch_chunks: u32,
    /// Device memory the launch needs besides the tensors (the grid
    /// variant's partials: 16 bytes per block), 16-byte aligned.
    pub workspace_bytes: u64,
}

/// Bytes one thread moves per access on the vectorized path.
pub const VECTOR_BYTES: u64 = 16;
/// Chunks per thread the register variants are compiled for.
pub const REGS_CHUNKS_PER_THREAD: [u32; 4] = [1, 2, 4, 8];
/// Chunks per thread of the `fast16` kernels (16-bit LayerNorm and RMSNorm
/// only: [`fast16_eligible`]).
pub const FAST16_CHUNKS_PER_THREAD: u32 = 16;
/// Longest row (in chunks) the register variants hold: 512 threads x 8 chunks.
pub const REGS_MAX_CHUNKS: u64 = TLN_MAX_THREADS_PER_BLOCK as u64 * 8;
/// Threads per row the register variants widen to when rows are few.
const REGS_FEW_ROWS_MAX_THREADS_PER_ROW: u32 = 256;
/// The fast kernels with FP32 X go to 512 (two chunks each where a row has
/// 1024): H200, 2026-12-01, 1 x 4096, us, fast2/512 against fast4/256:
/// LayerNorm 2.62 vs 2.72, RMSNorm 2.13 vs 2.36, SkipLayerNorm 2.74 vs
/// 2.95. With 16-bit X, fast1/512 and fast2/256 were within 0.02 us.
const FAST_F32_FEW_ROWS_MAX_THREADS_PER_ROW: u32 = 512;
/// FP16 rows of this many chunks or more go to the split variants.
const REGS_F16_SPLIT_CHUNKS: u64 = 2048;
/// BF16 rows: the split variants carry the overflow redo and spill more, so
/// regs8 keeps rows of 2048 chunks (H200, 4096 x 16384: regs8/256 94.6 us,
/// split_cached 109.6 us; FP16 92.8 vs 97.4 the other way), but no longer
/// ones: past 256 threads regs8 holds one row per SM (H200, 2026-12-03,
/// us, regs8 against the split variants: LayerNorm with scale in another
/// type 1024 x 24576 83.3 / 46.1, 4096 x 20480 247.6 / 143.9;
/// SkipLayerNorm 1024 x 24576 164.6 / 74.8, 4096 x 20480 470.8 / 230.6).
const REGS_BF16_SPLIT_CHUNKS: u64 = 2049;
/// FP32 rows of at most this many chunks (H <= 1024) take 8 chunks per
/// thread when rows are plentiful (H200, 4096 x 768: regs8/32 11.8 us,
/// regs4/64 13.8 us; at 4096 x 4096 regs4 wins, 47.0 vs 56.1 us).
const REGS_F32_EIGHT_CHUNKS_MAX: u64 = 256;
/// Blocks of fewer threads waste scheduler slots; row groups are packed up to this.
const MIN_BLOCK_THREADS: u32 = 128;
/// Chunks each thread of a split block should own at least (loads in flight).
const SPLIT_CHUNKS_PER_THREAD: u64 = 4;
/// A split block's slice is not made smaller than this many chunks (8 KiB vectorized):
/// below it the cluster barriers cost more than the extra parallelism gains.
const SPLIT_MIN_SLICE_CHUNKS: u64 = 512;
/// Split blocks per SM the cluster size aims for: several blocks per SM
/// overlap one block's DRAM phase with another's shared-memory passes.
const SPLIT_BLOCKS_PER_SM: u64 = 4;
/// Threads of a split block: small blocks, so that several share an SM.
/// Blocks of up to 1024 threads (a quarter of the slice's chunks, 64
/// registers each as now) were slower wherever they grew (H200, 2026-12-01,
/// FP16, us: 256 x 65536 over 4 blocks of 512 threads 51.7 against 38.1 in
/// 256; 2048 x 32768 in one block of 1024 180.3 against 113.5).
const SPLIT_MAX_THREADS: u64 = TLN_SPLIT_MAX_THREADS as u64;
/// Blocks per row of a streamed split (slices too large to share an SM).
const SPLIT_STREAM_CTAS: u64 = 8;
/// Longest slice (in chunks) of a split row when rows fill the GPU (see split_plan).
const SPLIT_MANY_ROWS_SLICE_CHUNKS: u64 = 2048;
/// Chunks a split block's threads load in one step of its walk over the
/// slice, per thread (kGroup in kernels/layernorm.cu).
const SPLIT_STEP_CHUNKS_PER_THREAD: u64 = 4;
/// How far ahead of its walk a streamed split block keeps bulk L2
/// prefetches, in steps (a step: 4 chunks per thread, 16 KB for a block of
/// 256 threads). Each thread holds only a step's loads in flight, and a
/// few such blocks per SM ask DRAM for less than its latency hides.
/// H200, 2026-12-01, 32 x 2^20, us, steps 0/1/2/4/8: LayerNorm FP16
/// 78.0/72.4/78.4/83.3/89.0, FP32 160.8/157.7/172.7/179.4/200.7; RMSNorm
/// FP16 73.6/69.8/72.8/79.2/84.7 (further ahead, the prefetches evict what
/// the re-reads need). SkipLayerNorm lost at every distance (FP16 174.6 us
/// at 0 and 182.5 at 1 with the prefetch code compiled in, 145.6 without
/// it), so its paths compile none.
/// Blocks of 512 threads instead (twice the loads in flight, the same 64
/// registers) lost too: LayerNorm FP16 91.6 us, RMSNorm 84.4, Skip 167.6.
pub const SPLIT_STREAM_PREFETCH_STEPS: u32 = 1;
/// Grid caps, in blocks per SM, before blocks stride over rows.
const REGS_BLOCKS_PER_SM: u64 = 64;
// Fewer clusters than rows (`PlanHints::split_clusters`, so that the rows in
// flight fit L2) lost everywhere it was tried (H200, 2026-12-01, us: FP16
// 32 x 2^20 streamed over 8 blocks, 8 clusters 219 against 80 with 32;
// 256 x 65536 cached over 4, 64 clusters 44.4 against 38.2 with 256): the
// bandwidth comes from blocks in flight.
const SPLIT_CLUSTERS_PER_SM: u64 = 8;

/// 16-byte accesses are legal when every base address and every row start is 16-byte aligned.
pub fn can_vectorize(p: &Problem, ptrs: &DevicePtrs) -> bool {
    let aligned = |addr: u64| addr % VECTOR_BYTES == 0;
    let row_bytes_aligned = |size: usize| (p.cols() * size as u64) % VECTOR_BYTES == 0;
    aligned(ptrs.x)
        && aligned(ptrs.y)
        && aligned(ptrs.scale)
        && aligned(ptrs.bias)
        && aligned(ptrs.skip)
        && aligned(ptrs.residual_bias)
        && aligned(ptrs.sum)
        && row_bytes_aligned(p.x_dtype().size_bytes())
        && row_bytes_aligned(p.y_dtype().size_bytes())
}

/// Bytes of X in one chunk.
fn chunk_bytes(p: &Problem, vectorized: bool) -> u64 {
    if vectorized {
        VECTOR_BYTES
    } else {
        p.x_dtype().size_bytes() as u64
    }
}

fn row_chunks(p: &Problem, vectorized: bool) -> u64 {
    p.cols() / (chunk_bytes(p, vectorized) / p.x_dtype().size_bytes() as u64)
}

/// Whether the `Fast` kernels apply: 16-byte chunks, and the affine
/// parameters every exporter writes: scale and bias both present in X's
/// type for LayerNorm, scale in X's type (and no bias) for RMSNorm.
pub fn fast_eligible(p: &Problem, vectorized: bool) -> bool {
    let x = Some(p.x_dtype());
    let bias = if p.norm().has_bias() { x } else { None };
    // A residual bias is a third 16-byte load per chunk: with it, the fast
    // kernels' registers no longer hold every load of a row in flight.
    let no_residual_bias = p.skip().is_none_or(|o| !o.residual_bias);
    vectorized && p.scale_dtype() == x && p.bias_dtype() == bias && no_residual_bias
}

/// Chunks per thread a `Fast` row of `chunks` holds at most: 8 (64 values
/// for 16-bit rows, 32 for FP32: up to 80 registers) unless that
/// lets an SM hold fewer rows at once than 4 (64 registers). Fewer threads
/// per row mean fewer barriers and partial sums per element. H200,
/// `trt-layernorm bench --per-thread 4,8`, 2026-12-01, us, fast8 vs fast4:
/// - FP16 4096 x 768 5.40 vs 6.55, 4096 x 4096 23.15 vs 27.36 (as many
///   rows per SM); 8192 x 8192 73.9 vs 74.3, 4096 x 16384 79.4 vs 82.5;
/// - BF16 8192 x 8192 74.6 vs 72.5 and 16384 x 12288 264.9 vs 250.8: the
///   rule's misses (3% and 5%);
/// - FP32 4096 x 768 8.49 vs 11.80 (20 rows per SM against 16), 8192 x 8192
///   139.4 vs 140.1.
///
/// RMSNorm rows of [`RMS_FAST4_MIN_CHUNKS`] chunks or more: 4 where a row
/// fits 512 threads that way.
///
/// SkipLayerNorm with 16-bit X: 4. Its fast8 needs 168 registers to keep
/// 16 loads in flight, and fast4 measured as fast or faster at every shape
/// (H200, FP16, us, fast4 vs fast8: 4096 x 768 8.94 vs 9.55, 4096 x 4096
/// 36.49 vs 37.91, 8192 x 8192 133.8 vs 134.4, 4096 x 16384 148.1 vs 149.0).
fn fast_widest(limits: &DeviceLimits, x: DType, chunks: u64, norm: NormKind) -> u32 {
    if norm == NormKind::SkipLayerNorm && x != DType::F32 {
        return 4;
    }
    if norm == NormKind::RmsNorm && chunks >= RMS_FAST4_MIN_CHUNKS && regs_threads_per_row(chunks, 4).is_some() {
        return 4;
    }
    if fast_rows_per_sm(limits, x, chunks, 8, norm) >= fast_rows_per_sm(limits, x, chunks, 4, norm) {
        8
    } else {
        4
    }
}

/// RMSNorm (one reduction, of x^2) took fast4 faster than fast8 from rows of
/// 1024 chunks (FP16 8192, FP32 4096 columns), and fast8 below. H200,
/// 2026-12-02, `bench --norm rmsnorm --per-thread 4,8`, us, fast4 vs fast8:
/// FP16 4096 x 4096 20.90 vs 19.47, 8192 x 8192 65.25 vs 66.17, 16384 x
/// 12288 190.27 vs 197.78, 4096 x 16384 66.53 vs 66.94; BF16 20.70 vs 19.32,
/// 65.21 vs 66.08, 195.40 vs 196.52, 66.29 vs 67.08; FP32 4096 x 4096 33.65
/// vs 34.61, 8192 x 8192 127.74 vs 129.57; 4096 x 768 (96 and 192 chunks)
/// 5.98 vs 5.41 (FP16), 9.41 vs 8.37 (FP32). LayerNorm keeps fast8 there
/// (FP16 16384 x 12288: 233.9 against 213.0). Those ran at 4 blocks per SM
/// at most (the barriers' cap); grids of a few waves now go through
/// [`fullest_last_wave`], which takes 4096 x 768 to fast4.
const RMS_FAST4_MIN_CHUNKS: u64 = 1024;

// FP32 rows of 2049 to 4095 chunks went to the split variants until the
// fast kernels prefetched (fast8 puts one block of 384 threads on an SM
// there: H200, 16384 x 12288, 533-541 us against split_cached's 510-515).
// With the prefetch ([`FAST_PREFETCH_QUARTERS`]) fast8 took 455 us, and
// 377 at 80 registers (two blocks per SM; kernels/layernorm_abi.h).

/// The plan the kernels use.
pub fn plan(p: &Problem, vectorized: bool, limits: &DeviceLimits) -> LaunchPlan {
    plan_with(p, vectorized, limits, PlanHints::default())
}

/// [`plan`] with choices forced by `hints` where they can hold the row.
pub fn plan_with(p: &Problem, vectorized: bool, limits: &DeviceLimits, hints: PlanHints) -> LaunchPlan {
    let chunks = row_chunks(p, vectorized);
    let fits = |n: &u32| regs_threads_per_row(chunks, *n).is_some();
    let forced = hints.chunks_per_thread.filter(|n| REGS_CHUNKS_PER_THREAD.contains(n) && fits(n));
    let forced_fast16 = hints.chunks_per_thread.filter(|n| *n == FAST16_CHUNKS_PER_THREAD && fast16_eligible(p, vectorized) && fits(n));
    if hints.cluster_ctas.is_some() || hints.split_stream {
        // A forced cluster size or streaming asks for the split variants.
        return split_plan(p, chunks, vectorized, limits, hints);
    }
    if vectorized && hints.grid == Some(true) {
        if let Some(plan) = grid_plan(p, chunks, hints) {
            return plan;
        }
    }
    if fast_eligible(p, vectorized) && hints.fast != Some(false) {
        let n = forced.or(forced_fast16).or_else(|| default_fast_chunks_per_thread(p, chunks, limits));
        if let Some(plan) = n.and_then(|n| fast_plan(p, chunks, n, vectorized, limits, hints.prefetch_quarters)) {
            return plan;
        }
    }
    match forced.or_else(|| default_regs_chunks_per_thread(p, chunks, limits.sm_count, 8)) {
        Some(n) => regs_plan(p, chunks, n, vectorized, limits),
        None => {
            // Rows too long for registers: the grid variant where it beat the split ones.
            let grid = vectorized && hints.grid != Some(false) && grid_default(p, chunks, limits);
            grid.then(|| grid_plan(p, chunks, hints)).flatten().unwrap_or_else(|| split_plan(p, chunks, vectorized, limits, hints))
        }
    }
}

/// Threads per row for N chunks each: a power of two up to a warp (so the
/// reduction is a sub-warp butterfly), whole warps beyond; None past 512.
fn regs_threads_per_row(chunks: u64, n: u32) -> Option<u32> {
    let t = chunks.div_ceil(n as u64).max(1);
    let t = if t <= 32 { t.next_power_of_two() } else { t.next_multiple_of(32) };
    (t <= TLN_MAX_THREADS_PER_BLOCK as u64).then_some(t as u32)
}

/// FP32 rows in registers use at most this many threads (4 chunks each).
const REGS_F32_MAX_THREADS_PER_ROW: u64 = 256;
/// Threads the register variants should put on the GPU before they trade
/// chunks per thread for more threads per row: enough to fill every SM.
const REGS_TARGET_THREADS_PER_SM: u64 = 256;

/// The `Fast` kernels' choice: as the general one, up to [`fast_widest`]
/// chunks per thread and rows of up to 512 threads, but never the rows the
/// split variants serve better.
/// 16-bit rows of up to 2048 chunks beat the split variants there too
/// (4096 x 16384: FP16 fast4 78.0 us, split_cached 97.6); longer ones take
/// `fast16` (LayerNorm, RMSNorm) or the general choice.
const FAST_16BIT_MAX_CHUNKS: u64 = 2048;

fn default_fast_chunks_per_thread(p: &Problem, chunks: u64, limits: &DeviceLimits) -> Option<u32> {
    let longer = match p.x_dtype() {
        DType::F32 => false, // up to 4096 chunks, all a fast row holds
        DType::F16 | DType::BF16 => chunks > FAST_16BIT_MAX_CHUNKS,
    };
    if longer {
        // 16-bit LayerNorm and RMSNorm rows of more than FAST_16BIT_MAX_CHUNKS
        // chunks, up to 8192 (512 threads x 16), take `fast16` when there is at
        // least a row per SM: the row in registers (up to 128 each: one 512-thread
        // block per SM), every chunk's load in flight, no L2 prefetch (it lost:
        // FAST16_PREFETCH_QUARTERS). Fewer rows keep the split variants,
        // which spread a row over a cluster. H200, 2026-12-03, `bench --per-thread
        // 16 --cluster 2,4 --prefetch-quarters 0`, us, fast16 against the split
        // variants' best: LayerNorm FP16 256 x 65536 28.7 / 33.5, 132 x 65536
        // 15.3 / 20.5, 512 x 32768 24.0 / 30.8, 2048 x 32768 71.8 / 103.1, 1024 x
        // 24576 32.6 / 44.5; BF16 alike (BF16 1024 x 24576 took regs8, 83.1);
        // RMSNorm FP16 256 x 65536 27.2 / 31.0. At 2048 chunks (4096 x 16384)
        // fast4 and fast8 stay faster (66.2 against 70.4).
        // (Rows past 8192 chunks: fast_plan finds no block for them.)
        let fast16 = fast16_eligible(p, true) && p.rows() >= limits.sm_count as u64;
        return fast16.then_some(FAST16_CHUNKS_PER_THREAD);
    }
    let few_rows_max_tpr = if p.x_dtype() == DType::F32 { FAST_F32_FEW_ROWS_MAX_THREADS_PER_ROW } else { REGS_FEW_ROWS_MAX_THREADS_PER_ROW };
    let n = widest_first(p.rows(), chunks, limits.sm_count, fast_widest(limits, p.x_dtype(), chunks, p.norm()), few_rows_max_tpr)?;
    Some(fullest_last_wave(p, chunks, limits, n))
}

/// Grids of this many waves of resident blocks, or fewer: the last wave is
/// a large part of their time (see [`fullest_last_wave`]).
const FEW_WAVES_MAX: f64 = 4.0;
/// Below half a wave every row is resident at once however it is split:
/// [`widest_first`]'s choice stands.
const FEW_WAVES_MIN: f64 = 0.5;

/// `n` (the fast kernels' widest-first choice), or fewer chunks per thread
/// where the grid is half a wave to four waves and a narrower plan fills
/// its waves better: the largest share of the waves' block slots filled,
/// then the fewest waves, then the widest. Blocks per SM come from the
/// registers alone since the barriers stopped capping them (H200: 4 blocks
/// per SM at most before). H200, 2026-12-03, us, main's kernels and plans
/// against these (`h200-2026-12-03e-barriers.txt`), FP16 / BF16: LayerNorm
/// 4096 x 768 5.47 / 5.57 -> 5.30 / 5.47 (fast8 -> fast4), 8192 x 768 9.07
/// / 9.13 -> 8.53 / 8.59, 4096 x 4096 20.04 / 20.33 -> 18.68 / 18.84 (fast8
/// -> fast4/128: 2.59 waves against 3.88); RMSNorm 4096 x 4096 19.46 /
/// 19.50 -> 18.46 / 18.37; SkipLayerNorm 4096 x 768 8.98 / 8.82 -> 8.26 /
/// 8.29 (fast4 -> fast2: 1.55 waves at 88 registers against 1.94), 8192 x
/// 768 15.75 / 15.42 -> 14.24 / 14.28; FP32 LayerNorm 8192 x 768 14.79 ->
/// 14.32. Within 2 waves only, 4096 x 4096 kept fast8 and lost 1-4%.
fn fullest_last_wave(p: &Problem, chunks: u64, limits: &DeviceLimits, n: u32) -> u32 {
    // (blocks, blocks per wave) of the plan of `m` chunks per thread.
    let grid = |m: u32| {
        let (per_sm, rows_per_block) = fast_blocks_per_sm(limits, p.x_dtype(), chunks, m, p.norm())?;
        let per_wave = per_sm * limits.sm_count as u64;
        (per_wave > 0).then(|| (p.rows().div_ceil(rows_per_block as u64), per_wave))
    };
    let Some((blocks, per_wave)) = grid(n) else { return n };
    if !(FEW_WAVES_MIN..=FEW_WAVES_MAX).contains(&(blocks as f64 / per_wave as f64)) {
        return n;
    }
    let narrower = std::iter::successors(Some(n), |&m| (m > 1).then_some(m / 2));
    narrower
        .filter_map(|m| grid(m).map(|(blocks, per_wave)| (m, blocks, per_wave)))
        .max_by_key(|&(m, blocks, per_wave)| {
            let waves = blocks.div_ceil(per_wave);
            // Thousandths of the waves' block slots that the grid fills.
            (blocks * 1000 / (waves * per_wave), std::cmp::Reverse(waves), m)
        })
        .map_or(n, |(m, _, _)| m)
}

/// Whether the `fast16` kernels apply: the fast kernels' case
/// ([`fast_eligible`]) for LayerNorm and RMSNorm with 16-bit X, whose rows
/// the fast kernels hold packed (16 chunks: 64 registers of X).
pub fn fast16_eligible(p: &Problem, vectorized: bool) -> bool {
    fast_eligible(p, vectorized) && p.x_dtype() != DType::F32 && p.norm() != NormKind::SkipLayerNorm
}

/// The general register kernels' choice (H100 sweep, see README): up to
/// `widest` chunks per thread, the most the kernel family holds.
fn default_regs_chunks_per_thread(p: &Problem, chunks: u64, sm_count: u32, widest: u32) -> Option<u32> {
    let rows = p.rows();
    // FP32 rows: 8 chunks (32 floats) spill under regs8's register budget,
    // which only rows of up to 256 chunks repay (see REGS_F32_EIGHT_CHUNKS_MAX);
    // 4 per thread past 256 threads leaves one block per SM: longer FP32 rows
    // go to the split variants (H100 sweep).
    let widest = if p.x_dtype() == DType::F32 && chunks > REGS_F32_EIGHT_CHUNKS_MAX { widest.min(4) } else { widest };
    if p.x_dtype() == DType::F32 && chunks > 4 * REGS_F32_MAX_THREADS_PER_ROW {
        return None;
    }
    // 16-bit rows of 2048 chunks (16384 elements) and more: the split
    // variant's cp.async-filled slice beat regs8 on the H100 (78.6% vs 76.2%
    // of copy at 4096 x 16384 FP16, 75.1% vs 63.1% at 2048 x 32768); at 1536
    // chunks regs8 still won (85.9% vs 73.4% at 16384 x 12288).
    let split_from = match p.x_dtype() {
        DType::F32 => u64::MAX,
        DType::F16 => REGS_F16_SPLIT_CHUNKS,
        DType::BF16 => REGS_BF16_SPLIT_CHUNKS,
    };
    if chunks >= split_from {
        return None;
    }
    widest_first(rows, chunks, sm_count, widest, REGS_FEW_ROWS_MAX_THREADS_PER_ROW)
}

/// The most chunks per thread (up to `widest`) that still puts enough
/// threads on the GPU, else fewer: long chains per thread win when rows are
/// plentiful (fewer threads and barriers per row); with few rows, more
/// threads per row shorten each row's latency. None: no count fits.
fn widest_first(rows: u64, chunks: u64, sm_count: u32, widest: u32, few_rows_max_tpr: u32) -> Option<u32> {
    let target = sm_count as u64 * REGS_TARGET_THREADS_PER_SM;
    let fits = |n: u32| regs_threads_per_row(chunks, n);
    let mut best = None;
    // No more chunks per thread than a row has (a 3-element row gets 4, not 8).
    for n in [8u32, 4, 2, 1].into_iter().filter(|&n| n <= widest && n as u64 <= chunks.next_power_of_two()) {
        let Some(tpr) = fits(n) else { break };
        // Few rows: spreading a row over more than 256 threads costs more in
        // reductions than it saves (H100, 1 x 4096: FP16 regs2/256 3.39 us
        // vs regs1/512 4.08 us; FP32 regs4/256 4.18 us vs regs2/512 4.89 us).
        if tpr > few_rows_max_tpr && best.is_some() {
            break;
        }
        best = Some(n);
        if rows * tpr as u64 >= target {
            break;
        }
    }
    best
}

fn regs_plan(p: &Problem, chunks: u64, n: u32, vectorized: bool, limits: &DeviceLimits) -> LaunchPlan {
    let (threads_per_row, rows_per_block) = regs_block(chunks, n).expect("caller checked the row fits");
    let row_groups = p.rows().div_ceil(rows_per_block as u64);
    LaunchPlan {
        variant: Variant::Regs { chunks_per_thread: n },
        threads_per_row,
        block_threads: threads_per_row * rows_per_block,
        grid_blocks: row_groups.clamp(1, limits.sm_count as u64 * REGS_BLOCKS_PER_SM) as u32,
        cluster_ctas: 1,
        slice_chunks: chunks,
        dynamic_smem_bytes: 0,
        vectorized,
        prefetch_rows: 0,
        prefetch_chunks: 0,
        workspace_bytes: 0,
    }
}

/// Blocks of `block_threads` threads that one SM holds at once with at most
/// `regs` registers per thread (registers are allocated per warp, in units of 256).
fn blocks_per_sm(limits: &DeviceLimits, block_threads: u32, regs: u32) -> u64 {
    let warps = block_threads.div_ceil(32) as u64;
    let regs_per_block = warps * (regs as u64 * 32).next_multiple_of(256);
    let by_regs = limits.regs_per_sm as u64 / regs_per_block;
    let by_threads = (limits.max_threads_per_sm / block_threads.max(1)) as u64;
    by_regs.min(by_threads).min(limits.max_blocks_per_sm as u64)
}

/// Block shape of a register row of `chunks` at `n` chunks per thread:
/// (threads per row, rows per block); None past 512 threads.
fn regs_block(chunks: u64, n: u32) -> Option<(u32, u32)> {
    let threads_per_row = regs_threads_per_row(chunks, n)?;
    Some((threads_per_row, (MIN_BLOCK_THREADS / threads_per_row).max(1)))
}

/// Rows of a fast kernel with `n` chunks per thread that one SM holds at
/// once (the register caps of kernels/layernorm_abi.h).
fn fast_rows_per_sm(limits: &DeviceLimits, x: DType, chunks: u64, n: u32, norm: NormKind) -> u64 {
    fast_blocks_per_sm(limits, x, chunks, n, norm).map_or(0, |(blocks, rows_per_block)| blocks * rows_per_block as u64)
}

/// Blocks of a fast kernel with `n` chunks per thread that one SM holds at
/// once, and the rows each holds ([`regs_block`]); None past 512 threads.
fn fast_blocks_per_sm(limits: &DeviceLimits, x: DType, chunks: u64, n: u32, norm: NormKind) -> Option<(u64, u32)> {
    let (tpr, rows_per_block) = regs_block(chunks, n)?;
    let skip = norm == NormKind::SkipLayerNorm;
    let regs = match (n, x) {
        (FAST16_CHUNKS_PER_THREAD, _) => TLN_FAST16_16BIT_MAX_REGS,
        (8, DType::F32) if skip => TLN_FASTSKIP8_F32_MAX_REGS,
        (8, DType::F32) => TLN_FAST8_F32_MAX_REGS,
        (8, _) if skip => TLN_FASTSKIP8_16BIT_MAX_REGS,
        (8, _) => TLN_FAST8_16BIT_MAX_REGS,
        (4, DType::F16 | DType::BF16) if skip => TLN_FASTSKIP4_16BIT_MAX_REGS,
        _ => TLN_FAST_MAX_REGS,
    };
    Some((blocks_per_sm(limits, tpr * rows_per_block, regs), rows_per_block))
}

/// How far ahead a fast block prefetches rows into L2, in quarters of a
/// wave (the rows the GPU holds at once): 4 is the rows of the block that
/// will take this block's place. 0: no prefetch. While an SM's blocks
/// reduce, their rows' DRAM traffic has ended; the prefetch keeps DRAM busy.
/// H200, 2026-12-01, `bench --prefetch-quarters 0,2,3,4,5,6`, us, FP16:
/// 8192 x 8192 74.1 (none), 70.1 (4), 84.6 (8); 16384 x 12288 266.9, 219.9
/// (2), 219.6 (3), 220.5 (4), 225.4 (5), 247.1 (6); 4096 x 16384 79.1, 71.3
/// (2), 69.0 (3), 69.1 (4), 74.4 (6). BF16: 4096 x 4096 22.0, 20.1 (3), 20.2
/// (4); 8192 x 8192 74.1, 67.4 (3 and 4). FP32: 8192 x 8192 140.6, 129.4
/// (3), 128.7 (4); 4096 x 16384 170.5, 141.3 (3), 142.2 (4); 16384 x 12288
/// fast8 455.2 (3) against the split kernels' 504.2.
/// SkipLayerNorm moves twice the rows (X and Skip in, Y and S out) and
/// its DRAM is busy already where two or more rows fit an SM: prefetching
/// there lost (FP32 4096 x 4096 77.9 against 68.3), and won only with one
/// row per SM (FP16 4096 x 16384 134.3 against 147.9).
pub const FAST_PREFETCH_QUARTERS: u32 = 3;

/// 16-bit fast8 rows of LayerNorm and RMSNorm, held packed (80 registers:
/// half as many rows again per SM as the floats' 112), prefetch half a
/// wave ahead: about as many rows as 3/4 of the floats' wave. H200,
/// 2026-12-02, `bench --prefetch-quarters 0,1,2,3,4,5`, us, FP16 LayerNorm
/// (2 / 3 quarters): 16384 x 12288 191.0 / 199.1; 8192 x 8192 66.5 / 67.5;
/// 4096 x 16384 67.2 / 68.7; 4096 x 4096 20.1 / 20.9 (BF16 alike).
pub const FAST8_PACKED_PREFETCH_QUARTERS: u32 = 2;

/// fast16 (one or two rows per SM): no prefetch. H200, 2026-12-03, us,
/// quarters 0 / 2 / 3 / 4: LayerNorm FP16 2048 x 32768 71.8 / 72.5 / 77.1
/// / 84.8, 512 x 32768 24.0 / 24.6 / 25.2 / 25.8; 256 x 65536 28.7 / 28.1
/// / 28.8 / 29.2; RMSNorm FP16 256 x 65536 27.2 / 28.8 / 29.6 / 29.8.
pub const FAST16_PREFETCH_QUARTERS: u32 = 0;

fn default_prefetch_quarters(p: &Problem, n: u32, rows_per_sm: u64) -> u32 {
    match p.norm() {
        _ if n == FAST16_CHUNKS_PER_THREAD => FAST16_PREFETCH_QUARTERS,
        NormKind::SkipLayerNorm if rows_per_sm > 1 => 0,
        NormKind::SkipLayerNorm => FAST_PREFETCH_QUARTERS,
        _ if n == 8 && p.x_dtype() != DType::F32 => FAST8_PACKED_PREFETCH_QUARTERS,
        _ => FAST_PREFETCH_QUARTERS,
    }
}

/// One row group per block (see kernels/layernorm.cu, `fast_rows`): None
/// when that grid would exceed CUDA's 2^31 - 1 blocks.
fn fast_plan(p: &Problem, chunks: u64, n: u32, vectorized: bool, limits: &DeviceLimits, prefetch_quarters: Option<u32>) -> Option<LaunchPlan> {
    let (threads_per_row, rows_per_block) = regs_block(chunks, n)?;
    let grid_blocks = u32::try_from(p.rows().div_ceil(rows_per_block as u64)).ok().filter(|&g| g <= i32::MAX as u32)?;
    let rows_per_sm = fast_rows_per_sm(limits, p.x_dtype(), chunks, n, p.norm());
    let quarters = prefetch_quarters.unwrap_or_else(|| default_prefetch_quarters(p, n, rows_per_sm));
    let distance = rows_per_sm * limits.sm_count as u64 * quarters as u64 / 4;
    let prefetch_rows = if distance > 0 && distance < p.rows() { u32::try_from(distance).unwrap_or(0) } else { 0 };
    Some(LaunchPlan {
        variant: Variant::Fast { chunks_per_thread: n },
        threads_per_row,
        block_threads: threads_per_row * rows_per_block,
        grid_blocks,
        cluster_ctas: 1,
        slice_chunks: chunks,
        dynamic_smem_bytes: 0,
        vectorized,
        prefetch_rows,
        prefetch_chunks: 0,
        workspace_bytes: 0,
    })
}

fn split_plan(p: &Problem, chunks: u64, vectorized: bool, limits: &DeviceLimits, hints: PlanHints) -> LaunchPlan {
    let forced_ctas = hints.cluster_ctas;
    let bytes = chunk_bytes(p, vectorized);
    let max_ctas = limits.max_cluster_ctas.clamp(1, TLN_MAX_CLUSTER_CTAS) as u64;
    let slice = |ctas: u64| chunks.div_ceil(ctas);
    let budget = limits.max_dynamic_smem_per_block as u64;

    // Enough blocks to give every SM several when there are few rows...
    let mut ctas = 1;
    while ctas < max_ctas && p.rows() * ctas < SPLIT_BLOCKS_PER_SM * limits.sm_count as u64 && slice(ctas * 2) >= SPLIT_MIN_SLICE_CHUNKS {
        ctas *= 2;
    }
    // ...and as many as it takes for a slice to fit shared memory.
    while ctas < max_ctas && slice(ctas) * bytes > budget {
        ctas *= 2;
    }
    if let Some(c) = forced_ctas.filter(|c| c.is_power_of_two() && (*c as u64) <= max_ctas) {
        ctas = c as u64;
    }
    // With few rows, a slice that fills an SM's shared memory leaves one
    // block per SM and nothing to overlap its passes with (Nsight Compute:
    // 12.5% occupancy at 32 x 2^20 FP16); streaming 8 smaller slices from L2
    // was faster there (37% vs 28% of copy). With many rows, the SMs take
    // turns and the cached slice won (65% vs 52% at 2048 x 32768 FP32).
    let few_rows = p.rows() < limits.sm_count as u64;
    if few_rows && slice(ctas) * bytes > budget / 2 && max_ctas >= SPLIT_STREAM_CTAS && forced_ctas.is_none() && !hints.split_stream {
        ctas = SPLIT_STREAM_CTAS;
        let slice_chunks = slice(ctas);
        return split_launch(p, Variant::SplitStream, ctas, slice_chunks, 0, vectorized, limits, hints);
    }
    // SkipLayerNorm rows that fill the GPU: streamed over as many blocks as
    // keep the whole grid resident at once (S re-read from L2 in pass 3).
    // Cached over more blocks, the grid ran in two waves. H200, 2026-12-01,
    // 256 x 65536, us: FP16 streamed over 2 64.6, cached over 4 79.3
    // (streamed over 4: 81.2); BF16 65.7 against 78.3; FP32 112.4 against
    // 115.8.
    let wave = SPLIT_BLOCKS_PER_SM * limits.sm_count as u64;
    if !few_rows && p.norm() == NormKind::SkipLayerNorm && vectorized && forced_ctas.is_none() && p.rows() * 2 <= wave && max_ctas >= 2 {
        let mut resident = 2;
        while resident * 2 <= max_ctas && p.rows() * resident * 2 <= wave {
            resident *= 2;
        }
        let slice_chunks = slice(resident);
        return split_launch(p, Variant::SplitStream, resident, slice_chunks, 0, vectorized, limits, hints);
    }
    // Other rows that fill the GPU: slices of at most
    // SPLIT_MANY_ROWS_SLICE_CHUNKS (32 KB vectorized), which measured best
    // wherever they were compared. H200, 2026-12-01/02, us, cached over 1/2/4/8
    // blocks: FP32 LayerNorm 256 x 65536 -/87.9/60.0/57.6 (streamed over 8:
    // 61.5), 2048 x 32768 263.1/232.2/182.5/279.0 (streamed over 4: 197.2);
    // FP32 RMSNorm 256 x 65536 -/76.0/54.0/47.2 (streamed over 8: 50.6),
    // 2048 x 32768 245.8/213.8/158.4/203.8; FP16 LayerNorm 2048 x 32768
    // 120.3/104.5/-/-, 256 x 65536 -/40.3/33.2/39.8.
    if !few_rows && p.norm() != NormKind::SkipLayerNorm && vectorized && forced_ctas.is_none() {
        while ctas < max_ctas && slice(ctas) > SPLIT_MANY_ROWS_SLICE_CHUNKS {
            ctas *= 2;
        }
    }
    let slice_chunks = slice(ctas);
    let cached = slice_chunks * bytes <= budget && !hints.split_stream;
    let (variant, smem) = if cached { (Variant::SplitCached, slice_chunks * bytes) } else { (Variant::SplitStream, 0) };
    split_launch(p, variant, ctas, slice_chunks, smem as u32, vectorized, limits, hints)
}

/// Chunks of a grid tile: one block of [`GRID_THREADS`], TLN_GRID_CHUNKS_PER_THREAD chunks each.
pub const GRID_THREADS: u32 = TLN_GRID_THREADS;
pub const GRID_TILE_CHUNKS: u64 = GRID_THREADS as u64 * TLN_GRID_CHUNKS_PER_THREAD as u64;
/// Bytes of workspace per grid block (two doubles).
pub const GRID_PARTIAL_BYTES: u64 = 16;
/// Most blocks a grid launch may have: its workspace then stays within
/// [`GRID_MAX_WORKSPACE_BYTES`].
pub const GRID_MAX_BLOCKS: u64 = 1 << 16;
pub const GRID_MAX_WORKSPACE_BYTES: u64 = GRID_MAX_BLOCKS * GRID_PARTIAL_BYTES;

/// The most workspace a default plan needs (rows of two tiles or more) for
/// rows x cols of X in `x` (`crate::launch::workspace_bytes`): grows with
/// rows and cols, so a launch of smaller shapes never needs more (what a
/// TensorRT plugin relies on: it asks for the largest shapes at build
/// time). Rows that are not whole 16-byte chunks never take the grid
/// variant, but are counted as if they were, or a shorter row that is
/// (FP32: 4100 columns, against 4101) could need more than a longer one.
pub fn grid_workspace_bound(rows: u64, cols: u64, x: DType) -> u64 {
    let chunks = cols.saturating_mul(x.size_bytes() as u64).div_ceil(VECTOR_BYTES);
    if chunks <= GRID_TILE_CHUNKS {
        return 0;
    }
    rows.saturating_mul(chunks.div_ceil(GRID_TILE_CHUNKS)).min(GRID_MAX_BLOCKS) * GRID_PARTIAL_BYTES
}

/// Whether rows too long for the register variants take the grid variant
/// rather than the split ones (16-byte chunks). H200, 2026-12-02, us, grid
/// (the committed kernels) against the split plan (`bench --grid`, FP16 /
/// FP32):
/// - SkipLayerNorm, from two tiles a row: 2048 x 32768 168 / 337 against
///   234 / 841, 256 x 65536 49 / 91 against 67 / 113, 32 x 2^20 94 / 184
///   against 137 / 292 (its split plans re-read X and Skip, or S, per pass);
/// - LayerNorm and RMSNorm, from four tiles when rows are at most half the
///   SMs: LayerNorm 32 x 2^20 63 / 123 against 76 / 159, 64 x 262144 33 / 63
///   against 40 / 79, 8 x 2^20 20 / 39 against 51 / 98; with more rows the
///   split plans keep a row's slices in shared memory and won (256 x 65536
///   33.7 / 61.2 against 33.5 / 58.5, RMSNorm FP32 128 x 131072 60.0
///   against 55.7, on the grid kernels with two blocks per SM).
fn grid_default(p: &Problem, chunks: u64, limits: &DeviceLimits) -> bool {
    let tiles = chunks.div_ceil(GRID_TILE_CHUNKS);
    match p.norm() {
        NormKind::SkipLayerNorm => tiles >= 2,
        NormKind::LayerNorm | NormKind::RmsNorm => tiles >= 4 && p.rows() * 2 <= limits.sm_count as u64,
    }
}

/// The grid variant: `rows x tiles` blocks in each of its two launches,
/// tiles of [`GRID_TILE_CHUNKS`] unless `hints` asks for a valid smaller one.
/// None when the row is not in 16-byte chunks or the grid would exceed
/// [`GRID_MAX_BLOCKS`].
pub fn grid_plan(p: &Problem, chunks: u64, hints: PlanHints) -> Option<LaunchPlan> {
    let tile = hints
        .grid_tile_chunks
        .filter(|&t| t > 0 && t <= GRID_TILE_CHUNKS && t % GRID_THREADS as u64 == 0)
        .unwrap_or(GRID_TILE_CHUNKS);
    let blocks = p.rows().checked_mul(chunks.div_ceil(tile))?;
    if chunks * VECTOR_BYTES != p.cols() * p.x_dtype().size_bytes() as u64 || blocks == 0 || blocks > GRID_MAX_BLOCKS {
        return None;
    }
    Some(LaunchPlan {
        variant: Variant::Grid,
        threads_per_row: GRID_THREADS,
        block_threads: GRID_THREADS,
        grid_blocks: blocks as u32,
        cluster_ctas: 1,
        slice_chunks: tile,
        dynamic_smem_bytes: 0,
        vectorized: true,
        prefetch_rows: 0,
        prefetch_chunks: 0,
        workspace_bytes: blocks * GRID_PARTIAL_BYTES,
    })
}

// Tried and not kept (H200, 2026-12-01, `bench --cluster`): a grid of one
// wave of clusters striding over the rows, each block prefetching its slice
// of its next row into L2 (cp.async.bulk.prefetch.L2). It won only where the
// default does not go (FP32 2048 x 32768 over two-block clusters: 225.0 us
// against 267.3) and lost on the grid's split shapes (256 x 65536 over four:
// FP16 38.7 against 37.6, BF16 45.3 against 41.6, FP32 77.3 against 72.3);
// and the branch alone, never taken, slowed the SkipLayerNorm split kernels
// by 8-19% (FP16 32 x 2^20: 222.0 us against 187.0).
#[allow(clippy::too_many_arguments)]
fn split_launch(
    p: &Problem,
    variant: Variant,
    ctas: u64,
    slice_chunks: u64,
    smem: u32,
    vectorized: bool,
    limits: &DeviceLimits,
    hints: PlanHints,
) -> LaunchPlan {
    let block_threads = slice_chunks.div_ceil(SPLIT_CHUNKS_PER_THREAD).next_multiple_of(32).clamp(32, SPLIT_MAX_THREADS) as u32;
    let cap = hints.split_clusters.filter(|&c| c >= 1).map_or(limits.sm_count as u64 * SPLIT_CLUSTERS_PER_SM, u64::from);
    let clusters = p.rows().clamp(1, cap);
    // Bulk prefetches move 16-byte chunks (the kernels ignore the field below sm_90).
    let steps = hints.split_prefetch_steps.unwrap_or(SPLIT_STREAM_PREFETCH_STEPS) as u64;
    let prefetch_chunks = if variant == Variant::SplitStream && vectorized && p.norm() != NormKind::SkipLayerNorm {
        u32::try_from(steps * SPLIT_STEP_CHUNKS_PER_THREAD * block_threads as u64).unwrap_or(0)
    } else {
        0
    };
    LaunchPlan {
        variant,
        threads_per_row: block_threads,
        block_threads,
        grid_blocks: (clusters * ctas) as u32,
        cluster_ctas: ctas as u32,
        slice_chunks,
        dynamic_smem_bytes: smem,
        prefetch_rows: 0,
        prefetch_chunks,
        vectorized,
        workspace_bytes: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::TLN_MAX_SYNCING_GROUPS;
    use crate::dtype::DType::{self, *};

    const H100: DeviceLimits = DeviceLimits {
        sm_count: 132,
        max_dynamic_smem_per_block: 227 * 1024 - 1024,
        max_cluster_ctas: 16,
        regs_per_sm: 65536,
        max_threads_per_sm: 2048,
        max_blocks_per_sm: 32,
    };
    const TURING: DeviceLimits = DeviceLimits {
        sm_count: 40,
        max_dynamic_smem_per_block: 64 * 1024 - 1024,
        max_cluster_ctas: 1,
        regs_per_sm: 65536,
        max_threads_per_sm: 1024,
        max_blocks_per_sm: 16,
    };

    fn prob(rows: u64, cols: u64, x: DType) -> Problem {
        Problem::new(rows, cols, x, x, Some(x), Some(x), 1e-5).unwrap()
    }

    /// Scale in another type than X's: the general kernels, not `Fast`.
    fn general(rows: u64, cols: u64, x: DType) -> Problem {
        let scale = if x == F32 { F16 } else { F32 };
        Problem::new(rows, cols, x, x, Some(scale), Some(x), 1e-5).unwrap()
    }

    #[test]
    fn fast_needs_vectors_and_scale_and_bias_in_x_type() {
        assert!(fast_eligible(&prob(8, 768, F16), true));
        assert!(!fast_eligible(&prob(8, 768, F16), false));
        assert!(!fast_eligible(&general(8, 768, F16), true));
        assert!(!fast_eligible(&Problem::new(8, 768, F16, F16, Some(F16), None, 1e-5).unwrap(), true));
        assert!(!fast_eligible(&Problem::new(8, 768, F16, F16, None, None, 1e-5).unwrap(), true));
        assert_eq!(plan_with(&prob(8, 768, F16), true, &H100, PlanHints { fast: Some(false), ..Default::default() }).variant.name(), "regs1");
    }

    #[test]
    fn rms_norm_rows_of_1024_chunks_or_more_take_fast4_where_it_fits() {
        let rms = |rows, cols, x| Problem::new(rows, cols, x, x, Some(x), None, 1e-5).unwrap().with_norm(NormKind::RmsNorm).unwrap();
        for (rows, cols, x, name) in [
            (4096, 4096, F16, "fast4"), // fullest_last_wave
            (8192, 8192, F16, "fast4"),
            (16384, 12288, BF16, "fast4"),
            (4096, 16384, F16, "fast4"),
            (4096, 768, F16, "fast4"), // fullest_last_wave
            (4096, 768, F32, "fast4"),
            (4096, 4096, F32, "fast4"),
            (8192, 8192, F32, "fast4"),
            (16384, 12288, F32, "fast8"), // 3072 chunks: fast4 would need 768 threads
        ] {
            assert_eq!(plan(&rms(rows, cols, x), true, &H100).variant.name(), name, "{rows}x{cols} {x}");
        }
        assert_eq!(plan(&prob(16384, 12288, F16), true, &H100).variant.name(), "fast8", "LayerNorm keeps fast8");
    }

    #[test]
    fn rms_norm_takes_fast_kernels_with_scale_in_x_type_and_no_bias() {
        let rms = |scale| Problem::new(4096, 4096, F16, F16, scale, None, 1e-5).unwrap().with_norm(NormKind::RmsNorm).unwrap();
        assert!(fast_eligible(&rms(Some(F16)), true));
        assert_eq!(plan(&rms(Some(F16)), true, &H100).variant.name(), "fast4");
        assert!(!fast_eligible(&rms(Some(F32)), true));
        assert!(!fast_eligible(&rms(None), true));
        assert!(!fast_eligible(&Problem::new(8, 768, F16, F16, Some(F16), None, 1e-5).unwrap(), true), "LayerNorm without bias: general kernels");
    }

    /// Grids of half a wave to four waves take the plan that fills its
    /// waves best (H200, 4096 x 768, 4096 x 4096); shorter and longer grids
    /// keep theirs.
    #[test]
    fn few_wave_grids_take_the_fullest_last_wave() {
        let of = |norm, rows, cols, x| {
            let p = Problem::new(rows, cols, x, x, Some(x), (norm != NormKind::RmsNorm).then_some(x), 1e-5).unwrap().with_norm(norm).unwrap();
            let pl = plan(&p, true, &H100);
            (pl.variant.name(), pl.threads_per_row)
        };
        for (norm, x, want) in [
            (NormKind::LayerNorm, F16, ("fast4", 32)),
            (NormKind::LayerNorm, BF16, ("fast4", 32)),
            (NormKind::LayerNorm, F32, ("fast4", 64)),
            (NormKind::RmsNorm, F16, ("fast4", 32)),
            (NormKind::RmsNorm, F32, ("fast4", 64)),
            (NormKind::SkipLayerNorm, F16, ("fast2", 64)),
            (NormKind::SkipLayerNorm, BF16, ("fast2", 64)),
            (NormKind::SkipLayerNorm, F32, ("fast4", 64)),
        ] {
            assert_eq!(of(norm, 4096, 768, x), want, "{norm:?} 4096x768 {x}");
        }
        // fast8's 2.59 waves against fast4's 3.88 (of 1056 blocks).
        assert_eq!(of(NormKind::LayerNorm, 4096, 4096, F16), ("fast4", 128));
        assert_eq!(of(NormKind::LayerNorm, 8192, 768, F32), ("fast4", 64));
        // Under half a wave, or past four: widest_first's choice.
        assert_eq!(of(NormKind::LayerNorm, 128, 768, F16), ("fast1", 96));
        assert_eq!(of(NormKind::LayerNorm, 512, 1024, F16), ("fast1", 128));
        assert_eq!(of(NormKind::LayerNorm, 8192, 8192, F16), ("fast8", 128));
        assert_eq!(of(NormKind::LayerNorm, 4096, 4096, F32), ("fast8", 128));
    }

    #[test]
    fn fast_rows_per_chunk_count() {
        for (rows, cols, x, name, tpr) in [
            (1, 768, F16, "fast1", 96),
            (1, 4096, F16, "fast2", 256),
            (512, 1024, F16, "fast1", 128),
            (4096, 768, F16, "fast4", 32), // fullest_last_wave
            (4096, 4096, F16, "fast4", 128),
            // 4 rows per SM either way: 8 chunks per thread.
            (8192, 8192, F16, "fast8", 128),
            // 3 rows per SM at 8 chunks per thread, 2 at 4.
            (16384, 12288, BF16, "fast8", 192),
            (4096, 16384, F16, "fast8", 256),
            (4096, 768, F32, "fast4", 64),
            (1, 768, F32, "fast1", 192),
            // A single FP32 row spreads over up to 512 threads.
            (1, 4096, F32, "fast2", 512),
            (8192, 8192, F32, "fast8", 256),
            (4096, 16384, F32, "fast8", 512),
        ] {
            let pl = plan(&prob(rows, cols, x), true, &H100);
            assert_eq!((pl.variant.name(), pl.threads_per_row), (name, tpr), "{rows}x{cols} {x}");
            let rows_per_block = (pl.block_threads / pl.threads_per_row) as u64;
            assert_eq!(pl.grid_blocks as u64, rows.div_ceil(rows_per_block), "{rows}x{cols} {x}: one row group per block");
        }
        // FP32 rows of up to 4096 chunks take fast8; 16-bit rows past 2048 chunks, fast16.
        assert_eq!(plan(&prob(16384, 12288, F32), true, &H100).variant.name(), "fast8");
        for x in [F16, BF16] {
            let pl = plan(&prob(4096, 32768, x), true, &H100);
            assert_eq!((pl.variant.name(), pl.threads_per_row, pl.grid_blocks), ("fast16", 256, 4096), "{x}");
        }
    }

    /// fast16: 16-bit LayerNorm and RMSNorm rows of 2049 to 8192 chunks
    /// when there is a row per SM, without L2 prefetch; not SkipLayerNorm,
    /// FP32 X, the general case or fewer rows than SMs.
    #[test]
    fn fast16_takes_long_16bit_rows_that_fill_the_gpu() {
        for (rows, cols, tpr) in [(256, 65536, 512), (132, 65536, 512), (2048, 32768, 256), (1024, 24576, 192), (4096, 16400, 160)] {
            for x in [F16, BF16] {
                let rms = Problem::new(rows, cols, x, x, Some(x), None, 1e-5).and_then(|p| p.with_norm(NormKind::RmsNorm)).unwrap();
                for p in [prob(rows, cols, x), rms] {
                    let pl = plan(&p, true, &H100);
                    assert_eq!((pl.variant.name(), pl.threads_per_row as usize, pl.prefetch_rows), ("fast16", tpr, 0), "{rows}x{cols} {x} {}", p.norm());
                    assert_eq!(pl.grid_blocks as u64, rows);
                }
            }
        }
        assert_eq!(plan(&prob(4096, 16384, F16), true, &H100).variant.name(), "fast8", "2048 chunks: fast8");
        assert_eq!(plan(&prob(131, 65536, F16), true, &H100).variant, Variant::SplitCached, "fewer rows than SMs");
        assert_ne!(plan(&skip(256, 65536, F16), true, &H100).variant.name(), "fast16");
        assert_ne!(plan(&general(256, 65536, F16), true, &H100).variant.name(), "fast16");
        assert_eq!(plan(&prob(256, 65536 * 2, F16), true, &H100).variant, Variant::SplitCached, "past 8192 chunks");
        assert_eq!(plan(&prob(256, 1 << 17, F32), true, &H100).variant, Variant::SplitCached);
        // Forced: wherever fast16 applies and the row fits; ignored elsewhere.
        let n16 = PlanHints { chunks_per_thread: Some(16), ..Default::default() };
        let pl = plan_with(&prob(64, 768, F16), true, &H100, n16);
        assert_eq!((pl.variant.name(), pl.threads_per_row), ("fast16", 8));
        for p in [prob(64, 768, F32), general(64, 768, F16), skip(64, 768, F16)] {
            assert_eq!(plan_with(&p, true, &H100, n16), plan(&p, true, &H100), "{p:?}");
        }
        let general_kernels = PlanHints { fast: Some(false), ..Default::default() };
        assert_eq!(plan_with(&prob(64, 768, F16), true, &H100, PlanHints { fast: Some(false), ..n16 }), plan_with(&prob(64, 768, F16), true, &H100, general_kernels));
        assert_eq!(plan_with(&prob(64, 768, F16), false, &H100, n16), plan(&prob(64, 768, F16), false, &H100), "scalar chunks");
        // One 512-thread block per SM at 128 registers.
        assert_eq!(fast_rows_per_sm(&H100, F16, 8192, 16, NormKind::LayerNorm), 1);
        assert_eq!(fast_rows_per_sm(&H100, BF16, 4096, 16, NormKind::RmsNorm), 2);
    }

    /// The fast plans prefetch 3/4 of a wave ahead (16-bit fast8: 1/2),
    /// except SkipLayerNorm rows that share an SM; a hint overrides; one
    /// wave's tensor does not.
    #[test]
    fn fast_plans_prefetch_where_measured_to_help() {
        let ln = plan(&prob(8192, 8192, F16), true, &H100);
        assert_eq!(ln.variant.name(), "fast8");
        let resident = fast_rows_per_sm(&H100, F16, 1024, 8, NormKind::LayerNorm) * H100.sm_count as u64;
        assert_eq!(ln.prefetch_rows as u64, resident / 2);
        let f32_rows = plan(&prob(8192, 8192, F32), true, &H100);
        assert_eq!(f32_rows.variant.name(), "fast8");
        let resident = fast_rows_per_sm(&H100, F32, 2048, 8, NormKind::LayerNorm) * H100.sm_count as u64;
        assert_eq!(f32_rows.prefetch_rows as u64, resident * 3 / 4);
        let skip = |rows, cols| prob(rows, cols, F16).with_skip(crate::problem::SkipOptions::default()).unwrap();
        assert_eq!(plan(&skip(8192, 8192), true, &H100).prefetch_rows, 0, "two or more skip rows per SM");
        assert_eq!(plan(&skip(8192, 8192), true, &H100).variant.name(), "fast4", "16-bit skip rows: at most 4 chunks per thread");
        assert!(plan(&skip(4096, 16384), true, &H100).prefetch_rows == 0 || fast_rows_per_sm(&H100, F16, 2048, 4, NormKind::SkipLayerNorm) == 1);
        let hinted = plan_with(&prob(8192, 8192, F16), true, &H100, PlanHints { prefetch_quarters: Some(0), ..Default::default() });
        assert_eq!(hinted.prefetch_rows, 0);
        assert_eq!(plan(&prob(64, 8192, F16), true, &H100).prefetch_rows, 0, "every row in the first wave");
    }

    /// `fast_rows` finds its row without dividing: several rows per block
    /// only with a power-of-two group in a power-of-two block.
    #[test]
    fn fast_blocks_are_one_row_or_powers_of_two() {
        for cols in (8..=16384).step_by(8) {
            for n in [1, 2, 4, 8] {
                let p = prob(1000, cols, F16);
                if let Some(pl) = fast_plan(&p, row_chunks(&p, true), n, true, &H100, Some(0)) {
                    let one_row = pl.block_threads == pl.threads_per_row;
                    assert!(one_row || (pl.threads_per_row.is_power_of_two() && pl.block_threads.is_power_of_two()), "{cols} {n}: {pl:?}");
                }
            }
        }
        assert!(fast_plan(&prob(1 << 40, 8, F16), 1, 1, true, &H100, Some(0)).is_none(), "more than 2^31 - 1 blocks");
        assert_eq!(fast_plan(&prob(1 << 20, 8, F16), 1, 1, true, &H100, Some(0)).map(|pl| pl.grid_blocks), Some(1 << 13));
    }

    #[test]
    fn many_short_rows_take_eight_chunks_per_thread() {
        let pl = plan(&general(4096, 768, F16), true, &H100);
        assert_eq!((pl.variant.name(), pl.threads_per_row, pl.block_threads), ("regs8", 16, 128));
        assert_eq!(pl.grid_blocks, 512);
        let pl = plan(&prob(1000, 1, F32), false, &H100);
        assert_eq!((pl.variant.name(), pl.threads_per_row, pl.block_threads), ("regs1", 1, 128));
        let pl = plan(&prob(100_000, 3, F16), false, &H100);
        assert_eq!((pl.variant.name(), pl.threads_per_row), ("regs4", 1));
    }

    #[test]
    fn few_rows_take_more_threads_per_row() {
        // 512 rows x 128 chunks: 8 per thread would put 8192 threads on 132 SMs.
        let pl = plan(&general(512, 1024, F16), true, &H100);
        assert_eq!((pl.variant.name(), pl.threads_per_row), ("regs1", 128));
        let pl = plan(&general(512, 1024, F32), true, &H100);
        assert_eq!((pl.variant.name(), pl.threads_per_row), ("regs2", 128));
    }

    #[test]
    fn a_single_long_row_takes_at_most_256_threads() {
        let pl = plan(&general(1, 4096, F16), true, &H100);
        assert_eq!((pl.variant.name(), pl.threads_per_row), ("regs2", 256));
        let pl = plan(&general(1, 4096, F32), true, &H100);
        assert_eq!((pl.variant.name(), pl.threads_per_row), ("regs4", 256));
        let pl = plan(&general(1, 768, F16), true, &H100);
        assert_eq!((pl.variant.name(), pl.threads_per_row), ("regs1", 96));
    }

    #[test]
    fn transformer_rows_use_registers() {
        for (cols, x, name, tpr) in [
            (4096, F16, "regs8", 64),
            (8192, F16, "regs8", 128),
            (12288, F16, "regs8", 192),
            (12288, BF16, "regs8", 192),
            (16384, BF16, "regs8", 256),
            (768, F32, "regs8", 32),
            (4096, F32, "regs4", 256),
        ] {
            let pl = plan(&general(4096, cols, x), true, &H100);
            assert_eq!((pl.variant.name(), pl.threads_per_row), (name, tpr), "{cols} {x}");
            assert_eq!(pl.block_threads, tpr.max(128));
            assert_eq!(pl.dynamic_smem_bytes, 0);
        }
    }

    #[test]
    fn grid_tile_hints_take_multiples_of_the_block_up_to_the_default_tile() {
        let p = prob(32, 1 << 20, F16); // 131072 chunks a row
        let tile = |t| grid_plan(&p, 131072, PlanHints { grid_tile_chunks: t, ..Default::default() }).map(|pl| (pl.slice_chunks, pl.grid_blocks));
        assert_eq!(tile(None), Some((GRID_TILE_CHUNKS, 32 * 64)));
        assert_eq!(tile(Some(1024)), Some((1024, 32 * 128)));
        assert_eq!(tile(Some(256)), Some((256, 32 * 512)));
        for ignored in [0, 1000, GRID_TILE_CHUNKS + 256, 1 << 40] {
            assert_eq!(tile(Some(ignored)), tile(None), "{ignored}");
        }
    }

    #[test]
    fn every_plan_is_launchable() {
        for limits in [H100, TURING] {
            for cols in [1, 2, 3, 31, 33, 255, 768, 1000, 4097, 12288, 65536, 100_003, 1 << 20, 1 << 24] {
                for rows in [1, 7, 1024, 1 << 20] {
                    for (x, vec) in [(F16, true), (F16, false), (F32, true), (BF16, false)] {
                        let pl = plan(&prob(rows, cols, x), vec, &limits);
                        let ctx = format!("{rows}x{cols} {x} vec={vec}: {pl:?}");
                        assert!(pl.block_threads >= 1 && pl.block_threads <= TLN_MAX_THREADS_PER_BLOCK, "{ctx}");
                        assert_eq!(pl.block_threads % pl.threads_per_row, 0, "{ctx}");
                        assert!(pl.threads_per_row <= 32 || pl.block_threads / pl.threads_per_row <= TLN_MAX_SYNCING_GROUPS, "{ctx}");
                        assert!(pl.threads_per_row < 32 && pl.threads_per_row.is_power_of_two() || pl.threads_per_row % 32 == 0, "{ctx}");
                        assert!(pl.grid_blocks >= 1 && pl.grid_blocks % pl.cluster_ctas == 0, "{ctx}");
                        assert!(pl.cluster_ctas <= limits.max_cluster_ctas, "{ctx}");
                        assert!(pl.dynamic_smem_bytes <= limits.max_dynamic_smem_per_block, "{ctx}");
                        let chunks = row_chunks(&prob(rows, cols, x), vec);
                        match pl.variant {
                            Variant::Regs { chunks_per_thread } => assert!(pl.threads_per_row as u64 * chunks_per_thread as u64 >= chunks, "{ctx}"),
                            Variant::Grid => {
                                assert_eq!(pl.slice_chunks, pl.block_threads as u64 * TLN_GRID_CHUNKS_PER_THREAD as u64, "{ctx}");
                                assert_eq!(pl.grid_blocks as u64, rows * chunks.div_ceil(pl.slice_chunks), "{ctx}");
                                assert_eq!(pl.workspace_bytes, pl.grid_blocks as u64 * GRID_PARTIAL_BYTES, "{ctx}");
                                assert!(vec && pl.block_threads == TLN_GRID_THREADS, "{ctx}");
                            }
                            _ => assert!(pl.slice_chunks * pl.cluster_ctas as u64 >= chunks, "{ctx}"),
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn long_16bit_rows_split_into_cached_slices() {
        for (rows, cols, ctas) in [(4096, 16384, 1), (2048, 32768, 2)] {
            let pl = plan(&general(rows, cols, F16), true, &H100);
            assert_eq!((pl.variant, pl.cluster_ctas, pl.dynamic_smem_bytes), (Variant::SplitCached, ctas, 32 * 1024), "{rows}x{cols}");
        }
    }

    #[test]
    fn many_rows_take_32kb_cached_slices_few_rows_stream() {
        let pl = plan(&general(2048, 32768, F16), true, &H100);
        assert_eq!((pl.variant, pl.cluster_ctas, pl.dynamic_smem_bytes), (Variant::SplitCached, 2, 32 * 1024));
        // FP32: 32 KB slices, over as many blocks as that takes.
        let pl = plan(&prob(2048, 32768, F32), true, &H100);
        assert_eq!((pl.variant, pl.cluster_ctas, pl.dynamic_smem_bytes), (Variant::SplitCached, 4, 32 * 1024));
        let pl = plan(&prob(256, 65536, F32), true, &H100);
        assert_eq!((pl.variant, pl.cluster_ctas, pl.dynamic_smem_bytes), (Variant::SplitCached, 8, 32 * 1024));
        assert_eq!(plan(&prob(2048, 32768, F32), false, &H100).variant, Variant::SplitCached, "scalar chunks: not measured");
        let pl = plan_with(&prob(32, 1 << 20, F16), true, &H100, no_grid());
        assert_eq!((pl.variant, pl.cluster_ctas), (Variant::SplitStream, 8));
    }

    /// The split plans where the grid variant would be the default.
    fn no_grid() -> PlanHints {
        PlanHints { grid: Some(false), ..Default::default() }
    }

    /// BF16 rows of 2048 chunks stay in regs8; longer ones take the split or
    /// grid variants, as FP16's (SkipLayerNorm and the general case: fast16
    /// takes LayerNorm's).
    #[test]
    fn bf16_general_rows_past_2048_chunks_split() {
        for x in [F16, BF16] {
            assert_eq!(plan(&general(4096, 16384, x), true, &H100).variant.name(), if x == BF16 { "regs8" } else { "split_cached" }, "{x}");
            for p in [general(1024, 24576, x), skip(1024, 24576, x), skip(4096, 20480, x)] {
                assert!(!matches!(plan(&p, true, &H100).variant, Variant::Regs { .. } | Variant::Fast { .. }), "{p:?}");
            }
        }
    }

    #[test]
    fn long_fp32_rows_split() {
        let pl = plan(&general(8192, 8192, F32), true, &H100);
        assert_eq!((pl.variant, pl.cluster_ctas), (Variant::SplitCached, 1));
        let pl = plan(&general(4096, 768, F32), true, &H100);
        assert_eq!((pl.variant.name(), pl.threads_per_row), ("regs8", 32));
    }

    #[test]
    fn few_long_rows_split_over_clusters() {
        let pl = plan(&general(256, 65536, F16), true, &H100);
        assert_eq!((pl.variant, pl.cluster_ctas), (Variant::SplitCached, 4));
        assert_eq!((pl.dynamic_smem_bytes, pl.block_threads), (32 * 1024, 256));
        let pl = plan_with(&prob(64, 1 << 18, F16), true, &H100, no_grid());
        assert_eq!((pl.variant, pl.cluster_ctas, pl.dynamic_smem_bytes), (Variant::SplitCached, 16, 32 * 1024));
        // A 128 KiB slice per block would leave one block per SM: stream instead.
        let pl = plan_with(&prob(32, 1 << 20, F16), true, &H100, no_grid());
        assert_eq!((pl.variant, pl.cluster_ctas, pl.dynamic_smem_bytes), (Variant::SplitStream, 8, 0));
        let pl = plan_with(&prob(32, 1 << 20, F32), true, &H100, no_grid());
        assert_eq!((pl.variant, pl.cluster_ctas), (Variant::SplitStream, 8));
    }

    /// Streaming forced where shared memory would hold the slice.
    #[test]
    fn forced_streaming() {
        let streamed = plan_with(&prob(256, 65536, F16), true, &H100, PlanHints { split_stream: true, ..Default::default() });
        assert_eq!((streamed.variant, streamed.cluster_ctas, streamed.dynamic_smem_bytes), (Variant::SplitStream, 4, 0));
        let short = plan_with(&prob(256, 768, F16), true, &H100, PlanHints { split_stream: true, ..Default::default() });
        assert_eq!(short.variant, Variant::SplitStream, "a forced stream asks for the split variants");
    }

    fn skip(rows: u64, cols: u64, x: DType) -> Problem {
        prob(rows, cols, x).with_skip(crate::problem::SkipOptions::default()).unwrap()
    }

    #[test]
    fn grid_takes_few_long_rows_and_skip_rows_of_two_tiles() {
        for x in [F16, BF16, F32] {
            // LayerNorm and RMSNorm: at most half as many rows as SMs, four tiles or more.
            let pl = plan(&prob(32, 1 << 20, x), true, &H100);
            let tiles = (1u64 << 20) * x.size_bytes() as u64 / VECTOR_BYTES / GRID_TILE_CHUNKS;
            assert_eq!((pl.variant, pl.grid_blocks as u64, pl.workspace_bytes), (Variant::Grid, 32 * tiles, 32 * tiles * GRID_PARTIAL_BYTES), "{x}");
            assert_eq!(plan(&prob(66, 1 << 17, x), true, &H100).variant, Variant::Grid, "{x}");
            assert_ne!(plan(&prob(67, 1 << 17, x), true, &H100).variant, Variant::Grid, "{x}: more rows keep the split plans");
            assert_ne!(plan(&prob(256, 65536, x), true, &H100).variant, Variant::Grid, "{x}");
            assert_ne!(plan(&prob(32, 1 << 20, x), false, &H100).variant, Variant::Grid, "{x}: 16-byte chunks only");
            let rms = Problem::new(8, 1 << 20, x, x, Some(x), None, 1e-5).unwrap().with_norm(NormKind::RmsNorm).unwrap();
            assert_eq!(plan(&rms, true, &H100).variant, Variant::Grid, "{x}");
            // SkipLayerNorm: rows of two tiles or more, as many as the grid's blocks allow.
            assert_eq!(plan(&skip(2048, 32768, x), true, &H100).variant, Variant::Grid, "{x}");
            assert_eq!(plan(&skip(256, 65536, x), true, &H100).variant, Variant::Grid, "{x}");
            assert_ne!(plan(&skip(1 << 16, 65536, x), true, &H100).variant, Variant::Grid, "{x}: past GRID_MAX_BLOCKS");
        }
        // Rows the register kernels hold never take it by default.
        assert_ne!(plan(&skip(4096, 16384, F32), true, &H100).variant, Variant::Grid);
        assert_ne!(plan(&skip(4096, 16384, F16), true, &H100).variant, Variant::Grid);
        // Forced, it serves any vectorized row; refused, the split plan runs.
        assert_eq!(plan_with(&prob(3, 768, F16), true, &H100, PlanHints { grid: Some(true), ..Default::default() }).variant, Variant::Grid);
        assert_ne!(plan_with(&prob(32, 1 << 20, F16), true, &H100, no_grid()).variant, Variant::Grid);
    }

    #[test]
    fn grid_workspace_bound_covers_every_smaller_launch() {
        for x in [F16, BF16, F32] {
            for (rows, cols) in [(1u64, 1u64 << 20), (32, 1 << 20), (2048, 32768), (100_000, 65536), (7, 8)] {
                let bound = grid_workspace_bound(rows, cols, x);
                assert!(bound <= GRID_MAX_WORKSPACE_BYTES);
                for (r, c) in [(rows, cols), (rows / 2, cols), (rows, cols / 2), (1, cols)] {
                    for p in [prob(r.max(1), c.max(1), x), skip(r.max(1), c.max(1), x)] {
                        let need = plan(&p, true, &H100).workspace_bytes;
                        assert!(need <= bound, "{x} {r}x{c}: needs {need}, bound for {rows}x{cols} is {bound}");
                    }
                }
            }
        }
        assert_eq!(grid_workspace_bound(4096, 768, F16), 0, "rows of one tile never take the grid by default");
        // Across alignment too: an unaligned row's bound covers the aligned, shorter rows below it.
        for x in [F16, BF16, F32] {
            let bound = grid_workspace_bound(8, 65537, x);
            for c in [65536, 65528, 65520] {
                let need = plan(&prob(8, c, x), true, &H100).workspace_bytes;
                assert!(need > 0 && need <= bound, "{x} 8x{c}: needs {need}, bound for 8x65537 is {bound}");
            }
        }
    }

    #[test]
    fn skip_layer_norm_rows_that_fill_the_gpu_stream_in_one_wave() {
        for x in [F16, BF16, F32] {
            let skip = prob(256, 65536, x).with_skip(crate::problem::SkipOptions::default()).unwrap();
            let pl = plan_with(&skip, true, &H100, no_grid());
            assert_eq!((pl.variant, pl.cluster_ctas, pl.grid_blocks, pl.prefetch_chunks), (Variant::SplitStream, 2, 512, 0), "{x}");
        }
        // More rows than one wave holds at two blocks each: the cached slice, as before.
        let skip = prob(2048, 32768, F16).with_skip(crate::problem::SkipOptions::default()).unwrap();
        assert_eq!(plan_with(&skip, true, &H100, no_grid()).variant, Variant::SplitCached);
        let rms = Problem::new(256, 65536, F32, F32, Some(F32), None, 1e-5).unwrap().with_norm(NormKind::RmsNorm).unwrap();
        assert_eq!((plan(&rms, true, &H100).variant, plan(&rms, true, &H100).cluster_ctas), (Variant::SplitCached, 8));
    }

    #[test]
    fn streamed_slices_prefetch_one_step_ahead_except_skip_layer_norm() {
        let pl = plan_with(&prob(32, 1 << 20, F16), true, &H100, no_grid());
        assert_eq!((pl.variant, pl.prefetch_chunks), (Variant::SplitStream, SPLIT_STREAM_PREFETCH_STEPS * 4 * pl.block_threads));
        let none = plan_with(&prob(32, 1 << 20, F16), true, &H100, PlanHints { split_prefetch_steps: Some(0), ..no_grid() });
        assert_eq!(none.prefetch_chunks, 0);
        assert_eq!(plan(&prob(32, 1 << 20, F16), false, &H100).prefetch_chunks, 0, "scalar chunks: no bulk prefetch");
        let skip = prob(32, 1 << 20, F16).with_skip(crate::problem::SkipOptions::default()).unwrap();
        assert_eq!(plan_with(&skip, true, &H100, no_grid()).prefetch_chunks, 0);
        assert_eq!(plan(&prob(256, 65536, F16), true, &H100).prefetch_chunks, 0, "cached slices");
    }

    #[test]
    fn no_clusters_before_hopper() {
        let pl = plan(&prob(32, 1 << 20, F16), true, &TURING);
        assert_eq!((pl.variant, pl.cluster_ctas), (Variant::SplitStream, 1));
        let pl = plan(&prob(64, 20000, F16), false, &TURING);
        assert_eq!((pl.variant, pl.cluster_ctas), (Variant::SplitCached, 1));
    }

    #[test]
    fn forced_chunks_per_thread() {
        let p = general(4096, 4096, F16);
        let n = |n| PlanHints { chunks_per_thread: Some(n), ..Default::default() };
        assert_eq!(plan_with(&p, true, &H100, n(4)).variant, Variant::Regs { chunks_per_thread: 4 });
        assert_eq!(plan_with(&p, true, &H100, n(4)).threads_per_row, 128);
        assert_eq!(plan_with(&p, true, &H100, n(1)).variant, Variant::Regs { chunks_per_thread: 1 }, "512 threads x 1 chunk holds 512 chunks");
        assert_eq!(plan_with(&p, true, &H100, n(3)), plan(&p, true, &H100), "3 is not compiled");
        assert!(!matches!(plan_with(&prob(8, 1 << 20, F16), true, &H100, n(8)).variant, Variant::Regs { .. }), "too long for registers");
    }

    #[test]
    fn forced_cluster_sizes() {
        let c = |c| PlanHints { cluster_ctas: Some(c), ..Default::default() };
        let p = general(256, 65536, F16);
        let pl = plan_with(&p, true, &H100, c(8));
        assert_eq!((pl.variant, pl.cluster_ctas, pl.slice_chunks), (Variant::SplitCached, 8, 1024));
        assert_eq!(plan_with(&p, true, &H100, c(32)), plan(&p, true, &H100), "beyond the device's clusters");
        assert_eq!(plan_with(&p, true, &H100, c(3)), plan(&p, true, &H100), "not a power of two");
        assert_eq!(plan_with(&p, true, &TURING, c(2)).cluster_ctas, 1, "no clusters before Hopper");
    }

    #[test]
    fn vectorization_needs_every_pointer_and_row_aligned() {
        let p = prob(2, 768, F16);
        let ptrs = DevicePtrs { x: 0x100, y: 0x200, scale: 0x300, bias: 0x400, ..DevicePtrs::default() };
        assert!(can_vectorize(&p, &ptrs));
        assert!(!can_vectorize(&p, &DevicePtrs { x: 0x102, ..ptrs }));
        assert!(!can_vectorize(&p, &DevicePtrs { bias: 0x408, ..ptrs }));
        assert!(!can_vectorize(&prob(2, 769, F16), &ptrs));
        assert!(!can_vectorize(&prob(2, 4, F16), &ptrs), "8-byte rows are not 16-byte aligned");
        let no_affine = Problem::new(2, 768, F16, F32, None, None, 1e-5).unwrap();
        assert!(can_vectorize(&no_affine, &DevicePtrs { scale: 0, bias: 0, ..ptrs }));
    }
}
