#include "attribution/layer/layer_methods.h"

#include <algorithm>
#include <cmath>

#include "attribution/core/layer.h"
#include "attribution/core/layer_eval.h"
#include "attribution/gradient/lrp_relevance.h"
#include "attribution/core/rows.h"
#include "engine/error.h"
#include "engine/parallel.h"

namespace backlight {

namespace {

constexpr int64_t kGrain = 1 << 14;

void require_layer(const std::string& layer, const char* method) {
  BL_CHECK(!layer.empty(), method, ": no layer given (expected a module path such as features.3 or layer4)");
}

// out = a * b elementwise (same shapes), into fresh storage: backward results may alias
// signals the engine still holds.
Tensor product(const Tensor& a, const Tensor& b) {
  BL_CHECK_SHAPE(a.shape() == b.shape(), "layer methods: shapes ", a.shape(), " and ", b.shape(), " differ");
  Tensor out = Tensor::empty(a.shape());
  parallel_for(a.numel(), kGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) out.data()[i] = a.data()[i] * b.data()[i];
  });
  return out;
}

}  // namespace

AttributionResult layer_activation(const Module& model, const Tensor& inputs, const Target& /*target*/,
                                   const LayerActivationOptions& opt) {
  require_layer(opt.layer, "layer_activation");
  std::unique_ptr<Workspace> local;
  const Workspace& ws = pick_workspace(opt.workspace, local);
  require_finite(inputs, "layer_activation input");
  // A one-item probe finds the layer's op; the batch then runs without recording a tape.
  const LayerEval e = eval_layer(model, inputs, layer_op_index(model, inputs, opt.layer, ws), ws);
  AttributionResult r;
  r.attribution = e.layer;
  r.layer_map = r.attribution;
  r.output = e.output;
  return r;
}

AttributionResult layer_gradient_x_activation(const Module& model, const Tensor& inputs, const Target& target,
                                              const LayerGradientXActivationOptions& opt) {
  require_layer(opt.layer, "layer_gradient_x_activation");
  std::unique_ptr<Workspace> local;
  const Workspace& ws = pick_workspace(opt.workspace, local);
  ForwardPass pass = forward_pass(model, inputs, ws);
  const std::vector<Var> wrt{layer_output(*pass.tape, opt.layer)};
  AttributionResult r;
  const Tensor g = target_backward(pass, target, RuleSet("gradient"), wrt, &r.target)[0];
  r.attribution = opt.multiply_by_inputs ? product(g, wrt[0].value()) : g.clone();
  r.layer_map = r.attribution;
  r.output = pass.output.value();
  return r;
}

AttributionResult layer_deeplift(const Module& model, const Tensor& inputs, const Target& target,
                                 const LayerDeepLiftOptions& opt) {
  require_layer(opt.layer, "layer_deeplift");
  BL_CHECK(!opt.baselines.empty(), "layer_deeplift: at least one baseline is needed");
  std::unique_ptr<Workspace> local;
  const Workspace& ws = pick_workspace(opt.workspace, local);
  require_finite(inputs, "layer_deeplift input");
  const RuleSet rules = make_rule_set("deeplift");
  const int64_t items = inputs.size(0);
  const float share = 1.0f / static_cast<float>(opt.baselines.size());
  AttributionResult r;
  r.delta = Tensor::zeros(Shape{items});
  for (const Baseline& b : opt.baselines) {
    const Tensor base = make_baseline(b, inputs);
    ForwardPass pass = forward_pass(model, stack_rows(inputs, base, ws), ws, TapeOptions{.paired_reference = true});
    const Tensor out = pass.output.value();
    if (!r.output.defined()) {
      r.output = out.slice_batch(0, items).clone();
      if (!target.is_function()) r.target = target.resolve(r.output);
    }
    // Captum seeds the target on both halves; the reference half shares the multipliers.
    const std::vector<int64_t> both = row_classes(r.target, 2, false);
    const std::vector<Var> wrt{layer_output(*pass.tape, opt.layer)};
    const Tensor g = target_backward(pass, rows_target(target, both), rules, wrt)[0];
    const Tensor& a = wrt[0].value();
    const int64_t half = a.numel() / 2;
    if (!r.attribution.defined()) r.attribution = Tensor::zeros(g.slice_batch(0, items).shape());
    Tensor attr = Tensor::empty(r.attribution.shape());
    for (int64_t i = 0; i < half; ++i)
      attr.data()[i] = opt.multiply_by_inputs ? (a.data()[i] - a.data()[i + half]) * g.data()[i] : g.data()[i];
    const Tensor f = target_rows(out, target, both);
    const std::vector<double> sums = item_sums(attr);
    for (int64_t n = 0; n < items; ++n)
      r.delta.data()[n] += share * static_cast<float>(sums[n] - (f.data()[n] - f.data()[items + n]));
    add_scaled(r.attribution, attr, 0, share);
  }
  r.layer_map = r.attribution;
  return r;
}

AttributionResult layer_deeplift_shap(const Module& model, const Tensor& inputs, const Target& target,
                                      const LayerDeepLiftShapOptions& opt) {
  BL_CHECK_SHAPE(opt.baselines.defined() && opt.baselines.dim() == inputs.dim() &&
                     opt.baselines.numel() / opt.baselines.size(0) == inputs.numel() / inputs.size(0),
                 "layer_deeplift_shap: expected a baseline distribution [B, ...] with the inputs' per-item shape ",
                 inputs.shape(), ", got ", opt.baselines.defined() ? opt.baselines.shape().str() : std::string("none"));
  LayerDeepLiftOptions dl{
      .layer = opt.layer, .baselines = {}, .multiply_by_inputs = opt.multiply_by_inputs, .workspace = opt.workspace};
  for (int64_t b = 0; b < opt.baselines.size(0); ++b)
    dl.baselines.push_back(Baseline::given(opt.baselines.slice_batch(b, b + 1)));
  return layer_deeplift(model, inputs, target, dl);
}

AttributionResult layer_lrp(const Module& model, const Tensor& inputs, const Target& target,
                            const LayerLrpOptions& opt) {
  require_layer(opt.layer, "layer_lrp");
  std::unique_ptr<Workspace> local;
  const Workspace& ws = pick_workspace(opt.workspace, local);
  const ModulePtr canonical = lrp_canonical_model(model, inputs.shape(), opt.merge_batchnorm);
  ForwardPass pass = forward_pass(canonical ? *canonical : model, inputs, ws);
  const std::string name = opt.rule_set ? std::string("custom")
                           : opt.rules == "auto" ? auto_lrp_rules(*pass.tape, pass.output)
                                                 : opt.rules;
  const RuleSet rules = opt.rule_set ? *opt.rule_set : make_rule_set(name, opt.params);
  const std::vector<Var> wrt{layer_output(*pass.tape, opt.layer)};
  AttributionResult r;
  r.attribution = target_backward(pass, target, rules, wrt, &r.target)[0].clone();
  r.output = pass.output.value();
  finish_lrp_relevance(r, target, opt.multiply_by_output);
  r.rule_set = name;
  r.layer_map = r.attribution;
  return r;
}

Tensor interpolate_layer_map(const Tensor& map, int64_t height, int64_t width, LayerMapReduce reduce,
                             LayerMapInterpolation mode) {
  BL_CHECK_SHAPE(map.defined() && map.dim() == 4, "interpolate_layer_map: expected a layer map [N,C,h,w], got ",
                 map.defined() ? map.shape().str() : std::string("no tensor"));
  BL_CHECK(height > 0 && width > 0, "interpolate_layer_map: expected a positive output size, got ", height, "x", width);
  Tensor src = map;
  const int64_t n = map.size(0), c = map.size(1), hw = map.size(2) * map.size(3);
  if (reduce != LayerMapReduce::None) {
    src = Tensor::zeros(Shape{n, 1, map.size(2), map.size(3)});
    const float scale = reduce == LayerMapReduce::Mean ? 1.0f / static_cast<float>(c) : 1.0f;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t ch = 0; ch < c; ++ch)
        for (int64_t p = 0; p < hw; ++p) src.data()[i * hw + p] += scale * map.data()[(i * c + ch) * hw + p];
  }
  if (mode == LayerMapInterpolation::Bilinear) return upsample_bilinear(src, height, width);
  // PyTorch "nearest": source index floor(dst * in / out), clamped.
  const int64_t planes = src.size(0) * src.size(1), h = src.size(2), w = src.size(3);
  Tensor out = Tensor::empty(Shape{src.size(0), src.size(1), height, width});
  const float sy = static_cast<float>(h) / static_cast<float>(height),
              sx = static_cast<float>(w) / static_cast<float>(width);
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t y = 0; y < height; ++y) {
      const int64_t yy = std::min<int64_t>(static_cast<int64_t>(std::floor(y * sy)), h - 1);
      for (int64_t x = 0; x < width; ++x) {
        const int64_t xx = std::min<int64_t>(static_cast<int64_t>(std::floor(x * sx)), w - 1);
        out.data()[(p * height + y) * width + x] = src.data()[(p * h + yy) * w + xx];
      }
    }
  return out;
}

}  // namespace backlight
