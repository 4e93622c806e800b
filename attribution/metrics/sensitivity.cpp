#include "attribution/metrics/sensitivity.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "attribution/metrics/scoring.h"
#include "engine/error.h"
#include "engine/philox.h"

namespace backlight {

Tensor sensitivity_max(const Explanation& explain, const Tensor& inputs, const SensitivityOptions& o) {
  BL_CHECK(inputs.dim() >= 1 && inputs.size(0) >= 1, "sensitivity_max: expected inputs [N, ...] with N >= 1, got ",
           inputs.shape());
  BL_CHECK(o.samples >= 1, "sensitivity_max: expected samples >= 1, got ", o.samples);
  BL_CHECK(o.radius >= 0.0f, "sensitivity_max: expected radius >= 0, got ", o.radius);
  BL_CHECK(static_cast<bool>(explain), "sensitivity_max: the explanation function is empty");
  const int64_t n = inputs.size(0);
  const Tensor a0 = explain(inputs);
  BL_CHECK(a0.dim() >= 1 && a0.size(0) == n, "sensitivity_max: expected the explanation to return [", n,
           ", ...], got ", a0.shape());
  const int64_t per_a = a0.numel() / n;
  std::vector<double> norm0(static_cast<size_t>(n), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < per_a; ++j) norm0[i] += static_cast<double>(a0.data()[i * per_a + j]) * a0.data()[i * per_a + j];
  Tensor result = Tensor::zeros(Shape{n});
  Tensor x = Tensor::empty(inputs.shape());
  for (int64_t s = 0; s < o.samples; ++s) {
    for (int64_t k = 0; k < inputs.numel(); ++k)
      x.data()[k] = inputs.data()[k] +
                    o.radius * (2.0f * philox::uniform(o.seed, static_cast<uint64_t>(s), static_cast<uint64_t>(k)) - 1.0f);
    const Tensor a = explain(x);
    BL_CHECK_SHAPE(a.shape() == a0.shape(), "sensitivity_max: sample ", s, " explanation has shape ", a.shape(),
                   ", expected ", a0.shape());
    for (int64_t i = 0; i < n; ++i) {
      double d = 0;
      for (int64_t j = 0; j < per_a; ++j) {
        const double e = static_cast<double>(a.data()[i * per_a + j]) - a0.data()[i * per_a + j];
        d += e * e;
      }
      const double denom = norm0[i] > 0 ? std::sqrt(norm0[i]) : 1.0;
      result.data()[i] = std::max(result.data()[i], static_cast<float>(std::sqrt(d) / denom));
    }
  }
  return result;
}

Tensor sensitivity_max(std::string_view method, const Module& model, const Tensor& inputs, const Target& target,
                       const MethodOptions& method_options, const SensitivityOptions& o) {
  const std::vector<int64_t> classes = metrics::resolve_classes(model, inputs, target);
  const Target fixed = target.is_function() ? target : Target::indices(classes);
  const std::string name(method);
  return sensitivity_max(
      [&](const Tensor& x) { return attribute(name, model, x, fixed, method_options).attribution; }, inputs, o);
}

}  // namespace backlight
