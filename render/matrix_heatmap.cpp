#include "render/matrix_heatmap.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "engine/error.h"
#include "render/font.h"

namespace backlight::cli {

namespace {

constexpr std::array<float, 3> kBlack = {0.f, 0.f, 0.f};

void fill(Tensor& img, int x0, int y0, int w, int h, const Rgb& c) {
  const int64_t H = img.size(1), W = img.size(2);
  for (int y = std::max(0, y0); y < std::min<int64_t>(H, y0 + h); ++y)
    for (int x = std::max(0, x0); x < std::min<int64_t>(W, x0 + w); ++x)
      for (int ch = 0; ch < 3; ++ch) img.data()[(ch * H + y) * W + x] = c[static_cast<size_t>(ch)];
}

// Text rotated 90 degrees counter-clockwise (reads bottom to top), its bottom-left at (x, y).
void draw_text_vertical(Tensor& img, int x, int y, const std::string& text, int scale) {
  const int w = text_width(text, scale), h = kGlyphHeight * scale;
  Tensor tmp = Tensor::full(Shape{3, h, std::max(w, 1)}, 1.0f);
  draw_text(tmp, 0, 0, text, scale, kBlack);
  const int64_t H = img.size(1), W = img.size(2);
  for (int ty = 0; ty < h; ++ty)
    for (int tx = 0; tx < w; ++tx) {
      if (tmp.data()[ty * w + tx] > 0.5f) continue;
      const int px = x + ty, py = y - tx;  // rotate: text x goes up, text y goes right
      if (px < 0 || py < 0 || px >= W || py >= H) continue;
      for (int ch = 0; ch < 3; ++ch) img.data()[(ch * H + py) * W + px] = 0.f;
    }
}

}  // namespace

Tensor matrix_picture(const std::vector<double>& values, const std::vector<std::string>& row_labels,
                      const std::vector<std::string>& col_labels, const MatrixPictureOptions& o) {
  const int rows = static_cast<int>(row_labels.size()), cols = static_cast<int>(col_labels.size());
  BL_CHECK(rows > 0 && cols > 0 && values.size() == static_cast<size_t>(rows) * static_cast<size_t>(cols),
           "matrix_picture: expected rows*cols values with at least one row and column, got ", values.size(),
           " values for ", rows, " row and ", cols, " column labels");
  BL_CHECK(o.hi > o.lo && o.cell >= 4, "matrix_picture: expected lo < hi and cell >= 4, got lo ", o.lo, ", hi ", o.hi,
           ", cell ", o.cell);
  const int s = 1, gap = 8, cell = o.cell;
  int row_w = 0, col_h = 0;
  for (const auto& l : row_labels) row_w = std::max(row_w, text_width(l, s));
  for (const auto& l : col_labels) col_h = std::max(col_h, text_width(l, s));
  const int title_h = o.title.empty() ? 0 : kLineHeight * 2;
  const int x0 = gap + row_w + gap, y0 = gap + title_h;
  const int bar_x = x0 + cols * cell + 2 * gap, bar_w = 14;
  const int W = bar_x + bar_w + gap + text_width("0.00", s) + gap;
  const int H = y0 + rows * cell + gap + col_h + gap;
  Tensor img = Tensor::full(Shape{3, H, W}, 1.0f);
  if (!o.title.empty()) draw_text(img, gap, gap, o.title, s, kBlack);
  auto pos = [&](double v) {
    const double t = (std::clamp(v, static_cast<double>(o.lo), static_cast<double>(o.hi)) - o.lo) / (o.hi - o.lo);
    return static_cast<float>(std::isfinite(v) ? t : 0.0);
  };
  char buf[16];
  for (int r = 0; r < rows; ++r) {
    draw_text(img, x0 - gap - text_width(row_labels[static_cast<size_t>(r)], s),
              y0 + r * cell + (cell - kGlyphHeight) / 2, row_labels[static_cast<size_t>(r)], s, kBlack);
    for (int c = 0; c < cols; ++c) {
      const double v = values[static_cast<size_t>(r) * static_cast<size_t>(cols) + static_cast<size_t>(c)];
      const float t = pos(v);
      fill(img, x0 + c * cell, y0 + r * cell, cell, cell, colormap_color(o.map, t));
      if (cell >= 28 && std::isfinite(v)) {
        std::snprintf(buf, sizeof buf, "%.2f", v);
        const float lum = 0.299f * colormap_color(o.map, t)[0] + 0.587f * colormap_color(o.map, t)[1] +
                          0.114f * colormap_color(o.map, t)[2];
        const std::array<float, 3> ink = lum > 0.5f ? kBlack : std::array<float, 3>{1.f, 1.f, 1.f};
        draw_text(img, x0 + c * cell + (cell - text_width(buf, s)) / 2, y0 + r * cell + (cell - kGlyphHeight) / 2,
                  buf, s, ink);
      }
    }
  }
  for (int c = 0; c < cols; ++c)
    draw_text_vertical(img, x0 + c * cell + (cell - kGlyphHeight) / 2, y0 + rows * cell + gap + col_h,
                       col_labels[static_cast<size_t>(c)], s);
  const int bar_h = rows * cell;
  for (int y = 0; y < bar_h; ++y)
    fill(img, bar_x, y0 + y, bar_w, 1, colormap_color(o.map, 1.0f - static_cast<float>(y) / std::max(1, bar_h - 1)));
  std::snprintf(buf, sizeof buf, "%.2f", static_cast<double>(o.hi));
  draw_text(img, bar_x + bar_w + 4, y0, buf, s, kBlack);
  std::snprintf(buf, sizeof buf, "%.2f", static_cast<double>(o.lo));
  draw_text(img, bar_x + bar_w + 4, y0 + bar_h - kGlyphHeight, buf, s, kBlack);
  return img;
}

}  // namespace backlight::cli
