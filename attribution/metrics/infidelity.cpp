#include "attribution/metrics/infidelity.h"

#include <algorithm>
#include <vector>

#include "attribution/metrics/scoring.h"
#include "engine/error.h"
#include "engine/philox.h"

namespace backlight {

Tensor gaussian_perturbation(const Tensor& inputs, int64_t s, float stdev, uint64_t seed) {
  Tensor p = Tensor::empty(inputs.shape());
  float* d = p.data();
  for (int64_t i = 0; i < p.numel(); ++i)
    d[i] = stdev * philox::normal(seed, static_cast<uint64_t>(s), static_cast<uint64_t>(i));
  return p;
}

Tensor infidelity(const Module& model, const Tensor& inputs, const Tensor& attributions, const Target& target,
                  const InfidelityOptions& o) {
  BL_CHECK(inputs.dim() >= 1 && inputs.size(0) >= 1, "infidelity: expected inputs [N, ...] with N >= 1, got ",
           inputs.shape());
  BL_CHECK_SHAPE(attributions.shape() == inputs.shape(), "infidelity: expected attributions of the inputs' shape ",
                 inputs.shape(), ", got ", attributions.shape());
  BL_CHECK(o.samples >= 1, "infidelity: expected samples >= 1, got ", o.samples);
  BL_CHECK(!o.baseline.defined() || o.baseline.shape() == inputs.shape(),
           "infidelity: expected a baseline of the inputs' shape ", inputs.shape(), ", got ", o.baseline.shape());
  const int64_t n = inputs.size(0), per = inputs.numel() / n, s_count = o.samples;
  const std::vector<int64_t> classes = metrics::resolve_classes(model, inputs, target);
  const Tensor f_x = metrics::row_scores(model, inputs, target, classes, 1, metrics::Score::Logit, o.batch);

  // Rows sample-major within each item: row (i * S + s), so row / S is the item.
  std::vector<int64_t> dims = inputs.shape().to_vector();
  dims[0] = n * s_count;
  Tensor rows = Tensor::empty(Shape(dims));
  std::vector<double> dots(static_cast<size_t>(n * s_count));
  for (int64_t s = 0; s < s_count; ++s) {
    const Tensor p = o.perturbation ? o.perturbation(inputs, s) : gaussian_perturbation(inputs, s, o.stdev, o.seed);
    BL_CHECK_SHAPE(p.shape() == inputs.shape(), "infidelity: the perturbation of sample ", s, " has shape ",
                   p.shape(), ", expected ", inputs.shape());
    for (int64_t i = 0; i < n; ++i) {
      const float* x = inputs.data() + i * per;
      const float* pi = p.data() + i * per;
      const float* a = attributions.data() + i * per;
      const float* base = o.baseline.defined() ? o.baseline.data() + i * per : nullptr;
      float* r = rows.data() + (i * s_count + s) * per;
      double dot = 0;
      for (int64_t j = 0; j < per; ++j) {
        r[j] = x[j] - pi[j];
        double w = pi[j];
        if (o.multiply_by_inputs) {
          const double den = static_cast<double>(x[j]) - (base ? base[j] : 0.0);
          w = den != 0.0 ? w / den : 0.0;  // Captum's safe_div
        }
        dot += w * a[j];
      }
      dots[i * s_count + s] = dot;
    }
  }
  const Tensor f_p = metrics::row_scores(model, rows, target, classes, s_count, metrics::Score::Logit, o.batch);

  Tensor result = Tensor::empty(Shape{n});
  for (int64_t i = 0; i < n; ++i) {
    double beta = 1.0;
    if (o.normalize) {
      double num = 0, den = 0;
      for (int64_t s = 0; s < s_count; ++s) {
        const double d = dots[i * s_count + s], diff = f_x.data()[i] - static_cast<double>(f_p.data()[i * s_count + s]);
        num += d * diff;
        den += d * d;
      }
      beta = den != 0.0 ? num / den : 0.0;
    }
    double acc = 0;
    for (int64_t s = 0; s < s_count; ++s) {
      const double diff = f_x.data()[i] - static_cast<double>(f_p.data()[i * s_count + s]);
      const double e = beta * dots[i * s_count + s] - diff;
      acc += e * e;
    }
    result.data()[i] = static_cast<float>(acc / static_cast<double>(s_count));
  }
  return result;
}

}  // namespace backlight
