#pragma once
/// Horizontal bar charts of per-feature attributions (tabular models): one panel per method,
/// one bar per feature, labelled with the feature's name (render/font.h's 5x8 bitmap font, so
/// ASCII only; other characters draw as '?').
#include <span>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace backlight::cli {

/// One chart: a title and one value per feature.
struct BarPanel {
  std::string title;                ///< e.g. "integrated_gradients"
  std::vector<std::string> names;   ///< one per value (cut to 24 characters when drawn)
  std::vector<float> values;
};

/// The panels stacked vertically as a picture [3, H, W] in [0, 1], `width` pixels wide. Each
/// panel: its title, then per feature (in the given order) the name right-aligned in a left
/// column, a bar from a zero axis - to the right and green for positive values, to the left and
/// red for negative (Captum's text colours, render/token_view.h) - scaled to the panel's largest
/// magnitude, and the value printed beside it. `caption` is drawn once at the top. Throws when
/// a panel's name and value counts differ or a value is not finite.
Tensor bar_chart(std::span<const BarPanel> panels, const std::string& caption, int width = 800);

}  // namespace backlight::cli
