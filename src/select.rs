//! Which kernel variant runs, with how many threads per row, on which grid.
//! A pure function of the problem, the pointers' alignment and the device's
//! limits, so every decision is unit-tested on the CPU.

use crate::abi::TLN_MAX_THREADS_PER_BLOCK;
use crate::problem::{DevicePtrs, Problem};

/// What the selection needs to know about the GPU (read once per context).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceLimits {
    pub sm_count: u32,
    /// Dynamic shared memory one block may use after opting in, minus the kernels' static use.
    pub max_dynamic_smem_per_block: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// Row cached in shared memory: X read from DRAM once.
    Cached,
    /// No cache: each of the three passes re-reads X (from L2 when it fits).
    Stream,
}

impl Variant {
    pub fn name(self) -> &'static str {
        match self {
            Variant::Cached => "cached",
            Variant::Stream => "stream",
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
    pub dynamic_smem_bytes: u32,
    pub row_cache_bytes: u32,
    pub vectorized: bool,
}

/// Bytes one thread moves per access on the vectorized path.
pub const VECTOR_BYTES: u64 = 16;
/// Chunks (16-byte vectors, or single elements on the scalar path) each thread
/// should own: enough independent loads in flight, few enough to keep rows short.
const CHUNKS_PER_THREAD: u64 = 4;
/// Smallest block launched: fewer threads per SM slot would waste the scheduler.
const MIN_BLOCK_THREADS: u32 = 128;
/// Blocks per SM the grid is sized for before rows are strided over.
const BLOCKS_PER_SM_IN_GRID: u64 = 32;

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

pub fn plan(p: &Problem, vectorized: bool, limits: &DeviceLimits) -> LaunchPlan {
    let elems_per_chunk = if vectorized { VECTOR_BYTES / p.x_dtype().size_bytes() as u64 } else { 1 };
    let chunks = p.cols() / elems_per_chunk;
    let max_tpr = TLN_MAX_THREADS_PER_BLOCK as u64;
    let threads_per_row = chunks.div_ceil(CHUNKS_PER_THREAD).next_power_of_two().min(max_tpr) as u32;
    let block_threads = threads_per_row.max(MIN_BLOCK_THREADS);
    let rows_per_block = (block_threads / threads_per_row) as u64;

    let row_cache_bytes = (p.cols() * p.x_dtype().size_bytes() as u64).next_multiple_of(VECTOR_BYTES);
    let cached_smem = row_cache_bytes * rows_per_block;
    let (variant, dynamic_smem_bytes, row_cache_bytes) = if cached_smem <= limits.max_dynamic_smem_per_block as u64 {
        (Variant::Cached, cached_smem as u32, row_cache_bytes as u32)
    } else {
        (Variant::Stream, 0, 0)
    };

    let row_groups = p.rows().div_ceil(rows_per_block);
    let grid_cap = (limits.sm_count as u64 * BLOCKS_PER_SM_IN_GRID).max(1);
    let grid_blocks = row_groups.clamp(1, grid_cap) as u32;

    LaunchPlan {
        variant,
        threads_per_row,
        block_threads,
        grid_blocks,
        dynamic_smem_bytes,
        row_cache_bytes,
        vectorized,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::DType::{self, *};

    const H100: DeviceLimits = DeviceLimits { sm_count: 132, max_dynamic_smem_per_block: 227 * 1024 - 2048 };

    fn prob(rows: u64, cols: u64, x: DType) -> Problem {
        Problem::new(rows, cols, x, x, Some(x), Some(x), 1e-5).unwrap()
    }

    #[test]
    fn small_rows_pack_several_per_block() {
        let pl = plan(&prob(4096, 768, F16), true, &H100);
        assert_eq!(pl.variant, Variant::Cached);
        assert_eq!(pl.threads_per_row, 32);
        assert_eq!(pl.block_threads, 128);
        assert_eq!(pl.dynamic_smem_bytes, 4 * 768 * 2);
        assert_eq!(pl.grid_blocks, 1024);
    }

    #[test]
    fn a_hidden_size_of_one_uses_one_thread_per_row() {
        let pl = plan(&prob(1000, 1, F32), false, &H100);
        assert_eq!((pl.threads_per_row, pl.block_threads), (1, 128));
        assert_eq!(pl.grid_blocks, 8);
        assert_eq!(pl.row_cache_bytes, 16);
    }

    #[test]
    fn thread_count_is_a_power_of_two_dividing_the_block() {
        for cols in [1, 2, 3, 31, 33, 255, 1000, 4097, 12288, 100_003, 1 << 20] {
            for vec in [false, true] {
                let pl = plan(&prob(7, cols, BF16), vec, &H100);
                assert!(pl.threads_per_row.is_power_of_two());
                assert!(pl.threads_per_row <= TLN_MAX_THREADS_PER_BLOCK);
                assert_eq!(pl.block_threads % pl.threads_per_row, 0);
                assert!(pl.grid_blocks >= 1);
                assert!(pl.dynamic_smem_bytes <= H100.max_dynamic_smem_per_block);
            }
        }
    }

    #[test]
    fn rows_too_long_for_shared_memory_stream() {
        assert_eq!(plan(&prob(32, 1 << 20, F16), true, &H100).variant, Variant::Stream);
        assert_eq!(plan(&prob(32, 65536, F32), true, &H100).variant, Variant::Stream);
        assert_eq!(plan(&prob(32, 65536, F16), true, &H100).variant, Variant::Cached);
    }

    #[test]
    fn grid_is_capped_and_strides() {
        let pl = plan(&prob(1 << 24, 64, F16), true, &H100);
        assert_eq!(pl.grid_blocks as u64, 132 * BLOCKS_PER_SM_IN_GRID);
        assert_eq!(plan(&prob(0, 64, F16), true, &H100).grid_blocks, 1);
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
