#pragma once
/// Image resizing for the CLI: resampling an input to the model's size (--size) and integer
/// nearest-neighbour enlargement of small pictures for display.
#include <cstdint>
#include <utility>

#include "engine/tensor.h"

namespace backlight::cli {

/// Resamples [C,H,W] to [C,height,width] with a separable triangle (bilinear) filter whose
/// support widens with the downscale factor, as PIL's BILINEAR and torchvision's
/// Resize(antialias=True): upscaling is plain bilinear (half-pixel centres, edges clamped),
/// downscaling averages every source pixel under the output pixel, so no aliasing.
/// Throws for a non-3-D input or a size < 1.
Tensor resize_image(const Tensor& chw, int64_t height, int64_t width);

/// The size torchvision's Resize(size) gives an image of `height` x `width`: the shorter side
/// becomes `shorter`, the longer one int(shorter * long / short) (aspect ratio kept).
std::pair<int64_t, int64_t> shorter_side_size(int64_t height, int64_t width, int64_t shorter);

/// Each pixel of [C,H,W] repeated factor x factor times -> [C,H*factor,W*factor] (factor >= 1).
Tensor enlarge_nearest(const Tensor& chw, int factor);

}  // namespace backlight::cli
