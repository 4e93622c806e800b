#pragma once
/// Attribution pictures as Captum's visualize_image_attr draws them
/// (captum/attr/_utils/visualization.py), from a channel-summed map [H,W] and the input image:
///
/// Normalisation (_normalize_attr), by sign:
///   all             v / t, t = cumulative_sum_threshold(|v|, 100 - outlier)        -> [-1, 1]
///   positive        max(v, 0) / t, t from the positive part                       -> [0, 1]
///   negative        min(v, 0) / -t, t from |negative part| (so larger = more negative) -> [0, 1]
///   absolute_value  |v| / t, t from |v|                                           -> [0, 1]
/// each clipped to its range; outlier = 2 (%) by default, so the top 2% of the attribution mass
/// saturates. Where Captum asserts on t = 0 (nothing of that sign), the result is all zeros.
///
/// Methods (_visualize_*):
///   heat_map          the colormap applied to the normalised map
///   blended_heat_map  the heat map at alpha 0.5 over the image's grey version (channel mean,
///                     min-max scaled as matplotlib's imshow(cmap="gray") does)
///   masked_image      image * normalised map (needs a sign other than all, as in Captum)
///   alpha_scaling     the image with alpha = normalised map, composited over a light-grey
///                     checkerboard so transparency stays visible in an RGB file (sign != all)
/// Colour position: diverging maps always centre 0 (t = (v + 1) / 2, so a positive-only map
/// uses the white-to-red half); sequential maps span [-1, 1] for sign all and [0, 1] otherwise
/// (matplotlib's vmin/vmax in Captum).
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "engine/tensor.h"
#include "render/colormap.h"

namespace backlight::cli {

enum class VisualSign { All, Positive, Negative, AbsoluteValue };
/// TopRegions (XRAI's visual, PAIR's notebook): the image where the map is at least its
/// (100 - top_percent) percentile (numpy's linear percentile of the raw map), black elsewhere.
enum class VisualMethod { HeatMap, BlendedHeatMap, MaskedImage, AlphaScaling, TopRegions };

/// "all" | "positive" | "negative" | "absolute_value"; throws backlight::Error listing them.
VisualSign visual_sign_from_string(std::string_view name);
std::string to_string(VisualSign sign);
std::string visual_sign_names();
/// "heat_map" | "blended_heat_map" | "masked_image" | "alpha_scaling" | "top_regions"; throws listing them.
VisualMethod visual_method_from_string(std::string_view name);
std::string to_string(VisualMethod method);
std::string visual_method_names();
/// Whether the method draws with a colormap (heat_map, blended_heat_map).
bool uses_colormap(VisualMethod method);

/// Captum's _cumulative_sum_threshold: the smallest value v (of the sorted non-negative
/// `values`) at which the running sum reaches `percentile`% of the total. Non-finite values are
/// ignored; 0 for an empty or all-zero input. percentile in [0,100], else throws.
float cumulative_sum_threshold(std::span<const float> values, float percentile);

/// Captum's _normalize_attr for a map [H,W] (already reduced over channels): see the table above.
/// outlier_percent in [0,100), else throws. Non-finite values become 0.
Tensor normalize_attribution(const Tensor& map, VisualSign sign, float outlier_percent = 2.0f);

struct VisualOptions {
  VisualMethod method = VisualMethod::HeatMap;
  VisualSign sign = VisualSign::All;
  std::optional<Colormap> colormap{};  ///< nullopt: auto (bwr for sign all, else inferno)
  float outlier_percent = 2.0f;
  float alpha_overlay = 0.5f;  ///< blended_heat_map's heat map opacity (Captum's default)
  float top_percent = 30.0f;   ///< top_regions: the share of the pixels shown, in (0, 100]
};

/// The colormap actually used: the explicit one, or bwr for sign all and inferno otherwise.
Colormap resolve_colormap(const VisualOptions& options);

/// Colour of a normalised value (see "Colour position" above).
Rgb value_color(Colormap map, VisualSign sign, float normalised);

/// The picture [3,H,W] in [0,1] for a signed map [H,W] (or [1,H,W]) and the image [3,H,W] (or
/// [1,H,W], grey) in [0,1] of the same size; the image is only read by blended_heat_map,
/// masked_image and alpha_scaling. Throws for mismatched shapes, and for masked_image or
/// alpha_scaling with sign all.
Tensor visualize_attribution(const Tensor& map, const Tensor& image, const VisualOptions& options = {});

}  // namespace backlight::cli
