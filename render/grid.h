#pragma once
/// The picture `backlight explain` writes: panels side by side (the input, then one per
/// method), each under a label drawn with the built-in font, optionally followed by a colour bar
/// showing what the colours mean. Small panels are enlarged by an integer factor (nearest
/// neighbour, so pixels stay honest) until the shorter side reaches `min_panel_size`.
///
///   margin | label      | gap | label      | ... | gap | colour bar + ticks | margin
///          | panel      |     | panel      |     |     |                    |
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/tensor.h"
#include "render/colormap.h"
#include "render/heatmap.h"

namespace backlight::cli {

struct Panel {
  Tensor image;       ///< [3,H,W] in [0,1]; every panel of a grid has the same H and W
  std::string label;  ///< wrapped at '_', ' ', ',' to the panel width
};

struct ColorBar {
  Colormap map = Colormap::Bwr;
  VisualSign sign = VisualSign::All;  ///< all: ticks -1, 0, +1; otherwise 0 and 1
};

struct GridOptions {
  int min_panel_size = 192;  ///< enlarge panels (integer factor) until the shorter side is >= this
  int gap = 8;               ///< pixels between panels and around the grid
  std::optional<ColorBar> colorbar{};
};

/// Lays out the panels -> [3,H,W] in [0,1] on white. Throws for no panels or panels of
/// different shapes.
Tensor make_grid(std::span<const Panel> panels, const GridOptions& options = {});

/// `label` split into lines of at most `max_chars`, breaking after '_', ' ' or ',' where
/// possible and inside a word otherwise (max_chars >= 1).
std::vector<std::string> wrap_label(std::string_view label, size_t max_chars);

}  // namespace backlight::cli
