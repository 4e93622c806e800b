#include "attribution/cam/guided_grad_cam.h"

#include "engine/backward.h"
#include "engine/parallel.h"
#include "engine/rules/builtin_sets.h"

namespace backlight {

AttributionResult guided_grad_cam(const Module& model, const Tensor& inputs, const Target& target,
                                  const GuidedGradCamOptions& opt) {
  BL_CHECK_SHAPE(inputs.defined() && inputs.dim() == 4, "guided_grad_cam: expected inputs [N, C, H, W], got ",
                 inputs.defined() ? inputs.shape().str() : std::string("no tensor"));
  std::unique_ptr<Workspace> local;
  const Workspace& ws = pick_workspace(opt.workspace, local);
  ForwardPass pass = forward_pass(model, inputs, ws);
  const Var layer = pass.tape->var(cam_layer_value(*pass.tape, opt.layer));
  BL_CHECK_SHAPE(layer.shape().rank() == 4, "guided_grad_cam: expected the layer's output [N, C, h, w], got ",
                 layer.shape());

  // The target's start node and seed are set up once (a function target is recorded once), then
  // the same tape is walked with two rule sets.
  AttributionResult r;
  Var start = pass.output;
  Tensor seed;
  if (target.is_function()) {
    start = target.select(pass.output);
    seed = Tensor::full(start.shape(), 1.0f);
  } else {
    r.target = target.resolve(pass.output.value());
    seed = one_hot_seed(pass.output.shape(), r.target);
  }
  const std::vector<Var> outs{start}, to_layer{layer}, to_input{pass.input};
  const std::vector<Tensor> seeds{seed};
  const Tensor layer_grad = backward(*pass.tape, outs, seeds, to_layer, RuleSet("gradient"))[0];
  const Tensor guided = backward(*pass.tape, outs, seeds, to_input, make_rule_set("guided_backprop"))[0];

  r.layer_map = grad_cam_map(layer.value(), layer_grad, true);
  const Tensor up = upsample_to_input(r.layer_map, inputs, opt.upsample);
  const int64_t n = inputs.size(0), c = inputs.size(1), hw = inputs.size(2) * inputs.size(3);
  r.attribution = Tensor::empty(inputs.shape());
  parallel_for(n * c, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p) {
      const float* g = guided.data() + p * hw;
      const float* m = up.data() + (p / c) * hw;
      float* o = r.attribution.data() + p * hw;
      for (int64_t q = 0; q < hw; ++q) o[q] = g[q] * m[q];
    }
  });
  r.output = pass.output.value();
  return r;
}

}  // namespace backlight
