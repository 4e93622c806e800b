#pragma once
/// A tiny built-in bitmap font for labelling pictures (no font files, no dependencies): 5x8
/// pixel glyphs (rows 0-6 above the baseline, row 7 for descenders) for ASCII letters, digits and
/// common punctuation; anything else draws as '?'. Text is drawn by pixel replication at an
/// integer scale.
#include <array>
#include <string_view>

#include "engine/tensor.h"

namespace backlight::cli {

inline constexpr int kGlyphWidth = 5;
inline constexpr int kGlyphHeight = 8;
/// Horizontal advance per character and line height, in unscaled pixels (glyph + spacing).
inline constexpr int kGlyphAdvance = kGlyphWidth + 1;
inline constexpr int kLineHeight = kGlyphHeight + 2;

/// Whether pixel (row, col) of the glyph for `c` is set (row < kGlyphHeight, col < kGlyphWidth).
bool glyph_pixel(char c, int row, int col);

/// Width in pixels of `text` at `scale` (no trailing spacing): advance * n - scale.
int text_width(std::string_view text, int scale = 1);

/// Draws `text` into `image` [C,H,W] with its top-left corner at (x, y), setting covered pixels
/// to `color` (one value per channel, C <= 3). Pixels outside the image are skipped.
void draw_text(Tensor& image, int x, int y, std::string_view text, int scale, std::array<float, 3> color);

}  // namespace backlight::cli
