#include "attribution/gradient/lrp_relevance.h"

#include <cmath>
#include <vector>

#include "attribution/core/rows.h"
#include "engine/canonize.h"
#include "engine/rules/gate.h"

namespace backlight {

ModulePtr lrp_canonical_model(const Module& model, const Shape& input_shape, bool merge) {
  if (!merge) return nullptr;
  bool has_batchnorm = false;
  for (const auto& [path, m] : model.named_modules()) has_batchnorm |= m->type_name().rfind("BatchNorm", 0) == 0;
  if (!has_batchnorm) return nullptr;
  // Merged BatchNorms stay as identities under their names, so every layer path still exists.
  std::vector<int64_t> shape = input_shape.to_vector();
  shape[0] = 1;
  return merge_batchnorm(model, Shape(shape));
}

void finish_lrp_relevance(AttributionResult& r, const Target& target, bool multiply_by_output) {
  const int64_t items = r.attribution.size(0), per = r.attribution.numel() / items;
  Tensor start = Tensor::full(Shape{items}, 1.0f);
  if (multiply_by_output) {
    start = target_rows(r.output, target, r.target);
    for (int64_t n = 0; n < items; ++n)
      for (int64_t i = n * per; i < (n + 1) * per; ++i) r.attribution.data()[i] *= start.data()[n];
  }
  const std::vector<double> sums = item_sums(r.attribution);
  r.delta = Tensor::empty(Shape{items});
  r.relevance_start = start.clone();
  r.relevance_sum = Tensor::empty(Shape{items});
  r.conservation_error = Tensor::empty(Shape{items});
  for (int64_t n = 0; n < items; ++n) {
    const double s0 = start.data()[n];
    r.delta.data()[n] = static_cast<float>(s0 - sums[n]);
    r.relevance_sum.data()[n] = static_cast<float>(sums[n]);
    // A zero start (f_t(x) = 0 with multiply_by_output) conserves only a zero sum.
    r.conservation_error.data()[n] = static_cast<float>(
        s0 != 0 ? std::fabs(sums[n] - s0) / std::fabs(s0) : (sums[n] == 0 ? 0.0 : INFINITY));
  }
}

std::string auto_lrp_rules(const Tape& tape, const Var& output) {
  auto activation = [&](int value) {
    const ValueRole r = tape.value(value).role;
    return r != ValueRole::Parameter && r != ValueRole::Buffer;
  };
  for (const Node& node : tape.nodes()) {
    // Attention multiplies two activations; a MatMul with a constant operand (an imported
    // graph's weight) is an affine layer.
    if (node.kind == OpKind::MatMul && activation(node.inputs[0]) && activation(node.inputs[1])) return "cp_lrp";
    if (node.kind == OpKind::Softmax && node.output != output.id()) return "cp_lrp";
  }
  // Gates (SiLU spelt Sigmoid*Mul, squeeze-excitation) and normalisers (layernorm) come with
  // activations of both signs and linear bottlenecks, where z+ has outputs whose positive
  // contributions are all zero and drops their relevance; gamma never divides by such a zero.
  bool gated = has_activation_product(tape);
  for (const Node& node : tape.nodes()) gated |= node.kind == OpKind::LayerNorm || node.kind == OpKind::GroupNorm;
  return gated ? "lrp_epsilon_gamma_box" : "lrp_epsilon_plus_flat";
}

}  // namespace backlight
