// GEMM kernel (see gemm.h).
//
// Blocking (AVX2 path): K is cut into equal blocks of at most 256. For each block, B's rows are
// filled into a row-major staging block and packed into 16-column panels (kc x 16 floats,
// <= 16 KiB: an L1-sized stream). Each 6-row panel of A is packed (kc x 6, stays in L1 across the
// column panels), or read in place when there are at most 4 column panels and packing would
// cost as much as using it, or comes pre-packed (pack_a_panels: a conv weight shared by many
// tiles). The micro-kernel keeps a 6x16 block of C in 12 ymm accumulators: per k, 2 loads of B,
// 6 broadcasts of A, 12 FMAs; an 8-wide variant takes tails of at most 8 columns. The packed B
// block (kc x n; the conv paths keep n to a few hundred) stays in L2 while all row panels of A
// pass over it.
#include "engine/functional/gemm.h"

#include <algorithm>
#include <cstring>

#include "engine/eigen.h"

// BACKLIGHT_GEMM_EIGEN forces the Eigen path (tests of the fallback on an AVX2 machine).
#if defined(__AVX2__) && defined(__FMA__) && !defined(BACKLIGHT_GEMM_EIGEN)
#define BL_GEMM_AVX2 1
#include <immintrin.h>
#endif

namespace backlight::fn::gemm {

FillRows rows_of(const float* b, int64_t ldb, int64_t n) {
  return [b, ldb, n](int64_t k0, int64_t k1, float* dst, int64_t ld) {
    for (int64_t r = k0; r < k1; ++r) std::memcpy(dst + (r - k0) * ld, b + r * ldb, sizeof(float) * n);
  };
}

#ifdef BL_GEMM_AVX2

namespace {

constexpr int64_t kKc = 256;  // largest K block

// K blocks of (nearly) equal depth, at most kKc: K = 576 runs as 2 x 288 rather than
// 256 + 256 + 64 (a short last block pays the C load/store of a full one).
int64_t block_depth(int64_t k) {
  const int64_t blocks = (k + kKc - 1) / kKc;
  return std::min(kKc, ((k + blocks - 1) / blocks + 3) / 4 * 4);
}
constexpr int kMr = 6, kNr = 16;

int64_t round_up(int64_t a, int64_t b) { return (a + b - 1) / b * b; }

// Lanes [0, count) set.
inline __m256i lane_mask(int count) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(count), idx);
}

enum class Init { Zero, Bias, Load };

// How the micro-kernel walks A: element (i, p) of the block at a + i*si + (offset of p), where
// the offset grows by sp per step of p and, in the blocked layout (blk > 0), jumps by `jump`
// after every blk-th step (r0: position of the first p inside its block). The packed layout is
// si = 1, sp = 6, blk = 0, fixed at compile time.
struct AWalk {
  int64_t si = 1, sp = kMr, blk = 0, r0 = 0, jump = 0;
};

// C[MR x nr] (op)= A[MR x kc] Bp[kc x 16], NV 8-float vectors per row (nr <= 8*NV).
// bp: one packed B panel (16 floats per k, 32-byte aligned).
template <int MR, int NV, bool kPacked>
inline void micro_kernel(int64_t kc, const float* a, const AWalk& walk, const float* bp, float* c, int64_t ldc,
                         int nr, Init init, const float* bias) {
  const int64_t si = kPacked ? 1 : walk.si, sp = kPacked ? kMr : walk.sp;
  __m256 acc[MR][NV];
  const bool full = nr == 8 * NV;
  const __m256i mask[2] = {lane_mask(nr), lane_mask(nr - 8)};
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) {
      if (init == Init::Load) acc[i][v] = full ? _mm256_loadu_ps(c + i * ldc + 8 * v)
                                               : _mm256_maskload_ps(c + i * ldc + 8 * v, mask[v]);
      else if (init == Init::Bias) acc[i][v] = _mm256_set1_ps(bias[i]);
      else acc[i][v] = _mm256_setzero_ps();
    }
  const float* ap = a;
  int64_t r = kPacked ? 0 : walk.r0;
  const int64_t blk = kPacked ? 0 : walk.blk;
#pragma GCC unroll 4
  for (int64_t p = 0; p < kc; ++p) {
    __m256 b[NV];
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) b[v] = _mm256_load_ps(bp + p * kNr + 8 * v);
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      const __m256 av = _mm256_broadcast_ss(ap + i * si);
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm256_fmadd_ps(av, b[v], acc[i][v]);
    }
    ap += sp;
    if (!kPacked && blk > 0 && ++r == blk) {
      r = 0;
      ap += walk.jump;
    }
  }
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) {
      if (full) _mm256_storeu_ps(c + i * ldc + 8 * v, acc[i][v]);
      else _mm256_maskstore_ps(c + i * ldc + 8 * v, mask[v], acc[i][v]);
    }
}

template <int NV, bool kPacked>
void micro_rows(int mr, int64_t kc, const float* a, const AWalk& w, const float* bp, float* c, int64_t ldc, int nr,
                Init init, const float* bias) {
  switch (mr) {
    case 6: return micro_kernel<6, NV, kPacked>(kc, a, w, bp, c, ldc, nr, init, bias);
    case 5: return micro_kernel<5, NV, kPacked>(kc, a, w, bp, c, ldc, nr, init, bias);
    case 4: return micro_kernel<4, NV, kPacked>(kc, a, w, bp, c, ldc, nr, init, bias);
    case 3: return micro_kernel<3, NV, kPacked>(kc, a, w, bp, c, ldc, nr, init, bias);
    case 2: return micro_kernel<2, NV, kPacked>(kc, a, w, bp, c, ldc, nr, init, bias);
    default: return micro_kernel<1, NV, kPacked>(kc, a, w, bp, c, ldc, nr, init, bias);
  }
}

// One 6 x 16 (or narrower) block of C; an 8-wide kernel for tails of at most 8 columns.
template <bool kPacked>
void micro_dispatch(int mr, int64_t kc, const float* a, const AWalk& w, const float* bp, float* c, int64_t ldc,
                    int nr, Init init, const float* bias) {
  if (nr <= 8) micro_rows<1, kPacked>(mr, kc, a, w, bp, c, ldc, nr, init, bias);
  else micro_rows<2, kPacked>(mr, kc, a, w, bp, c, ldc, nr, init, bias);
}

// A rows [i0, i0+mr) x depth [k0, k0+kc) -> ap[p*6 + i].
void pack_a(const MatrixA& a, int64_t i0, int mr, int64_t k0, int64_t kc, float* ap) {
  if (a.block > 0) {
    const int64_t blk = a.block;
    for (int64_t p = 0; p < kc; ++p) {
      const int64_t q = (k0 + p) / blk, r = (k0 + p) % blk;
      const float* src = a.data + q * a.ld + i0 * blk + r;
      for (int i = 0; i < mr; ++i) ap[p * kMr + i] = src[i * blk];
    }
  } else if (a.transposed) {
    for (int64_t p = 0; p < kc; ++p) {
      const float* src = a.data + (k0 + p) * a.ld + i0;
      for (int i = 0; i < mr; ++i) ap[p * kMr + i] = src[i];
    }
  } else {
    for (int i = 0; i < mr; ++i) {
      const float* src = a.data + (i0 + i) * a.ld + k0;
      for (int64_t p = 0; p < kc; ++p) ap[p * kMr + i] = src[p];
    }
  }
}

// Staging rows (row stride npad) -> panels: panel j holds columns [16j, 16j+16) for every k.
void pack_panels(const float* staging, int64_t kc, int64_t n, int64_t npad, float* bp) {
  const int64_t full = n / kNr;
  for (int64_t j = 0; j < full; ++j) {
    float* dst = bp + j * kc * kNr;
    const float* src = staging + j * kNr;
    for (int64_t p = 0; p < kc; ++p) {
      _mm256_store_ps(dst + p * kNr, _mm256_loadu_ps(src + p * npad));
      _mm256_store_ps(dst + p * kNr + 8, _mm256_loadu_ps(src + p * npad + 8));
    }
  }
  if (const int64_t rem = n - full * kNr; rem > 0) {
    float* dst = bp + full * kc * kNr;
    const float* src = staging + full * kNr;
    for (int64_t p = 0; p < kc; ++p) {
      int64_t q = 0;
      for (; q < rem; ++q) dst[p * kNr + q] = src[p * npad + q];
      for (; q < kNr; ++q) dst[p * kNr + q] = 0.0f;
    }
  }
}

// C (op)= A[:, k0:k0+kc] Bp for one packed K block of B (panels at bp, 16 columns each).
void multiply_block(int64_t m, int64_t n, const MatrixA& a, int64_t k0, int64_t kc, const float* bp, float* c,
                    int64_t ldc, const float* bias, Init init, float* ap) {
  // Packing A costs about as much as one pass of the micro-kernel over it; it pays from a few
  // column panels on (narrow products read A in place).
  const bool pack = n > 4 * kNr;
  for (int64_t i0 = 0; i0 < m; i0 += kMr) {
    const int mr = static_cast<int>(std::min<int64_t>(kMr, m - i0));
    const float* bi = bias ? bias + i0 : nullptr;
    if (a.packed || pack) {
      const float* panel = ap;
      if (a.packed) panel = a.data + (i0 / kMr) * a.ld * kMr + k0 * kMr;
      else pack_a(a, i0, mr, k0, kc, ap);
      for (int64_t j0 = 0; j0 < n; j0 += kNr)
        micro_dispatch<true>(mr, kc, panel, AWalk{}, bp + (j0 / kNr) * kc * kNr, c + i0 * ldc + j0, ldc,
                             static_cast<int>(std::min<int64_t>(kNr, n - j0)), init, bi);
    } else {
      const float* a0;
      AWalk walk;
      if (a.block > 0) {
        a0 = a.data + (k0 / a.block) * a.ld + i0 * a.block + k0 % a.block;
        walk = AWalk{a.block, 1, a.block, k0 % a.block, a.ld - a.block};
      } else if (a.transposed) {
        a0 = a.data + k0 * a.ld + i0;
        walk = AWalk{1, a.ld};
      } else {
        a0 = a.data + i0 * a.ld + k0;
        walk = AWalk{a.ld, 1};
      }
      for (int64_t j0 = 0; j0 < n; j0 += kNr)
        micro_dispatch<false>(mr, kc, a0, walk, bp + (j0 / kNr) * kc * kNr, c + i0 * ldc + j0, ldc,
                              static_cast<int>(std::min<int64_t>(kNr, n - j0)), init, bi);
    }
  }
}

Init init_for(int64_t k0, bool accumulate, const float* bias) {
  return (k0 > 0 || accumulate) ? Init::Load : (bias ? Init::Bias : Init::Zero);
}

}  // namespace

int64_t scratch_floats(int64_t n, int64_t k) { return kKc * kMr + 2 * block_depth(k) * round_up(n, kNr); }

void gemm(int64_t m, int64_t n, int64_t k, const MatrixA& a, const FillRows& fill_b, float* c, int64_t ldc,
          const float* bias, bool accumulate, float* scratch) {
  if (m <= 0 || n <= 0) return;
  const int64_t npad = round_up(n, kNr);
  const int64_t kb = block_depth(k);
  float* ap = scratch;  // kKc * 6 floats
  float* staging = ap + kKc * kMr;
  float* bp = staging + kb * npad;
  for (int64_t k0 = 0; k0 < k; k0 += kb) {
    const int64_t kc = std::min(kb, k - k0);
    fill_b(k0, k0 + kc, staging, npad);
    pack_panels(staging, kc, n, npad, bp);
    multiply_block(m, n, a, k0, kc, bp, c, ldc, bias, init_for(k0, accumulate, bias), ap);
  }
}

int64_t packed_a_floats(int64_t m, int64_t k) { return round_up(m, kMr) * k; }

void pack_a_panels(const MatrixA& a, int64_t m, int64_t k, int64_t panel_begin, int64_t panel_end, float* dst) {
  for (int64_t pi = panel_begin; pi < panel_end; ++pi) {
    const int64_t i0 = pi * kMr;
    const int mr = static_cast<int>(std::min<int64_t>(kMr, m - i0));
    float* panel = dst + pi * k * kMr;
    pack_a(a, i0, mr, 0, k, panel);
    if (mr < kMr)  // rows past m: defined values, never stored
      for (int64_t p = 0; p < k; ++p)
        for (int i = mr; i < kMr; ++i) panel[p * kMr + i] = 0.0f;
  }
}

int64_t num_blocks(int64_t k) { return (k + block_depth(k) - 1) / block_depth(k); }
int64_t packed_floats(int64_t n, int64_t k) { return k * round_up(n, kNr); }
int64_t pack_scratch_floats(int64_t n, int64_t k) { return block_depth(k) * round_up(n, kNr); }

void pack_block(const FillRows& fill_b, int64_t block, int64_t n, int64_t k, float* packed, float* staging) {
  const int64_t npad = round_up(n, kNr), kb = block_depth(k), k0 = block * kb, kc = std::min(kb, k - k0);
  fill_b(k0, k0 + kc, staging, npad);
  pack_panels(staging, kc, n, npad, packed + k0 * npad);
}

void gemm_packed(int64_t m, int64_t n, int64_t k, const MatrixA& a, const float* packed, float* c, int64_t ldc,
                 const float* bias, bool accumulate, float* scratch) {
  if (m <= 0 || n <= 0) return;
  const int64_t npad = round_up(n, kNr);
  const int64_t kb = block_depth(k);
  for (int64_t k0 = 0; k0 < k; k0 += kb)
    multiply_block(m, n, a, k0, std::min(kb, k - k0), packed + k0 * npad, c, ldc, bias,
                   init_for(k0, accumulate, bias), scratch);
}

const char* kernel_name() { return "avx2-6x16"; }
bool packed_a_pays() { return true; }

#else  // Eigen fallback: materialise B, one Eigen product.

namespace {

void eigen_product(int64_t m, int64_t n, int64_t k, const MatrixA& a, const float* b, float* c, int64_t ldc,
                   const float* bias, bool accumulate) {
  using Strided = Eigen::Map<RowMatrix, Eigen::Unaligned, Eigen::OuterStride<>>;
  using ConstStrided = Eigen::Map<const RowMatrix, Eigen::Unaligned, Eigen::OuterStride<>>;
  const auto B = mat(b, k, n);
  Strided C(c, m, n, Eigen::OuterStride<>(ldc));
  if (a.packed || a.block > 1) {
    // Rebuilt row by row with the layout's loops (no division per element): callers that reuse a
    // weight across many calls pass it plain (packed_a_pays() is false here).
    RowMatrix A(m, k);
    if (a.packed) {
      for (int64_t i = 0; i < m; ++i) {
        const float* src = a.data + (i / 6) * a.ld * 6 + i % 6;
        for (int64_t p = 0; p < k; ++p) A(i, p) = src[p * 6];
      }
    } else {
      for (int64_t i = 0; i < m; ++i)
        for (int64_t q = 0; q * a.block < k; ++q) {
          const float* src = a.data + q * a.ld + i * a.block;
          for (int64_t t = 0; t < a.block && q * a.block + t < k; ++t) A(i, q * a.block + t) = src[t];
        }
    }
    if (accumulate) C.noalias() += A * B;
    else C.noalias() = A * B;
  } else if (a.transposed || a.block == 1) {
    // block 1: element (i, p) at data[p*ld + i], the transposed layout.
    const ConstStrided At(a.data, k, m, Eigen::OuterStride<>(a.ld));
    if (accumulate) C.noalias() += At.transpose() * B;
    else C.noalias() = At.transpose() * B;
  } else {
    const ConstStrided A(a.data, m, k, Eigen::OuterStride<>(a.ld));
    if (accumulate) C.noalias() += A * B;
    else C.noalias() = A * B;
  }
  if (bias && !accumulate)
    for (int64_t i = 0; i < m; ++i) C.row(i).array() += bias[i];
}

constexpr int64_t kBlock = 256;

}  // namespace

int64_t scratch_floats(int64_t n, int64_t k) { return n * k + 16; }

void gemm(int64_t m, int64_t n, int64_t k, const MatrixA& a, const FillRows& fill_b, float* c, int64_t ldc,
          const float* bias, bool accumulate, float* scratch) {
  if (m <= 0 || n <= 0) return;
  fill_b(0, k, scratch, n);
  eigen_product(m, n, k, a, scratch, c, ldc, bias, accumulate);
}

int64_t packed_a_floats(int64_t m, int64_t k) { return (m + 5) / 6 * 6 * k; }

void pack_a_panels(const MatrixA& a, int64_t m, int64_t k, int64_t panel_begin, int64_t panel_end, float* dst) {
  for (int64_t pi = panel_begin; pi < panel_end; ++pi)
    for (int64_t i = pi * 6; i < pi * 6 + 6; ++i)
      for (int64_t p = 0; p < k; ++p) {
        float v = 0.0f;
        if (i < m)
          v = a.block > 0   ? a.data[(p / a.block) * a.ld + i * a.block + p % a.block]
              : a.transposed ? a.data[p * a.ld + i]
                             : a.data[i * a.ld + p];
        dst[pi * k * 6 + p * 6 + i - pi * 6] = v;
      }
}

int64_t num_blocks(int64_t k) { return (k + kBlock - 1) / kBlock; }
int64_t packed_floats(int64_t n, int64_t k) { return n * k; }
int64_t pack_scratch_floats(int64_t, int64_t) { return 0; }

void pack_block(const FillRows& fill_b, int64_t block, int64_t n, int64_t k, float* packed, float*) {
  const int64_t k0 = block * kBlock;
  fill_b(k0, std::min(k, k0 + kBlock), packed + k0 * n, n);
}

void gemm_packed(int64_t m, int64_t n, int64_t k, const MatrixA& a, const float* packed, float* c, int64_t ldc,
                 const float* bias, bool accumulate, float*) {
  if (m <= 0 || n <= 0) return;
  eigen_product(m, n, k, a, packed, c, ldc, bias, accumulate);
}

const char* kernel_name() { return "eigen"; }
bool packed_a_pays() { return false; }

#endif

}  // namespace backlight::fn::gemm
