#include "attribution/metrics/pixel_faithfulness.h"

#include <algorithm>
#include <vector>

#include "attribution/metrics/deletion_insertion.h"
#include "attribution/metrics/faithfulness.h"
#include "engine/error.h"

namespace backlight {

Tensor pixel_faithfulness(const Module& model, const Tensor& inputs, const Tensor& attributions, const Target& target,
                          const PixelFaithfulnessOptions& o) {
  BL_CHECK(inputs.dim() >= 1 && inputs.size(0) >= 1, "pixel_faithfulness: expected inputs [N, ...] with N >= 1, got ",
           inputs.shape());
  BL_CHECK(o.step >= 1, "pixel_faithfulness: expected step >= 1, got ", o.step);
  BL_CHECK(o.batch >= 1, "pixel_faithfulness: expected batch >= 1, got ", o.batch);
  const int64_t n = inputs.size(0), per = inputs.numel() / n;
  const bool pixels = inputs.dim() == 4 && attributions.dim() == 4 && attributions.size(0) == n &&
                      attributions.size(2) == inputs.size(2) && attributions.size(3) == inputs.size(3);
  BL_CHECK_SHAPE(pixels || attributions.shape() == inputs.shape(),
                 "pixel_faithfulness: expected attributions of the inputs' shape ", inputs.shape(),
                 " (or [N, C', H, W] for images), got ", attributions.shape());
  const int64_t features = pixels ? inputs.size(2) * inputs.size(3) : per;
  const int64_t channels = pixels ? inputs.size(1) : 1;
  // Feature saliency: channel sums for images, the elements themselves otherwise.
  std::vector<std::vector<float>> sal;
  if (pixels) {
    sal = channel_sum(attributions);
  } else {
    for (int64_t i = 0; i < n; ++i) sal.emplace_back(attributions.data() + i * per, attributions.data() + (i + 1) * per);
  }
  const std::vector<int64_t> classes = metrics::resolve_classes(model, inputs, target);
  const Tensor f_x = metrics::row_scores(model, inputs, target, classes, 1, o.score, 0);
  const int64_t groups = (features + o.step - 1) / o.step;
  std::vector<int64_t> dims = inputs.shape().to_vector();
  Tensor result = Tensor::empty(Shape{n});
  for (int64_t i = 0; i < n; ++i) {
    const std::vector<int64_t> order = rank_pixels(sal[static_cast<size_t>(i)]);
    const float* x = inputs.data() + i * per;
    const Target one = target.is_function() ? target : Target::indices({classes[static_cast<size_t>(i)]});
    std::vector<double> mass(static_cast<size_t>(groups)), drop(static_cast<size_t>(groups));
    for (int64_t g0 = 0; g0 < groups; g0 += o.batch) {
      const int64_t g1 = std::min(groups, g0 + o.batch);
      dims[0] = g1 - g0;
      Tensor rows = Tensor::empty(Shape(dims));
      for (int64_t g = g0; g < g1; ++g) {
        float* r = rows.data() + (g - g0) * per;
        std::copy(x, x + per, r);
        double m = 0;
        for (int64_t j = g * o.step; j < std::min(features, (g + 1) * o.step); ++j) {
          const int64_t f = order[static_cast<size_t>(j)];
          for (int64_t ch = 0; ch < channels; ++ch) r[ch * features + f] = o.baseline;
          m += sal[static_cast<size_t>(i)][static_cast<size_t>(f)];
        }
        mass[static_cast<size_t>(g)] = m;
      }
      // A function target sees only this item's rows; class targets: one class for all rows.
      const std::vector<int64_t> cls = target.is_function() ? std::vector<int64_t>{} : std::vector<int64_t>{classes[static_cast<size_t>(i)]};
      const Tensor s = metrics::row_scores(model, rows, one, cls, g1 - g0, o.score, 0);
      for (int64_t g = g0; g < g1; ++g) drop[static_cast<size_t>(g)] = static_cast<double>(f_x.data()[i]) - s.data()[g - g0];
    }
    result.data()[i] = static_cast<float>(pearson(mass, drop));
  }
  return result;
}

}  // namespace backlight
