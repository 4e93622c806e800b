#include "render/table_picture.h"

#include <algorithm>

#include "engine/error.h"
#include "render/font.h"

namespace backlight::cli {

namespace {

constexpr std::array<float, 3> kInk = {0.f, 0.f, 0.f};
constexpr float kRule = 0.6f;    // grey rules
constexpr float kHeader = 0.92f; // header background

void fill(Tensor& img, int x0, int y0, int w, int h, float v) {
  const int64_t H = img.size(1), W = img.size(2);
  for (int ch = 0; ch < 3; ++ch)
    for (int y = std::max(0, y0); y < std::min<int64_t>(H, y0 + h); ++y)
      for (int x = std::max(0, x0); x < std::min<int64_t>(W, x0 + w); ++x) img.data()[(ch * H + y) * W + x] = v;
}

}  // namespace

Tensor table_picture(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                     const TableOptions& o) {
  BL_CHECK(!header.empty(), "table_picture: expected at least one column");
  BL_CHECK(o.scale >= 1 && o.scale <= 4 && o.padding >= 0, "table_picture: expected scale 1..4 and padding >= 0, got ",
           o.scale, " and ", o.padding);
  const size_t cols = header.size();
  std::vector<int> width(cols, 0);
  for (size_t c = 0; c < cols; ++c) width[c] = text_width(header[c], o.scale) + 1;  // +1: the bold offset
  for (size_t r = 0; r < rows.size(); ++r) {
    BL_CHECK(rows[r].size() == cols, "table_picture: row ", r, " has ", rows[r].size(), " cells, expected ", cols);
    for (size_t c = 0; c < cols; ++c) width[c] = std::max(width[c], text_width(rows[r][c], o.scale));
  }
  const int pad = o.padding, margin = 10, line = kGlyphHeight * o.scale;
  const int row_h = line + 2 * pad + 1;
  const int title_h = o.title.empty() ? 0 : kLineHeight * o.scale + pad;
  int table_w = 1;
  for (int w : width) table_w += w + 2 * pad + 1;
  const int W = std::max(table_w, o.title.empty() ? 0 : text_width(o.title, o.scale)) + 2 * margin;
  const int H = margin + title_h + static_cast<int>(rows.size() + 1) * row_h + 1 + margin;
  Tensor img = Tensor::full(Shape{3, H, W}, 1.0f);
  if (!o.title.empty()) draw_text(img, margin, margin, o.title, o.scale, kInk);
  const int x0 = margin, y0 = margin + title_h;
  fill(img, x0, y0, table_w, row_h, kHeader);
  // Rules: horizontal between rows, vertical between columns.
  for (size_t r = 0; r <= rows.size() + 1; ++r) fill(img, x0, y0 + static_cast<int>(r) * row_h, table_w, 1, kRule);
  int x = x0;
  for (size_t c = 0; c <= cols; ++c) {
    fill(img, x, y0, 1, static_cast<int>(rows.size() + 1) * row_h + 1, kRule);
    if (c < cols) x += width[c] + 2 * pad + 1;
  }
  auto draw_row = [&](const std::vector<std::string>& cells, int y, bool bold) {
    int cx = x0 + 1;
    for (size_t c = 0; c < cols; ++c) {
      const int tw = text_width(cells[c], o.scale);
      const int tx = c == 0 ? cx + pad : cx + pad + width[c] - tw;  // numbers right-aligned
      draw_text(img, tx, y + pad + 1, cells[c], o.scale, kInk);
      if (bold) draw_text(img, tx + 1, y + pad + 1, cells[c], o.scale, kInk);
      cx += width[c] + 2 * pad + 1;
    }
  };
  draw_row(header, y0, true);
  for (size_t r = 0; r < rows.size(); ++r) draw_row(rows[r], y0 + static_cast<int>(r + 1) * row_h, false);
  return img;
}

}  // namespace backlight::cli
