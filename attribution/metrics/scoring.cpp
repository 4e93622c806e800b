#include "attribution/metrics/scoring.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"

namespace backlight::metrics {

std::vector<int64_t> resolve_classes(const Module& model, const Tensor& inputs, const Target& target) {
  if (target.is_function()) return {};
  const std::vector<int64_t> fixed = target.fixed_classes(inputs.size(0));
  if (!fixed.empty()) return fixed;
  Tape tape(TapeOptions{.record = false});
  const Var out = model.forward(tape.input(inputs));
  return target.resolve(out.value());
}

Tensor row_scores(const Module& model, const Tensor& rows, const Target& target, const std::vector<int64_t>& classes,
                  int64_t rows_per_item, Score score, int64_t batch) {
  const int64_t m = rows.size(0);
  BL_CHECK(rows_per_item >= 1, "metrics::row_scores: expected rows_per_item >= 1, got ", rows_per_item);
  BL_CHECK(target.is_function() || static_cast<int64_t>(classes.size()) * rows_per_item == m,
           "metrics::row_scores: expected ", classes.size(), " items x ", rows_per_item, " rows, got ", m, " rows");
  BL_CHECK(!(target.is_function() && score == Score::Probability),
           "metrics::row_scores: probability scores need a class target, got a function target");
  const int64_t chunk = batch > 0 ? batch : std::max<int64_t>(m, 1);
  Tensor values = Tensor::empty(Shape{m});
  for (int64_t b = 0; b < m; b += chunk) {
    const int64_t e = std::min(m, b + chunk);
    Tape tape(TapeOptions{.record = false});
    const Var out = model.forward(tape.input(rows.slice_batch(b, e)));
    if (target.is_function()) {
      const Tensor v = target.select(out).value();
      BL_CHECK(v.numel() == e - b, "metrics::row_scores: the target function returned ", v.numel(),
               " values for ", e - b, " rows");
      std::copy(v.data(), v.data() + (e - b), values.data() + b);
      continue;
    }
    const Tensor& o = out.value();
    BL_CHECK(o.dim() == 2, "metrics::row_scores: expected a model output [N, classes], got ", o.shape());
    const int64_t k = o.size(1);
    for (int64_t r = b; r < e; ++r) {
      const float* row = o.data() + (r - b) * k;
      const int64_t c = classes[r / rows_per_item];
      BL_CHECK(c >= 0 && c < k, "metrics::row_scores: class ", c, " out of range for ", k, " classes");
      if (score == Score::Logit) {
        values.data()[r] = row[c];
      } else {
        const float mx = *std::max_element(row, row + k);
        double z = 0;
        for (int64_t j = 0; j < k; ++j) z += std::exp(static_cast<double>(row[j] - mx));
        values.data()[r] = static_cast<float>(std::exp(static_cast<double>(row[c] - mx)) / z);
      }
    }
  }
  return values;
}

}  // namespace backlight::metrics
