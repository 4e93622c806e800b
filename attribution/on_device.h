#pragma once
/// Attribution on a CUDA device. attribute() (attribution/registry.h) runs a method on the device when
/// MethodOptions::workspace is a CUDA workspace (Workspace::for_cuda): the model and inputs are
/// moved to that device, the method runs there - the same code as on the CPU, whose buffers come
/// from the workspace and whose fused kernels (kernels/dispatch.h) run where it allocates - and
/// the results come back to the host once at the end (attribution, output, delta, layer map).
///
/// Methods on CUDA (cuda_methods()):
///   saliency, input_x_gradient, guided_backprop, deconvolution, lrp (every built-in rule set):
///     one forward and one backward on the device;
///   integrated_gradients (every integration rule, multiply_by_inputs, several baselines: zero
///     and constant made on the device, blur, uniform and given tensors made on the host and
///     copied once): interpolation, chunked forward/backward, accumulation and the final
///     (x - x') * sum on the device; per chunk only the class seed goes over and a finiteness
///     flag comes back, per baseline the [N] target values and item sums;
///   occlusion (the plain path; IncrementalMode::Auto silently uses it, On throws naming CUDA)
///     and feature_ablation: occluded/ablated batches, forwards, scatter and divide on the
///     device; per batch the target values come back ([rows] floats, after a copy of the
///     logits), and the [positions or features, N] differences go over once.
/// The noise tunnel (MethodOptions::noise_tunnel: smoothgrad, smoothgrad_sq, vargrad) runs on
/// CUDA around the gradient methods of cuda_noise_tunnel_methods(): noisy copies drawn on the
/// device (Philox, the CPU's numbers up to the last ulp of logf/sinf/cosf), moments in double on
/// the device; the relative noise level reads each item's range from one host copy per call.
/// Every other method or combination throws before touching the device, naming what runs on
/// CUDA (run it without the CUDA workspace). See docs/cuda.md; none of this has run on a GPU.
///
/// A model on the host is copied to the device on every call (for lrp after folding BatchNorm
/// on the host); to avoid the copy, move it once with Module::to(Device::CUDA, &ws) (for lrp,
/// fold BatchNorm first with merge_batchnorm, engine/canonize.h: a device model is used as is).
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "attribution/core/result.h"
#include "attribution/core/target.h"
#include "attribution/method_options.h"
#include "engine/module.h"

namespace backlight {

/// The methods attribute() can run on a CUDA workspace.
const std::vector<std::string_view>& cuda_methods();
/// The methods the noise tunnel can wrap on a CUDA workspace.
const std::vector<std::string_view>& cuda_noise_tunnel_methods();
/// Whether `method` (wrapped in the noise tunnel `noise_tunnel` when not empty) runs on CUDA.
bool runs_on_cuda(std::string_view method, std::string_view noise_tunnel = "");
/// Why it does not: a message naming the method and what runs on CUDA; empty when it does.
std::string cuda_unsupported_reason(std::string_view method, std::string_view noise_tunnel = "");

/// The registry's method (with its noise tunnel when asked) on a device model and device inputs.
using DeviceRun = std::function<AttributionResult(const Module& model, const Tensor& inputs)>;

/// attribute() for a CUDA options.workspace (see above): checks the method, moves model and
/// inputs to the device, calls `run` on them (lrp is called here directly, so that BatchNorm is
/// folded on the host first), and returns host tensors. Throws cuda_unsupported_reason() for
/// methods that do not run on CUDA.
AttributionResult attribute_on_cuda(std::string_view method, const Module& model, const Tensor& inputs,
                                    const Target& target, const MethodOptions& options, const DeviceRun& run);

}  // namespace backlight
