//! Which kernel variant runs, with how many threads per row, on which grid.
//! A pure function of the problem, the pointers' alignment and the device's
//! limits, so every decision is unit-tested on the CPU.
//!
//! - `Regs`: rows of up to [`REGS_MAX_CHUNKS`] chunks live in registers, a
//!   group of threads per row, several rows per block: X is read once and no
//!   shared memory is touched. N chunks per thread, N in {1, 2, 4, 8}.
//! - `SplitCached`: longer rows (or few rows) are split over a cluster of
//!   blocks, each keeping its slice in shared memory: X is still read once.
//! - `SplitStream`: slices too large for shared memory are re-read by the
//!   later passes (from L2 when the working set fits).

use crate::abi::{TLN_MAX_CLUSTER_CTAS, TLN_MAX_THREADS_PER_BLOCK};
use crate::problem::{DevicePtrs, Problem};

/// What the selection needs to know about the GPU (read once per context).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceLimits {
    pub sm_count: u32,
    /// Dynamic shared memory one block may use after opting in, minus the kernels' static use.
    pub max_dynamic_smem_per_block: u32,
    /// Largest thread-block cluster the split kernels can be launched with (1: no clusters).
    pub max_cluster_ctas: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    Regs { chunks_per_thread: u32 },
    SplitCached,
    SplitStream,
}

impl Variant {
    pub fn name(self) -> &'static str {
        match self {
            Variant::Regs { chunks_per_thread: 1 } => "regs1",
            Variant::Regs { chunks_per_thread: 2 } => "regs2",
            Variant::Regs { chunks_per_thread: 4 } => "regs4",
            Variant::Regs { .. } => "regs8",
            Variant::SplitCached => "split_cached",
            Variant::SplitStream => "split_stream",
        }
    }
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
}

/// Bytes one thread moves per access on the vectorized path.
pub const VECTOR_BYTES: u64 = 16;
/// Chunks per thread the register variants are compiled for.
pub const REGS_CHUNKS_PER_THREAD: [u32; 4] = [1, 2, 4, 8];
/// Longest row (in chunks) the register variants hold: 512 threads x 8 chunks.
pub const REGS_MAX_CHUNKS: u64 = TLN_MAX_THREADS_PER_BLOCK as u64 * 8;
/// Blocks of fewer threads waste scheduler slots; row groups are packed up to this.
const MIN_BLOCK_THREADS: u32 = 128;
/// Chunks each thread of a split block should own at least (loads in flight).
const SPLIT_CHUNKS_PER_THREAD: u64 = 4;
/// A split block's slice is not made smaller than this many chunks (8 KiB vectorized):
/// below it the cluster barriers cost more than the extra parallelism gains.
const SPLIT_MIN_SLICE_CHUNKS: u64 = 512;
/// Grid caps, in blocks per SM, before blocks stride over rows.
const REGS_BLOCKS_PER_SM: u64 = 64;
const SPLIT_CLUSTERS_PER_SM: u64 = 8;

/// 16-byte accesses are legal when every base address and every row start is 16-byte aligned.
pub fn can_vectorize(p: &Problem, ptrs: &DevicePtrs) -> bool {
    let aligned = |addr: u64| addr % VECTOR_BYTES == 0;
    let row_bytes_aligned = |size: usize| (p.cols() * size as u64) % VECTOR_BYTES == 0;
    aligned(ptrs.x)
        && aligned(ptrs.y)
        && aligned(ptrs.scale)
        && aligned(ptrs.bias)
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

/// The plan the kernels use.
pub fn plan(p: &Problem, vectorized: bool, limits: &DeviceLimits) -> LaunchPlan {
    plan_with(p, vectorized, limits, None)
}

/// [`plan`], with the register variant's chunks per thread forced (benchmark
/// sweeps); a value that cannot hold the row falls back to the default choice.
pub fn plan_with(p: &Problem, vectorized: bool, limits: &DeviceLimits, chunks_per_thread: Option<u32>) -> LaunchPlan {
    let chunks = row_chunks(p, vectorized);
    let forced = chunks_per_thread.filter(|n| REGS_CHUNKS_PER_THREAD.contains(n) && regs_threads_per_row(chunks, *n).is_some());
    match forced.or_else(|| default_regs_chunks_per_thread(chunks)) {
        Some(n) => regs_plan(p, chunks, n, vectorized, limits),
        None => split_plan(p, chunks, vectorized, limits),
    }
}

/// Threads per row for N chunks each: a power of two up to a warp (so the
/// reduction is a sub-warp butterfly), whole warps beyond; None past 512.
fn regs_threads_per_row(chunks: u64, n: u32) -> Option<u32> {
    let t = chunks.div_ceil(n as u64).max(1);
    let t = if t <= 32 { t.next_power_of_two() } else { t.next_multiple_of(32) };
    (t <= TLN_MAX_THREADS_PER_BLOCK as u64).then_some(t as u32)
}

/// Rows of up to a warp's worth of 8 chunks stay within one warp (no block
/// barriers); longer rows take 2 chunks per thread while a block can hold
/// them (64 registers, two blocks per SM), then 4, then 8.
fn default_regs_chunks_per_thread(chunks: u64) -> Option<u32> {
    if chunks <= 32 * 8 {
        return REGS_CHUNKS_PER_THREAD.into_iter().find(|&n| chunks.div_ceil(n as u64) <= 32);
    }
    [2, 4, 8].into_iter().find(|&n| regs_threads_per_row(chunks, n).is_some())
}

fn regs_plan(p: &Problem, chunks: u64, n: u32, vectorized: bool, limits: &DeviceLimits) -> LaunchPlan {
    let threads_per_row = regs_threads_per_row(chunks, n).expect("caller checked the row fits");
    let rows_per_block = (MIN_BLOCK_THREADS / threads_per_row).max(1);
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
    }
}

fn split_plan(p: &Problem, chunks: u64, vectorized: bool, limits: &DeviceLimits) -> LaunchPlan {
    let bytes = chunk_bytes(p, vectorized);
    let max_ctas = limits.max_cluster_ctas.clamp(1, TLN_MAX_CLUSTER_CTAS) as u64;
    let slice = |ctas: u64| chunks.div_ceil(ctas);
    let budget = limits.max_dynamic_smem_per_block as u64;

    // Enough blocks to fill the GPU twice over when there are few rows...
    let mut ctas = 1;
    while ctas < max_ctas && p.rows() * ctas < 2 * limits.sm_count as u64 && slice(ctas * 2) >= SPLIT_MIN_SLICE_CHUNKS {
        ctas *= 2;
    }
    // ...and as many as it takes for a slice to fit shared memory.
    while ctas < max_ctas && slice(ctas) * bytes > budget {
        ctas *= 2;
    }
    let slice_chunks = slice(ctas);
    let cached = slice_chunks * bytes <= budget;
    let block_threads = slice_chunks.div_ceil(SPLIT_CHUNKS_PER_THREAD).next_multiple_of(32).clamp(32, TLN_MAX_THREADS_PER_BLOCK as u64) as u32;
    let clusters = p.rows().clamp(1, limits.sm_count as u64 * SPLIT_CLUSTERS_PER_SM);
    LaunchPlan {
        variant: if cached { Variant::SplitCached } else { Variant::SplitStream },
        threads_per_row: block_threads,
        block_threads,
        grid_blocks: (clusters * ctas) as u32,
        cluster_ctas: ctas as u32,
        slice_chunks,
        dynamic_smem_bytes: if cached { (slice_chunks * bytes) as u32 } else { 0 },
        vectorized,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::DType::{self, *};

    const H100: DeviceLimits = DeviceLimits { sm_count: 132, max_dynamic_smem_per_block: 227 * 1024 - 1024, max_cluster_ctas: 16 };
    const TURING: DeviceLimits = DeviceLimits { sm_count: 40, max_dynamic_smem_per_block: 64 * 1024 - 1024, max_cluster_ctas: 1 };

    fn prob(rows: u64, cols: u64, x: DType) -> Problem {
        Problem::new(rows, cols, x, x, Some(x), Some(x), 1e-5).unwrap()
    }

    #[test]
    fn small_rows_stay_within_a_warp() {
        let pl = plan(&prob(4096, 768, F16), true, &H100);
        assert_eq!(pl.variant, Variant::Regs { chunks_per_thread: 4 });
        assert_eq!((pl.threads_per_row, pl.block_threads), (32, 128));
        assert_eq!(pl.grid_blocks, 1024);
        let pl = plan(&prob(1000, 1, F32), false, &H100);
        assert_eq!((pl.variant.name(), pl.threads_per_row, pl.block_threads), ("regs1", 1, 128));
        let pl = plan(&prob(7, 33, F16), false, &H100);
        assert_eq!((pl.variant.name(), pl.threads_per_row), ("regs2", 32));
    }

    #[test]
    fn transformer_rows_use_registers() {
        for (cols, x, name, tpr) in [(4096, F16, "regs2", 256), (8192, F16, "regs2", 512), (12288, F16, "regs4", 384), (16384, F16, "regs4", 512), (16384, F32, "regs8", 512)] {
            let pl = plan(&prob(4096, cols, x), true, &H100);
            assert_eq!((pl.variant.name(), pl.threads_per_row), (name, tpr), "{cols} {x}");
            assert_eq!(pl.block_threads, tpr);
            assert_eq!(pl.dynamic_smem_bytes, 0);
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
                        assert!(pl.threads_per_row < 32 && pl.threads_per_row.is_power_of_two() || pl.threads_per_row % 32 == 0, "{ctx}");
                        assert!(pl.grid_blocks >= 1 && pl.grid_blocks % pl.cluster_ctas == 0, "{ctx}");
                        assert!(pl.cluster_ctas <= limits.max_cluster_ctas, "{ctx}");
                        assert!(pl.dynamic_smem_bytes <= limits.max_dynamic_smem_per_block, "{ctx}");
                        let chunks = row_chunks(&prob(rows, cols, x), vec);
                        match pl.variant {
                            Variant::Regs { chunks_per_thread } => assert!(pl.threads_per_row as u64 * chunks_per_thread as u64 >= chunks, "{ctx}"),
                            _ => assert!(pl.slice_chunks * pl.cluster_ctas as u64 >= chunks, "{ctx}"),
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn few_long_rows_split_over_clusters() {
        let pl = plan(&prob(256, 65536, F16), true, &H100);
        assert_eq!((pl.variant, pl.cluster_ctas), (Variant::SplitCached, 2));
        assert_eq!(pl.dynamic_smem_bytes, 64 * 1024);
        let pl = plan(&prob(32, 1 << 20, F16), true, &H100);
        assert_eq!((pl.variant, pl.cluster_ctas, pl.dynamic_smem_bytes), (Variant::SplitCached, 16, 128 * 1024));
        let pl = plan(&prob(32, 1 << 20, F32), true, &H100);
        assert_eq!((pl.variant, pl.cluster_ctas), (Variant::SplitStream, 16));
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
        let p = prob(4096, 4096, F16);
        assert_eq!(plan_with(&p, true, &H100, Some(4)).variant, Variant::Regs { chunks_per_thread: 4 });
        assert_eq!(plan_with(&p, true, &H100, Some(4)).threads_per_row, 128);
        assert_eq!(plan_with(&p, true, &H100, Some(1)).variant, Variant::Regs { chunks_per_thread: 1 }, "512 threads x 1 chunk holds 512 chunks");
        assert_eq!(plan_with(&p, true, &H100, Some(3)), plan(&p, true, &H100), "3 is not compiled");
        assert_eq!(plan_with(&prob(8, 1 << 20, F16), true, &H100, Some(8)).variant, Variant::SplitCached, "too long for registers");
    }

    #[test]
    fn vectorization_needs_every_pointer_and_row_aligned() {
        let p = prob(2, 768, F16);
        let ptrs = DevicePtrs { x: 0x100, y: 0x200, scale: 0x300, bias: 0x400 };
        assert!(can_vectorize(&p, &ptrs));
        assert!(!can_vectorize(&p, &DevicePtrs { x: 0x102, ..ptrs }));
        assert!(!can_vectorize(&p, &DevicePtrs { bias: 0x408, ..ptrs }));
        assert!(!can_vectorize(&prob(2, 769, F16), &ptrs));
        assert!(!can_vectorize(&prob(2, 4, F16), &ptrs), "8-byte rows are not 16-byte aligned");
        let no_affine = Problem::new(2, 768, F16, F32, None, None, 1e-5).unwrap();
        assert!(can_vectorize(&no_affine, &DevicePtrs { scale: 0, bias: 0, ..ptrs }));
    }
}
