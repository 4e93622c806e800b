#include "render/line_chart.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "engine/error.h"
#include "render/font.h"

namespace backlight::cli {

namespace {

using Color = std::array<float, 3>;
constexpr Color kBlack = {0.f, 0.f, 0.f};
// Matplotlib's tab10.
constexpr std::array<Color, 10> kPalette = {{{0.122f, 0.467f, 0.706f}, {1.0f, 0.498f, 0.055f},
                                              {0.173f, 0.627f, 0.173f}, {0.839f, 0.153f, 0.157f},
                                              {0.580f, 0.404f, 0.741f}, {0.549f, 0.337f, 0.294f},
                                              {0.890f, 0.467f, 0.761f}, {0.498f, 0.498f, 0.498f},
                                              {0.737f, 0.741f, 0.133f}, {0.090f, 0.745f, 0.812f}}};

void fill(Tensor& img, int x0, int y0, int w, int h, const Color& c) {
  const int64_t H = img.size(1), W = img.size(2);
  for (int y = std::max(0, y0); y < std::min<int64_t>(H, y0 + h); ++y)
    for (int x = std::max(0, x0); x < std::min<int64_t>(W, x0 + w); ++x)
      for (int ch = 0; ch < 3; ++ch) img.data()[(ch * H + y) * W + x] = c[static_cast<size_t>(ch)];
}

// A 2-pixel line from (x0, y0) to (x1, y1) (DDA).
void line(Tensor& img, int x0, int y0, int x1, int y1, const Color& c) {
  const int n = std::max(std::abs(x1 - x0), std::abs(y1 - y0));
  for (int k = 0; k <= n; ++k) {
    const double t = n == 0 ? 0.0 : static_cast<double>(k) / n;
    fill(img, static_cast<int>(std::lround(x0 + t * (x1 - x0))), static_cast<int>(std::lround(y0 + t * (y1 - y0))), 2, 2,
         c);
  }
}

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  for (size_t a = 0; !s.empty() && a <= s.size();) {
    const size_t b = std::min(s.find('\n', a), s.size());
    out.push_back(s.substr(a, b - a));
    a = b + 1;
  }
  return out;
}

}  // namespace

Tensor line_chart(const std::vector<LineSeries>& series, const LineChartOptions& o) {
  const size_t nx = o.x.size();
  BL_CHECK(!series.empty() && nx >= 1, "line_chart: expected at least one series and one x value, got ", series.size(),
           " and ", nx);
  for (size_t i = 1; i < nx; ++i) BL_CHECK(o.x[i] > o.x[i - 1], "line_chart: expected increasing x values, got ", o.x[i - 1], " then ", o.x[i]);
  for (const LineSeries& s : series)
    BL_CHECK(s.y.size() == nx && (s.error.empty() || s.error.size() == nx), "line_chart: series '", s.name, "' has ",
             s.y.size(), " points and ", s.error.size(), " errors, expected ", nx, " (one per x value)");
  BL_CHECK(o.hi > o.lo && o.plot_width >= 40 && o.plot_height >= 40,
           "line_chart: expected lo < hi and a plot of at least 40x40 pixels, got ", o.lo, ", ", o.hi, ", ",
           o.plot_width, "x", o.plot_height);
  const int gap = 10, pw = o.plot_width, ph = o.plot_height;
  const std::vector<std::string> title = split_lines(o.title);
  int title_w = 0, legend_w = 0;
  for (const std::string& l : title) title_w = std::max(title_w, text_width(l));
  for (const LineSeries& s : series) legend_w = std::max(legend_w, 22 + text_width(s.name));
  const int axis_w = text_width("0.00") + 8;
  const int x0 = gap + axis_w, y0 = gap + static_cast<int>(title.size()) * kLineHeight + gap;
  const int W = std::max(x0 + pw + 2 * gap + legend_w + gap, 2 * gap + title_w);
  const int H = y0 + ph + 6 + 2 * kLineHeight + gap;
  Tensor img = Tensor::full(Shape{3, H, W}, 1.0f);
  for (size_t i = 0; i < title.size(); ++i) draw_text(img, gap, gap + static_cast<int>(i) * kLineHeight, title[i], 1, kBlack);
  // x positions: evenly spread when there is one value, else linear in x with a margin.
  const double xmin = o.x.front(), xmax = o.x.back();
  auto xpix = [&](size_t i) {
    if (nx == 1) return x0 + pw / 2;
    return x0 + 12 + static_cast<int>(std::lround((o.x[i] - xmin) / (xmax - xmin) * (pw - 24)));
  };
  auto ypix = [&](double v) {
    const double t = (std::clamp(v, o.lo, o.hi) - o.lo) / (o.hi - o.lo);
    return y0 + ph - static_cast<int>(std::lround(t * ph));
  };
  char buf[48];
  for (int k = 0; k <= 4; ++k) {  // y grid and ticks
    const double v = o.lo + (o.hi - o.lo) * k / 4.0;
    const int y = ypix(v);
    for (int x = x0; x < x0 + pw; x += 2) fill(img, x, y, 1, 1, {0.85f, 0.85f, 0.85f});
    std::snprintf(buf, sizeof buf, "%.2f", v);
    draw_text(img, x0 - 6 - text_width(buf), y - kGlyphHeight / 2, buf, 1, kBlack);
  }
  fill(img, x0, y0, 1, ph + 1, kBlack);
  fill(img, x0, y0 + ph, pw, 1, kBlack);
  for (size_t i = 0; i < nx; ++i) {  // x ticks
    const int x = xpix(i);
    fill(img, x, y0 + ph, 1, 4, kBlack);
    std::snprintf(buf, sizeof buf, o.x_format.c_str(), o.x[i]);
    draw_text(img, x - text_width(buf) / 2, y0 + ph + 6, buf, 1, kBlack);
  }
  if (!o.x_label.empty()) draw_text(img, x0 + (pw - text_width(o.x_label)) / 2, y0 + ph + 6 + kLineHeight, o.x_label, 1, kBlack);
  for (size_t s = 0; s < series.size(); ++s) {
    const Color c = kPalette[s % kPalette.size()];
    const LineSeries& ls = series[s];
    int px = -1, py = -1;
    for (size_t i = 0; i < nx; ++i) {
      if (!std::isfinite(ls.y[i])) {
        px = -1;
        continue;
      }
      const int x = xpix(i) + static_cast<int>(s % 3) - 1;  // a pixel apart so equal points stay visible
      const int y = ypix(ls.y[i]);
      if (px >= 0) line(img, px, py, x, y, c);
      if (!ls.error.empty() && ls.error[i] > 0 && std::isfinite(ls.error[i])) {
        const int ya = ypix(ls.y[i] + ls.error[i]), yb = ypix(ls.y[i] - ls.error[i]);
        fill(img, x, ya, 1, yb - ya + 1, c);
        fill(img, x - 3, ya, 7, 1, c);
        fill(img, x - 3, yb, 7, 1, c);
      }
      fill(img, x - 2, y - 2, 5, 5, c);
      px = x, py = y;
    }
    const int ly = y0 + static_cast<int>(s) * (kLineHeight + 4);
    const int lx = x0 + pw + 2 * gap;
    fill(img, lx, ly + kGlyphHeight / 2 - 1, 16, 2, c);
    fill(img, lx + 6, ly + kGlyphHeight / 2 - 3, 5, 5, c);
    draw_text(img, lx + 22, ly, ls.name, 1, kBlack);
  }
  return img;
}

}  // namespace backlight::cli
