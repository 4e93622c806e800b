#pragma once
/// Superpixel segmentations that turn images into interpretable features for LIME and KernelSHAP
/// (and feature masks for the other mask-based methods). Ids are 0 .. K-1 per image, every id
/// present, row-major [H, W] in float (the feature-mask convention of attribution/perturbation/perturbation.h).
#include <cstdint>
#include <string_view>

#include "engine/tensor.h"

namespace backlight {

enum class Segmentation {
  Elements,  ///< every element its own feature (Captum's default mask)
  Grid,      ///< a regular grid of about `segments` rectangular cells
  Slic,      ///< SLIC superpixels (Achanta et al. 2012)
};

/// "elements", "grid" or "slic"; throws naming the text otherwise.
Segmentation parse_segmentation(std::string_view text);

/// A grid of about `segments` cells over an H x W image: rows x cols cells with
/// rows = round(sqrt(segments * H / W)) (at least 1, at most H), cols = ceil(segments / rows) (at
/// most W); cell boundaries at floor(i * H / rows). Returns [H, W] ids, row-major over the cells.
Tensor grid_segments(int64_t height, int64_t width, int segments);

struct SlicOptions {
  int segments = 50;         ///< approximate number of superpixels K
  float compactness = 0.1f;  ///< weight m of the spatial distance against the (range-normalised) colour distance
  int iterations = 10;
};
/// SLIC on one image [C, H, W] (any number of channels): the channel values are scaled by the
/// image's overall value range to [0, 1]; centres start on a grid of step S = sqrt(H W / K);
/// each pixel joins the nearest centre within 2S x 2S by D^2 = d_colour^2 + (d_xy / S)^2 m^2; the
/// centres move to their pixels' means; finally, 4-connected pieces smaller than S^2 / 4 merge
/// into a neighbour, so every superpixel is connected. Deterministic. Returns [H, W] ids.
Tensor slic_segments(const Tensor& image, const SlicOptions& options = {});

/// Per-image feature masks for a batch of images [N, C, H, W] -> [N, 1, H, W] (shared by the
/// channels). Elements is not a segmentation (throws).
Tensor segment_images(const Tensor& images, Segmentation kind, const SlicOptions& options = {});

}  // namespace backlight
