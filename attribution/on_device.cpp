#include "attribution/on_device.h"

#include <algorithm>

#include "attribution/gradient_methods.h"
#include "engine/canonize.h"

namespace backlight {

const std::vector<std::string_view>& cuda_methods() {
  static const std::vector<std::string_view> names = {"saliency", "input_x_gradient", "guided_backprop",
                                                      "deconvolution", "lrp"};
  return names;
}

bool runs_on_cuda(std::string_view method) {
  const auto& n = cuda_methods();
  return std::find(n.begin(), n.end(), method) != n.end();
}

namespace {

bool on_context(const Module& model, const Workspace& ws) {
  const auto params = model.state_dict();
  return !params.empty() && std::all_of(params.begin(), params.end(), [&](const auto& p) {
           return p.second.cuda_context() == ws.cuda_context();
         });
}

bool has_batchnorm(const Module& model) {
  for (const auto& [path, m] : model.named_modules())
    if (m->type_name().rfind("BatchNorm", 0) == 0) return true;
  return false;
}

}  // namespace

AttributionResult attribute_on_cuda(std::string_view method, const Module& model, const Tensor& inputs,
                                    const Target& target, const MethodOptions& o) {
  BL_CHECK(o.workspace && o.workspace->cuda_context(), "attribute_on_cuda: options.workspace must be a CUDA workspace");
  std::string supported;
  for (std::string_view n : cuda_methods()) supported += (supported.empty() ? "" : ", ") + std::string(n);
  BL_CHECK(runs_on_cuda(method), "method '", method, "' runs on the CPU only for now (on CUDA: ", supported,
           "); run it with a host workspace / --device cpu (docs/cuda.md)");
  BL_CHECK(o.noise_tunnel.empty(), "method '", method, "': the noise tunnel runs on the CPU only for now");
  const Workspace& ws = *o.workspace;
  const bool lrp_method = method == "lrp";

  // The model on the device: as given when it already is, else a copy (BatchNorm folded on the
  // host first for LRP, where the canonizer reads the weights).
  ModulePtr moved;
  const bool resident = on_context(model, ws);
  if (!resident) {
    if (lrp_method && has_batchnorm(model)) {
      std::vector<int64_t> shape = inputs.shape().to_vector();
      shape[0] = 1;
      moved = merge_batchnorm(model, Shape(shape))->to(Device::CUDA, &ws);
    } else {
      moved = model.to(Device::CUDA, &ws);
    }
  }
  const Module& m = moved ? *moved : model;
  const Tensor x = inputs.to(Device::CUDA, &ws);

  AttributionResult r;
  if (method == "saliency") {
    r = saliency(m, x, target, {.abs = true, .workspace = &ws});
  } else if (method == "input_x_gradient") {
    r = input_x_gradient(m, x, target, {.workspace = &ws});
  } else if (method == "guided_backprop") {
    r = guided_backprop_attribution(m, x, target, {.workspace = &ws});
  } else if (method == "deconvolution") {
    r = deconvolution(m, x, target, {.workspace = &ws});
  } else {
    LrpOptions lo;
    if (!o.rules.empty()) lo.rules = o.rules;
    lo.params = o.rule_params;
    lo.merge_batchnorm = false;  // folded above (or the caller's device model is used as is)
    lo.workspace = &ws;
    r = lrp(m, x, target, lo);
  }
  r.attribution = r.attribution.to_cpu();
  if (r.output.defined()) r.output = r.output.to_cpu();
  return r;
}

}  // namespace backlight
