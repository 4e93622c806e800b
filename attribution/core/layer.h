#pragma once
/// Layers by module path, for layer, neuron and CAM methods. A module's output is the output of
/// the last tape node (in forward order) recorded by the module or any of its descendants, e.g.
/// "layer4" in a ResNet is the final relu of block layer4.1; "features.28" is that conv.
///
/// "<module>@input" names the module's input instead (Captum's attribute_to_layer_input): the
/// first activation input of the module's first tape node, i.e. the output of the node that
/// produced it. Gradients with respect to it are total gradients (every consumer of that value,
/// e.g. a residual block's shortcut too), as Captum's. When that input is the model input itself
/// there is no node to name and the call throws saying so.
#include <string_view>

#include "engine/tape.h"

namespace backlight {

/// Suffix of a layer name that selects the module's input ("layer1.0@input").
inline constexpr std::string_view kLayerInputSuffix = "@input";

/// Node index of the layer's output on a recorded tape; throws naming the layer and listing the
/// module paths that were seen.
int layer_output_node(const Tape& tape, std::string_view layer);
/// The layer's output as a Var of that tape (for backward wrt it).
Var layer_output(Tape& tape, std::string_view layer);

/// Bilinear upsampling of maps [N, C, h, w] to [N, C, H, W] with align_corners = false
/// (PyTorch F.interpolate's default), for CAM and layer maps shown over the input.
Tensor upsample_bilinear(const Tensor& maps, int64_t height, int64_t width);

}  // namespace backlight
