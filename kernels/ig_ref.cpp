// Naive reference of the batched IG kernels (tests only): plain loops, double accumulation.
#include <vector>

#include "kernels/detail/ig_math.h"
#include "kernels/ig.h"

namespace backlight {

void ig_interpolate_ref(const IgChunk& c, float* out) {
  const int64_t rows = c.steps * c.items;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t e = 0; e < c.per_item; ++e) {
      const int64_t src = ig_math::source_index(r, c.items, c.per_item, e);
      out[r * c.per_item + e] = ig_math::interpolate(c.input[src], c.baseline[src], c.alphas[r / c.items]);
    }
}

void ig_accumulate_ref(const IgChunk& c, const float* grads, float* acc) {
  const int64_t total = c.items * c.per_item;
  for (int64_t i = 0; i < total; ++i) {
    double s = acc[i];
    for (int64_t k = 0; k < c.steps; ++k) s += static_cast<double>(c.weights[k]) * grads[k * total + i];
    acc[i] = static_cast<float>(s);
  }
}

void ig_finish_ref(const IgChunk& c, float* acc, bool multiply_by_inputs, float divisor, float* attr) {
  for (int64_t i = 0; i < c.items * c.per_item; ++i) {
    const float a = multiply_by_inputs ? (c.input[i] - c.baseline[i]) * acc[i] : acc[i];
    attr[i] += a / divisor;
    acc[i] = a;
  }
}

}  // namespace backlight
