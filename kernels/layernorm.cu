// LayerNorm, RMSNorm and SkipLayerNorm (LayerNorm of s = (x + rbias) + skip, each add rounded in X's
// type; s optionally written to S) forward with FP32 statistics, for X in f32/f16/bf16 and Y in X's
// type or f32.
//
// Variants (layernorm_abi.h names them; src/select.rs chooses):
//   regs   a group of threads_per_row threads holds a row in registers; a block
//          holds several groups and strides over the rows;
//   split  a row is split over a cluster of blocks (one block on GPUs without
//          clusters), each block's slice kept in shared memory (filled with
//          cp.async on sm_80+) or re-read;
//   grid   a row is split over plain blocks, one per tile, in two launches
//          that meet in a workspace (grid_stats, grid_norm).
//
// Arithmetic: the corrected two-pass algorithm (Chan, Golub and LeVeque; see
// Higham, Accuracy and Stability of Numerical Algorithms, ch. 1.9), all FP32,
// one rounding at the store:
//   pass 1  m  = fl(sum(x) / H): any FP32 value near the mean
//   pass 2  d  = x - m (exact wherever x is near the mean: Sterbenz),
//           S1 = sum(d), S2 = sum(d*d) in the same register pass;
//           c = S1 / H is the mean's remainder (mean = m + c, to a few ulps
//           of c: the d are small, so their sum is accurate), and
//           var = S2 / H - c^2 (no cancellation: |c| is far below the spread)
//   pass 3  y = fma(d, rstd, -c*rstd) * scale + bias,  rstd = 1/sqrt(var + eps)
// Every element costs one add (pass 1), a subtract, an add and an FMA (pass
// 2), and two FMAs (pass 3) besides the conversions; register rows of up to
// 32 elements per thread keep X widened to FP32 and centred in place, so
// pass 3 reuses pass 2's d (16-bit rows of 64 stay packed: registers).
// Per-thread partials are summed pairwise across lanes; split slices
// compensate (TwoSum) every 4 chunks and across cluster blocks, so rows of
// 2^20 elements and more stay accurate. A row whose sums overflow (only
// possible for FP32/BF16 inputs beyond ~1e19) is redone from global memory
// scaled by an exact power of two s: x*s, eps*s^2. Never E[x^2] - E[x]^2.
//
// LayerNorm with 16-bit outputs takes one reduction per row when it can
// (row_statistics): the moments about the row's first element (split
// slices in pass 1, the fast kernels' register rows in pass 2), S1 reduced
// in FP64 so that outputs near 0 stay within 1 ulp; the two passes when that
// element is more than four standard deviations from the mean.
// SkipLayerNorm takes that one-shot on short rows (the fast kernels of 1
// and 2 chunks per thread), and short rows with FP32 outputs take one
// reduction too: the moments about the first element in FP64
// (row_statistics_wide), exact enough for any row.
//
// Which variant and how many threads per row is decided in Rust (src/select.rs).

#include <cooperative_groups.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

#include <type_traits>

#include "layernorm_abi.h"

namespace {

// ---------------------------------------------------------------------------
// Element conversions
// ---------------------------------------------------------------------------
__device__ __forceinline__ float to_f32(float v) { return v; }
__device__ __forceinline__ float to_f32(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_f32(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T> __device__ __forceinline__ T from_f32(float v);
template <> __device__ __forceinline__ float from_f32<float>(float v) { return v; }
template <> __device__ __forceinline__ __half from_f32<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float v) {
    return __float2bfloat16_rn(v);
}

// E elements side by side, aligned as one access.
template <typename T, int E> struct alignas(sizeof(T) * E) Elems {
    T v[E];
};

// A chunk is the unit one thread moves at a time: 16 bytes of X on the
// vectorized path, one element otherwise. `at(e)` widens element e to FP32.
template <typename T, int E> struct Chunk : Elems<T, E> {
    __device__ __forceinline__ float at(int e) const { return to_f32(this->v[e]); }
};

// 16-byte chunks stay four 32-bit words until an element is used: held as
// eight separate 16-bit values, a row of BF16 chunks took twice the
// registers and the register variants spilled.
struct alignas(16) Words {
    uint32_t w[4];
};
template <> struct Chunk<float, 4> : Words {
    __device__ __forceinline__ float at(int e) const { return __uint_as_float(w[e]); }
};
template <> struct Chunk<__nv_bfloat16, 8> : Words {
    // BF16 is the top half of an FP32; element 0 is the low half of word 0.
    __device__ __forceinline__ float at(int e) const {
        return __uint_as_float(e % 2 ? w[e / 2] & 0xffff0000u : w[e / 2] << 16);
    }
};
template <> struct Chunk<__half, 8> : Words {
    __device__ __forceinline__ float at(int e) const {
        return __half2float(__ushort_as_half(static_cast<unsigned short>(e % 2 ? w[e / 2] >> 16 : w[e / 2] & 0xffffu)));
    }
};

// Chunk indices are int64_t in split rows and int in register rows (at most
// 4096 chunks): a 32-bit index makes each address one IMAD.WIDE.
// LAST_USE: ld.global.cs, evict-first in L2 (nothing reads these bytes again).
template <typename T, int E, bool LAST_USE = false, typename I>
__device__ __forceinline__ Chunk<T, E> load_chunk(const T *__restrict__ row, I c) {
    if constexpr (sizeof(Chunk<T, E>) == 16) {
        uint4 raw = LAST_USE ? __ldcs(reinterpret_cast<const uint4 *>(row) + c) : __ldg(reinterpret_cast<const uint4 *>(row) + c);
        return *reinterpret_cast<Chunk<T, E> *>(&raw);
    } else {
        Chunk<T, E> ch;
#pragma unroll
        for (int e = 0; e < E; ++e) ch.v[e] = row[c * E + e];
        return ch;
    }
}

// A 16-byte load that ptxas issues where it stands. Rows of one or two
// chunks per thread load scale and bias before X, so that their DRAM round
// trip overlaps X's; ptxas sank RMSNorm's FP32 scale loads (ld.global.nc)
// below the row's reduction (tln_fastrms{1,2}_f32_f32; check-sass.sh), a
// second round trip after the statistics. A relaxed load stays ahead of the
// reduction's barrier; it bypasses L1, which these once-read chunks never hit.
template <typename T, int E, typename I>
__device__ __forceinline__ Chunk<T, E> load_chunk_early(const T *__restrict__ row, I c) {
    static_assert(sizeof(Chunk<T, E>) == 16, "16-byte chunks");
    uint4 raw;
    asm volatile("ld.relaxed.gpu.global.v4.u32 {%0, %1, %2, %3}, [%4];"
                 : "=r"(raw.x), "=r"(raw.y), "=r"(raw.z), "=r"(raw.w)
                 : "l"(reinterpret_cast<const uint4 *>(row) + c));
    return *reinterpret_cast<Chunk<T, E> *>(&raw);
}

// Stores a chunk as it is (SkipLayerNorm's S): one st.global.v4 on the vectorized path.
template <typename T, int E, typename I>
__device__ __forceinline__ void store_raw(T *__restrict__ row, I c, const Chunk<T, E> &ch) {
    if constexpr (sizeof(Chunk<T, E>) == 16) {
        asm volatile("st.global.v4.b32 [%0], {%1, %2, %3, %4};" ::"l"(reinterpret_cast<uint4 *>(row) + c), "r"(ch.w[0]),
                     "r"(ch.w[1]), "r"(ch.w[2]), "r"(ch.w[3]));
    } else {
#pragma unroll
        for (int e = 0; e < E; ++e) row[c * E + e] = ch.v[e];
    }
}

// a + b element by element, rounded once to T, as a graph's `Add` in T
// computes it. 16-bit pairs go through HADD2 (correctly rounded); the scalar
// path adds in FP32 and rounds to T, which is the same: FP32 carries
// 24 >= 2p + 2 bits for p = 11 (FP16) and 8 (BF16), so the double rounding
// is innocuous.
template <typename T, int E> __device__ __forceinline__ Chunk<T, E> add_rounded(Chunk<T, E> a, const Chunk<T, E> &b) {
    if constexpr (sizeof(Chunk<T, E>) == 16) {
#pragma unroll
        for (int k = 0; k < 4; ++k) {
            if constexpr (std::is_same<T, float>::value) {
                a.w[k] = __float_as_uint(__fadd_rn(__uint_as_float(a.w[k]), __uint_as_float(b.w[k])));
            } else {
                using T2 = std::conditional_t<std::is_same<T, __half>::value, __half2, __nv_bfloat162>;
                const T2 r = __hadd2(*reinterpret_cast<const T2 *>(&a.w[k]), *reinterpret_cast<const T2 *>(&b.w[k]));
                a.w[k] = *reinterpret_cast<const uint32_t *>(&r);
            }
        }
    } else {
#pragma unroll
        for (int e = 0; e < E; ++e) a.v[e] = from_f32<T>(__fadd_rn(to_f32(a.v[e]), to_f32(b.v[e])));
    }
    return a;
}

// One row of a launch's inputs. SkipLayerNorm normalizes s = (x + rbias) +
// skip, each add rounded in X's type as the unfused graph's Adds, and writes
// s to `sum` when asked; the other norms read x alone (skip, rbias and sum null).
template <typename TX> struct RowIn {
    const TX *__restrict__ x;
    const TX *__restrict__ skip;
    const TX *__restrict__ rbias; // cols elements, or null
    TX *__restrict__ sum;         // null: S is not written
};

template <typename TX> __device__ __forceinline__ RowIn<TX> row_in(const TlnParams &p, int64_t row) {
    const int64_t off = row * p.cols;
    return RowIn<TX>{static_cast<const TX *>(p.x) + off, p.skip ? static_cast<const TX *>(p.skip) + off : nullptr,
                     static_cast<const TX *>(p.residual_bias), p.sum ? static_cast<TX *>(p.sum) + off : nullptr};
}

// s for raw X chunks already loaded: `sk` holds the same chunks of Skip.
template <typename TX, int E, typename I>
__device__ __forceinline__ Chunk<TX, E> skip_sum(const RowIn<TX> &in, Chunk<TX, E> x, const Chunk<TX, E> &sk, I c) {
    if (in.rbias) x = add_rounded<TX, E>(x, load_chunk<TX, E>(in.rbias, c));
    return add_rounded<TX, E>(x, sk);
}

// Chunk c of the row a norm normalizes: x, or (SKIP) s.
template <typename TX, int E, bool SKIP, bool LAST_USE = false, typename I>
__device__ __forceinline__ Chunk<TX, E> load_input(const RowIn<TX> &in, I c) {
    const Chunk<TX, E> x = load_chunk<TX, E, LAST_USE>(in.x, c);
    if constexpr (SKIP) return skip_sum<TX, E>(in, x, load_chunk<TX, E, LAST_USE>(in.skip, c), c);
    else return x;
}

// Two floats rounded to TY and packed into one 32-bit word (element 0 low).
template <typename TY> __device__ __forceinline__ uint32_t pack2(float a, float b);
template <> __device__ __forceinline__ uint32_t pack2<__half>(float a, float b) {
    const __half2 h = __floats2half2_rn(a, b);
    return *reinterpret_cast<const uint32_t *>(&h);
}
template <> __device__ __forceinline__ uint32_t pack2<__nv_bfloat16>(float a, float b) {
    const __nv_bfloat162 h = __floats2bfloat162_rn(a, b);
    return *reinterpret_cast<const uint32_t *>(&h);
}

// Word k of E floats rounded to TY.
template <typename TY, int E> __device__ __forceinline__ uint32_t packed_word(const float (&v)[E], int k) {
    if constexpr (sizeof(TY) == 4) return __float_as_uint(v[k]);
    else return pack2<TY>(v[2 * k], v[2 * k + 1]);
}

// Stores E floats rounded to TY at element offset c*E. On the vectorized path
// the destination is 16-byte aligned and each 16 bytes go out as one
// st.global.v4: built from an array reinterpreted as uint4, ptxas split most
// of regs8's stores into four 4-byte ones. STREAM: st.global.cs, evict-first
// in L2, so that Y does not push out of L2 the X a later block reads again.
template <typename TY, int E, bool STREAM = false, typename I>
__device__ __forceinline__ void store_chunk(TY *__restrict__ row, I c, const float (&v)[E]) {
    if constexpr (sizeof(TY) * E >= 16) {
        uint4 *dst = reinterpret_cast<uint4 *>(row) + c * int(sizeof(TY) * E / 16);
#pragma unroll
        for (int k = 0; k < int(sizeof(TY) * E / 16); ++k) {
            const uint4 q = make_uint4(packed_word<TY, E>(v, 4 * k), packed_word<TY, E>(v, 4 * k + 1),
                                       packed_word<TY, E>(v, 4 * k + 2), packed_word<TY, E>(v, 4 * k + 3));
            // No "memory" clobber: nothing in a kernel reads Y back, and the
            // split variants' pass 3 needs the next chunks' scale/bias loads
            // free to move above this store (see write_row).
            if constexpr (STREAM)
                asm volatile("st.global.cs.v4.b32 [%0], {%1, %2, %3, %4};" ::"l"(dst + k), "r"(q.x), "r"(q.y), "r"(q.z),
                             "r"(q.w));
            else
                asm volatile("st.global.v4.b32 [%0], {%1, %2, %3, %4};" ::"l"(dst + k), "r"(q.x), "r"(q.y), "r"(q.z),
                             "r"(q.w));
        }
    } else {
#pragma unroll
        for (int e = 0; e < E; ++e) row[c * E + e] = from_f32<TY>(v[e]);
    }
}

// Scale and bias may each be any of the three types, whatever X is: a
// row-uniform switch, with the widest aligned load on the vectorized path.
template <int E, typename I>
__device__ __forceinline__ void load_param(const void *__restrict__ p, int32_t dtype, I c, float (&out)[E]) {
    const int64_t i0 = c * E;
    switch (dtype) {
    case TLN_DTYPE_F32: {
        const float *f = static_cast<const float *>(p) + i0;
        if constexpr (E % 4 == 0) {
#pragma unroll
            for (int k = 0; k < E / 4; ++k) {
                float4 q = __ldg(reinterpret_cast<const float4 *>(f) + k);
                out[4 * k] = q.x; out[4 * k + 1] = q.y; out[4 * k + 2] = q.z; out[4 * k + 3] = q.w;
            }
        } else {
#pragma unroll
            for (int e = 0; e < E; ++e) out[e] = __ldg(f + e);
        }
        break;
    }
    case TLN_DTYPE_F16: {
        const __half *h = static_cast<const __half *>(p) + i0;
        if constexpr (E == 8) {
            Chunk<__half, 8> q = load_chunk<__half, 8>(h, 0LL);
#pragma unroll
            for (int e = 0; e < 8; ++e) out[e] = q.at(e);
        } else {
#pragma unroll
            for (int e = 0; e < E; ++e) out[e] = to_f32(h[e]);
        }
        break;
    }
    default: { // TLN_DTYPE_BF16 (Rust validates the code before launch)
        const __nv_bfloat16 *b = static_cast<const __nv_bfloat16 *>(p) + i0;
        if constexpr (E == 8) {
            Chunk<__nv_bfloat16, 8> q = load_chunk<__nv_bfloat16, 8>(b, 0LL);
#pragma unroll
            for (int e = 0; e < 8; ++e) out[e] = q.at(e);
        } else {
#pragma unroll
            for (int e = 0; e < E; ++e) out[e] = to_f32(b[e]);
        }
        break;
    }
    }
}

// Widens a chunk's E elements to FP32: one conversion per element (a 16-bit
// pair is one 32-bit word: two HADD2.F32 for FP16, a shift and a mask for BF16).
template <typename TX, int E> __device__ __forceinline__ void widen(const Chunk<TX, E> &ch, float (&f)[E]) {
    if constexpr (std::is_same<TX, __half>::value && E == 8) {
#pragma unroll
        for (int k = 0; k < 4; ++k) {
            const float2 t = __half22float2(*reinterpret_cast<const __half2 *>(&ch.w[k]));
            f[2 * k] = t.x;
            f[2 * k + 1] = t.y;
        }
    } else {
#pragma unroll
        for (int e = 0; e < E; ++e) f[e] = ch.at(e);
    }
}

// ---------------------------------------------------------------------------
// Compensated summation: value s plus the rounding error c lost so far.
// TwoSum is exact for any operand order (no |a| >= |b| precondition). Used
// where many partial sums meet in a sequence (a split slice's chunk groups,
// a cluster's blocks), never per element.
// ---------------------------------------------------------------------------
struct CSum {
    float s = 0.f, c = 0.f;
    __device__ __forceinline__ void add(float v) {
        float t = s + v;
        float bp = t - s;
        float err = (s - (t - bp)) + (v - bp);
        s = t;
        c += err;
    }
    __device__ __forceinline__ float value() const { return s + c; }
    // Adds another compensated sum; commutative, so two lanes merging each
    // other's sums (a butterfly) get the same bits.
    __device__ __forceinline__ void merge(float os, float oc) {
        const float t = s + os;
        const float bp = t - s;
        const float err = (s - (t - bp)) + (os - bp); // exactly s + os - t, in either order
        s = t;
        c = (c + oc) + err;
    }
};

// A sum as hi + lo (a compensated sum's value and error, or an FP64 sum
// split in two): the one-shot's S1 = sum(x - x0), whose partials grow with
// |mean - x0| while the mean's remainder must stay exact to a small fraction
// of the spread (row_statistics).
struct HiLo {
    float hi = 0.f, lo = 0.f;
    __device__ __forceinline__ double value() const { return double(hi) + double(lo); }
    __device__ __forceinline__ static HiLo split(double d) {
        HiLo r;
        r.hi = float(d);
        r.lo = float(d - double(r.hi));
        return r;
    }
};

// Partial sums a thread keeps per pass: four lanes (chains of at most 16
// elements in a register row), summed pairwise at the end.
template <int E> constexpr int kLanes = E < 4 ? E : 4;

// Pairwise sum of E lanes.
template <int E, typename T> __device__ __forceinline__ T fold(T (&l)[E]) {
#pragma unroll
    for (int w = E / 2; w >= 1; w /= 2) {
#pragma unroll
        for (int e = 0; e < w; ++e) l[e] += l[e + w];
    }
    return l[0];
}

// ---------------------------------------------------------------------------
// Reductions over the threads that share a row: a group of `tpr` threads
// inside one block. Every thread of the group calls them and gets the same
// result. A group wider than a warp meets in one scratch slot per warp and
// synchronizes on its own named barrier (barrier()), so the row groups of a
// block never wait for each other. Consecutive sums alternate between
// two scratch arrays (`which`), so one barrier per sum is enough: the next
// write to an array comes after the barrier of the sum in between.
// ---------------------------------------------------------------------------
constexpr int kMaxWarps = TLN_MAX_THREADS_PER_BLOCK / 32;

// How a group's reductions take their steps:
// - kLooped: loops (the general, split and grid kernels, and SkipLayerNorm's
//   fast rows of 4 and 8 chunks per thread, whose FP16 16384 x 12288 took
//   403 us against 383 with the unrolled warp stage);
// - kUnrolled: the warp stage's five steps unrolled (butterfly), off a
//   loop's counter and branch on the critical path (the other fast rows of
//   4 and 8 chunks; H200: LayerNorm 4096 x 768 -1 to -3%);
// - kPredicated: the warp stage unrolled and predicated, no branch, and the
//   warps' partials of groups of up to 4 or 8 warps combined in registers
//   (slots_tree: one shared-memory round trip and a tree of adds, no
//   shuffles; fast rows of 1 and 2 chunks,
//   latency-bound: one row's chain of dependent instructions is the time.
//   H200, 2026-12-02, us, with 1/H from the host: LayerNorm FP16 1 x 4096
//   2.08 -> 1.83, 1 x 768 1.58 -> 1.46, FP32 1 x 768 1.85 -> 1.81; where the
//   fast rows of 4 and 8 chunks took it too, FP32 4096 x 16384 went from
//   136.6 to 143.7; benches/results/h200-2026-12-02-short-rows.txt).
enum ReduceSteps { kLooped, kUnrolled, kPredicated };

template <ReduceSteps STEPS = kLooped> struct GroupReducerT {
    static constexpr ReduceSteps kSteps = STEPS;
    static constexpr bool UNROLLED = STEPS == kUnrolled;
    static constexpr bool PREDICATED = STEPS == kPredicated;
    int tpr;
    float4 *scratch; // 2 * kMaxWarps slots
    float *s_max;    // kMaxWarps slots
    int grp;         // this thread's group in the block (divisions by tpr once, not per sum)

    __device__ __forceinline__ GroupReducerT(int threads_per_row, float4 *sums, float *maxes)
        : GroupReducerT(threads_per_row, sums, maxes, threadIdx.x / threads_per_row) {}
    __device__ __forceinline__ GroupReducerT(int threads_per_row, float4 *sums, float *maxes, int group)
        : tpr(threads_per_row), scratch(sums), s_max(maxes), grp(group) {}

    __device__ __forceinline__ int width() const { return tpr < 32 ? tpr : 32; }
    // UNROLLED's warp stage: step(o) for the xor offsets min(tpr, 32)/2 ...
    // 1 (tpr is a power of two below 32). Without UNROLLED each sum keeps its
    // loop written out: the same loop through a lambda gave every other
    // kernel a new schedule (cuobjdump -sass), one never timed.
    template <class F> __device__ __forceinline__ void butterfly(F step) const {
#pragma unroll
        for (int o = 16; o > 0; o /= 2)
            if (o < tpr) step(o);
    }
    // PREDICATED's steps: step(o, take) for the xor offsets `top` ... 1,
    // every lane shuffling at each (the values a narrower group gets from
    // other rows are dropped), `take` where o < `width` (a power of two).
    template <class F> __device__ __forceinline__ void predicated(int width, F step, int top = 16) const {
#pragma unroll
        for (int o = 16; o > 0; o /= 2)
            if (o <= top) step(o, o < width);
    }
    __device__ __forceinline__ int group() const { return grp; }
    __device__ __forceinline__ int first_warp() const { return grp * (tpr / 32); }
    // PREDICATED's step for K floats (sum()) or two doubles (sum_wide()):
    // every lane shuffles, lanes where `take` add lane (l xor o)'s values.
    template <int K> __device__ __forceinline__ static void add_from_lane(float (&v)[K], int o, bool take) {
#pragma unroll
        for (int k = 0; k < K; ++k) {
            const float t = __shfl_xor_sync(0xffffffffu, v[k], o);
            if (take) v[k] += t;
        }
    }
    __device__ __forceinline__ static void add_from_lane(double &a, double &b, int o, bool take) {
        const double ta = __shfl_xor_sync(0xffffffffu, a, o);
        const double tb = __shfl_xor_sync(0xffffffffu, b, o);
        if (take) {
            a += ta;
            b += tb;
        }
    }
    // Lane l's share of the group's warps' slots before a butterfly over
    // them: warp (l mod p2)'s, p2 the warps rounded up to a power of two
    // (zeros past the last warp), so every aligned p2 lanes hold them all and
    // log2(p2) steps finish the sum: one shared-memory read per thread
    // instead of one per warp.
    __device__ __forceinline__ float4 lane_slot(const float4 *slots, int &p2) const {
        const int warps = tpr / 32;
        p2 = warps > 1 ? 1 << (32 - __clz(warps - 1)) : 1;
        const int w = (threadIdx.x % 32) & (p2 - 1);
        return w < warps ? slots[first_warp() + w] : make_float4(0.f, 0.f, 0.f, 0.f);
    }
    // slots_tree's levels, one template per level: a loop over o /= 2 left a
    // wide tree's adds rolled and its array in local memory.
    template <int O, class T, class Combine> __device__ __forceinline__ static void combine_levels(T *v, Combine combine) {
#pragma unroll
        for (int i = 0; i < O; ++i) combine(v[i], v[i + O]);
        if constexpr (O > 1) combine_levels<O / 2>(v, combine);
    }
    // PREDICATED's block stage: every thread reads the group's warps' slots
    // (zeros past the last warp, up to p2, the warps rounded up to a power
    // of two) and combines them as a tree, index i with i + o for o = p2/2
    // ... 1. That is lane 0's dependency cone in the butterfly over p2 lanes
    // (at step o, lane j < o takes lane j + o), so the bits are the
    // butterfly's, but the chain holds one shared-memory round trip and
    // log2(p2) dependent combines where the butterfly took log2(p2) rounds of
    // shuffles (about 30 cycles each; short rows are latency-bound).
    // `from(float4)` unpacks a slot, `combine(self, other)` adds other into
    // self, `step(self, o, take)` is the butterfly's step (shuffles), which
    // groups of more than kTreeWarps warps (4 or 8) keep: the tree's reads
    // grow as warps^2, and its registers as kTreeWarps times the slot (the
    // fast1 and fast2 kernels, capped at 64, spilled with 16-byte parts at 8
    // warps where they hold 16-bit rows).
    template <int kTreeWarps, class T, class From, class Combine, class Step>
    __device__ __forceinline__ T slots_tree(const float4 *slots, From from, Combine combine, Step step) const {
        static_assert(kTreeWarps == 4 || kTreeWarps == 8, "trees over 2, 4 and at most 8 warps");
        const int warps = tpr / 32;
        const float4 *g = slots + first_warp();
        // Past the last warp: zeros (a value; a ternary between g[i] and a
        // named float4 took its address, into local memory).
        const auto slot_or_zero = [&](int i) { return i < warps ? g[i] : make_float4(0.f, 0.f, 0.f, 0.f); };
        T out;
        const auto tree = [&](auto width) {
            constexpr int P2 = decltype(width)::value;
            const auto slot = [&](int i) { return from(slot_or_zero(i)); };
            // The first level as the slots arrive: half the values live.
            T v[P2 / 2];
#pragma unroll
            for (int i = 0; i < P2 / 2; ++i) {
                v[i] = slot(i);
                combine(v[i], slot(i + P2 / 2));
            }
            if constexpr (P2 > 2) combine_levels<P2 / 4>(v, combine);
            out = v[0];
        };
        if (warps <= 2) {
            tree(std::integral_constant<int, 2>{});
        } else if (warps <= 4) {
            tree(std::integral_constant<int, 4>{});
        } else if (warps <= kTreeWarps) { // kTreeWarps 4: taken above
            tree(std::integral_constant<int, kTreeWarps>{});
        } else {
            // Wider groups: every warp reading every slot costs warps^2
            // shared-memory reads, more than the butterfly's shuffles (H200,
            // RMSNorm FP32 1 x 4096, 16 warps: 2.00 us with the butterfly,
            // 2.07 with the tree): lane_slot, then log2(p2) steps.
            int p2;
            out = from(lane_slot(slots, p2));
            predicated(p2, [&](int o, bool take) { step(out, o, take); }, kMaxWarps / 2);
        }
        return out;
    }
    // The group's named barrier, by an immediate id: named by a register,
    // ptxas reserves all 16 of a block's barriers, and an SM then holds at
    // most 4 blocks (Nsight Compute's "Block Limit Barriers"; H200,
    // tln_fast8_f16_f16 at 77 registers, where registers allow 6). Groups
    // that synchronize are wider than a warp (narrower ones reduce within
    // it), and a block holds at most TLN_MAX_SYNCING_GROUPS of them (src/
    // select.rs's blocks are 128 threads, or one row; src/launch.rs refuses
    // other plans): ids 0 and 1, two predicated instructions where a switch
    // over eight ids added 28-38% to the short rows' kernels (fast1_f32_f32
    // 464 -> 640 instructions). Nothing else in these kernels uses barrier 0.
    __device__ __forceinline__ void barrier() const {
        static_assert(TLN_MAX_SYNCING_GROUPS == 2, "one barrier id per syncing group");
        if (group() & 1) asm volatile("bar.sync 1, %0;" ::"r"(tpr) : "memory");
        else asm volatile("bar.sync 0, %0;" ::"r"(tpr) : "memory");
    }

    // Sums K <= 4 values over the group. The block stage is plain by
    // default; COMPENSATED adds the warps' partials with TwoSum (split blocks:
    // few rows per block, many elements per thread).
    template <int K, bool COMPENSATED = false>
    __device__ __forceinline__ void sum(float (&v)[K], int which) const {
        if constexpr (PREDICATED) {
            predicated(tpr, [&](int o, bool take) { add_from_lane(v, o, take); });
        } else if constexpr (UNROLLED) {
            butterfly([&](int o) {
#pragma unroll
                for (int k = 0; k < K; ++k) v[k] += __shfl_xor_sync(0xffffffffu, v[k], o);
            });
        } else {
            for (int o = width() / 2; o > 0; o /= 2) {
#pragma unroll
                for (int k = 0; k < K; ++k) v[k] += __shfl_xor_sync(0xffffffffu, v[k], o);
            }
        }
        if (tpr > 32) {
            float4 *slots = scratch + which * kMaxWarps;
            if (threadIdx.x % 32 == 0) {
                float4 q = make_float4(v[0], 0.f, 0.f, 0.f);
                if constexpr (K > 1) q.y = v[1];
                if constexpr (K > 2) q.z = v[2];
                if constexpr (K > 3) q.w = v[3];
                slots[threadIdx.x / 32] = q;
            }
            barrier();
            if constexpr (PREDICATED && !COMPENSATED) {
                struct Part { float v[K]; };
                const Part t = slots_tree<(K == 1 ? 8 : 4), Part>(
                    slots,
                    [](const float4 &q) {
                        const float qs[4] = {q.x, q.y, q.z, q.w};
                        Part r;
#pragma unroll
                        for (int k = 0; k < K; ++k) r.v[k] = qs[k];
                        return r;
                    },
                    [](Part &a, const Part &b) {
#pragma unroll
                        for (int k = 0; k < K; ++k) a.v[k] += b.v[k];
                    },
                    [](Part &a, int o, bool take) { add_from_lane(a.v, o, take); });
#pragma unroll
                for (int k = 0; k < K; ++k) v[k] = t.v[k];
                return;
            }
            if constexpr (!COMPENSATED) {
                int p2;
                const float4 q = lane_slot(slots, p2);
                const float qs[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
                for (int k = 0; k < K; ++k) v[k] = qs[k];
                for (int o = p2 / 2; o > 0; o /= 2) {
#pragma unroll
                    for (int k = 0; k < K; ++k) v[k] += __shfl_xor_sync(0xffffffffu, v[k], o);
                }
                return;
            }
            CSum acc[K];
#pragma unroll
            for (int k = 0; k < K; ++k) v[k] = 0.f;
            for (int w = 0; w < tpr / 32; ++w) {
                const float4 q = slots[first_warp() + w];
                const float qs[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
                for (int k = 0; k < K; ++k) {
                    if constexpr (COMPENSATED) acc[k].add(qs[k]);
                    else v[k] += qs[k];
                }
            }
            if constexpr (COMPENSATED) {
#pragma unroll
                for (int k = 0; k < K; ++k) v[k] = acc[k].value();
            }
        }
    }

    // The one-shot's moments over the group: S1 in FP64 (exact for these
    // partials; TwoSum at every step cost as much and spilled more), S2
    // compensated across warps as sum<2, true>. The shuffles and the warps'
    // slots are added in the same order in every thread (PREDICATED: by a
    // butterfly, each pair added commutatively): all get the same bits.
    __device__ __forceinline__ void sum_moments(HiLo &s1, float &s2, int which) const {
        double d = s1.value();
        if constexpr (PREDICATED) {
            sum_moments_predicated(d, s2, which);
            s1 = HiLo::split(d);
            return;
        }
        if constexpr (UNROLLED) {
            butterfly([&](int o) {
                d += __shfl_xor_sync(0xffffffffu, d, o);
                s2 += __shfl_xor_sync(0xffffffffu, s2, o);
            });
        } else {
            for (int o = width() / 2; o > 0; o /= 2) {
                d += __shfl_xor_sync(0xffffffffu, d, o);
                s2 += __shfl_xor_sync(0xffffffffu, s2, o);
            }
        }
        if (tpr > 32) {
            float4 *slots = scratch + which * kMaxWarps;
            if (threadIdx.x % 32 == 0) {
                const HiLo w = HiLo::split(d);
                slots[threadIdx.x / 32] = make_float4(w.hi, w.lo, s2, 0.f);
            }
            barrier();
            d = 0.0;
            CSum acc2;
            for (int w = 0; w < tpr / 32; ++w) {
                const float4 q = slots[first_warp() + w];
                d += double(q.x) + double(q.y);
                acc2.add(q.z);
            }
            s2 = acc2.value();
        }
        s1 = HiLo::split(d);
    }

    // PREDICATED's sum_moments: the warps' partials (S1 as the double it is,
    // in two words) combined by slots_tree as in sum(): FP64 adds for S1,
    // CSum::merge for S2.
    __device__ __forceinline__ void sum_moments_predicated(double &d, float &s2, int which) const {
        predicated(tpr, [&](int o, bool take) {
            const double td = __shfl_xor_sync(0xffffffffu, d, o);
            const float t2 = __shfl_xor_sync(0xffffffffu, s2, o);
            if (take) {
                d += td;
                s2 += t2;
            }
        });
        if (tpr <= 32) return;
        float4 *slots = scratch + which * kMaxWarps;
        if (threadIdx.x % 32 == 0)
            slots[threadIdx.x / 32] = make_float4(__int_as_float(__double2loint(d)), __int_as_float(__double2hiint(d)), s2, 0.f);
        barrier();
        struct Part { double d; CSum acc; };
        const Part t = slots_tree<4, Part>(
            slots,
            [](const float4 &q) { return Part{__hiloint2double(__float_as_int(q.y), __float_as_int(q.x)), CSum{q.z, 0.f}}; },
            [](Part &a, const Part &b) {
                a.d += b.d;
                a.acc.merge(b.acc.s, b.acc.c);
            },
            [](Part &a, int o, bool take) {
                const double td = __shfl_xor_sync(0xffffffffu, a.d, o);
                const float ts = __shfl_xor_sync(0xffffffffu, a.acc.s, o);
                const float tc = __shfl_xor_sync(0xffffffffu, a.acc.c, o);
                if (take) {
                    a.d += td;
                    a.acc.merge(ts, tc);
                }
            });
        d = t.d;
        s2 = t.acc.value();
    }

    // The short rows' FP64 one-shot (row_statistics_wide): two FP64 sums over
    // the group in PREDICATED's steps, the warps' partials (two doubles to a
    // slot) combined by slots_tree, as sum() does. Every lane adds them in
    // the same order, so all get the same bits.
    template <int kTreeWarps> __device__ __forceinline__ void sum_wide(double &a, double &b, int which) const {
        static_assert(PREDICATED, "the wide one-shot is the short rows' (fast kernels of 1 and 2 chunks)");
        predicated(tpr, [&](int o, bool take) { add_from_lane(a, b, o, take); });
        if (tpr <= 32) return;
        float4 *slots = scratch + which * kMaxWarps;
        if (threadIdx.x % 32 == 0)
            slots[threadIdx.x / 32] = make_float4(__int_as_float(__double2loint(a)), __int_as_float(__double2hiint(a)),
                                                  __int_as_float(__double2loint(b)), __int_as_float(__double2hiint(b)));
        barrier();
        const double2 t = slots_tree<kTreeWarps, double2>(
            slots,
            [](const float4 &q) {
                return make_double2(__hiloint2double(__float_as_int(q.y), __float_as_int(q.x)),
                                    __hiloint2double(__float_as_int(q.w), __float_as_int(q.z)));
            },
            [](double2 &x, const double2 &y) {
                x.x += y.x;
                x.y += y.y;
            },
            [](double2 &x, int o, bool take) { add_from_lane(x.x, x.y, o, take); });
        a = t.x;
        b = t.y;
    }

    __device__ __forceinline__ float max(float v) const {
        if constexpr (PREDICATED) {
            predicated(tpr, [&](int o, bool take) {
                const float t = __shfl_xor_sync(0xffffffffu, v, o);
                if (take) v = fmaxf(v, t);
            });
        } else if constexpr (UNROLLED) butterfly([&](int o) { v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o)); });
        else for (int o = width() / 2; o > 0; o /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
        if (tpr > 32) {
            if (threadIdx.x % 32 == 0) s_max[threadIdx.x / 32] = v;
            barrier();
            for (int w = 0; w < tpr / 32; ++w) v = fmaxf(v, s_max[first_warp() + w]);
        }
        return v;
    }

    // Whether any row sharing the reductions' shuffles needs the rescaled
    // redo. A flag computed from a row's reduced sums is the same in every
    // thread of its group, and a group wider than a warp synchronizes alone:
    // only groups narrower than a warp share shuffles, and vote in the warp.
    // Rows that do not need the redo recompute the same values.
    __device__ __forceinline__ bool any(bool v) const { return tpr < 32 ? __any_sync(0xffffffffu, v) : v; }
};
using GroupReducer = GroupReducerT<kLooped>;

// A row split over the `ctas` blocks of a thread-block cluster: each block
// reduces its slice, then every block combines all slices' partials from
// distributed shared memory in rank order (compensated), so all get
// identical results. Each exchange is write, cluster barrier, read; the next
// exchange's barrier orders those reads before anything else is written, so
// consecutive exchanges use different slots and a slot is reused two
// exchanges later.
// OUTLINED: sum_moments is a call, not inlined (the streamed split kernels).
template <bool OUTLINED> struct ClusterReducer {
    static constexpr ReduceSteps kSteps = kLooped;
    GroupReducer block;
    int ctas;
    float4 *slots; // four slots in this block's shared memory: (unused), max, sums 0 and 1

#if __CUDA_ARCH__ >= 900
    template <class Combine>
    __device__ __forceinline__ void exchange(int slot, float4 mine, Combine combine) const {
        namespace cg = cooperative_groups;
        cg::cluster_group cluster = cg::this_cluster();
        // Only the slot's writer fences; the others arrive relaxed. A plain
        // cluster.sync() makes every thread wait at a GPU-scope fence for its
        // outstanding global stores (the previous row's output).
        if (threadIdx.x == 0) {
            slots[slot] = mine;
            asm volatile("fence.acq_rel.cluster;" ::: "memory");
        }
        asm volatile("barrier.cluster.arrive.relaxed.aligned;\n\tbarrier.cluster.wait.aligned;" ::: "memory");
        for (int r = 0; r < ctas; ++r) combine(*cluster.map_shared_rank(&slots[slot], r));
    }
#else
    template <class Combine> __device__ __forceinline__ void exchange(int, float4, Combine) const {
        __trap(); // Rust launches clusters only on compute capability >= 9.0
    }
#endif

    // Flags computed from the row's exchanged sums are identical in every
    // thread of the cluster (all combine the same slots in rank order).
    __device__ __forceinline__ bool any(bool v) const { return v; }

    __device__ __forceinline__ float max(float v) const {
        v = block.max(v);
        if (ctas == 1) return v;
        float m = 0.f;
        exchange(1, make_float4(v, 0.f, 0.f, 0.f), [&](float4 q) { m = fmaxf(m, q.x); });
        return m;
    }

    template <int K> __device__ __forceinline__ void sum(float (&v)[K], int which) const {
        block.sum<K, true>(v, which);
        if (ctas == 1) return;
        CSum acc[K];
        exchange(2 + which, make_float4(v[0], K > 1 ? v[1] : 0.f, 0.f, 0.f), [&](float4 q) {
            acc[0].add(q.x);
            if constexpr (K > 1) acc[1].add(q.y);
        });
#pragma unroll
        for (int k = 0; k < K; ++k) v[k] = acc[k].value();
    }

    // A call in the streamed kernels: inlined, its FP64 sums raised the
    // register pressure of their streaming loops into spills (ptxas,
    // split_stream_f16_f16: 7 spill loads and 4 stores per step of pass 1
    // against 1 and 0; H200, FP16 32 x 2^20: 93 us, 74.7 as a call). Inlined
    // in the cached ones: there the call cost more (FP16 256 x 65536: 42.7 us
    // against 33.4 inlined; RMSNorm, which never makes the call, 38.6 against
    // 31.2).
    __device__ __forceinline__ void sum_moments(HiLo &s1, float &s2, int which) const {
        if constexpr (OUTLINED) sum_moments_call(s1, s2, which);
        else sum_moments_inline(s1, s2, which);
    }
    __device__ __noinline__ void sum_moments_call(HiLo &s1, float &s2, int which) const { sum_moments_inline(s1, s2, which); }
    __device__ __forceinline__ void sum_moments_inline(HiLo &s1, float &s2, int which) const {
        block.sum_moments(s1, s2, which);
        if (ctas == 1) return;
        double d = 0.0;
        CSum acc2;
        exchange(2 + which, make_float4(s1.hi, s1.lo, s2, 0.f), [&](float4 q) {
            d += double(q.x) + double(q.y);
            acc2.add(q.z);
        });
        s1 = HiLo::split(d);
        s2 = acc2.value();
    }

    // No block may exit while another still reads its shared memory. Every
    // read of a peer's slot was consumed before its reader arrives, so the
    // arrive needs no release: cluster.sync()'s made every thread wait at a
    // GPU-scope fence for its row's outstanding stores before the block could
    // exit (Nsight Compute, FP16 256 x 65536: 6% of the stall samples).
    __device__ __forceinline__ void finish() const {
#if __CUDA_ARCH__ >= 900
        if (ctas > 1) asm volatile("barrier.cluster.arrive.relaxed.aligned;\n\tbarrier.cluster.wait.aligned;" ::: "memory");
#endif
    }
};

// ---------------------------------------------------------------------------
// Where a thread's chunks of a row are: begin + lane, begin + lane + step, ... < end.
// ---------------------------------------------------------------------------
struct Span {
    int64_t begin, end;
    int lane, step;
    // Register rows (begin = 0, at most 8192 chunks): the index in 32 bits.
    __device__ __forceinline__ int chunk32(int i) const { return lane + i * step; }
    // Chunks a register-row thread owns of its N: N compares, no division.
    __device__ __forceinline__ int owned32(int n) const {
        int k = 0;
        for (int i = 0; i < n; ++i) k += chunk32(i) < int(end);
        return k;
    }
};

// ---------------------------------------------------------------------------
// Sources of a row's chunks for the passes. Each hands chunks to a functor
// as E floats; `kCentred` says whether pass 2 leaves d = x*s - m in place
// (register rows keep their widened values and centre them, so pass 3 needs
// no second subtraction). `reload` brings back X for the overflow redo.
// ---------------------------------------------------------------------------

// Chunks per group: slices load them together and fold pass 2's lanes into
// compensated sums after each (for_each_grouped); fast16's packed rows fold
// alike (PackedRow::for_each_folded).
constexpr int kGroup = 4;

// Whether a register row folds pass 2 every kGroup chunks (PackedRow::kFolds).
template <class Src, class = void> struct Folds : std::false_type {};
template <class Src> struct Folds<Src, std::void_t<decltype(Src::kFolds)>> : std::bool_constant<Src::kFolds> {};
template <class Src> constexpr bool kFoldsPass2 = Folds<Src>::value;

// N chunks per thread held as FP32 (N*E <= 32; SkipLayerNorm's fast kernels also 64):
// widened once, at load. SKIP: the row is SkipLayerNorm's s (RowIn).
template <typename TX, int E, int N, bool SKIP = false, bool RBIAS_OK = true> struct FloatRow {
    static constexpr bool kCentred = true;
    static constexpr bool kShort = true;
    int owned; // chunks of this thread (Span::owned32)
    float v[N][E];

    // All N loads are issued before any is used: N x 16 bytes in flight per
    // thread. The loads are unconditional (a chunk past the row's end reads
    // the thread's first chunk again, or the row's first): predicated on
    // `i < owned`, ptxas issued each load after the previous one's
    // conversions, one DRAM round trip per chunk.
    //
    // SKIP: Skip's chunks are loaded right after X's, all before the first
    // add; S is written once, by `load` (not by the overflow redo's `reload`).
    // The residual bias is a row-level branch into two straight-line
    // bodies: tested per chunk, it split the loads and ptxas issued them in
    // groups (scripts/check-sass.sh). Its 3N chunks do not fit the fast
    // kernels' registers in flight at once: those take no residual bias
    // (RBIAS_OK false; src/select.rs sends such rows to the general kernels).
    __device__ __forceinline__ void load(const RowIn<TX> &in, const Span &s, bool write_sum = true) {
        if constexpr (SKIP) {
            if (RBIAS_OK && in.rbias) load_body<RBIAS_OK>(in, s, write_sum);
            else load_body<false>(in, s, write_sum);
        } else {
            load_body<false>(in, s, false);
        }
    }
    template <bool RBIAS> __device__ __forceinline__ void load_body(const RowIn<TX> &in, const Span &s, bool write_sum) {
        Chunk<TX, E> raw[N];
#pragma unroll
        for (int i = 0; i < N; ++i) raw[i] = load_chunk<TX, E>(in.x, source_chunk(s, i));
        if constexpr (SKIP) {
            Chunk<TX, E> sk[N];
#pragma unroll
            for (int i = 0; i < N; ++i) sk[i] = load_chunk<TX, E>(in.skip, source_chunk(s, i));
            if constexpr (RBIAS) {
                Chunk<TX, E> rb[N];
#pragma unroll
                for (int i = 0; i < N; ++i) rb[i] = load_chunk<TX, E>(in.rbias, source_chunk(s, i));
#pragma unroll
                for (int i = 0; i < N; ++i) raw[i] = add_rounded<TX, E>(raw[i], rb[i]);
            }
#pragma unroll
            for (int i = 0; i < N; ++i) raw[i] = add_rounded<TX, E>(raw[i], sk[i]);
            if (write_sum && in.sum) {
#pragma unroll
                for (int i = 0; i < N; ++i)
                    if (i < owned) store_raw<TX, E>(in.sum, s.chunk32(i), raw[i]);
            }
        }
        widen_from(raw);
    }
    __device__ __forceinline__ int source_chunk(const Span &s, int i) const { return i < owned ? s.chunk32(i) : 0; }
    __device__ __forceinline__ void widen_from(const Chunk<TX, E> (&raw)[N]) {
#pragma unroll
        for (int i = 0; i < N; ++i)
            if (i < owned) widen<TX, E>(raw[i], v[i]);
    }
    __device__ __forceinline__ void reload(const RowIn<TX> &in, const Span &s) { load(in, s, false); }
    template <class F> __device__ __forceinline__ void for_each(const Span &s, F f) {
#pragma unroll
        for (int i = 0; i < N; ++i)
            if (i < owned) f(s.chunk32(i), v[i]);
    }
};

// N chunks per thread held as loaded (16-bit rows of 8 chunks: 64 floats
// would not fit the register budget), widened on each use.
template <typename TX, int E, int N, bool SKIP = false> struct PackedRow {
    static constexpr bool kCentred = false;
    static constexpr bool kShort = true;
    // fast16's 128 elements per thread: pass 2 folds its lanes every kGroup
    // chunks into compensated sums (for_each_folded), as split slices do.
    static constexpr bool kFolds = N > 8;
    int owned; // chunks of this thread (Span::owned32)
    Chunk<TX, E> raw[N];

    __device__ __forceinline__ void load(const RowIn<TX> &in, const Span &s, bool write_sum = true) {
#pragma unroll
        for (int i = 0; i < N; ++i) {
            if (i < owned) {
                raw[i] = load_input<TX, E, SKIP>(in, s.chunk32(i));
                if (SKIP && in.sum && write_sum) store_raw<TX, E>(in.sum, s.chunk32(i), raw[i]);
            }
        }
    }
    // Every chunk's loads issued before any is used, as FloatRow::load does
    // (a chunk past the row's end reads the thread's first chunk again): the
    // grid variant's tiles. Predicated per chunk as in `load`, ptxas issued
    // SkipLayerNorm's X, Skip and residual-bias loads of each chunk after the
    // previous chunk's adds.
    __device__ __forceinline__ void load_together(const RowIn<TX> &in, const Span &s) {
        if (SKIP && in.rbias) load_together_body<true>(in, s);
        else load_together_body<false>(in, s);
    }
    template <bool RBIAS> __device__ __forceinline__ void load_together_body(const RowIn<TX> &in, const Span &s) {
        const auto at = [&](int i) { return i < owned ? s.chunk32(i) : 0; };
#pragma unroll
        for (int i = 0; i < N; ++i) raw[i] = load_chunk<TX, E>(in.x, at(i));
        if constexpr (SKIP) {
            Chunk<TX, E> sk[N];
#pragma unroll
            for (int i = 0; i < N; ++i) sk[i] = load_chunk<TX, E>(in.skip, at(i));
            if constexpr (RBIAS) {
                Chunk<TX, E> rb[N];
#pragma unroll
                for (int i = 0; i < N; ++i) rb[i] = load_chunk<TX, E>(in.rbias, at(i));
#pragma unroll
                for (int i = 0; i < N; ++i) raw[i] = add_rounded<TX, E>(raw[i], rb[i]);
            }
#pragma unroll
            for (int i = 0; i < N; ++i) raw[i] = add_rounded<TX, E>(raw[i], sk[i]);
            if (in.sum) {
#pragma unroll
                for (int i = 0; i < N; ++i)
                    if (i < owned) store_raw<TX, E>(in.sum, s.chunk32(i), raw[i]);
            }
        }
    }
    __device__ __forceinline__ void reload(const RowIn<TX> &in, const Span &s) { load(in, s, false); }
    template <class F> __device__ __forceinline__ void for_each(const Span &s, F f) const { for_each_folded(s, f, [] {}); }
    // for_each, with done() after every kGroup chunks (thread-local: done
    // may not synchronise).
    template <class F, class G> __device__ __forceinline__ void for_each_folded(const Span &s, F f, G done) const {
#pragma unroll
        for (int i = 0; i < N; ++i) {
            if (i < owned) {
                float x[E];
                widen<TX, E>(raw[i], x);
                f(s.chunk32(i), x);
            }
            if ((i + 1) % kGroup == 0) done();
        }
    }
};

template <typename TX, int E, int N, bool SKIP>
using RegisterRow = std::conditional_t<(N * E <= 32), FloatRow<TX, E, N, SKIP>, PackedRow<TX, E, N, SKIP>>;

// A block's slice of a split row, in shared memory (chunk c at cache[c - begin]).
template <typename TX, int E> struct SharedSlice {
    static constexpr bool kCentred = false;
    static constexpr bool kShort = false;
    const Chunk<TX, E> *cache;
    __device__ __forceinline__ Chunk<TX, E> get(int64_t c, const Span &s) const { return cache[c - s.begin]; }
    __device__ __forceinline__ void reload(const RowIn<TX> &, const Span &) {}
    static constexpr bool kReversed = false;
    static constexpr bool kPrefetch = false;
    static constexpr int ahead = 0;
    __device__ __forceinline__ void prefetch(int64_t, int64_t, const Span &) const {}
};

// A chunk this kernel wrote (SkipLayerNorm's S), read back by the thread
// that wrote it: ld.global.cg, never the non-coherent path __ldg takes.
template <typename TX, int E> __device__ __forceinline__ Chunk<TX, E> load_written(const TX *row, int64_t c) {
    const uint4 raw = __ldcg(reinterpret_cast<const uint4 *>(row) + c);
    return *reinterpret_cast<const Chunk<TX, E> *>(&raw);
}

// Split slices streamed from global memory (split_stream): each thread
// keeps only kGroup chunks in flight (16 KB per block of 256 threads), and
// with a few blocks per SM that is short of what DRAM's latency times its
// bandwidth asks for (H200: about 40 KB per SM). Thread 0 of the block adds
// bulk L2 prefetches of the slice `ahead` chunks in front of the block's
// walk (TlnParams::prefetch_chunks): the threads' loads then hit L2.
// Chunks [lo, hi) of `row`, clipped to the slice; 16-byte chunks on sm_90+
// only (elsewhere nothing: `ahead` is 0 there, src/select.rs).
template <typename TX, int E>
__device__ __forceinline__ void prefetch_chunks(const TX *row, int64_t lo, int64_t hi, const Span &s) {
#if __CUDA_ARCH__ >= 900
    if constexpr (sizeof(Chunk<TX, E>) == 16) {
        lo = max(lo, s.begin);
        hi = min(hi, s.end);
        if (hi > lo)
            asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(reinterpret_cast<const uint4 *>(row) + lo),
                         "r"(uint32_t((hi - lo) * 16))
                         : "memory");
    }
#endif
}

// A block's slice of a split row, re-read from global memory (L2 when it
// fits); SKIP: S read back where pass 1 wrote it (16-byte chunks; the same
// thread wrote each chunk it reads), else X and Skip re-read and added
// again, as pass 1 added them.
//
// Re-reads walk the slice backwards (kReversed; pass 1 ran forward, and a
// pass 3 after a backward pass 2 runs forward again: split_rows): when the
// row's slices together exceed L2 (32 x 2^20 FP16: 64 MB of X in flight),
// a forward re-read meets the slice's oldest lines first, already evicted,
// and each miss evicts the next line it needs; walking back from the end
// reads what is still there first.
//
// `ahead` > 0 (TlnParams::prefetch_chunks): thread 0 of the block keeps bulk
// L2 prefetches that many chunks in front of each walk (prefetch_chunks).
template <typename TX, int E, bool SKIP> struct GlobalSlice {
    static constexpr bool kCentred = false;
    static constexpr bool kShort = false;
    RowIn<TX> in;
    int ahead = 0;
    static constexpr bool kReversed = true;
    // Not SkipLayerNorm: its streamed rows lost 5-6% with the prefetches one
    // step ahead, more further ahead (H200, 32 x 2^20), and 2-20% with their
    // code merely compiled in (src/select.rs, SPLIT_STREAM_PREFETCH_STEPS).
    static constexpr bool kPrefetch = !SKIP && sizeof(Chunk<TX, E>) == 16;
    __device__ __forceinline__ Chunk<TX, E> get(int64_t c, const Span &) const {
        if constexpr (SKIP && sizeof(Chunk<TX, E>) == 16) {
            if (in.sum) return load_written<TX, E>(in.sum, c);
        }
        return load_input<TX, E, SKIP>(in, c);
    }
    __device__ __forceinline__ void reload(const RowIn<TX> &, const Span &) {}
    // Chunks [lo, hi) of the slice into L2, from where get() will read them.
    __device__ __forceinline__ void prefetch(int64_t lo, int64_t hi, const Span &s) const {
        if constexpr (kPrefetch) prefetch_chunks<TX, E>(in.x, lo, hi, s);
    }
};

// Chunks of a slice source in groups of kGroup (loads of a group in flight
// together): f(c, x) for each chunk, then done() after each group. The
// group count is the block's, so that every thread walks the slice in step
// (a trailing group may be empty for some). kGroup is defined with the
// register rows (PackedRow::for_each_folded walks them too).
//
// A prefetching source (GlobalSlice::ahead > 0): thread 0 prefetches the
// group `ahead` chunks further along the walk as it starts each group; the
// first `ahead` chunks are left to the loads (a re-read finds them in L2:
// the previous pass ended there).
template <typename TX, int E, class Src, class F, class G>
__device__ __forceinline__ void for_each_grouped(const Src &src, const Span &s, F f, G done) {
    const int64_t span = int64_t(kGroup) * s.step;
    const int64_t groups = (s.end - s.begin + span - 1) / span;
    const bool prefetching = Src::kPrefetch && src.ahead > 0 && threadIdx.x == 0;
    for (int64_t i = 0; i < groups; ++i) {
        const int64_t c0 = s.begin + s.lane + (Src::kReversed ? groups - 1 - i : i) * span;
        if (prefetching) {
            if (Src::kReversed) src.prefetch(c0 - src.ahead, c0 - src.ahead + span, s);
            else src.prefetch(c0 + src.ahead, c0 + src.ahead + span, s);
        }
        Chunk<TX, E> raw[kGroup];
#pragma unroll
        for (int u = 0; u < kGroup; ++u) {
            const int64_t c = c0 + int64_t(u) * s.step;
            if (c < s.end) raw[u] = src.get(c, s);
        }
#pragma unroll
        for (int u = 0; u < kGroup; ++u) {
            const int64_t c = c0 + int64_t(u) * s.step;
            if (c < s.end) {
                float x[E];
                widen<TX, E>(raw[u], x);
                f(c, x);
            }
        }
        done();
    }
}

// ---------------------------------------------------------------------------
// Pass 1: sum(x*s) over this thread's chunks, E lanes summed pairwise at the end.
// ---------------------------------------------------------------------------
template <typename TX, int E, class Src>
__device__ __forceinline__ float sum_pass(Src &src, const Span &s, float scale) {
    float l[kLanes<E>] = {};
    auto add = [&](auto, const float (&x)[E]) {
#pragma unroll
        for (int e = 0; e < E; ++e) l[e % kLanes<E>] = fmaf(x[e], scale, l[e % kLanes<E>]);
    };
    if constexpr (Src::kShort) src.for_each(s, add);
    else for_each_grouped<TX, E>(src, s, add, [] {});
    return fold<kLanes<E>>(l);
}

// Pass 2: d = x*s - m; S1 = sum(d), S2 = sum(d*d) over this thread's chunks.
// Register rows keep d in place of x. Slices fold their lanes every kGroup
// chunks into compensated sums: a thread of a split row owns up to hundreds
// of chunks, and its error stays a few ulps.
template <typename TX, int E, class Src>
__device__ __forceinline__ float2 moments_pass(Src &src, const Span &s, float scale, float m) {
    constexpr int L = kLanes<E>;
    float a[L] = {}, b[L] = {};
    auto acc = [&](auto, float (&x)[E]) {
#pragma unroll
        for (int e = 0; e < E; ++e) {
            const float d = fmaf(x[e], scale, -m);
            if constexpr (Src::kCentred) x[e] = d;
            a[e % L] += d;
            b[e % L] = fmaf(d, d, b[e % L]);
        }
    };
    CSum s1, s2;
    const auto done = [&] {
        s1.add(fold<L>(a));
        s2.add(fold<L>(b));
#pragma unroll
        for (int e = 0; e < L; ++e) a[e] = b[e] = 0.f;
    };
    if constexpr (Src::kShort && !kFoldsPass2<Src>) {
        src.for_each(s, acc);
        return make_float2(fold<L>(a), fold<L>(b));
    } else if constexpr (Src::kShort) {
        src.for_each_folded(s, acc, done);
        return make_float2(s1.value(), s2.value());
    } else {
        for_each_grouped<TX, E>(src, s, acc, done);
        return make_float2(s1.value(), s2.value());
    }
}

// The wide one-shot's pass (row_statistics_wide): S1 = sum(d), S2 =
// sum(d*d) in FP64 over a register row, d = x - x0 exact (two FP32 values
// differ by an FP64 exactly), each chunk's E terms summed pairwise. X stays
// in place: pass 3 shifts by the mean.
template <typename TX, int E, class Src>
__device__ __forceinline__ double2 wide_moments_pass(Src &src, const Span &s, float x0) {
    static_assert(Src::kShort && Src::kCentred, "a register row of floats (FloatRow)");
    double s1 = 0.0, s2 = 0.0;
    src.for_each(s, [&](auto, const float (&x)[E]) {
        double a[E], b[E];
#pragma unroll
        for (int e = 0; e < E; ++e) {
            a[e] = double(x[e]) - double(x0);
            b[e] = a[e] * a[e];
        }
        s1 += fold<E>(a);
        s2 += fold<E>(b);
    });
    return make_double2(s1, s2);
}

template <typename TX, int E, class Src> __device__ __forceinline__ float max_abs_pass(Src &src, const Span &s) {
    float mx = 0.f;
    auto f = [&](auto, const float (&x)[E]) {
#pragma unroll
        for (int e = 0; e < E; ++e) mx = fmaxf(mx, fabsf(x[e]));
    };
    if constexpr (Src::kShort) src.for_each(s, f);
    else for_each_grouped<TX, E>(src, s, f, [] {});
    return mx;
}

// Pass 1 over DRAM for the split variants: U loads in flight per thread,
// each chunk kept in the shared-memory slice when CACHE. Returns this thread's sum.
//
// A cached slice of 16-byte chunks is filled with cp.async (sm_80+) instead:
// every chunk of the slice is in flight at once and no register holds it on
// the way. With U register loads per thread, a block of 256 threads had 16 KB
// in flight, and a split row's SMs waited on DRAM latency. The copies go in
// up to four groups of at least four chunks, so that summing the first
// overlaps the arrival of the rest (one group per chunk was slower).
// Each thread reads back only the chunks it copied: waiting for its own
// copies is enough.
template <int Pending> __device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;" ::"n"(Pending) : "memory");
}

// What pass 1 of a split slice hands on: `sum` (two-pass), or the moments
// S1 (hi + lo) and S2 about x0.
struct FirstPass {
    float sum = 0.f;
    HiLo s1;
    float s2 = 0.f, x0 = 0.f;
};

// What pass 1 of a split slice accumulates. Two-pass: sum(x), E lanes
// summed pairwise at the end (m only has to be near the mean). MOMENTS:
// S1 = sum(d), S2 = sum(d*d) of d = x - x0, the lanes folded into
// compensated sums every kGroup chunks, as pass 2 does: LayerNorm's
// one-shot (row_statistics) with x0 the row's first element, RMSNorm's
// statistic itself with x0 = 0.
template <typename TX, int E, bool MOMENTS> struct FirstPassAcc {
    static constexpr int L = kLanes<E>;
    float x0 = 0.f;
    float l[E] = {};
    float a[L] = {}, b[L] = {};
    CSum s1, s2;
    int pending = 0;

    __device__ __forceinline__ void add(const Chunk<TX, E> &ch) {
        float x[E];
        widen<TX, E>(ch, x);
        if constexpr (MOMENTS) {
#pragma unroll
            for (int e = 0; e < E; ++e) {
                const float d = x[e] - x0;
                a[e % L] += d;
                b[e % L] = fmaf(d, d, b[e % L]);
            }
            if (++pending == kGroup) flush();
        } else {
#pragma unroll
            for (int e = 0; e < E; ++e) l[e] += x[e];
        }
    }
    __device__ __forceinline__ void flush() {
        s1.add(fold<L>(a));
        s2.add(fold<L>(b));
#pragma unroll
        for (int e = 0; e < L; ++e) a[e] = b[e] = 0.f;
        pending = 0;
    }
    __device__ __forceinline__ FirstPass result() {
        FirstPass r;
        r.x0 = x0;
        if constexpr (MOMENTS) {
            flush();
            r.s1 = HiLo{s1.s, s1.c};
            r.s2 = s2.value();
        } else {
            r.sum = fold<E>(l);
        }
        return r;
    }
};

// SKIP: s is formed in registers (and written to S), so no cp.async fill.
// Streamed (!CACHE), `ahead` > 0: bulk L2 prefetches lead the loads (see
// prefetch_chunks).
// MOMENTS: the moments about x0 are accumulated (FirstPassAcc); with
// `centre`, x0 is the row's first element (s's, SKIP), loaded alongside the
// slice, else 0 (RMSNorm).
template <typename TX, int E, bool CACHE, bool SKIP, bool MOMENTS, int U = 4>
__device__ __forceinline__ FirstPass first_pass(const RowIn<TX> &in, const Span &s, Chunk<TX, E> *cache, bool centre,
                                                int ahead) {
    const TX *__restrict__ xr = in.x;
#if __CUDA_ARCH__ >= 800
    constexpr bool kAsyncFill = CACHE && !SKIP && sizeof(Chunk<TX, E>) == 16;
#else
    constexpr bool kAsyncFill = false;
#endif
    FirstPassAcc<TX, E, MOMENTS> acc;
    if constexpr (kAsyncFill) {
        const int64_t first = s.begin + s.lane;
        const int64_t mine = first < s.end ? (s.end - first + s.step - 1) / s.step : 0; // chunks of this thread
        const int64_t per_group = max((mine + 3) / 4, int64_t(4)); // short slices: fewer, fuller groups
        auto group_end = [&](int g) { return first + min(mine, per_group * g) * s.step; };
        for (int g = 0; g < 4; ++g) {
            for (int64_t c = group_end(g); c < group_end(g + 1); c += s.step) {
                const unsigned dst = static_cast<unsigned>(__cvta_generic_to_shared(&cache[c - s.begin]));
                asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(dst),
                             "l"(reinterpret_cast<const uint4 *>(xr) + c)
                             : "memory");
            }
            asm volatile("cp.async.commit_group;" ::: "memory");
        }
        // Issued after the copies: its round trip overlaps theirs.
        if (MOMENTS && centre) acc.x0 = load_input<TX, 1, SKIP>(in, 0).at(0);
        auto sum_group = [&](int g) {
            for (int64_t c = group_end(g); c < group_end(g + 1); c += s.step) acc.add(cache[c - s.begin]);
        };
        cp_async_wait<3>();
        sum_group(0);
        cp_async_wait<2>();
        sum_group(1);
        cp_async_wait<1>();
        sum_group(2);
        cp_async_wait<0>();
        sum_group(3);
    } else {
        // x0's load goes out before the first group's, and is waited for
        // only once those are issued.
        float first = 0.f;
        if (MOMENTS && centre) first = load_input<TX, 1, SKIP>(in, 0).at(0);
        // Streamed (`ahead` > 0, thread 0): the groups up to `ahead` chunks
        // on are prefetched before the walk, then one group per step.
        const int64_t span = int64_t(U) * s.step;
        const bool prefetching = GlobalSlice<TX, E, SKIP>::kPrefetch && !CACHE && ahead > 0 && threadIdx.x == 0;
        if (prefetching) prefetch_chunks<TX, E>(xr, s.begin + span, s.begin + ahead, s);
        for (int64_t c0 = s.begin + s.lane; c0 < s.end; c0 += span) {
            if (prefetching) prefetch_chunks<TX, E>(xr, c0 + ahead, c0 + ahead + span, s);
            Chunk<TX, E> t[U];
#pragma unroll
            for (int u = 0; u < U; ++u) {
                const int64_t c = c0 + int64_t(u) * s.step;
                if (c < s.end) t[u] = load_input<TX, E, SKIP>(in, c);
            }
            if (c0 == s.begin + s.lane) acc.x0 = first;
#pragma unroll
            for (int u = 0; u < U; ++u) {
                const int64_t c = c0 + int64_t(u) * s.step;
                if (c < s.end) {
                    if (SKIP && in.sum) store_raw<TX, E>(in.sum, c, t[u]);
                    if constexpr (CACHE) cache[c - s.begin] = t[u];
                    acc.add(t[u]);
                }
            }
        }
        acc.x0 = first; // a thread with no chunks
    }
    return acc.result();
}

// FP16 inputs are at most 65504 in magnitude: their sums cannot overflow.
template <typename TX> constexpr bool kMayOverflow = !std::is_same<TX, __half>::value;

struct RowStats {
    float scale_pow2, shift, corr_rstd, rstd;
    // A centred register row's one-shot: its d = x - x0 is off the mean by c1 + c (c tiny).
    float offset;
};

// 1/sqrt(v) for v > 0: the hardware estimate plus one Newton step, about an
// ulp (IEEE sqrt and division cost ~20 instructions in every thread of every row).
__device__ __forceinline__ float rsqrt_refined(float v) {
    const float r = rsqrtf(v);
    const float e = fmaf(-v * r, r, 1.f); // 1 - v*r^2
    return fmaf(0.5f * r, e, r);
}

// The overflow redo of row_statistics: the row reloaded, and its sums
// taken again from X scaled by `scale` = 2^k, max|x*s| in [2^39, 2^40)
// (rows that did not overflow, sharing the reductions, keep 1). Register
// rows are left holding d = x*s - m, as pass 3 reads them.
template <typename TX, int E, class Src, class Red>
__device__ __forceinline__ void rescaled_sums(Src &src, const Span &s, const Red &red, const RowIn<TX> &in, bool active,
                                              bool overflowed, bool rms, float inv_n, float &scale, float (&t)[1],
                                              float &m, float (&q)[2]) {
    if (active) src.reload(in, s);
    const float amax = red.max(active ? max_abs_pass<TX, E>(src, s) : 0.f);
    if (overflowed && isfinite(amax) && amax > 0.f) scale = ldexpf(1.f, 39 - ilogbf(amax));
    if (!rms) {
        t[0] = active ? sum_pass<TX, E>(src, s, scale) : 0.f;
        red.sum(t, 0);
        m = t[0] * inv_n;
    }
    const float2 mo2 = active ? moments_pass<TX, E>(src, s, scale, m) : make_float2(0.f, 0.f);
    q[0] = mo2.x;
    q[1] = mo2.y;
    red.sum(q, 1);
}

// rescaled_sums for RMSNorm's short rows (kPredicated reducer), out of
// line: inline, the redo (about 580 instructions in fastrms1_bf16) sat
// between the reduction and pass 3, and every row jumped over it (FP16,
// whose squares cannot overflow, has no redo: BF16 short rows ran 0.06-0.11
// us slower than FP16's on the H200, h200-2026-12-03e-rmsnorm.json).
// H100, 2026-12-07, us: RMSNorm FP32 1 x 4096 2.02 -> 1.91, 1 x 768
// 1.49 -> 1.45, 512 x 1024 3.30 -> 3.23; BF16 1 x 768 1.45 -> 1.43, 128 x
// 768 1.68 -> 1.66; the call costs registers (fastrms1_bf16: 48 -> 64;
// fastrms2_bf16: 53 -> 64 and a 32-40 byte stack frame, used by the cold
// call only), and LayerNorm's and SkipLayerNorm's one-shot rows lost with
// it (SkipLayerNorm BF16 1 x 4096 2.01 -> 2.33, 4096 x 768 10.56 ->
// 11.35), so they keep it inline (benches/results/h100-2026-12-07-ab.txt).
// Returns scale, m and the sums.
struct Rescaled {
    float scale, m, q0, q1;
};
template <typename TX, int E, class Src, class Red>
__device__ __noinline__ Rescaled rescaled_sums_outlined(const RowIn<TX> in, const Span s, const Red red, int owned, bool active,
                                                        bool overflowed, bool rms, float inv_n, float m) {
    Src src;
    src.owned = owned;
    float scale = 1.f, t[1] = {0.f}, q[2];
    rescaled_sums<TX, E>(src, s, red, in, active, overflowed, rms, inv_n, scale, t, m, q);
    return Rescaled{scale, m, q[0], q[1]};
}

// Everything after pass 1 (whose per-thread sum is `sum`): the mean's
// estimate m, pass 2, the statistics, and the rescaled redo for rows whose
// sums overflowed.
//
// RMSNorm (`rms`) shares all of it with m = 0: pass 1 is skipped (`sum` is
// 0), pass 2's S2 = sum(x^2) is the statistic, rstd = 1/sqrt(S2/H + eps),
// and pass 3 computes x * rstd. S2 sums non-negative terms, so it cannot
// cancel; it overflows for |x| beyond ~1e19 (FP32/BF16), and the same
// rescaled redo takes over.
//
// Split slices whose pass 1 took the moments (`first`) skip pass 2:
// RMSNorm's S2 about 0 is its statistic.
//
// One-shot (16-bit outputs of LayerNorm, and of SkipLayerNorm's short rows:
// a split slice whose pass 1 took the moments about the row's first element
// x0, `first`, or a fast kernel's register row, `x0`, taking them about it
// in pass 2): one reduction gives
// c = mean - x0 and mean(d^2) = var + c^2. Unless x0 is an outlier, |c| is
// within a few standard deviations and var = mean(d^2) - c^2 loses at most
// 4 bits when c^2 <= 16 var: its FP32 error stays below 2^-19 relative, far
// under a 16-bit output's ulp (2^-11 or 2^-8).
// c itself must be exact to a small fraction of the spread, though: an
// output near 0 is x - mean, and its ulp (FP16: 2^-24 below 2^-14) is
// ~2^-24 of the spread. c * rstd may be 4, so a c or a c * rstd rounded to
// FP32 cost such outputs up to 2 ulps (H200, FP16 7 x 65536 with no scale
// or bias: found by gpu_robustness on 2026-12-02). So S1 is reduced in FP64
// (sum_moments), c is kept as c1 + c_lo (the division's residual in an
// FMA), and pass 3 takes the deviation from x0 + c1 exactly near the mean:
// a split slice or a packed register row shifts by m = x0 + c1 rounded to
// FP32 and adds that rounding error to c_lo (no extra work per element); a
// row held as floats holds d = x - x0 and takes d - c1 (`offset`, one add
// per element). Otherwise (an outlier x0, or a row whose mean is far from
// x0 in its spread's units) the deviations x - x0 lost low bits: the row is
// reloaded (a split slice from shared or global memory) and a second pass
// centres it on x0 + c and reduces again: the two-pass algorithm above. Rows longer than 2^24 take
// that path too (H is no longer exact in FP32).
// FP32 outputs, whose bound is 2^-20, keep the full two passes, except in
// the short rows' fast kernels: one reduction in FP64 (row_statistics_wide).
template <typename TX, int E, class Src, class Red>
__device__ __forceinline__ RowStats row_statistics(Src &src, const Span &s, const Red &red, float sum, bool active,
                                                   float inv_n, float epsilon, const RowIn<TX> &in, bool rms,
                                                   const FirstPass *first = nullptr, int64_t cols = 0,
                                                   const float *x0 = nullptr) {
    float scale = 1.f;
    float t[1] = {rms ? 0.f : sum};
    float m = 0.f;
    float offset = 0.f;
    const bool one_shot = !rms && (first || x0);
    // One-shot rows that need no second pass: c and var, final.
    bool settled = false;
    float c_settled = 0.f, v_settled = 0.f;
    float q[2];
    if (one_shot) {
        m = first ? first->x0 : *x0;
        t[0] = 0.f;
        HiLo s1;
        q[1] = 0.f;
        if (first && active) {
            s1 = first->s1;
            q[1] = first->s2;
        } else if (active) {
            const float2 mo = moments_pass<TX, E>(src, s, scale, m); // centres the row in place
            s1.hi = mo.x;
            q[1] = mo.y;
        }
        red.sum_moments(s1, q[1], 1);
        // c = S1 / H as c1 + c_lo: the division's residual S1 - c1 * H is
        // exact in an FMA while H is (H <= 2^24; longer rows take two passes).
        // Short rows (a predicated reducer) take c1 from s1.hi alone:
        // sum_moments returns S1 as HiLo::split made it (hi the FP32
        // rounding, lo the rest), so s1v below is hi and s1_err is lo: the
        // same bits, three dependent instructions sooner.
        float c1, c_lo;
        const float n = static_cast<float>(cols);
        if constexpr (Red::kSteps == kPredicated) {
            c1 = s1.hi * inv_n;
            c_lo = (fmaf(-c1, n, s1.hi) + s1.lo) * inv_n;
        } else {
            const float s1v = s1.hi + s1.lo;
            const float s1_err = s1.lo - (s1v - s1.hi);
            c1 = s1v * inv_n;
            c_lo = (fmaf(-c1, n, s1v) + s1_err) * inv_n;
        }
        const float v1 = fmaf(-c1, c1, q[1] * inv_n);
        // Row-uniform; rows sharing a warp's shuffles all take the second
        // pass if any needs it (it only makes theirs more accurate).
        const bool recentre = (isfinite(q[1]) && !(c1 * c1 <= 16.f * v1)) || cols > (int64_t(1) << 24);
        // Far from the mean (an outlier, mostly), x0 cost the deviations
        // x - x0 their low bits (FP16 30000 - x keeps 2^-10 at best), which
        // recentring them cannot restore: reload the row (from L2) and take
        // pass 2 again about x0 + c, near the mean as the two-pass m is.
        if (red.any(recentre)) {
            if (active) src.reload(in, s);
            m += c1;
            const float2 mo2 = active ? moments_pass<TX, E>(src, s, scale, m) : make_float2(0.f, 0.f);
            q[0] = mo2.x;
            q[1] = mo2.y;
            red.sum(q, 0);
        } else if (Src::kCentred) {
            // The row holds d = x - x0: pass 3 takes (d - c1) (exact near
            // the mean) and c_lo as the remainder c.
            offset = c1;
            c_settled = c_lo;
            v_settled = v1;
            settled = true;
        } else {
            // Pass 3 shifts by the FP32 sum m = x0 + c1 and keeps its
            // rounding error (TwoSum) with c_lo as the remainder c.
            const float x_0 = m;
            m = x_0 + c1;
            const float bp = m - x_0;
            c_settled = ((x_0 - (m - bp)) + (c1 - bp)) + c_lo;
            v_settled = v1;
            settled = true;
        }
    } else {
        if (!rms) {
            red.sum(t, 0);
            m = t[0] * inv_n;
        }
        const float2 mo = !active ? make_float2(0.f, 0.f) : first ? make_float2(first->s1.hi, first->s2) : moments_pass<TX, E>(src, s, scale, m);
        q[0] = mo.x;
        q[1] = mo.y;
        if (Red::kSteps == kPredicated && rms) {
            // Short RMSNorm rows reduce S2 alone: half the shuffles on their
            // chain (the sum of x, which RMSNorm never reads, goes unused).
            float s2[1] = {q[1]};
            red.sum(s2, 1);
            q[1] = s2[0];
        } else {
            red.sum(q, 1);
        }
    }

    if constexpr (kMayOverflow<TX>) {
        // Overflowed sums (|x| beyond ~1e19, or an Inf/NaN input): redo the
        // row from X scaled so that max|x*s| is in [2^39, 2^40). Inf/NaN
        // inputs stay unscaled and give NaN, as the reference does.
        const bool overflowed = active && !(isfinite(t[0]) && isfinite(q[1]));
        if (red.any(overflowed)) {
            // RMSNorm only: LayerNorm's and SkipLayerNorm's one-shot rows
            // lost with the redo out of line (see rescaled_sums_outlined).
            bool outlined = false;
            if constexpr (Red::kSteps == kPredicated) {
                if (rms) {
                    const Rescaled r = rescaled_sums_outlined<TX, E, Src>(in, s, red, src.owned, active, overflowed, rms, inv_n, m);
                    scale = r.scale;
                    m = r.m;
                    q[0] = r.q0;
                    q[1] = r.q1;
                    // The row as rescaled_sums leaves it, for pass 3.
                    if (active) {
                        src.reload(in, s);
                        moments_pass<TX, E>(src, s, scale, m);
                    }
                    outlined = true;
                }
            }
            if (!outlined) rescaled_sums<TX, E>(src, s, red, in, active, overflowed, rms, inv_n, scale, t, m, q);
            settled = false;
            offset = 0.f;
        }
    }

    // mean(d^2) = var + c^2, with c = mean(d) = mean - m.
    const float c = rms ? 0.f : settled ? c_settled : q[0] * inv_n;
    const float var = fmaxf(settled ? v_settled : fmaf(-c, c, q[1] * inv_n), 0.f);
    const float den = fmaf(epsilon * scale, scale, var);
    // den == 0 for a constant row (RMSNorm: a zero row) whose eps*s^2
    // underflowed: every deviation is then exactly 0, and so is the
    // normalized value. With epsilon 0 (an exporter folded it away) the
    // graph divides 0 by 0: rstd = inf makes every output NaN, as there.
    const float rstd = den > 0.f ? rsqrt_refined(den) : (epsilon > 0.f ? 0.f : __int_as_float(0x7f800000));
    return RowStats{scale, m, c * rstd, rstd, offset};
}

// The short rows' statistics for FP32 outputs (fast kernels of 1 and 2
// chunks per thread; LayerNorm and SkipLayerNorm): one reduction, in FP64. With d = x - x0 exact (x0 the row's first element), S1 = sum(d) and
// S2 = sum(d^2) are accurate to about 2^-45 of themselves, and var = S2/H -
// c^2 (c = S1/H = mean - x0) loses at most log2(H + 1) bits to the
// cancellation, because (x0 - mean)^2 <= H var whatever x0 is: 2^-31 of var
// for these rows (H <= 2^13), far below FP32 outputs' 2^-20. So no row takes
// a second pass, and none overflows (squares of FP32 values stay far inside
// FP64's range): no vote, no reload, no rescaled redo, where the two-pass
// takes two reductions and may redo both. Pass 3 computes x*s - m as the
// two-pass does (m the mean rounded to FP32, its rounding error the
// remainder c); s is a power of two, 1 unless var + eps is beyond 2^66, that
// keeps den * s^2 and the deviations in FP32's range.
// `mo`: this thread's S1 and S2 (wide_moments_pass; 0 where inactive).
// kTreeWarps: as slots_tree's (4 for 16-bit X, whose kernels spilled with 8).
template <int kTreeWarps, class Red>
__device__ __forceinline__ RowStats row_statistics_wide(double2 mo, const Red &red, float x0, const TlnParams &p) {
    double s1 = mo.x, s2 = mo.y;
    // 1/H to FP64's precision: two Newton steps from the host's FP32 1/H
    // (an FP64 division is a call), off the chain: they wait for no load.
    const double h = double(p.cols);
    double inv_h = p.inv_cols;
    inv_h = fma(inv_h, fma(-h, inv_h, 1.0), inv_h);
    inv_h = fma(inv_h, fma(-h, inv_h, 1.0), inv_h);
    red.template sum_wide<kTreeWarps>(s1, s2, 1);
    const double c = s1 * inv_h;
    const double var = fmax(fma(-c, c, s2 * inv_h), 0.0);
    const double den = var + double(p.epsilon);
    // s = 2^-k, den * s^2 below 2^66: k <= 97 for FP32 inputs (their
    // squares stay below 2^260); NaN's exponent field gives the clamp.
    const int e = ((__double2hiint(den) >> 20) & 0x7ff) - 1023;
    const int k = min(max(e / 2 - 32, 0), 110);
    const double sd = __hiloint2double((1023 - k) << 20, 0);
    const double ms = (double(x0) + c) * sd;
    const float m = float(ms);
    const float c_lo = float(ms - double(m));
    const float dens = float(den * sd * sd);
    // As row_statistics: a constant row with epsilon 0 gives NaN, as the graph does.
    const float rstd = dens > 0.f ? rsqrt_refined(dens) : (p.epsilon > 0.f ? 0.f : __int_as_float(0x7f800000));
    return RowStats{float(sd), m, c_lo * rstd, rstd, 0.f};
}

template <typename T> constexpr int32_t kDType = TLN_DTYPE_F32;
template <> constexpr int32_t kDType<__half> = TLN_DTYPE_F16;
template <> constexpr int32_t kDType<__nv_bfloat16> = TLN_DTYPE_BF16;

// How a row applies scale and bias: kAny reads them as their types and
// presence say; kBothAsX is the common case (both present, in X's type),
// kScaleAsX RMSNorm's (scale in X's type, no bias), with no per-chunk type
// switch or presence test (the switch's two 16-bit paths were if-converted
// into both conversions under predicates).
enum AffineKind { kAny, kBothAsX, kScaleAsX };

template <typename TX> __device__ __forceinline__ bool both_as_x(const TlnParams &p) {
    return p.scale && p.bias && p.scale_dtype == kDType<TX> && p.bias_dtype == kDType<TX>;
}
template <typename TX> __device__ __forceinline__ bool scale_as_x(const TlnParams &p) {
    return p.scale && !p.bias && p.scale_dtype == kDType<TX>;
}

// A chunk's scale and bias as FP32 (absent ones are not read).
template <int E> struct Affine {
    float g[E], b[E];
    template <typename I> __device__ __forceinline__ void load(const TlnParams &p, I c) {
        if (p.scale) load_param<E>(p.scale, p.scale_dtype, c, g);
        if (p.bias) load_param<E>(p.bias, p.bias_dtype, c, b);
    }
    template <typename TX, typename I> __device__ __forceinline__ void load_as(const TlnParams &p, I c) {
        widen<TX, E>(load_chunk<TX, E>(static_cast<const TX *>(p.scale), c), g);
        widen<TX, E>(load_chunk<TX, E>(static_cast<const TX *>(p.bias), c), b);
    }
    template <typename TX, AffineKind K, typename I> __device__ __forceinline__ void load_kind(const TlnParams &p, I c) {
        if constexpr (K == kBothAsX) load_as<TX>(p, c);
        else if constexpr (K == kScaleAsX) widen<TX, E>(load_chunk<TX, E>(static_cast<const TX *>(p.scale), c), g);
        else load(p, c);
    }
};

// Pass 3 for one chunk: normalize, affine, one rounding at the store. `x` is
// d = x*s - m already when CENTRED (OFFSET: a one-shot's d = x - x0, off by st.offset).
template <typename TY, int E, bool CENTRED, AffineKind K = kAny, bool OFFSET = false, bool STREAM = false, typename I>
__device__ __forceinline__ void write_chunk(const float (&x)[E], I c, const TlnParams &p, const RowStats &st,
                                           const Affine<E> &a, TY *__restrict__ yr) {
    float out[E];
#pragma unroll
    for (int e = 0; e < E; ++e) {
        const float d = CENTRED ? (OFFSET ? x[e] - st.offset : x[e]) : fmaf(x[e], st.scale_pow2, -st.shift);
        // (d - c) * rstd as fma(d, rstd, -c*rstd): c*rstd is small, and so is its rounding.
        out[e] = fmaf(d, st.rstd, -st.corr_rstd);
    }
    // One row-uniform branch per chunk, not per element.
    if (K == kBothAsX || (K == kAny && p.scale && p.bias)) {
#pragma unroll
        for (int e = 0; e < E; ++e) out[e] = fmaf(out[e], a.g[e], a.b[e]);
    } else if (K == kScaleAsX || p.scale) {
#pragma unroll
        for (int e = 0; e < E; ++e) out[e] *= a.g[e];
    } else if (p.bias) {
#pragma unroll
        for (int e = 0; e < E; ++e) out[e] += a.b[e];
    }
    store_chunk<TY, E, STREAM>(yr, c, out);
}

// Pass 3 over a register row, scale and bias read chunk by chunk (L1 hits:
// every row of the SM uses the same columns). The barrier keeps each chunk's
// loads after the previous chunk's store, so they do not all stay live at once.
template <typename TX, typename TY, int E, AffineKind K, bool OFFSET = false, class Src>
__device__ __forceinline__ void write_register_row(Src &src, const Span &s, const TlnParams &p, const RowStats &st,
                                                   TY *__restrict__ yr) {
    src.for_each(s, [&](auto c, const float (&x)[E]) {
        Affine<E> a;
        a.template load_kind<TX, K>(p, c);
        write_chunk<TY, E, Src::kCentred, K, OFFSET>(x, c, p, st, a, yr);
        asm volatile("" ::: "memory");
    });
}

// Pass 3 over a split slice. Its scale and bias are often L2 misses (a
// slice's parameters do not stay in L1 next to the shared-memory slice); the
// loop is unrolled so that the next chunk's loads are in flight while this
// one is written. REVERSED: walked from the end (GlobalSlice says why).
template <typename TX, typename TY, int E, AffineKind K, bool REVERSED, class Src>
__device__ __forceinline__ void write_slice(const Src &src, const Span &s, const TlnParams &p, const RowStats &st,
                                            TY *__restrict__ yr) {
    auto chunk = [&](int64_t c) {
        Affine<E> a;
        a.template load_kind<TX, K>(p, c);
        float x[E];
        widen<TX, E>(src.get(c, s), x);
        write_chunk<TY, E, false, K>(x, c, p, st, a, yr);
    };
    // A compile-time direction: with both loops in one kernel, chosen at run
    // time, ptxas spilled 20 registers in each (FP16 streamed).
    // A prefetching source (thread 0): kGroup steps' chunks `ahead` further
    // along, every kGroup steps.
    const int64_t first = s.begin + s.lane;
    const bool prefetching = Src::kPrefetch && src.ahead > 0 && threadIdx.x == 0;
    const int64_t window = int64_t(kGroup) * s.step;
    int i = 0;
    if constexpr (REVERSED) {
        if (first >= s.end) return;
        const int64_t last = first + (s.end - 1 - first) / s.step * s.step;
#pragma unroll 2
        for (int64_t c = last; c >= first; c -= s.step, ++i) {
            if (prefetching && i % kGroup == 0) src.prefetch(c + s.step - src.ahead - window, c + s.step - src.ahead, s);
            chunk(c);
        }
    } else {
#pragma unroll 2
        for (int64_t c = first; c < s.end; c += s.step, ++i) {
            if (prefetching && i % kGroup == 0) src.prefetch(c + src.ahead, c + src.ahead + window, s);
            chunk(c);
        }
    }
}

template <typename TX, typename TY, int E, bool REVERSED, class Src>
__device__ __forceinline__ void write_slice(const Src &src, const Span &s, const TlnParams &p, const RowStats &st,
                                            TY *__restrict__ yr) {
    if (both_as_x<TX>(p)) write_slice<TX, TY, E, kBothAsX, REVERSED>(src, s, p, st, yr);
    else if (scale_as_x<TX>(p)) write_slice<TX, TY, E, kScaleAsX, REVERSED>(src, s, p, st, yr);
    else write_slice<TX, TY, E, kAny, REVERSED>(src, s, p, st, yr);
}

#define TLN_BLOCK_SCRATCH                                                                                          \
    __shared__ float s_max[kMaxWarps];                                                                             \
    __shared__ float4 s_sums[2 * kMaxWarps];

// ---------------------------------------------------------------------------
// regs: groups of threads_per_row threads, each row held in registers as
// `Row` (FloatRow or PackedRow). K = kBothAsX: scale and bias are known to
// be both present in X's type; kAny: pass 3 checks, once per row.
// ---------------------------------------------------------------------------
template <typename TX, typename TY, int N, int E, class Row, AffineKind K>
__device__ __forceinline__ void regs_rows(const TlnParams &p) {
    TLN_BLOCK_SCRATCH
    const GroupReducer red{p.threads_per_row, s_sums, s_max};
    const int tpr = p.threads_per_row;
    const int rows_per_block = blockDim.x / tpr;
    const int group = threadIdx.x / tpr;
    const Span s{0, p.cols / E, int(threadIdx.x - group * tpr), tpr};
    const int owned = s.owned32(N);
    const int64_t row_step = int64_t(gridDim.x) * rows_per_block;
    const float inv_n = 1.f / static_cast<float>(p.cols);
    const bool rms = p.norm == TLN_NORM_RMS;

    // With one chunk per thread, a thread's columns are the same in every
    // row: scale and bias are read once, alongside the first row's X, not
    // after each row's statistics (on a tiny tensor, one DRAM round trip less).
    Affine<E> preloaded;
    if constexpr (N == 1) {
        if (s.lane < s.end) preloaded.template load_kind<TX, K>(p, s.lane);
    }

    for (int64_t base = int64_t(blockIdx.x) * rows_per_block; base < p.rows; base += row_step) {
        const int64_t row = base + group;
        const bool active = row < p.rows;
        const RowIn<TX> in = row_in<TX>(p, row);
        Row rr;
        rr.owned = owned;
        float sum = 0.f;
        if (active) {
            rr.load(in, s);
            if (!rms) sum = sum_pass<TX, E>(rr, s, 1.f);
        }
        const RowStats st = row_statistics<TX, E>(rr, s, red, sum, active, inv_n, p.epsilon, in, rms);
        if (!active) continue;
        TY *__restrict__ yr = static_cast<TY *>(p.y) + row * p.cols;
        if constexpr (N == 1) {
            rr.for_each(s, [&](auto c, const float (&x)[E]) {
                write_chunk<TY, E, Row::kCentred, K>(x, c, p, st, preloaded, yr);
            });
        } else if (K == kBothAsX || both_as_x<TX>(p)) {
            write_register_row<TX, TY, E, kBothAsX>(rr, s, p, st, yr);
        } else {
            write_register_row<TX, TY, E, kAny>(rr, s, p, st, yr);
        }
    }
}

// ---------------------------------------------------------------------------
// fast: the common case alone in its kernel, so that nothing else competes
// for its registers: 16-byte chunks, scale and bias both present in X's
// type, each row held in registers (widened to FP32 but for 16-bit fast8
// and fast16, which hold them packed).
//
// One row group per block and straight-line code: in a loop over rows the
// compiler kept every chunk's scale and bias addresses live across rows and
// spilled them. (A one-wave grid whose blocks copied their next row into
// shared memory with cp.async lost to this on the H200 at every shape but
// one; see the closing note of issue 10.)
// ---------------------------------------------------------------------------

// Where a fast block's rows are. Several rows per block only when they are
// narrower than 128 threads, and then tpr and the block are powers of two
// (src/select.rs): no integer division.
struct FastLayout {
    int tpr, group, rows_shift;
    bool one_row;
    __device__ __forceinline__ explicit FastLayout(int threads_per_row) : tpr(threads_per_row) {
        one_row = int(blockDim.x) == tpr;
        const int shift = __ffs(tpr) - 1;
        group = one_row ? 0 : int(threadIdx.x) >> shift;
        rows_shift = __ffs(blockDim.x) - 1 - shift; // log2(rows per block) when !one_row
    }
    // The first row of the row groups numbered `block`.
    __device__ __forceinline__ int64_t first_row(int64_t block) const { return one_row ? block : block << rows_shift; }
};

// Prefetches `bytes` at `src` (16-byte aligned, a multiple of 16) into L2,
// with the block's threads: one bulk prefetch on sm_90+, one line each before.
__device__ __forceinline__ void prefetch_l2(const void *src, uint32_t bytes) {
#if __CUDA_ARCH__ >= 900
    if (threadIdx.x == 0) asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(src), "r"(bytes) : "memory");
#else
    for (uint32_t off = threadIdx.x * 128u; off < bytes; off += blockDim.x * 128u)
        asm volatile("prefetch.global.L2 [%0];" ::"l"(static_cast<const char *>(src) + off));
#endif
}

// Which norm a fast kernel computes (a compile-time choice: one kernel each).
enum FastNorm { kFastLayer, kFastRms, kFastSkip };

// One row group per block (the grid covers the rows). kFastRms: RMSNorm,
// scale in X's type and no bias; else LayerNorm (kFastSkip: of s = (x +
// rbias) + skip), scale and bias in X's type.
template <typename TX, typename TY, int N, FastNorm NORM> __device__ __forceinline__ void fast_rows(const TlnParams &p) {
    constexpr int E = 16 / sizeof(TX);
    constexpr bool RMS = NORM == kFastRms;
    constexpr bool SKIP = NORM == kFastSkip;
    TLN_BLOCK_SCRATCH
    const FastLayout l(p.threads_per_row);
    // Rows of one or two chunks per thread are latency-bound (tiny tensors,
    // mostly): their reductions take no branch, and 1/H comes from the host.
    constexpr bool kShort = N <= 2;
    const GroupReducerT<(kShort ? kPredicated : SKIP ? kLooped : kUnrolled)> red{l.tpr, s_sums, s_max, l.group};
    const Span s{0, p.cols / E, int(threadIdx.x) - l.group * l.tpr, l.tpr};
    const int64_t first = l.first_row(blockIdx.x);
    const int64_t row = first + l.group;
    const bool active = row < p.rows;
    const RowIn<TX> in = row_in<TX>(p, row);
    // 16-bit rows of 8 chunks (LayerNorm, RMSNorm) stay as loaded and are
    // widened in each pass: 80 registers where 64 floats took 112, so an SM
    // holds 4 rows of 192 threads instead of 3 (H200, FP16 16384 x 12288:
    // 212.9 -> 191.0 us; TLN_FAST8_16BIT_MAX_REGS), for one conversion per
    // element more (pass 3 widens again). Rows of 16 chunks (fast16, up to
    // 65536 elements) too, in up to 128 registers. SkipLayerNorm keeps the floats:
    // its fastskip8 is compiled for 168 registers to keep X's and Skip's
    // loads in flight together.
    constexpr bool kPacked = N * E > 32 && !SKIP;
    std::conditional_t<kPacked, PackedRow<TX, E, N>, FloatRow<TX, E, N, SKIP, false>> rr;
    rr.owned = s.owned32(N);
    // Rows of one or two chunks per thread (tiny tensors, mostly): scale and
    // bias are loaded before X, so that their DRAM round trip overlaps X's
    // instead of following the statistics. Wider rows leave them to pass 3
    // (L1/L2 hits there; holding them would cost 2N x 4 registers).
    constexpr bool kPreload = N <= 2;
    Chunk<TX, E> pre_g[kPreload ? N : 1], pre_b[kPreload ? N : 1];
    if constexpr (kPreload) {
#pragma unroll
        for (int i = 0; i < N; ++i) {
            // ptxas sank RMSNorm's FP32 scale loads below the reduction
            // (load_chunk_early); the others' stay ahead of X's as written.
            if constexpr (RMS && std::is_same<TX, float>::value)
                pre_g[i] = load_chunk_early<TX, E>(static_cast<const TX *>(p.scale), rr.source_chunk(s, i));
            else
                pre_g[i] = load_chunk<TX, E>(static_cast<const TX *>(p.scale), rr.source_chunk(s, i));
            if constexpr (!RMS) pre_b[i] = load_chunk<TX, E>(static_cast<const TX *>(p.bias), rr.source_chunk(s, i));
        }
    } else if (blockIdx.x == 0) {
        // The first block brings scale and bias into L2 alongside its X (on
        // a one-block tensor, pass 3 then waits for L2, not DRAM); later
        // blocks find them there.
        const uint32_t bytes = uint32_t(p.cols * int64_t(sizeof(TX)));
        prefetch_l2(p.scale, bytes);
        if constexpr (!RMS) prefetch_l2(p.bias, bytes);
    }
    // LayerNorm's 16-bit outputs: one reduction when the row allows
    // (row_statistics), centred on its first element, which every thread
    // loads with its row; pass 3 then takes d - c1 (one add per element more
    // than the two-pass; packed rows shift by x0 + c1 instead). SkipLayerNorm's
    // longer rows keep the two passes: its one-shot lost (H200, FP16 4096 x
    // 4096: 39.0 us against 35.8; 16384 x 12288: 403 against 385).
    // SkipLayerNorm's short rows take it (H200, FP16 1 x 768: 1.56 us
    // against the two passes' 1.69; BF16 512 x 1024: 3.19 against 3.37).
    constexpr bool kOneShot = sizeof(TY) == 2 && (NORM == kFastLayer || (SKIP && kShort));
    // FP32 outputs of short rows: one reduction in FP64 (row_statistics_wide),
    // where the two-pass takes two (H200, LayerNorm FP32 1 x 4096: 2.28 us
    // against 2.50). For 16-bit outputs the FP32 one-shot costs less per
    // element (LayerNorm FP16 1 x 4096: 1.85 us against the FP64 one's 2.02;
    // SkipLayerNorm FP16 1 x 768: 1.56 against 1.65).
    constexpr bool kWide = kShort && !RMS && std::is_same<TY, float>::value;
    float x0 = 0.f;
    float sum = 0.f;
    double2 wide = make_double2(0.0, 0.0);
    if (active) {
        // Loaded before the row, added (SkipLayerNorm) after it: an add
        // here would wait for DRAM before the row's loads were issued.
        Chunk<TX, 1> first, first_skip;
        if constexpr (kOneShot || kWide) first = load_chunk<TX, 1>(in.x, 0);
        if constexpr (SKIP && (kOneShot || kWide)) first_skip = load_chunk<TX, 1>(in.skip, 0);
        if constexpr (kPacked) rr.load_together(in, s);
        else rr.load(in, s);
        if constexpr (SKIP && (kOneShot || kWide)) first = add_rounded<TX, 1>(first, first_skip);
        if constexpr (kOneShot || kWide) x0 = first.at(0);
        // kWide's pass here, beside the loads: in row_statistics_wide, x0's
        // FP64 conversion went into this block (before the row's loads were
        // issued) and waited for DRAM.
        if constexpr (kWide) wide = wide_moments_pass<TX, E>(rr, s, x0);
        else if constexpr (!kOneShot && !RMS) sum = sum_pass<TX, E>(rr, s, 1.f);
    }
    // The rows of a block that starts later, into L2 while this one reduces
    // (after this block's own loads, which come first).
    if (p.prefetch_rows > 0) {
        const int64_t ahead = first + p.prefetch_rows;
        const int64_t rows = min(int64_t(blockDim.x / l.tpr), p.rows - ahead);
        if (rows > 0) {
            const uint32_t bytes = uint32_t(rows * p.cols * int64_t(sizeof(TX)));
            prefetch_l2(static_cast<const TX *>(p.x) + ahead * p.cols, bytes);
            if constexpr (SKIP) prefetch_l2(static_cast<const TX *>(p.skip) + ahead * p.cols, bytes);
        }
    }
    const RowStats st = [&] {
        if constexpr (kWide) return row_statistics_wide<sizeof(TX) == 4 ? 8 : 4>(wide, red, x0, p);
        else return row_statistics<TX, E>(rr, s, red, sum, active, kShort ? p.inv_cols : 1.f / static_cast<float>(p.cols),
                                          p.epsilon, in, RMS, nullptr, p.cols, kOneShot ? &x0 : nullptr);
    }();
    constexpr AffineKind K = RMS ? kScaleAsX : kBothAsX;
    if (!active) return;
    TY *__restrict__ yr = static_cast<TY *>(p.y) + row * p.cols;
    if constexpr (kPreload) {
#pragma unroll
        for (int i = 0; i < N; ++i) {
            if (i < rr.owned) {
                Affine<E> a;
                widen<TX, E>(pre_g[i], a.g);
                if constexpr (!RMS) widen<TX, E>(pre_b[i], a.b);
                write_chunk<TY, E, !kWide, K, kOneShot>(rr.v[i], s.chunk32(i), p, st, a, yr);
            }
        }
    } else {
        write_register_row<TX, TY, E, K, kOneShot>(rr, s, p, st, yr);
    }
}

// ---------------------------------------------------------------------------
// split: one row per cluster of cluster_ctas blocks, slice_chunks chunks each.
// MOMENTS: pass 1 takes the moments (FirstPassAcc), so one reduction
// usually settles the row (row_statistics): one exchange and, streamed, one
// read of the slice fewer. LayerNorm takes them about the row's first
// element when its outputs are 16-bit (FP32 outputs keep the two passes),
// RMSNorm about 0. A template parameter, not a runtime flag: compiled into
// one loop, the two pass-1 forms raised split_cached_f16_f16's spills from
// 120 to 300 bytes (H200: RMSNorm 256 x 65536 33.4 -> 39.4 us).
// ---------------------------------------------------------------------------
template <typename TX, typename TY, bool CACHED, int E, bool SKIP, bool MOMENTS>
__device__ __forceinline__ void split_rows(const TlnParams &p, Chunk<TX, E> *cache) {
    TLN_BLOCK_SCRATCH
    __shared__ float4 s_cluster_slots[4];
    const int ctas = p.cluster_ctas;
    const ClusterReducer<!CACHED> red{GroupReducer{int(blockDim.x), s_sums, s_max}, ctas, s_cluster_slots};
    const int rank = blockIdx.x % ctas;
    const int64_t chunks = p.cols / E;
    const int64_t begin = rank * p.slice_chunks;
    const Span s{begin, begin + p.slice_chunks < chunks ? begin + p.slice_chunks : chunks, int(threadIdx.x), int(blockDim.x)};
    const float inv_n = 1.f / static_cast<float>(p.cols);
    const bool rms = p.norm == TLN_NORM_RMS; // two-pass: pass 1 still fills the slice; its sum goes unused

    for (int64_t row = blockIdx.x / ctas; row < p.rows; row += gridDim.x / ctas) {
        const RowIn<TX> in = row_in<TX>(p, row);
        TY *__restrict__ yr = static_cast<TY *>(p.y) + row * p.cols;
        const FirstPass first = first_pass<TX, E, CACHED, SKIP, MOMENTS>(in, s, cache, !rms, p.prefetch_chunks);
        const FirstPass *moments = MOMENTS ? &first : nullptr;
        if constexpr (CACHED) {
            SharedSlice<TX, E> src{cache};
            const RowStats st = row_statistics<TX, E>(src, s, red, first.sum, true, inv_n, p.epsilon, in, rms, moments, p.cols);
            write_slice<TX, TY, E, false>(src, s, p, st, yr);
        } else {
            // Pass 3 follows pass 1 (forward) with MOMENTS, else pass 2 (backward).
            GlobalSlice<TX, E, SKIP> src{in, p.prefetch_chunks};
            const RowStats st = row_statistics<TX, E>(src, s, red, first.sum, true, inv_n, p.epsilon, in, rms, moments, p.cols);
            write_slice<TX, TY, E, MOMENTS>(src, s, p, st, yr);
        }
    }
    red.finish();
}

// The pass-1 form of each norm (split_rows): moments for RMSNorm and for
// 16-bit outputs, the sum for LayerNorm's FP32 outputs.
template <typename TX, typename TY, bool CACHED, int E, bool SKIP>
__device__ __forceinline__ void split_norms(const TlnParams &p, Chunk<TX, E> *cache) {
    if constexpr (sizeof(TY) == 2) split_rows<TX, TY, CACHED, E, SKIP, true>(p, cache);
    else if (!SKIP && p.norm == TLN_NORM_RMS) split_rows<TX, TY, CACHED, E, SKIP, true>(p, cache);
    else split_rows<TX, TY, CACHED, E, SKIP, false>(p, cache);
}

// The general kernels serve SkipLayerNorm too (p.skip non-null), in code
// paths of their own: the other norms' paths are compiled as before.
template <typename TX, typename TY, int N> __device__ __forceinline__ void regs_dispatch(const TlnParams &p) {
    constexpr int EV = 16 / sizeof(TX);
    if (p.skip) {
        if (p.vectorized) regs_rows<TX, TY, N, EV, RegisterRow<TX, EV, N, true>, kAny>(p);
        else regs_rows<TX, TY, N, 1, RegisterRow<TX, 1, N, true>, kAny>(p);
    } else if (p.vectorized) {
        regs_rows<TX, TY, N, EV, RegisterRow<TX, EV, N, false>, kAny>(p);
    } else {
        regs_rows<TX, TY, N, 1, RegisterRow<TX, 1, N, false>, kAny>(p);
    }
}

template <typename TX, typename TY, bool CACHED>
__device__ __forceinline__ void split_dispatch(const TlnParams &p, unsigned char *smem) {
    constexpr int EV = 16 / sizeof(TX);
    if (p.skip) {
        if (p.vectorized) split_norms<TX, TY, CACHED, EV, true>(p, reinterpret_cast<Chunk<TX, EV> *>(smem));
        else split_norms<TX, TY, CACHED, 1, true>(p, reinterpret_cast<Chunk<TX, 1> *>(smem));
    } else if (p.vectorized) {
        split_norms<TX, TY, CACHED, EV, false>(p, reinterpret_cast<Chunk<TX, EV> *>(smem));
    } else {
        split_norms<TX, TY, CACHED, 1, false>(p, reinterpret_cast<Chunk<TX, 1> *>(smem));
    }
}


// ---------------------------------------------------------------------------
// grid: a row split over as many plain blocks as it has tiles of
// slice_chunks 16-byte chunks (TLN_GRID_CHUNKS_PER_THREAD per thread), in
// two launches with no cluster, no co-residency and no waiting between blocks:
//   gridstats  each block loads its tile into registers, takes the tile's
//              two-pass statistics (overflow rescaled as a register row's)
//              and writes them, unscaled, as FP64 to the workspace: the mean
//              and the sum of squared deviations from it (RMSNorm: 0 and
//              sum(x^2)); SkipLayerNorm writes S here;
//   gridnorm   each block loads its tile again (S where it was written),
//              merges its row's partials in FP64 in tile order (Chan, Golub
//              and LeVeque's pairwise update, all deviations non-negative:
//              no cancellation), every warp alike, so every block of a row
//              gets the same bits, and writes Y.
// Rows of 2^16 and more elements with few rows: every SM gets tiles however
// few rows there are, where a cluster holds at most 16 SMs per row. X is
// read twice; the second launch walks the tiles from the last (what the
// first launch read last is still in L2).
// ---------------------------------------------------------------------------

// A tile of the launch's inputs: the row's pointers moved to column `col0`.
template <typename TX> __device__ __forceinline__ RowIn<TX> tile_in(const TlnParams &p, int64_t row, int64_t col0) {
    RowIn<TX> in = row_in<TX>(p, row);
    in.x += col0;
    if (in.skip) in.skip += col0;
    if (in.rbias) in.rbias += col0;
    if (in.sum) in.sum += col0;
    return in;
}

// Where a grid block's tile is: row, first chunk and chunk count.
struct GridTile {
    int64_t row, chunk0, tiles;
    int chunks;
    template <int E> __device__ __forceinline__ static GridTile of(const TlnParams &p, int64_t block) {
        GridTile t;
        const int64_t row_chunks = p.cols / E;
        t.tiles = (row_chunks + p.slice_chunks - 1) / p.slice_chunks;
        t.row = block / t.tiles;
        t.chunk0 = (block - t.row * t.tiles) * p.slice_chunks;
        t.chunks = int(min(p.slice_chunks, row_chunks - t.chunk0));
        return t;
    }
};

// Programmatic dependent launch (sm_90+; src/launch.rs launches gridnorm so
// there): gridnorm's blocks may start once every gridstats block has begun,
// and load their tile of X while the last gridstats blocks finish; they
// wait for gridstats' partials (and S) with grid_wait_for_stats. Elsewhere
// the launches are plainly stream-ordered and both are no-ops.
__device__ __forceinline__ void grid_dependents_may_launch() {
#if __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}
__device__ __forceinline__ void grid_wait_for_stats() {
#if __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

template <typename TX, bool SKIP> __device__ __forceinline__ void grid_stats(const TlnParams &p) {
    constexpr int E = 16 / sizeof(TX);
    constexpr int N = TLN_GRID_CHUNKS_PER_THREAD;
    TLN_BLOCK_SCRATCH
    const GridTile t = GridTile::of<E>(p, blockIdx.x);
    const RowIn<TX> in = tile_in<TX>(p, t.row, t.chunk0 * E);
    // tpr from blockDim.x (TLN_GRID_THREADS): with the constant, ptxas
    // folded the reductions' loops (gridstats_f32: 3184 -> 2656
    // instructions) and FP32 lost (H200, 2026-12-03, 32 x 2^20 LayerNorm
    // 117.6 -> 125.6 us, RMSNorm 112.6 -> 118.4; FP16 gained 2%).
    const GroupReducer red{int(blockDim.x), s_sums, s_max, 0};
    const Span s{0, t.chunks, int(threadIdx.x), TLN_GRID_THREADS};
    RegisterRow<TX, E, N, SKIP> rr;
    rr.owned = s.owned32(N);
    if constexpr (N * E > 32) rr.load_together(in, s);
    else rr.load(in, s);
    grid_dependents_may_launch();
    const bool rms = p.norm == TLN_NORM_RMS;
    const float n = float(t.chunks * E);
    const float inv_n = 1.f / n;
    float scale = 1.f;
    float m = 0.f;
    float q0[1] = {rms ? 0.f : sum_pass<TX, E>(rr, s, 1.f)};
    if (!rms) {
        red.sum(q0, 0);
        m = q0[0] * inv_n;
    }
    float2 mo = moments_pass<TX, E>(rr, s, 1.f, m);
    float q[2] = {mo.x, mo.y};
    red.sum(q, 1);
    if constexpr (kMayOverflow<TX>) {
        // Block-uniform: every thread holds the block's sums.
        if (!(isfinite(q0[0]) && isfinite(q[1]))) {
            rr.reload(in, s);
            const float amax = red.max(max_abs_pass<TX, E>(rr, s));
            if (isfinite(amax) && amax > 0.f) scale = ldexpf(1.f, 39 - ilogbf(amax));
            if (!rms) {
                q0[0] = sum_pass<TX, E>(rr, s, scale);
                red.sum(q0, 0);
                m = q0[0] * inv_n;
            }
            mo = moments_pass<TX, E>(rr, s, scale, m);
            q[0] = mo.x;
            q[1] = mo.y;
            red.sum(q, 1);
        }
    }
    if (threadIdx.x == 0) {
        // Unscaled: scale is a power of two, and FP64 holds any FP32 square.
        const double inv_s = 1.0 / double(scale);
        double mean = 0.0, m2 = double(q[1]);
        if (!rms) {
            const double c = double(q[0]) / double(n);
            mean = (double(m) + c) * inv_s;
            const double v = double(q[1]) - double(q[0]) * c;
            m2 = v < 0.0 ? 0.0 : v; // NaN stays NaN
        }
        static_cast<double2 *>(p.workspace)[blockIdx.x] = make_double2(mean, m2 * inv_s * inv_s);
    }
}

__device__ __forceinline__ double warp_sum(double v) {
    for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// The row's statistics from its tiles' partials, as every thread of every
// block of the row computes them: each warp merges all the partials itself.
// Rows whose mean or spread is far outside FP32's comfortable range are
// normalized as x * 2^-k (scale_pow2), as the register rows' overflow redo does.
template <int E> __device__ __forceinline__ RowStats grid_row_stats(const TlnParams &p, const GridTile &t) {
    const double2 *part = static_cast<const double2 *>(p.workspace) + t.row * t.tiles;
    const int64_t row_chunks = p.cols / E;
    const double n = double(p.cols);
    const bool rms = p.norm == TLN_NORM_RMS;
    const int lane = threadIdx.x % 32;
    auto tile_n = [&](int64_t i) { return double(min(p.slice_chunks, row_chunks - i * p.slice_chunks) * E); };
    // The merges stay rolled (a lane takes t.tiles / 32 partials: 2 for an
    // FP16 row of 2^20): unrolled, their FP64 temporaries pushed gridnorm
    // past 80 registers.
    double mean = 0.0;
    if (!rms) {
        double a = 0.0;
#pragma unroll 1
        for (int64_t i = lane; i < t.tiles; i += 32) a += tile_n(i) * part[i].x;
        mean = warp_sum(a) / n;
    }
    double b = 0.0;
#pragma unroll 1
    for (int64_t i = lane; i < t.tiles; i += 32) {
        const double2 q = part[i];
        const double d = q.x - mean;
        b += rms ? q.y : q.y + tile_n(i) * d * d;
    }
    const double var = warp_sum(b) / n; // RMSNorm: mean(x^2)
    const double mx = fmax(fabs(mean), sqrt(var));
    const int k = (isfinite(mx) && mx > 0.0 && (mx > 0x1p63 || mx < 0x1p-63)) ? min(max(ilogb(mx), -100), 126) : 0;
    const double sc = ldexp(1.0, -k);
    const double ms = mean * sc;
    const double den = (var + double(p.epsilon)) * sc * sc;
    const float shift = float(ms);
    const float rstd = den > 0.0 ? float(1.0 / sqrt(den)) : (p.epsilon > 0.f ? 0.f : __int_as_float(0x7f800000));
    const float c = float(ms - double(shift));
    return RowStats{float(sc), shift, c * rstd, rstd, 0.f};
}

// LOAD_SKIP: the tile is s recomputed from X, Skip and the residual bias;
// else it is read from `src` (SkipLayerNorm: S, which gridstats wrote). The
// tile is held as loaded and widened chunk by chunk at the store: widened
// (FloatRow, 4 chunks per thread) it took 108 registers. The tile is read
// for the last time and Y is not read again here: both evict-first in L2
// (ld/st .cs), so that the X tiles gridstats read last, which the blocks
// that follow will want, are what L2 keeps. H200, 2026-12-02, us, against
// plain loads and stores: LayerNorm 32 x 2^20 FP16 62.7 -> 62.1, FP32
// 122.0 -> 119.2, BF16 8 x 2^20 21.4 -> 19.6; RMSNorm 32 x 2^20 FP32
// 115.4 -> 112.2; SkipLayerNorm 32 x 2^20 FP16 93.3 -> 94.5, FP32 183.4
// -> 180.8.
template <typename TX, typename TY, bool LOAD_SKIP, AffineKind K>
__device__ __forceinline__ void grid_norm_tile(const TlnParams &p, const TX *src) {
    constexpr int E = 16 / sizeof(TX);
    constexpr int N = TLN_GRID_CHUNKS_PER_THREAD;
    const GridTile t = GridTile::of<E>(p, int64_t(gridDim.x) - 1 - blockIdx.x);
    const RowIn<TX> in = LOAD_SKIP ? tile_in<TX>(p, t.row, t.chunk0 * E)
                                   : RowIn<TX>{src + t.row * p.cols + t.chunk0 * E, nullptr, nullptr, nullptr};
    const Span s{0, t.chunks, int(threadIdx.x), TLN_GRID_THREADS};
    const int owned = s.owned32(N);
    // The tile's loads, all in flight while gridstats finishes and the
    // partials are merged; S (gridstats wrote it) only once gridstats is done.
    const bool reads_s = !LOAD_SKIP && p.skip;
    if (reads_s) grid_wait_for_stats();
    Chunk<TX, E> raw[N];
#pragma unroll
    for (int i = 0; i < N; ++i)
        if (i < owned) raw[i] = load_input<TX, E, LOAD_SKIP, true>(in, s.chunk32(i));
    if (!reads_s) grid_wait_for_stats();
    const RowStats st = grid_row_stats<E>(p, t);
    TY *__restrict__ yr = static_cast<TY *>(p.y) + t.row * p.cols + t.chunk0 * E;
#pragma unroll
    for (int i = 0; i < N; ++i) {
        if (i < owned) {
            const int c = s.chunk32(i);
            Affine<E> a;
            a.template load_kind<TX, K>(p, t.chunk0 + c);
            float x[E];
            widen<TX, E>(raw[i], x);
            write_chunk<TY, E, false, K, false, true>(x, c, p, st, a, yr);
        }
    }
}

template <typename TX, typename TY, bool LOAD_SKIP> __device__ __forceinline__ void grid_norm_kinds(const TlnParams &p, const TX *src) {
    if (both_as_x<TX>(p)) grid_norm_tile<TX, TY, LOAD_SKIP, kBothAsX>(p, src);
    else if (scale_as_x<TX>(p)) grid_norm_tile<TX, TY, LOAD_SKIP, kScaleAsX>(p, src);
    else grid_norm_tile<TX, TY, LOAD_SKIP, kAny>(p, src);
}

template <typename TX, typename TY> __device__ __forceinline__ void grid_norm(const TlnParams &p) {
    if (p.skip && !p.sum) grid_norm_kinds<TX, TY, true>(p, nullptr);
    else grid_norm_kinds<TX, TY, false>(p, static_cast<const TX *>(p.skip ? p.sum : p.x));
}

} // namespace

// ---------------------------------------------------------------------------
// Exported kernels (names: see layernorm_abi.h). Register budgets: 64 per
// thread (two 512-thread or four 256-thread blocks per SM) for regs1, regs2
// and the split variants; regs4 and regs8 keep 4 or 8 chunks per thread in
// registers and get 80 and 96 (Nsight Compute on an H100: at 128, occupancy
// was 25% and the kernels latency-bound). ptxas reports spills under these
// caps, most in the scalar path and the overflow redo; compiled alone, the
// vectorized path of regs8 FP16 has none, and regs4's widened 16-bit rows
// spill a few registers per row (at 64 they spilled hundreds of bytes).
// The fast kernels: 64, and for 8 chunks per thread 96 (FP32 X) or 112
// (16-bit X: at 96 and 104, ptxas converted the first chunk before issuing
// the last loads, reusing its registers: a second DRAM round trip per row,
// H200 8192 x 8192 FP16 87.9 us against 74.3 with all eight in flight;
// scripts/check-sass.sh counts the loads issued before the first use).
// ---------------------------------------------------------------------------
#define TLN_REGS_KERNEL(N, BOUNDS, XN, TX, YN, TY)                                                                 \
    extern "C" __global__ void BOUNDS tln_regs##N##_##XN##_##YN(TlnParams p) { regs_dispatch<TX, TY, N>(p); }

#define TLN_FAST_KERNEL(N, BOUNDS, SKIP_BOUNDS, XN, TX, YN, TY)                                                    \
    extern "C" __global__ void BOUNDS tln_fast##N##_##XN##_##YN(TlnParams p) { fast_rows<TX, TY, N, kFastLayer>(p); } \
    extern "C" __global__ void BOUNDS tln_fastrms##N##_##XN##_##YN(TlnParams p) { fast_rows<TX, TY, N, kFastRms>(p); } \
    extern "C" __global__ void SKIP_BOUNDS tln_fastskip##N##_##XN##_##YN(TlnParams p) { fast_rows<TX, TY, N, kFastSkip>(p); }

#define TLN_KERNELS(XN, TX, YN, TY)                                                                                \
    TLN_REGS_KERNEL(1, __launch_bounds__(TLN_MAX_THREADS_PER_BLOCK, 2), XN, TX, YN, TY)                             \
    TLN_REGS_KERNEL(2, __launch_bounds__(TLN_MAX_THREADS_PER_BLOCK, 2), XN, TX, YN, TY)                             \
    TLN_REGS_KERNEL(4, __maxnreg__(80), XN, TX, YN, TY)                                                             \
    TLN_REGS_KERNEL(8, __maxnreg__(96), XN, TX, YN, TY)                                                             \
    TLN_FAST_KERNEL(1, __maxnreg__(TLN_FAST_MAX_REGS), __maxnreg__(TLN_FAST_MAX_REGS), XN, TX, YN, TY)              \
    TLN_FAST_KERNEL(2, __maxnreg__(TLN_FAST_MAX_REGS), __maxnreg__(TLN_FAST_MAX_REGS), XN, TX, YN, TY)              \
    TLN_FAST_KERNEL(4, __maxnreg__(TLN_FAST_MAX_REGS),                                                              \
                    __maxnreg__(sizeof(TX) == 4 ? TLN_FAST_MAX_REGS : TLN_FASTSKIP4_16BIT_MAX_REGS), XN, TX, YN, TY) \
    TLN_FAST_KERNEL(8, __maxnreg__(sizeof(TX) == 4 ? TLN_FAST8_F32_MAX_REGS : TLN_FAST8_16BIT_MAX_REGS),           \
                    __maxnreg__(sizeof(TX) == 4 ? TLN_FASTSKIP8_F32_MAX_REGS : TLN_FASTSKIP8_16BIT_MAX_REGS), XN, TX, YN, TY) \
    extern "C" __global__ void __launch_bounds__(TLN_SPLIT_MAX_THREADS, 4)                                       \
        tln_split_cached_##XN##_##YN(TlnParams p) {                                                                \
        extern __shared__ uint4 tln_slice[];                                                                       \
        split_dispatch<TX, TY, true>(p, reinterpret_cast<unsigned char *>(tln_slice));                           \
    }                                                                                                              \
    extern "C" __global__ void __launch_bounds__(TLN_SPLIT_MAX_THREADS, 4)                                       \
        tln_split_stream_##XN##_##YN(TlnParams p) {                                                                \
        split_dispatch<TX, TY, false>(p, nullptr);                                                                 \
    }

// The grid variant's two launches (16-byte chunks only). gridstats depends on X alone.
#define TLN_GRID_STATS_KERNEL(XN, TX)                                                                             \
    extern "C" __global__ void __launch_bounds__(TLN_GRID_THREADS, 3) tln_gridstats_##XN(TlnParams p) {           \
        if (p.skip) grid_stats<TX, true>(p);                                                                       \
        else grid_stats<TX, false>(p);                                                                             \
    }
// gridnorm: three blocks per SM (80 registers) for every type pair. It took
// two (128) where ptxas spilled at three (BF16, FP32 and FP32 outputs: 184-312
// bytes), until the tile's loads were predicated, their stride a constant
// (TLN_GRID_THREADS) and the partials' merge kept rolled. At 80 now only BF16
// spills, 16-20 bytes, and only where Skip is added in the tile (SkipLayerNorm
// without its S output: X's and Skip's loads). H200, 2026-12-03, us, two
// blocks against three (the same code otherwise): BF16 LayerNorm 32 x 2^20
// 68.1 / 61.7, 64 x 2^18 34.7 / 32.7; RMSNorm 62.3 / 57.2; SkipLayerNorm 100.1
// / 94.3, 256 x 65536 51.0 / 49.4; FP32 LayerNorm 128.9 / 117.7, 64 x 2^18
// 61.4 / 57.0; RMSNorm 122.2 / 112.8; SkipLayerNorm 193.4 / 181.8. The one
// loss: BF16 RMSNorm 8 x 2^20 (one wave either way) 17.0 / 17.5.
#define TLN_GRID_NORM_KERNEL(XN, TX, YN, TY)                                                                       \
    extern "C" __global__ void __launch_bounds__(TLN_GRID_THREADS, 3) tln_gridnorm_##XN##_##YN(TlnParams p) {      \
        grid_norm<TX, TY>(p);                                                                                      \
    }

TLN_GRID_STATS_KERNEL(f32, float)
TLN_GRID_STATS_KERNEL(f16, __half)
TLN_GRID_STATS_KERNEL(bf16, __nv_bfloat16)
TLN_GRID_NORM_KERNEL(f32, float, f32, float)
TLN_GRID_NORM_KERNEL(f16, __half, f16, __half)
TLN_GRID_NORM_KERNEL(f16, __half, f32, float)
TLN_GRID_NORM_KERNEL(bf16, __nv_bfloat16, bf16, __nv_bfloat16)
TLN_GRID_NORM_KERNEL(bf16, __nv_bfloat16, f32, float)

// Rows of up to 8192 chunks, 16-bit X (layernorm_abi.h): LayerNorm and RMSNorm.
#define TLN_FAST16_KERNELS(XN, TX, YN, TY)                                                                         \
    extern "C" __global__ void __maxnreg__(TLN_FAST16_16BIT_MAX_REGS) tln_fast16_##XN##_##YN(TlnParams p) {       \
        fast_rows<TX, TY, 16, kFastLayer>(p);                                                                     \
    }                                                                                                              \
    extern "C" __global__ void __maxnreg__(TLN_FAST16_16BIT_MAX_REGS) tln_fastrms16_##XN##_##YN(TlnParams p) {    \
        fast_rows<TX, TY, 16, kFastRms>(p);                                                                       \
    }

TLN_KERNELS(f32, float, f32, float)
TLN_KERNELS(f16, __half, f16, __half)
TLN_KERNELS(f16, __half, f32, float)
TLN_KERNELS(bf16, __nv_bfloat16, bf16, __nv_bfloat16)
TLN_KERNELS(bf16, __nv_bfloat16, f32, float)
TLN_FAST16_KERNELS(f16, __half, f16, __half)
TLN_FAST16_KERNELS(f16, __half, f32, float)
TLN_FAST16_KERNELS(bf16, __nv_bfloat16, bf16, __nv_bfloat16)
TLN_FAST16_KERNELS(bf16, __nv_bfloat16, f32, float)

// An empty kernel: benchmarks measure the launch floor with it in the same run.
extern "C" __global__ void tln_empty() {}
