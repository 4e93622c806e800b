#include "attribution/metrics/faithfulness.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "attribution/metrics/scoring.h"
#include "engine/error.h"
#include "engine/philox.h"

namespace backlight {

double pearson(const std::vector<double>& a, const std::vector<double>& b) {
  BL_CHECK(a.size() == b.size() && !a.empty(), "pearson: expected two equally long non-empty samples, got ", a.size(),
           " and ", b.size());
  const double n = static_cast<double>(a.size());
  const double ma = std::accumulate(a.begin(), a.end(), 0.0) / n, mb = std::accumulate(b.begin(), b.end(), 0.0) / n;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  // Relative tolerance: a "constant" sample in float arithmetic still has rounding variance.
  if (saa <= 1e-24 * n * std::max(1.0, ma * ma) || sbb <= 1e-24 * n * std::max(1.0, mb * mb)) return 0.0;
  return sab / std::sqrt(saa * sbb);
}

Tensor faithfulness_correlation(const Module& model, const Tensor& inputs, const Tensor& attributions,
                                const Target& target, const FaithfulnessOptions& o) {
  BL_CHECK(inputs.dim() >= 1 && inputs.size(0) >= 1,
           "faithfulness_correlation: expected inputs [N, ...] with N >= 1, got ", inputs.shape());
  BL_CHECK(o.subsets >= 2, "faithfulness_correlation: expected subsets >= 2, got ", o.subsets);
  const int64_t n = inputs.size(0), per = inputs.numel() / n;
  const bool pixels = inputs.dim() == 4 && attributions.dim() == 4 && attributions.size(0) == n &&
                      attributions.size(2) == inputs.size(2) && attributions.size(3) == inputs.size(3);
  BL_CHECK_SHAPE(pixels || attributions.shape() == inputs.shape(),
                 "faithfulness_correlation: expected attributions of the inputs' shape ", inputs.shape(),
                 " (or [N, C', H, W] for images), got ", attributions.shape());
  const int64_t features = pixels ? inputs.size(2) * inputs.size(3) : per;
  const int64_t channels = pixels ? inputs.size(1) : 1;          // input elements per feature
  const int64_t a_channels = pixels ? attributions.size(1) : 1;  // attribution elements per feature
  const int64_t size = o.subset_size > 0 ? o.subset_size : std::max<int64_t>(1, features / 10);
  BL_CHECK(size <= features, "faithfulness_correlation: subset_size ", size, " exceeds the ", features, " features");
  const int64_t s_count = o.subsets;

  const std::vector<int64_t> classes = metrics::resolve_classes(model, inputs, target);
  const Tensor f_x = metrics::row_scores(model, inputs, target, classes, 1, metrics::Score::Logit, o.batch);
  std::vector<int64_t> dims = inputs.shape().to_vector();
  dims[0] = n * s_count;
  Tensor rows = Tensor::empty(Shape(dims));
  std::vector<double> mass(static_cast<size_t>(n * s_count));
  std::vector<int64_t> perm(static_cast<size_t>(features));
  for (int64_t i = 0; i < n; ++i) {
    const float* x = inputs.data() + i * per;
    const float* a = attributions.data() + i * (attributions.numel() / n);
    for (int64_t s = 0; s < s_count; ++s) {
      std::iota(perm.begin(), perm.end(), 0);
      float* r = rows.data() + (i * s_count + s) * per;
      std::copy(x, x + per, r);
      double m = 0;
      for (int64_t j = 0; j < size; ++j) {
        const float u = philox::uniform(o.seed, static_cast<uint64_t>(s), static_cast<uint64_t>(i * features + j));
        const int64_t pick = j + std::min<int64_t>(features - j - 1, static_cast<int64_t>(u * (features - j)));
        std::swap(perm[j], perm[pick]);
        const int64_t f = perm[j];
        for (int64_t ch = 0; ch < channels; ++ch) r[ch * features + f] = o.baseline;
        for (int64_t ch = 0; ch < a_channels; ++ch) m += a[ch * features + f];
      }
      mass[i * s_count + s] = m;
    }
  }
  const Tensor f_p = metrics::row_scores(model, rows, target, classes, s_count, metrics::Score::Logit, o.batch);
  Tensor result = Tensor::empty(Shape{n});
  for (int64_t i = 0; i < n; ++i) {
    std::vector<double> m(mass.begin() + i * s_count, mass.begin() + (i + 1) * s_count), drop(s_count);
    for (int64_t s = 0; s < s_count; ++s)
      drop[s] = static_cast<double>(f_x.data()[i]) - f_p.data()[i * s_count + s];
    result.data()[i] = static_cast<float>(pearson(m, drop));
  }
  return result;
}

}  // namespace backlight
