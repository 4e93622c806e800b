// Threaded CPU implementation of the batched IG kernels: parallel over contiguous element
// ranges, vectorisable inner loops, no allocation.
#include "engine/parallel.h"
#include "kernels/detail/ig_math.h"
#include "kernels/ig.h"

namespace backlight {

namespace {
constexpr int64_t kGrain = 1 << 15;
}

void ig_interpolate_cpu(const IgChunk& c, float* out) {
  const int64_t total = c.items * c.per_item, steps = c.steps;
  // Each step's block is the whole [items, per_item] source, so parallelise over elements and
  // loop over steps inside: the source stays in cache across steps.
  parallel_for(total, kGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t k = 0; k < steps; ++k) {
      const float a = c.alphas[k];
      float* o = out + k * total;
      for (int64_t i = lo; i < hi; ++i) o[i] = ig_math::interpolate(c.input[i], c.baseline[i], a);
    }
  });
}

void ig_accumulate_cpu(const IgChunk& c, const float* grads, float* acc) {
  const int64_t total = c.items * c.per_item, steps = c.steps;
  parallel_for(total, kGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t k = 0; k < steps; ++k) {
      const float w = c.weights[k];
      const float* g = grads + k * total;
      for (int64_t i = lo; i < hi; ++i) acc[i] += w * g[i];
    }
  });
}

void ig_finish_cpu(const IgChunk& c, float* acc, bool multiply_by_inputs, float divisor, float* attr) {
  parallel_for(c.items * c.per_item, kGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const float a = ig_math::path_attribution(c.input[i], c.baseline[i], acc[i], multiply_by_inputs);
      attr[i] += a / divisor;
      acc[i] = a;
    }
  });
}

}  // namespace backlight
