#pragma once
/// Attribution on a CUDA device. attribute() (registry.h) runs a method on the device when
/// MethodOptions::workspace is a CUDA workspace (Workspace::for_cuda): the model and inputs are
/// moved to that device, the forward and backward passes run there (every engine op and rule
/// map has a CUDA version), and the results come back to the host (one sync per call).
///
/// Methods on CUDA: saliency, input_x_gradient, guided_backprop, deconvolution, lrp (every
/// built-in rule set). Every other method still runs host-side loops or reads activations on the
/// host; asking for it with a CUDA workspace throws naming the method and this list (run it
/// without the CUDA workspace). See docs/cuda.md.
///
/// A model on the host is copied to the device on every call (for lrp after folding BatchNorm
/// on the host); to avoid the copy, move it once with Module::to(Device::CUDA, &ws) (for lrp,
/// fold BatchNorm first with merge_batchnorm, engine/canonize.h: a device model is used as is).
#include <string_view>
#include <vector>

#include "attribution/registry.h"

namespace backlight {

/// The methods attribute() can run on a CUDA workspace.
const std::vector<std::string_view>& cuda_methods();
bool runs_on_cuda(std::string_view method);

/// attribute() for a CUDA options.workspace (see above); throws for methods not in cuda_methods().
AttributionResult attribute_on_cuda(std::string_view method, const Module& model, const Tensor& inputs,
                                    const Target& target, const MethodOptions& options);

}  // namespace backlight
