#pragma once
/// Attribution heatmaps: a signed map [H,W] -> an RGB image [3,H,W] in [0,1] with a diverging
/// blue-white-red colormap (negative blue, zero white, positive red), as Zennit's and Captum's
/// "bwr"-style visualisations. The scale is symmetric: values are divided by the clip value c and
/// clipped to [-1,1], where c is a percentile of |values| (98% by default), so a few extreme
/// pixels do not wash out the rest.
#include <array>

#include "engine/tensor.h"

namespace backlight::cli {

struct HeatmapOptions {
  /// Percentile of |values| that maps to full colour (0 < p <= 100).
  float clip_percentile = 98.0f;
};

/// The `percentile`-th percentile of |values| (linear interpolation between ranks, as
/// numpy.percentile). Falls back to max |values| when that is 0, and to 1 for an all-zero map,
/// so dividing by it is always safe. Non-finite values are ignored.
float symmetric_clip(const Tensor& map, float percentile);

/// The colormap at t in [-1,1] (clamped): -1 dark blue, 0 white, +1 dark red; linear in RGB
/// between the anchors. Returns {r,g,b} in [0,1].
std::array<float, 3> diverging_color(float t);

/// map [H,W] (or [1,H,W]) -> [3,H,W] RGB in [0,1]. Throws backlight::Error for other shapes.
Tensor heatmap_rgb(const Tensor& map, const HeatmapOptions& options = {});

}  // namespace backlight::cli
