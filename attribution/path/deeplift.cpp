#include "attribution/path/deeplift.h"

#include <algorithm>

#include "attribution/path/integrated_gradients.h"
#include "engine/rules/builtin_sets.h"

namespace backlight {

AttributionResult deeplift(const Module& model, const Tensor& inputs, const Target& target,
                           const DeepLiftOptions& opt) {
  BL_CHECK(!opt.baselines.empty(), "deeplift: at least one baseline is needed");
  std::unique_ptr<Workspace> local;
  const Workspace& ws = pick_workspace(opt.workspace, local);
  require_finite(inputs, "deeplift input");
  const RuleSet rules = make_rule_set("deeplift");
  AttributionResult r;
  const int64_t items = inputs.size(0), per = inputs.numel() / items;
  r.attribution = Tensor::zeros(inputs.shape());
  r.delta = Tensor::zeros(Shape{items});
  Tensor fx = Tensor::empty(Shape{items}), fb = Tensor::empty(Shape{items});

  for (size_t bi = 0; bi < opt.baselines.size(); ++bi) {
    const Tensor base = make_baseline(opt.baselines[bi], inputs);
    std::vector<int64_t> d = inputs.shape().to_vector();
    d[0] *= 2;
    Tensor paired = Tensor::empty(Shape(d), &ws);
    std::copy(inputs.data(), inputs.data() + inputs.numel(), paired.data());
    std::copy(base.data(), base.data() + base.numel(), paired.data() + inputs.numel());
    ForwardPass pass = forward_pass(model, paired, ws, TapeOptions{.paired_reference = true});
    // The input half of the paired forward is the plain forward of the inputs (the reference
    // half changes only the backward), so the output and top-1 targets come from it: no extra
    // forward of the inputs.
    if (bi == 0) {
      const Tensor head = pass.output.value().slice_batch(0, items);
      r.output = head.clone();
      if (!target.is_function()) r.target = target.resolve(head);
    }
    // Captum seeds the target on both halves (the reference half shares the multipliers).
    Target both = target;
    if (!target.is_function()) {
      std::vector<int64_t> cls = r.target;
      cls.insert(cls.end(), r.target.begin(), r.target.end());
      both = Target::indices(cls);
    }
    const std::vector<Var> wrt{pass.input};
    const Tensor g = target_backward(pass, both, rules, wrt)[0];
    if (target.is_function()) {
      const Tensor v = target.select(pass.output).value();
      std::copy(v.data(), v.data() + items, fx.data());
      std::copy(v.data() + items, v.data() + 2 * items, fb.data());
    } else {
      const int64_t k = pass.output.shape()[1];
      const float* out = pass.output.value().data();
      for (int64_t n = 0; n < items; ++n) {
        fx.data()[n] = out[n * k + r.target[n]];
        fb.data()[n] = out[(items + n) * k + r.target[n]];
      }
    }
    for (int64_t n = 0; n < items; ++n) {
      double total = 0;
      for (int64_t i = n * per; i < (n + 1) * per; ++i) {
        const float a = opt.multiply_by_inputs ? (inputs.data()[i] - base.data()[i]) * g.data()[i] : g.data()[i];
        r.attribution.data()[i] += a / static_cast<float>(opt.baselines.size());
        total += a;
      }
      r.delta.data()[n] += static_cast<float>((total - (fx.data()[n] - fb.data()[n])) / opt.baselines.size());
    }
  }
  return r;
}

AttributionResult deeplift_shap(const Module& model, const Tensor& inputs, const Target& target,
                                const DeepLiftShapOptions& opt) {
  BL_CHECK(opt.baselines.defined() && opt.baselines.dim() == inputs.dim() &&
               opt.baselines.numel() / opt.baselines.size(0) == inputs.numel() / inputs.size(0),
           "deeplift_shap: expected a baseline distribution [B, ...] with the inputs' per-item shape ",
           inputs.shape(), ", got ", opt.baselines.defined() ? opt.baselines.shape().str() : std::string("none"));
  DeepLiftOptions dl;
  dl.workspace = opt.workspace;
  dl.multiply_by_inputs = opt.multiply_by_inputs;
  dl.baselines.clear();
  for (int64_t b = 0; b < opt.baselines.size(0); ++b)
    dl.baselines.push_back(Baseline::given(opt.baselines.slice_batch(b, b + 1)));
  return deeplift(model, inputs, target, dl);
}

}  // namespace backlight
