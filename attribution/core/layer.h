#pragma once
/// Layers by module path, for layer, neuron and CAM methods. A module's output is the output of
/// the last tape node (in forward order) recorded by the module or any of its descendants, e.g.
/// "layer4" in a ResNet is the final relu of block layer4.1; "features.28" is that conv.
#include <string_view>

#include "engine/tape.h"

namespace backlight {

/// Node index of the layer's output on a recorded tape; throws naming the layer and listing the
/// module paths that were seen.
int layer_output_node(const Tape& tape, std::string_view layer);
/// The layer's output as a Var of that tape (for backward wrt it).
Var layer_output(Tape& tape, std::string_view layer);

/// Bilinear upsampling of maps [N, C, h, w] to [N, C, H, W] with align_corners = false
/// (PyTorch F.interpolate's default), for CAM and layer maps shown over the input.
Tensor upsample_bilinear(const Tensor& maps, int64_t height, int64_t width);

}  // namespace backlight
