// Occlusion kernels, naive reference (tests only): one element at a time, straight from the
// definitions, double accumulation. See kernels/occlusion.h.
#include <cstddef>
#include <vector>

#include "kernels/detail/occlusion_math.h"
#include "kernels/occlusion.h"

namespace backlight {

using namespace occlusion_math;

void occlude_batch_ref(const float* input, int64_t items, BaselineRef baseline, const OcclusionGeometry& g,
                       int64_t first, int64_t count, float* out) {
  for (int64_t p = 0; p < count; ++p)
    for (int64_t n = 0; n < items; ++n)
      for (int64_t e = 0; e < g.numel; ++e)
        out[(p * items + n) * g.numel + e] =
            window_covers(g, first + p, e) ? baseline_at(baseline, n, e) : input[n * g.numel + e];
}

void occlusion_scatter_ref(const float* diffs, int64_t items, const OcclusionGeometry& g, float* attr, float* counts) {
  std::vector<double> sum(static_cast<size_t>(items * g.numel), 0.0);
  std::vector<double> cnt(static_cast<size_t>(g.numel), 0.0);
  for (int64_t j = 0; j < g.positions; ++j)
    for (int64_t e = 0; e < g.numel; ++e) {
      if (!window_covers(g, j, e)) continue;
      cnt[e] += 1;
      for (int64_t n = 0; n < items; ++n) sum[n * g.numel + e] += diffs[j * items + n];
    }
  for (int64_t i = 0; i < items * g.numel; ++i) attr[i] += static_cast<float>(sum[i]);
  for (int64_t e = 0; e < g.numel; ++e) counts[e] += static_cast<float>(cnt[e]);
}

void occlusion_divide_ref(float* attr, int64_t items, int64_t numel, const float* counts) {
  for (int64_t n = 0; n < items; ++n)
    for (int64_t e = 0; e < numel; ++e) attr[n * numel + e] /= counts[e];
}

void mask_ablate_ref(const float* input, int64_t items, int64_t numel, BaselineRef baseline, MaskRef mask,
                     int32_t first_id, int64_t count, float* out) {
  for (int64_t f = 0; f < count; ++f)
    for (int64_t n = 0; n < items; ++n)
      for (int64_t e = 0; e < numel; ++e)
        out[(f * items + n) * numel + e] =
            mask_id(mask, n, e, numel) == first_id + f ? baseline_at(baseline, n, e) : input[n * numel + e];
}

void mask_scatter_ref(const float* values, int64_t features, int64_t items, int64_t numel, MaskRef mask,
                      int32_t first_id, float* attr) {
  for (int64_t n = 0; n < items; ++n)
    for (int64_t e = 0; e < numel; ++e) {
      const int64_t f = static_cast<int64_t>(mask_id(mask, n, e, numel)) - first_id;
      if (f >= 0 && f < features) attr[n * numel + e] += values[f * items + n];
    }
}

}  // namespace backlight
