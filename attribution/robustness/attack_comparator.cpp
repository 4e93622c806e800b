#include "attribution/robustness/attack_comparator.h"

#include <algorithm>
#include <cmath>

#include "attribution/metrics/fragility.h"
#include "engine/error.h"

namespace backlight {

namespace {

// Accuracy and mean label probability of one batch.
std::pair<double, double> score(const Module& model, const Tensor& x, const std::vector<int64_t>& labels) {
  Tape tape(TapeOptions{.record = false});
  const Tensor z = model.forward(tape.input(x)).value().to_cpu();
  BL_CHECK_SHAPE(z.dim() == 2 && z.size(0) == static_cast<int64_t>(labels.size()),
                 "compare_attacks: expected logits [", labels.size(), ", classes], got ", z.shape());
  const int64_t c = z.size(1);
  double acc = 0, prob = 0;
  for (size_t n = 0; n < labels.size(); ++n) {
    const float* r = z.data() + static_cast<int64_t>(n) * c;
    BL_CHECK(labels[n] >= 0 && labels[n] < c, "compare_attacks: label ", labels[n], " of item ", n,
             " is not a class of the model (0..", c - 1, ")");
    const int64_t best = std::max_element(r, r + c) - r;
    double s = 0;
    for (int64_t k = 0; k < c; ++k) s += std::exp(double(r[k]) - r[best]);
    acc += best == labels[n];
    prob += std::exp(double(r[labels[n]]) - r[best]) / s;
  }
  return {acc / double(labels.size()), prob / double(labels.size())};
}

}  // namespace

std::vector<ComparisonRow> compare_attacks(const Module& model, const Tensor& inputs, const std::vector<int64_t>& labels,
                                           const std::vector<NamedPerturbation>& perturbations,
                                           const ComparatorOptions& options) {
  BL_CHECK_SHAPE(inputs.defined() && inputs.dim() >= 2 && inputs.size(0) == static_cast<int64_t>(labels.size()),
                 "compare_attacks: expected inputs [N, ...] with one label per item (", labels.size(), "), got ",
                 inputs.defined() ? inputs.shape().str() : std::string("no tensor"));
  const bool explain = !options.method.empty();
  Tensor base_map;
  if (explain) base_map = attribute(options.method, model, inputs, Target::indices(labels), options.method_options).attribution.to_cpu();
  std::vector<ComparisonRow> rows;
  auto [acc0, prob0] = score(model, inputs, labels);
  rows.push_back({"original", acc0, prob0, explain ? std::optional(1.0) : std::nullopt,
                  explain ? std::optional(1.0) : std::nullopt});
  for (const NamedPerturbation& p : perturbations) {
    BL_CHECK(p.num_attempts >= 1, "compare_attacks: ", p.name, ": num_attempts must be >= 1, got ", p.num_attempts);
    ComparisonRow row{p.name};
    Tensor last;
    for (int64_t a = 0; a < p.num_attempts; ++a) {
      last = p.apply(inputs);
      BL_CHECK_SHAPE(last.defined() && last.shape() == inputs.shape(), "compare_attacks: perturbation '", p.name,
                     "' returned ", last.defined() ? last.shape().str() : std::string("no tensor"), "; expected ",
                     inputs.shape());
      const auto [acc, prob] = score(model, last, labels);
      row.accuracy += acc / double(p.num_attempts);
      row.label_probability += prob / double(p.num_attempts);
    }
    if (explain) {
      const Tensor m = attribute(options.method, model, last, Target::indices(labels), options.method_options).attribution.to_cpu();
      const FragilityResult f = explanation_fragility(base_map, m, options.top_k);
      double ti = 0, sp = 0;
      for (size_t n = 0; n < f.spearman.size(); ++n) ti += f.top_k_intersection[n], sp += f.spearman[n];
      row.top_k_intersection = ti / double(f.spearman.size());
      row.spearman = sp / double(f.spearman.size());
    }
    rows.push_back(row);
  }
  return rows;
}

}  // namespace backlight
