#pragma once
/// XRAI (Kapishnikov et al., "XRAI: Better Attributions Through Regions", ICCV 2019) as PAIR's
/// `saliency` package computes it (saliency.core.xrai.XRAI, algorithm "full"): over-segment the
/// image with Felzenszwalb's graph segmentation at several scales, dilate every segment, then
/// greedily add the segment whose not-yet-covered pixels have the highest mean attribution until
/// the image is covered. The result is a region map: every pixel holds the gain (mean attribution
/// over the pixels it added) of the region that added it, so thresholding the map at its top 10%
/// or 30% selects whole regions in the order XRAI added them.
#include <cstdint>
#include <string>
#include <vector>

#include "attribution/core/result.h"
#include "attribution/core/target.h"
#include "engine/module.h"
#include "engine/workspace.h"

namespace backlight {

/// PAIR's segmentation constants (defined for 224 x 224 images).
struct XraiSegmentOptions {
  std::vector<double> scales = {50, 100, 150, 250, 500, 1200};  ///< Felzenszwalb k values (PAIR's list)
  double sigma = 0.8;
  int64_t min_size = 150;   ///< Felzenszwalb min_size at the reference side
  int dilation_radius = 5;  ///< disk footprint radius (skimage morphology.disk) at the reference side
  /// > 0: the constants hold for a reference_side^2 image and are scaled to H x W (scales and
  /// min_size by H W / side^2, the radius by sqrt(H W) / side, rounded, at least 1 and 0 kept 0);
  /// PAIR instead resizes the image to 224 x 224 (bicubic) for the segmentation and the labels back
  /// (nearest). 0: the values are used as given, as PAIR's _get_segments_felzenszwalb(resize_image=False).
  int64_t reference_side = 224;
};

/// Segments of one image [C, H, W] (host): the image rescaled to [-1, 1] by its min and max (in
/// float, as PAIR does on float32 images), Felzenszwalb at each scale (skimage semantics,
/// attribution/perturbation/felzenszwalb.h), every label of every scale a mask (scale-major, label
/// order), each dilated by a disk. Returns [S, H, W] 0/1 masks.
Tensor xrai_segments(const Tensor& image, const XraiSegmentOptions& options = {});

struct XraiRegions {
  Tensor map;    ///< [H, W] gain of the region that added each pixel (uncovered pixels: their mean attribution)
  Tensor ranks;  ///< [H, W] 1 = region with the highest gain, ...; the uncovered rest (if any) last
  std::vector<double> gains;  ///< gain of each added region in order of addition
  std::vector<int64_t> order; ///< index into the segments of each added region, in order of addition
};

/// PAIR's XRAI._xrai on a host attribution [C, H, W] (channels reduced by max, as PAIR) or [H, W]
/// and segments [S, H, W] (0/1). Each round: segments adding fewer than min_pixel_diff new pixels
/// are dropped, the one with the highest mean attribution over its new pixels (first one on ties)
/// is added; rounds run while the covered fraction <= area_threshold. Means use numpy's pairwise
/// summation in double, so gains equal PAIR's for float64 attributions.
XraiRegions xrai_regions(const Tensor& attribution, const Tensor& segments, int64_t min_pixel_diff = 50,
                         double area_threshold = 1.0);

struct XraiOptions {
  /// A registered method name (attribution/registry.h) for the attribution inside; empty: IG with
  /// PAIR's two baselines, the constant images min(x) and max(x) of each item (black and white for
  /// an image in [0, 1]), averaged.
  std::string base_method;
  int steps = 50;               ///< IG steps (PAIR: 100 Riemann points; backlight's default Gauss-Legendre)
  int internal_batch_size = 0;  ///< IG rows per forward (0: all)
  XraiSegmentOptions segments;
  int64_t min_pixel_diff = 50;  ///< at the reference side; scaled with the area as min_size
  double area_threshold = 1.0;
  const Workspace* workspace = nullptr;  ///< passed to the base method
};

/// XRAI on a batch of images [N, C, H, W]: the base attribution, xrai_segments and xrai_regions per
/// item. attribution = the region map [N, 1, H, W] (host); output and target from the base method.
AttributionResult xrai(const Module& model, const Tensor& inputs, const Target& target, const XraiOptions& options = {});

/// 0/1 mask [H, W] of the pixels whose map value is at least the (1 - fraction) quantile (numpy's
/// linear percentile), i.e. the top `fraction` of the image by XRAI regions (PAIR's notebook visual).
Tensor xrai_top_mask(const Tensor& map, double fraction);

}  // namespace backlight
