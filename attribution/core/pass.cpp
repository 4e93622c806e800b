#include "attribution/core/pass.h"

#include <cmath>

#include "engine/backward.h"
#include "engine/error.h"
#include "kernels/dispatch.h"

namespace backlight {

void require_finite(const Tensor& t, const char* what) {
  // A device tensor is checked on its device: one sync, and only the first bad index (and then
  // its value) comes back.
  const int64_t i = first_nonfinite(t.device_data(), t.numel(), t.cuda_context());
  if (i < 0) return;
  const float v = t.reshape({-1}).slice_batch(i, i + 1).to_cpu().data()[0];
  BL_THROW(what, ": element ", i, " is ", v, "; expected finite values (shape ", t.shape(), ")");
}

const Workspace& pick_workspace(const Workspace* given, std::unique_ptr<Workspace>& local) {
  if (given) return *given;
  local = std::make_unique<Workspace>();
  return *local;
}

ForwardPass forward_pass(const Module& model, const Tensor& x, const Workspace& ws, TapeOptions options) {
  BL_CHECK_SHAPE(x.defined() && x.dim() >= 2, "attribution: expected a batch of inputs [N, ...], got ",
                 x.defined() ? x.shape().str() : std::string("no tensor"));
  require_finite(x, "attribution input");
  ForwardPass p;
  p.tape = std::make_unique<Tape>(options, ws);
  p.input = p.tape->input(x, "input");
  p.output = model.forward(p.input);
  return p;
}

std::vector<Tensor> target_backward(const ForwardPass& pass, const Target& target, const RuleSet& rules,
                                    std::span<const Var> wrt, std::vector<int64_t>* classes) {
  Var start = pass.output;
  Tensor seed;
  if (target.is_function()) {
    start = target.select(pass.output);
    seed = Tensor::full(start.shape(), 1.0f);
    if (classes) classes->clear();
  } else {
    const std::vector<int64_t> cls = target.resolve(pass.output.value());
    seed = one_hot_seed(pass.output.shape(), cls);
    if (classes) *classes = cls;
  }
  const std::vector<Var> outs{start};
  const std::vector<Tensor> seeds{seed};
  return backward(*pass.tape, outs, seeds, wrt, rules);
}

}  // namespace backlight
