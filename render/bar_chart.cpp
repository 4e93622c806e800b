// Horizontal bar charts for tabular attributions.
#include "render/bar_chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "engine/error.h"
#include "render/font.h"
#include "render/token_view.h"

namespace backlight::cli {

namespace {

constexpr int kScale = 2;
constexpr int kMargin = 10, kBarHeight = 16, kRowGap = 6;
constexpr size_t kMaxName = 24;
constexpr std::array<float, 3> kBlack{0, 0, 0};

std::string cut(const std::string& s) { return s.size() <= kMaxName ? s : s.substr(0, kMaxName - 1) + "~"; }

void fill_rect(Tensor& img, int x0, int y0, int w, int h, const std::array<float, 3>& c) {
  const int64_t H = img.size(1), W = img.size(2);
  for (int y = std::max(0, y0); y < std::min<int64_t>(H, y0 + h); ++y)
    for (int x = std::max(0, x0); x < std::min<int64_t>(W, x0 + w); ++x)
      for (int k = 0; k < 3; ++k) img.data()[(k * H + y) * W + x] = c[static_cast<size_t>(k)];
}

std::string number(float v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", static_cast<double>(v));
  return buf;
}

}  // namespace

Tensor bar_chart(std::span<const BarPanel> panels, const std::string& caption, int width) {
  width = std::max(width, text_width(caption, kScale) + 2 * kMargin);  // the caption is never cut
  const int row = kBarHeight + kRowGap, text_h = kGlyphHeight * kScale;
  int name_w = 0, value_w = 0, height = kMargin + kLineHeight * kScale;
  for (const BarPanel& p : panels) {
    BL_CHECK(p.names.size() == p.values.size(), "bar_chart: panel '", p.title, "' has ", p.names.size(),
             " names but ", p.values.size(), " values (expected one name per value)");
    for (size_t i = 0; i < p.values.size(); ++i) {
      BL_CHECK(std::isfinite(p.values[i]), "bar_chart: panel '", p.title, "' value ", i, " is not finite");
      name_w = std::max(name_w, text_width(cut(p.names[i]), kScale));
      value_w = std::max(value_w, text_width(number(p.values[i]), kScale));
    }
    height += kLineHeight * kScale + static_cast<int>(p.values.size()) * row + kMargin;
  }
  const int bars_x = kMargin + name_w + 8;
  const int bars_w = width - bars_x - 2 * (value_w + 6) - kMargin;
  BL_CHECK(bars_w >= 40, "bar_chart: width ", width, " leaves no room for bars next to names ", name_w,
           " pixels wide; expected a larger width");
  const int axis = bars_x + value_w + 6 + bars_w / 2, half = bars_w / 2;
  Tensor img = Tensor::full({3, height + kMargin, width}, 1.0f);
  int y = kMargin;
  draw_text(img, kMargin, y, caption, kScale, kBlack);
  y += kLineHeight * kScale;
  for (const BarPanel& p : panels) {
    draw_text(img, kMargin, y, p.title, kScale, kBlack);
    y += kLineHeight * kScale;
    float m = 0;
    for (float v : p.values) m = std::max(m, std::fabs(v));
    const int top = y;
    for (size_t i = 0; i < p.values.size(); ++i) {
      const std::string name = cut(p.names[i]);
      const int ty = y + (kBarHeight - text_h) / 2;
      draw_text(img, bars_x - 8 - text_width(name, kScale), ty, name, kScale, kBlack);
      const float v = p.values[i];
      const int len = m > 0 ? static_cast<int>(std::lround(std::fabs(v) / m * half)) : 0;
      const Rgb color = token_rgb(v > 0 ? 0.8f : -0.8f);
      if (v >= 0) {
        fill_rect(img, axis, y, len, kBarHeight, color);
        draw_text(img, axis + len + 6, ty, number(v), kScale, kBlack);
      } else {
        fill_rect(img, axis - len, y, len, kBarHeight, color);
        const std::string t = number(v);
        draw_text(img, axis - len - 6 - text_width(t, kScale), ty, t, kScale, kBlack);
      }
      y += row;
    }
    fill_rect(img, axis, top - 2, 1, y - top, {0.3f, 0.3f, 0.3f});  // the zero axis
    y += kMargin;
  }
  return img;
}

}  // namespace backlight::cli
