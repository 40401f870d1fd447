/*
 * The one definition of what crosses from Rust into the LayerNorm kernels.
 *
 * Read by nvcc (kernels/layernorm.cu) and by bindgen (build.rs -> src/abi.rs),
 * so the launch parameters and dtype codes cannot drift between the two sides.
 * Plain C: no C++ features, fixed-width types only.
 */
#ifndef TRT_LAYERNORM_ABI_H
#define TRT_LAYERNORM_ABI_H

#include <stdint.h>

/* Bumped whenever TlnParams or the kernel naming below changes. */
#define TLN_ABI_VERSION 8

/* Element types. The codes are part of the ABI; never renumber. */
typedef enum TlnDType {
    TLN_DTYPE_F32 = 0,
    TLN_DTYPE_F16 = 1,
    TLN_DTYPE_BF16 = 2,
} TlnDType;

/* Which normalization (TlnParams::norm). The codes are part of the ABI; never renumber. */
typedef enum TlnNorm {
    TLN_NORM_LAYER = 0, /* (x - mean) / sqrt(var + eps) * scale + bias */
    TLN_NORM_RMS = 1,   /* x / sqrt(mean(x^2) + eps) * scale; bias is null */
    TLN_NORM_SKIP_LAYER = 2, /* LayerNorm of s = (x + residual_bias) + skip, each add rounded in X's type */
} TlnNorm;

/*
 * Kernel variants. Exported kernels are named
 *   tln_regs<N>_<x>_<y>     N in {1, 2, 4, 8}: rows held in registers, N chunks per thread;
 *                           several rows per block (blockDim.x / threads_per_row).
 *   tln_fast<N>_<x>_<y>     N in {1, 2, 4, 8}: the register rows of the common case alone
 *                           (vectorized, scale and bias both present in X's type), one row
 *                           group per block: gridDim.x * rows per block >= rows.
 *   tln_split_cached_<x>_<y> one row per cluster of `cluster_ctas` blocks (1 on GPUs
 *                           without clusters), each block's slice of the row held in
 *                           dynamic shared memory (slice_chunks chunks).
 *   tln_split_stream_<x>_<y> the same without the shared-memory slice: later passes
 *                           re-read the slice (from L2 when it fits).
 *   tln_gridstats_<x>, tln_gridnorm_<x>_<y>  the grid variant's two launches: a row split
 *                           over plain blocks of slice_chunks 16-byte chunks (TLN_GRID_CHUNKS_PER_THREAD
 *                           per thread), one block per tile, gridDim.x = rows * tiles in both; the
 *                           first writes each tile's partial statistics (two doubles) to `workspace`,
 *                           the second merges a row's partials and writes Y.
 * with x in {f32, f16, bf16} and y in {x's type, f32}. A chunk is 16 bytes of X
 * when `vectorized`, one element otherwise.
 */
typedef enum TlnVariant {
    TLN_VARIANT_REGS = 0,
    TLN_VARIANT_SPLIT_CACHED = 1,
    TLN_VARIANT_SPLIT_STREAM = 2,
    TLN_VARIANT_GRID = 3,
} TlnVariant;

/* Largest thread block any variant is launched with: 512 leaves 128 registers per thread. */
#define TLN_MAX_THREADS_PER_BLOCK 512
/* Row groups of more than a warp (threads_per_row >= 64) that one block may hold: each synchronizes on
 * its own named barrier, ids 0 and 1 (kernels/layernorm.cu, GroupReducerT::barrier). */
#define TLN_MAX_SYNCING_GROUPS 2
/* Largest block of the split variants (several share an SM). */
#define TLN_SPLIT_MAX_THREADS 256
/* Registers per thread the fast kernels are compiled for at most (N chunks per thread; FAST8: N = 8
 * with FP32 or 16-bit X): Rust counts the rows an SM holds from these when it picks N. FP32 fast8 at 80
 * (2 blocks of 384 threads on an SM where 96 allowed one; scripts/check-sass.sh: all 8 loads still in
 * flight): H200, 2026-12-02, FP32 16384 x 12288 LayerNorm 453 -> 377 us, RMSNorm 397 -> 381. 16-bit
 * fast8 (LayerNorm, RMSNorm) holds its rows as loaded, not widened: 80 registers where the 64 floats
 * took 112 (4 rows of 192 threads on an SM instead of 3): H200, 2026-12-02, FP16 16384 x 12288
 * LayerNorm 212.9 -> 191.0 us, BF16 219.3 -> 190.8. */
#define TLN_FAST_MAX_REGS 64
#define TLN_FAST8_F32_MAX_REGS 80
#define TLN_FAST8_16BIT_MAX_REGS 80
/* tln_fastskip<N> with 16-bit X holds Skip's chunks too: at 64 (N = 4) and 112 (N = 8) registers ptxas
 * issued the loads in groups, one DRAM round trip each; N = 8 still did at 128, N = 4 at 80 once it also
 * loads the row's first element (scripts/check-sass.sh). At 80 it no longer spills or splits its loads, and
 * packs more blocks on an SM (16384 x 12288: 2 instead of 1), but did not gain: H100, 2026-12-07, BF16
 * SkipLayerNorm 16384 x 12288 526.5 -> 532.5 us, the other shapes within 0.3%
 * (benches/results/h100-2026-12-07-ab.txt). */
#define TLN_FASTSKIP4_16BIT_MAX_REGS 88
#define TLN_FASTSKIP8_16BIT_MAX_REGS 168
/* tln_fastskip8 with FP32 X: at 80 registers ptxas issued 14 of its 16 loads before the first add. */
#define TLN_FASTSKIP8_F32_MAX_REGS 96
/* tln_fast16_<x>_<y> and tln_fastrms16_<x>_<y>, 16-bit X only: LayerNorm and RMSNorm rows of more than
 * 2048 chunks (16384 elements; up to 8192, 65536 elements) held packed, 16 chunks per thread, up to 512
 * threads: one row per SM, where the split variants took those rows over a cluster. */
#define TLN_FAST16_16BIT_MAX_REGS 128
/* The grid variant: chunks per thread, and threads per block (its kernels are compiled for exactly
 * this many: a tile is TLN_GRID_THREADS * TLN_GRID_CHUNKS_PER_THREAD chunks). */
#define TLN_GRID_CHUNKS_PER_THREAD 8
#define TLN_GRID_THREADS 256
/* Largest cluster the split variants are launched with (16 needs non-portable cluster sizes). */
#define TLN_MAX_CLUSTER_CTAS 16

/*
 * Launch parameters, passed by value as the kernel's only argument.
 * X is `rows` contiguous rows of `cols` elements; Y has X's shape.
 * Scale and bias are `cols` elements each, or null.
 */
typedef struct TlnParams {
    const void *x;
    void *y;
    const void *scale; /* null: scale = 1 */
    const void *bias;  /* null: bias = 0 */
    int64_t rows;
    int64_t cols;
    float epsilon;
    int32_t scale_dtype; /* TlnDType; ignored when scale is null */
    int32_t bias_dtype;  /* TlnDType; ignored when bias is null */
    /* regs: threads cooperating on one row; a power of two below 32, else a multiple of 32;
     * divides blockDim.x. split: equals blockDim.x. */
    int32_t threads_per_row;
    /* split: blocks per row (the cluster size) and chunks of the row per block. */
    int32_t cluster_ctas;
    /* 1 / cols in FP32 (IEEE, round to nearest), as the kernels would compute it: computed once on the
     * host, off the critical path of short rows (the fast kernels of one and two chunks per thread read
     * it; the others still compute the same value). In what was padding: a larger TlnParams changed
     * every kernel's sm_90 code (cuobjdump -sass). */
    float inv_cols;
    int64_t slice_chunks;
    /* 1: x, y, scale, bias and every row start are 16-byte aligned, so 16-byte accesses are legal. */
    int32_t vectorized;
    /* TlnNorm. The fast kernels serve one norm each (tln_fast<N> LayerNorm, tln_fastrms<N> RMSNorm,
     * tln_fastskip<N> SkipLayerNorm). */
    int32_t norm;
    /* TLN_NORM_SKIP_LAYER: Skip (X's shape and type), the residual bias (cols elements of X's type, or
     * null) and S (X's shape and type, or null: not written). Null for the other norms. */
    const void *skip;
    const void *residual_bias;
    void *sum;
    /* fast: > 0 asks each block to prefetch into L2 the rows of the block that starts this many rows
     * later (DRAM stays busy while the SM's blocks reduce); 0: none. */
    int32_t prefetch_rows;
    /* split_stream with 16-byte chunks, sm_90+: > 0 asks thread 0 of each block to keep bulk L2
     * prefetches of its slice this many chunks ahead of the block's walk (a multiple of
     * 4 * blockDim.x, the chunks the block's loads cover in one step); 0: none. */
    int32_t prefetch_chunks;
    /* grid: rows * tiles partials of two doubles each (16-byte aligned); null for the other variants. */
    void *workspace;
} TlnParams;

#endif /* TRT_LAYERNORM_ABI_H */
