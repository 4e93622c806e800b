#include "engine/functional/embedding.h"

#include <cmath>
#include <cstring>

#include "engine/error.h"
#include "engine/functional/cuda_ops.h"
#include "engine/functional/dispatch.h"
#include "engine/parallel.h"

namespace backlight::fn {

namespace {
constexpr int64_t kGrain = 1 << 14;
}

void check_embedding_indices(const Tensor& indices, int64_t num_embeddings) {
  const float* p = indices.data();
  for (int64_t i = 0; i < indices.numel(); ++i) {
    const float v = p[i];
    BL_CHECK_SHAPE(std::floor(v) == v, "embedding: expected integer indices, got ", v, " at position ", i,
                   " of indices ", indices.shape());
    BL_CHECK_SHAPE(v >= 0 && v < static_cast<float>(num_embeddings), "embedding: index ", static_cast<int64_t>(v),
                   " at position ", i, " out of range for num_embeddings ", num_embeddings, " (expected 0 <= index < ",
                   num_embeddings, ")");
  }
}

Tensor embedding(const Tensor& indices, const Tensor& weight, const Workspace* ws) {
  BL_CHECK_SHAPE(weight.dim() == 2, "embedding: expected weight [num_embeddings, dim], got ", weight.shape());
  const int64_t num = weight.size(0), dim = weight.size(1), n = indices.numel();
  // Indices may stay on the host while the table is on the device (validated on the host).
  BL_ON_CUDA("embedding", ws, weight) return cuda_ops::embedding(indices, weight);
  check_embedding_indices(indices, num);
  Shape ys = indices.shape();
  ys.push_back(dim);
  Tensor y = Tensor::empty(ys, ws);
  const float* idx = indices.data();
  const float* w = weight.data();
  float* py = y.data();
  parallel_for(n, std::max<int64_t>(1, kGrain / std::max<int64_t>(1, dim)), [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i)
      std::memcpy(py + i * dim, w + static_cast<int64_t>(idx[i]) * dim, dim * sizeof(float));
  });
  return y;
}

Tensor embedding_backward(const Tensor& g, const Tensor& indices, const Shape& weight_shape, const Workspace* ws) {
  const int64_t dim = weight_shape[1], n = indices.numel();
  BL_CHECK_SHAPE(g.numel() == n * dim, "embedding_backward: expected a gradient of ", n, "x", dim,
                 " elements, got ", g.shape());
  BL_ON_CUDA("embedding backward", ws, g) return cuda_ops::embedding_backward(g, indices, weight_shape);
  Tensor dw = Tensor::zeros(weight_shape, ws);
  const float* idx = indices.data();
  const float* pg = g.data();
  float* pw = dw.data();
  // Threads own disjoint column ranges, so repeated indices never race.
  parallel_for(dim, std::max<int64_t>(1, kGrain / std::max<int64_t>(1, n)), [&](int64_t lo, int64_t hi) {
    for (int64_t i = 0; i < n; ++i) {
      float* dst = pw + static_cast<int64_t>(idx[i]) * dim;
      const float* src = pg + i * dim;
      for (int64_t c = lo; c < hi; ++c) dst[c] += src[c];
    }
  });
  return dw;
}

}  // namespace backlight::fn
