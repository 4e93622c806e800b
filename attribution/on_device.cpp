#include "attribution/on_device.h"

#include <algorithm>

#include "attribution/gradient/gradient_methods.h"
#include "engine/canonize.h"
#include "engine/error.h"

namespace backlight {

const std::vector<std::string_view>& cuda_methods() {
  static const std::vector<std::string_view> names = {"saliency",      "input_x_gradient",     "guided_backprop",
                                                      "deconvolution", "lrp",                  "integrated_gradients",
                                                      "occlusion",     "feature_ablation"};
  return names;
}

const std::vector<std::string_view>& cuda_noise_tunnel_methods() {
  static const std::vector<std::string_view> names = {"saliency", "input_x_gradient", "guided_backprop",
                                                      "deconvolution", "integrated_gradients"};
  return names;
}

namespace {

bool listed(const std::vector<std::string_view>& names, std::string_view method) {
  return std::find(names.begin(), names.end(), method) != names.end();
}

std::string joined(const std::vector<std::string_view>& names) {
  std::string out;
  for (std::string_view n : names) out += (out.empty() ? "" : ", ") + std::string(n);
  return out;
}

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

std::string cuda_unsupported_reason(std::string_view method, std::string_view noise_tunnel) {
  if (!listed(cuda_methods(), method))
    return detail::concat("method '", method, "' runs on the CPU only for now (on CUDA: ", joined(cuda_methods()),
                          "); run it with a host workspace / --device cpu (docs/cuda.md)");
  if (!noise_tunnel.empty() && !listed(cuda_noise_tunnel_methods(), method))
    return detail::concat("method '", method, "' with the noise tunnel (", noise_tunnel,
                          ") runs on the CPU only for now (the noise tunnel on CUDA wraps: ",
                          joined(cuda_noise_tunnel_methods()),
                          "); run it with a host workspace / --device cpu (docs/cuda.md)");
  return "";
}

bool runs_on_cuda(std::string_view method, std::string_view noise_tunnel) {
  return cuda_unsupported_reason(method, noise_tunnel).empty();
}

AttributionResult attribute_on_cuda(std::string_view method, const Module& model, const Tensor& inputs,
                                    const Target& target, const MethodOptions& o, const DeviceRun& run) {
  BL_CHECK(o.workspace && o.workspace->cuda_context(), "attribute_on_cuda: options.workspace must be a CUDA workspace");
  const std::string reason = cuda_unsupported_reason(method, o.noise_tunnel);
  BL_CHECK(reason.empty(), reason);
  const Workspace& ws = *o.workspace;
  const bool lrp_method = method == "lrp";

  // The model on the device: as given when it already is, else a copy (BatchNorm folded on the
  // host first for LRP, where the canonizer reads the weights).
  ModulePtr moved;
  if (!on_context(model, ws)) {
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
  if (lrp_method) {
    LrpOptions lo;
    if (!o.rules.empty()) lo.rules = o.rules;
    lo.params = o.rule_params;
    lo.merge_batchnorm = false;  // folded above (or the caller's device model is used as is)
    lo.workspace = &ws;
    r = lrp(m, x, target, lo);
  } else {
    r = run(m, x);
  }
  // The one copy back (a sync); host tensors are returned as they are.
  r.attribution = r.attribution.to_cpu();
  if (r.output.defined()) r.output = r.output.to_cpu();
  if (r.delta.defined()) r.delta = r.delta.to_cpu();
  if (r.layer_map.defined()) r.layer_map = r.layer_map.to_cpu();
  return r;
}

}  // namespace backlight
