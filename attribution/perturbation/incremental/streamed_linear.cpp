// Linear layer with a streamed weight: C[out, rows] = W x^T on the engine's GEMM, then y = C^T.
#include "attribution/perturbation/incremental/streamed_linear.h"

#include <algorithm>
#include <vector>

#include "engine/error.h"
#include "engine/functional/gemm.h"
#include "engine/parallel.h"

namespace backlight::incremental {

Tensor streamed_linear(const Tensor& x, const Tensor& weight, const Tensor& bias, const Workspace& ws) {
  BL_CHECK_SHAPE(weight.dim() == 2 && x.dim() >= 1 && x.size(x.dim() - 1) == weight.size(1),
                 "streamed_linear: expected x [..., ", weight.dim() == 2 ? weight.size(1) : -1,
                 "] and weight [out, in], got ", x.shape(), " and ", weight.shape());
  const int64_t out = weight.size(0), in = weight.size(1), rows = x.numel() / in;
  if (bias.defined())
    BL_CHECK_SHAPE(bias.numel() == out, "streamed_linear: expected bias [", out, "], got ", bias.shape());
  Tensor c = Tensor::empty(Shape{out, rows}, &ws);
  const float* px = x.data();
  // B = x^T, one depth block at a time: B[k][r] = x[r][k].
  const fn::gemm::FillRows fill_b = [px, in, rows](int64_t k0, int64_t k1, float* dst, int64_t ld) {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t k = k0; k < k1; ++k) dst[(k - k0) * ld + r] = px[r * in + k];
  };
  // Output features in 6-row panels (the GEMM's register block), split over the threads.
  const int64_t panels = (out + 5) / 6;
  parallel_for(panels, 1, [&](int64_t lo, int64_t hi) {
    const int64_t i0 = lo * 6, i1 = std::min(out, hi * 6);
    Tensor scratch = Tensor::empty(Shape{fn::gemm::scratch_floats(rows, in)}, &ws);
    fn::gemm::gemm(i1 - i0, rows, in, fn::gemm::MatrixA{weight.data() + i0 * in, in}, fill_b, c.data() + i0 * rows,
                   rows, nullptr, false, scratch.data());
  });
  std::vector<int64_t> dims = x.shape().to_vector();
  dims.back() = out;
  Tensor y = Tensor::empty(Shape(dims), &ws);
  float* py = y.data();
  const float* pc = c.data();
  const float* pb = bias.defined() ? bias.data() : nullptr;
  // The bias is added after the products, as fn::linear_forward does: the same bits as the
  // plain forward (fn::gemm's FMA chain per element), so unoccluded rows give exactly 0.
  parallel_for(rows, 16, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r)
      for (int64_t o = 0; o < out; ++o) py[r * out + o] = pb ? pc[o * rows + r] + pb[o] : pc[o * rows + r];
  });
  return y;
}

}  // namespace backlight::incremental
