#include "engine/canonize.h"

#include <cmath>
#include <map>

#include "engine/error.h"
#include "engine/modules/norm.h"

namespace backlight {

namespace {

Module& module_at(Module& root, const std::string& path) {
  Module* m = path.empty() ? &root : root.find(path);
  BL_CHECK(m, "merge_batchnorm: traced node '", path, "' has no module of that path in the model");
  return *m;
}

}  // namespace

ModulePtr merge_batchnorm(const Module& model, const Shape& input_shape, CanonizeReport* report) {
  ModulePtr copy = model.clone();
  Tape tape;
  copy->forward(tape.input(Tensor::zeros(input_shape)));

  std::vector<int> consumers(tape.num_values(), 0);
  std::map<std::string, int> uses;  // nodes per module path: a reused module cannot be folded
  for (const Node& n : tape.nodes()) {
    for (int in : n.inputs) ++consumers[in];
    if (n.kind == OpKind::BatchNorm || n.kind == OpKind::Conv2d || n.kind == OpKind::Linear) ++uses[n.name];
  }

  for (const Node& bn : tape.nodes()) {
    if (bn.kind != OpKind::BatchNorm) continue;
    const int producer = tape.value(bn.inputs[0]).producer;
    if (producer < 0) continue;
    const Node& layer = tape.node(producer);
    if ((layer.kind != OpKind::Conv2d && layer.kind != OpKind::Linear) || consumers[layer.output] != 1) continue;
    if (uses[layer.name] != 1 || uses[bn.name] != 1) continue;

    Module& lm = module_at(*copy, layer.name);
    auto* bnm = dynamic_cast<BatchNorm*>(&module_at(*copy, bn.name));
    BL_CHECK(bnm, "merge_batchnorm: node '", bn.name, "' is a batchnorm op but its module is not a BatchNorm");
    const float eps = bnm->eps();
    const Tensor gamma = bnm->parameter("weight"), beta = bnm->parameter("bias");
    const Tensor mean = bnm->buffer("running_mean"), var = bnm->buffer("running_var");
    const Tensor w = lm.parameter("weight");
    const int64_t out = w.size(0), per = w.numel() / out;
    BL_CHECK(gamma.numel() == out, "merge_batchnorm: '", bn.name, "' has ", gamma.numel(), " channels but '",
             layer.name, "' has ", out, " outputs");

    Tensor new_w = Tensor::empty(w.shape()), new_b = Tensor::empty(Shape{out});
    const bool has_bias = lm.has_parameter("bias");
    for (int64_t o = 0; o < out; ++o) {
      const double s = gamma.data()[o] / std::sqrt(static_cast<double>(var.data()[o]) + eps);
      for (int64_t i = 0; i < per; ++i) new_w.data()[o * per + i] = static_cast<float>(w.data()[o * per + i] * s);
      const double b = has_bias ? lm.parameter("bias").data()[o] : 0.0;
      new_b.data()[o] = static_cast<float>((b - mean.data()[o]) * s + beta.data()[o]);
    }
    lm.parameter("weight") = new_w;
    if (has_bias)
      lm.parameter("bias") = new_b;
    else
      lm.add_parameter("bias", new_b);

    // Identity: (x - 0) / sqrt((1 - eps) + eps) * 1 + 0.
    bnm->parameter("weight") = Tensor::full(gamma.shape(), 1.0f);
    bnm->parameter("bias") = Tensor::zeros(beta.shape());
    bnm->buffer("running_mean") = Tensor::zeros(mean.shape());
    bnm->buffer("running_var") = Tensor::full(var.shape(), 1.0f - eps);
    if (report) report->merged.emplace_back(layer.name, bn.name);
  }
  return copy;
}

}  // namespace backlight
