#pragma once
/// Single-threaded float GEMM for the convolution and dense paths, with a B operand produced on
/// the fly (im2col rows, a strided matrix, ...), so callers never materialise a whole im2col
/// matrix. Threading is the caller's: it splits rows or column tiles across threads, each thread
/// with its own scratch.
///
///   C[m, n] (row stride ldc)  = A[m, k] B[k, n]  (+ bias[i] on row i)    accumulate = false
///                            += A[m, k] B[k, n]                          accumulate = true
///
/// A is read in place: row-major (A[i*lda + p]) or transposed (A[p*lda + i]), so weights need no
/// copy. B arrives through `fill_b(k0, k1, dst, ld)`, which writes rows [k0, k1) of B (all n
/// columns) row-major into dst; the kernel packs them into 16-column panels.
///
/// CPU kernels: with AVX2+FMA a 6x16 register-blocked FMA micro-kernel over K blocks of at most
/// 256; measured at 2048^3 on one core 90 GFLOP/s = 88% of the measured 102 GFLOP/s FMA peak,
/// where Eigen 3.4's own GEMM reaches 65 (bench/README.md). Also where AVX-512 exists: on the
/// bench VM once it exposed AVX-512 (AMD EPYC Zen 4, whose 512-bit FMAs run on 256-bit units) the
/// 1x1 convolutions of an EfficientNet-B0 IG chunk took 18.9 ms per row on this kernel against
/// 23.2 on Eigen's 512-bit GEMM (one thread, bench_ig_profile, issue 16). Elsewhere (a non-AVX2
/// build, or -DBACKLIGHT_GEMM_EIGEN) the same calls run Eigen's GEMM on a materialised B. Both
/// accumulate in float32.
#include <cstdint>
#include <functional>

namespace backlight::fn::gemm {

/// Writes rows [k0, k1) of B (n columns each) row-major into dst with row stride ld.
using FillRows = std::function<void(int64_t k0, int64_t k1, float* dst, int64_t ld)>;

/// Where element (i, p) of A lives:
///   default       data[i*ld + p]                               (row-major)
///   transposed    data[p*ld + i]
///   block > 0     data[(p / block)*ld + i*block + p % block]   (a conv weight W[o, c, kh*kw] read
///                 as A[c, (o, tap)] = W[o, c, tap]: the backward-input product without copying W)
///   packed        panels of 6 rows: data[(i / 6)*ld*6 + p*6 + i % 6], ld = the full depth k
///                 (written by pack_a_panels; a weight used by many column tiles is packed once)
struct MatrixA {
  const float* data;
  int64_t ld;
  bool transposed = false;
  int64_t block = 0;
  bool packed = false;
};

/// Floats of a packed copy of A[m, k] (rows padded to a multiple of 6).
int64_t packed_a_floats(int64_t m, int64_t k);
/// Writes 6-row panels [panel_begin, panel_end) of A[m, k] in the packed layout (threads may
/// pack disjoint panel ranges); pass MatrixA{dst + (i0/6)*k*6, k, .packed = true} to gemm for
/// rows from i0 (a multiple of 6) on.
void pack_a_panels(const MatrixA& a, int64_t m, int64_t k, int64_t panel_begin, int64_t panel_end, float* dst);

/// Floats of scratch the call needs for n columns and depth k (64-byte aligned memory).
int64_t scratch_floats(int64_t n, int64_t k);

/// See the top of this file. `bias` may be null (ignored when accumulating). Single-threaded.
void gemm(int64_t m, int64_t n, int64_t k, const MatrixA& a, const FillRows& fill_b, float* c, int64_t ldc,
          const float* bias, bool accumulate, float* scratch);

/// B packed once and shared by several threads that split the rows of one product (conv with
/// fewer column tiles than threads): packed_floats(n, k) floats hold all of B; pack_block packs
/// K block `block` (0 <= block < num_blocks(k)) using `staging` (pack_scratch_floats(n, k)
/// floats), so threads can pack different blocks at once; gemm_packed then multiplies like gemm
/// (its scratch: scratch_floats(n, k) floats suffice).
int64_t num_blocks(int64_t k);
int64_t packed_floats(int64_t n, int64_t k);
int64_t pack_scratch_floats(int64_t n, int64_t k);
void pack_block(const FillRows& fill_b, int64_t block, int64_t n, int64_t k, float* packed, float* staging);
void gemm_packed(int64_t m, int64_t n, int64_t k, const MatrixA& a, const float* packed, float* c, int64_t ldc,
                 const float* bias, bool accumulate, float* scratch);

/// fill_b for a row-major matrix B[k, n] stored at `b` with row stride `ldb`.
FillRows rows_of(const float* b, int64_t ldb, int64_t n);

/// Name of the kernel this build uses ("avx2-6x16" or "eigen"), for bench output.
const char* kernel_name();
/// Whether a pre-packed A (pack_a_panels) is read as it is. True for the AVX2 kernel; the Eigen
/// fallback rebuilds a row-major A from packed or blocked layouts on every call, so callers that
/// reuse one weight across many calls should pass it row-major (or transposed) there.
bool packed_a_pays();

}  // namespace backlight::fn::gemm
