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
#define TLN_ABI_VERSION 1

/* Element types. The codes are part of the ABI; never renumber. */
typedef enum TlnDType {
    TLN_DTYPE_F32 = 0,
    TLN_DTYPE_F16 = 1,
    TLN_DTYPE_BF16 = 2,
} TlnDType;

/*
 * Kernel variants. The exported kernel for a variant and an (X, Y) type pair is
 *   tln_<variant>_<x>_<y>,  variant in {cached, stream}, x in {f32, f16, bf16},
 *   y in {x's type, f32}.
 * cached: each row is read from DRAM once into dynamic shared memory
 *         (blockDim.x / threads_per_row rows per block, row_cache_bytes each).
 * stream: no row cache; each pass re-reads the row from global memory (L2).
 */
typedef enum TlnVariant {
    TLN_VARIANT_CACHED = 0,
    TLN_VARIANT_STREAM = 1,
} TlnVariant;

/* Largest thread block any variant is launched with. */
#define TLN_MAX_THREADS_PER_BLOCK 1024

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
    /* Threads cooperating on one row: a power of two, 1..1024, dividing blockDim.x. */
    int32_t threads_per_row;
    /* Bytes between two rows' caches in dynamic shared memory (cached variant; 16-byte multiple). */
    int32_t row_cache_bytes;
    /* 1: x, y, scale, bias and every row start are 16-byte aligned, so 16-byte accesses are legal. */
    int32_t vectorized;
} TlnParams;

#endif /* TRT_LAYERNORM_ABI_H */
