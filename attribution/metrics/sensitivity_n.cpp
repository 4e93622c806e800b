#include "attribution/metrics/sensitivity_n.h"

#include <algorithm>
#include <cmath>

#include "attribution/metrics/faithfulness.h"
#include "engine/error.h"

namespace backlight {

int64_t sensitivity_n_size(double fraction, int64_t features) {
  const int64_t n = std::llround(fraction * static_cast<double>(features));
  return std::clamp<int64_t>(n, 1, std::max<int64_t>(1, features - 1));
}

SensitivityNResult sensitivity_n(const Module& model, const Tensor& inputs, const Tensor& attributions,
                                 const Target& target, const SensitivityNOptions& o) {
  BL_CHECK(!o.fractions.empty(), "sensitivity_n: expected at least one subset fraction, got none");
  for (double f : o.fractions)
    BL_CHECK(f > 0 && f <= 1, "sensitivity_n: expected subset fractions in (0, 1], got ", f);
  BL_CHECK(o.samples >= 2, "sensitivity_n: expected samples >= 2, got ", o.samples);
  BL_CHECK(inputs.dim() >= 1 && inputs.size(0) >= 1, "sensitivity_n: expected inputs [N, ...], got ", inputs.shape());
  const int64_t n = inputs.size(0);
  // Same feature definition as faithfulness_correlation: pixels for images with pixel-aligned maps.
  const bool pixels = inputs.dim() == 4 && attributions.dim() == 4 && attributions.size(2) == inputs.size(2) &&
                      attributions.size(3) == inputs.size(3);
  const int64_t features = pixels ? inputs.size(2) * inputs.size(3) : inputs.numel() / n;
  SensitivityNResult r;
  const int64_t k_count = static_cast<int64_t>(o.fractions.size());
  r.correlation = Tensor::empty(Shape{n, k_count});
  r.mean = Tensor::zeros(Shape{n});
  for (int64_t k = 0; k < k_count; ++k) {
    const int64_t size = sensitivity_n_size(o.fractions[static_cast<size_t>(k)], features);
    r.sizes.push_back(size);
    const Tensor c = faithfulness_correlation(model, inputs, attributions, target,
                                              {.subsets = o.samples, .subset_size = size, .baseline = o.baseline,
                                               .seed = o.seed + static_cast<uint64_t>(k), .batch = o.batch});
    for (int64_t i = 0; i < n; ++i) {
      r.correlation.data()[i * k_count + k] = c.data()[i];
      r.mean.data()[i] += c.data()[i] / static_cast<float>(k_count);
    }
  }
  return r;
}

}  // namespace backlight
