// Dense products on cuBLAS. cuBLAS is column-major; a row-major C = op(A) op(B) is the
// column-major C^T = op(B)^T op(A)^T, so every call swaps the operands (no copies).
#include <climits>

#include "engine/cuda/context_impl.cuh"
#include "engine/cuda/ops.h"

namespace backlight::cuda {

namespace {

int as_int(int64_t v, const char* what) {
  BL_CHECK(v >= 0 && v <= INT_MAX, "cuda::gemm: ", what, " = ", v, " exceeds cuBLAS's 32-bit sizes");
  return static_cast<int>(v);
}

__global__ void add_row_bias_kernel(float* y, const float* bias, int64_t rows, int64_t cols) {
  BL_GRID_LOOP(i, rows * cols) y[i] += bias[i % cols];
}

}  // namespace

void gemm(Context& ctx, bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  use_device(ctx);
  BL_CUBLAS_CHECK(cublasSgemm(ctx.cublas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N,
                              as_int(n, "n"), as_int(m, "m"), as_int(k, "k"), &alpha, b, as_int(ldb, "ldb"), a,
                              as_int(lda, "lda"), &beta, c, as_int(ldc, "ldc")));
}

void gemm_batched(Context& ctx, bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                  int64_t stride_a, const float* b, int64_t ldb, int64_t stride_b, float* c, int64_t ldc,
                  int64_t stride_c, int64_t batch) {
  if (m == 0 || n == 0 || batch == 0) return;
  use_device(ctx);
  const float one = 1.0f, zero = 0.0f;
  BL_CUBLAS_CHECK(cublasSgemmStridedBatched(ctx.cublas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N,
                                            as_int(n, "n"), as_int(m, "m"), as_int(k, "k"), &one, b,
                                            as_int(ldb, "ldb"), stride_b, a, as_int(lda, "lda"), stride_a, &zero, c,
                                            as_int(ldc, "ldc"), stride_c, as_int(batch, "batch")));
}

void add_row_bias(Context& ctx, float* y, const float* bias, int64_t rows, int64_t cols) {
  BL_LAUNCH(ctx, rows * cols, add_row_bias_kernel, y, bias, rows, cols);
}

}  // namespace backlight::cuda
