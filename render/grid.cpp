#include "render/grid.h"

#include <algorithm>

#include "engine/error.h"
#include "render/font.h"
#include "render/resize.h"

namespace backlight::cli {

namespace {

constexpr std::array<float, 3> kInk = {0.12f, 0.12f, 0.12f};
constexpr std::array<float, 3> kFrame = {0.55f, 0.55f, 0.55f};       // colour bar outline
constexpr std::array<float, 3> kPanelFrame = {0.80f, 0.80f, 0.80f};  // keeps white maps apart from the page

void paste(Tensor& dst, const Tensor& src, int64_t x0, int64_t y0) {
  const int64_t h = dst.size(1), w = dst.size(2), sh = src.size(1), sw = src.size(2);
  for (int64_t k = 0; k < 3; ++k)
    for (int64_t y = 0; y < sh; ++y)
      std::copy_n(src.data() + (k * sh + y) * sw, sw, dst.data() + (k * h + y0 + y) * w + x0);
}

void fill_rect(Tensor& dst, int64_t x0, int64_t y0, int64_t rw, int64_t rh, const Rgb& c) {
  const int64_t h = dst.size(1), w = dst.size(2);
  for (int64_t k = 0; k < 3; ++k)
    for (int64_t y = y0; y < y0 + rh; ++y)
      for (int64_t x = x0; x < x0 + rw; ++x) dst.data()[(k * h + y) * w + x] = c[static_cast<size_t>(k)];
}

}  // namespace

std::vector<std::string> wrap_label(std::string_view label, size_t max_chars) {
  BL_CHECK(max_chars >= 1, "wrap_label: expected max_chars >= 1");
  std::vector<std::string> lines;
  std::string_view rest = label;
  while (rest.size() > max_chars) {
    // Break after the last separator that fits; inside the word when there is none.
    size_t cut = max_chars;
    for (size_t i = max_chars; i > 0; --i)
      if (rest[i - 1] == '_' || rest[i - 1] == ' ' || rest[i - 1] == ',') {
        cut = i;
        break;
      }
    std::string line(rest.substr(0, cut));
    while (!line.empty() && line.back() == ' ') line.pop_back();
    lines.push_back(line);
    rest.remove_prefix(cut);
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  }
  if (!rest.empty() || lines.empty()) lines.emplace_back(rest);
  return lines;
}

Tensor make_grid(std::span<const Panel> panels, const GridOptions& options) {
  BL_CHECK(!panels.empty(), "make_grid: expected at least one panel");
  BL_CHECK(options.gap >= 2 && options.min_panel_size >= 1,
           "make_grid: expected gap >= 2 and min_panel_size >= 1, got ", options.gap, " and ", options.min_panel_size);
  const Shape& s0 = panels[0].image.shape();
  for (const Panel& p : panels)
    BL_CHECK_SHAPE(p.image.dim() == 3 && p.image.size(0) == 3 && p.image.shape() == s0,
                   "make_grid: expected panels [3,H,W] of one size ", s0, ", got ", p.image.shape(), " for '", p.label,
                   "'");
  const int64_t shorter = std::min(s0[1], s0[2]);
  const int factor = static_cast<int>(std::max<int64_t>(1, (options.min_panel_size + shorter - 1) / shorter));
  const int64_t ph = s0[1] * factor, pw = s0[2] * factor, gap = options.gap;

  // Labels: scale 2 when a panel holds 12 such characters per line, else 1.
  const int scale = pw >= 12 * 2 * kGlyphAdvance ? 2 : 1;
  const size_t per_line = static_cast<size_t>(std::max<int64_t>(1, (pw + scale) / (kGlyphAdvance * scale)));
  std::vector<std::vector<std::string>> lines;
  size_t rows = 1;
  for (const Panel& p : panels) {
    lines.push_back(wrap_label(p.label, per_line));
    rows = std::max(rows, lines.back().size());
  }
  const int64_t line_h = kLineHeight * scale, header = static_cast<int64_t>(rows) * line_h + gap / 2;

  // Colour bar column: the bar, then tick labels.
  const int64_t bar_w = 10 * scale, tick_w = text_width("+1", scale) + 3 * scale;
  const int64_t bar_col = options.colorbar ? gap + bar_w + tick_w : 0;
  const int64_t n = static_cast<int64_t>(panels.size());
  const int64_t width = gap + n * pw + (n - 1) * gap + bar_col + gap;
  const int64_t height = gap + header + ph + gap;
  Tensor out = Tensor::full({3, height, width}, 1.0f);

  for (int64_t i = 0; i < n; ++i) {
    const int64_t x0 = gap + i * (pw + gap), y0 = gap + header;
    fill_rect(out, x0 - 1, y0 - 1, pw + 2, ph + 2, kPanelFrame);
    paste(out, enlarge_nearest(panels[static_cast<size_t>(i)].image, factor), x0, y0);
    const std::vector<std::string>& ls = lines[static_cast<size_t>(i)];
    // Centred, bottom-aligned: a one-line label sits right above its panel.
    const int64_t first_row = static_cast<int64_t>(rows - ls.size());
    for (size_t r = 0; r < ls.size(); ++r) {
      const int64_t tx = x0 + (pw - text_width(ls[r], scale)) / 2;
      const int64_t ty = gap + (first_row + static_cast<int64_t>(r)) * line_h;
      draw_text(out, static_cast<int>(tx), static_cast<int>(ty), ls[r], scale, kInk);
    }
  }
  if (options.colorbar) {
    const ColorBar& cb = *options.colorbar;
    const int64_t x0 = gap + n * pw + (n - 1) * gap + gap, y0 = gap + header;
    const bool signed_bar = cb.sign == VisualSign::All;
    fill_rect(out, x0 - 1, y0 - 1, bar_w + 2, ph + 2, kFrame);
    for (int64_t y = 0; y < ph; ++y) {
      // Top = +1, bottom = -1 (signed) or 0 (magnitudes).
      const float t = 1.0f - (static_cast<float>(y) + 0.5f) / static_cast<float>(ph);
      const float v = signed_bar ? 2.0f * t - 1.0f : t;
      fill_rect(out, x0, y0 + y, bar_w, 1, value_color(cb.map, cb.sign, v));
    }
    const int tx = static_cast<int>(x0 + bar_w + 3 * scale), glyph_h = kGlyphHeight * scale;
    const int top = static_cast<int>(y0), bottom = static_cast<int>(y0 + ph) - glyph_h + scale;
    draw_text(out, tx, top, signed_bar ? "+1" : "1", scale, kInk);
    draw_text(out, tx, signed_bar ? static_cast<int>(y0 + ph / 2) - glyph_h / 2 : bottom, "0", scale, kInk);
    if (signed_bar) draw_text(out, tx, bottom, "-1", scale, kInk);
  }
  return out;
}

}  // namespace backlight::cli
