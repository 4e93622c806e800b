#include "render/grouped_bar_chart.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "engine/error.h"
#include "render/font.h"

namespace backlight::cli {

namespace {

using Color = std::array<float, 3>;
constexpr Color kBlack = {0.f, 0.f, 0.f};
constexpr Color kGrey = {0.55f, 0.55f, 0.55f};
// Matplotlib's tab10, the first six.
constexpr std::array<Color, 6> kPalette = {{{0.122f, 0.467f, 0.706f}, {1.0f, 0.498f, 0.055f},
                                             {0.173f, 0.627f, 0.173f}, {0.839f, 0.153f, 0.157f},
                                             {0.580f, 0.404f, 0.741f}, {0.549f, 0.337f, 0.294f}}};

void fill(Tensor& img, int x0, int y0, int w, int h, const Color& c) {
  const int64_t H = img.size(1), W = img.size(2);
  for (int y = std::max(0, y0); y < std::min<int64_t>(H, y0 + h); ++y)
    for (int x = std::max(0, x0); x < std::min<int64_t>(W, x0 + w); ++x)
      for (int ch = 0; ch < 3; ++ch) img.data()[(ch * H + y) * W + x] = c[static_cast<size_t>(ch)];
}

Color faded(const Color& c) { return {0.25f * c[0] + 0.75f, 0.25f * c[1] + 0.75f, 0.25f * c[2] + 0.75f}; }

}  // namespace

Tensor grouped_bar_chart(const std::vector<BarGroup>& groups, const GroupedBarChartOptions& o) {
  const int ns = static_cast<int>(o.series.size());
  BL_CHECK(!groups.empty() && ns >= 1, "grouped_bar_chart: expected at least one group and one series, got ",
           groups.size(), " and ", ns);
  for (const BarGroup& g : groups)
    BL_CHECK(static_cast<int>(g.bars.size()) == ns, "grouped_bar_chart: group '", g.label, "' has ", g.bars.size(),
             " bars, expected one per series (", ns, ")");
  BL_CHECK(o.hi > o.lo && o.plot_height >= 20 && o.bar_width >= 2,
           "grouped_bar_chart: expected lo < hi, plot_height >= 20, bar_width >= 2, got ", o.lo, ", ", o.hi, ", ",
           o.plot_height, ", ", o.bar_width);
  const int gap = 10, bw = o.bar_width, ph = o.plot_height;
  int label_w = 0;
  for (const BarGroup& g : groups) label_w = std::max(label_w, text_width(g.label));
  const int group_w = std::max(ns * bw + 2 * gap, label_w + gap);
  int legend_w = 0;
  for (const std::string& s : o.series) legend_w = std::max(legend_w, 14 + text_width(s));
  const int axis_w = text_width("0.00") + 8;
  std::vector<std::string> title_lines;
  for (size_t a = 0; !o.title.empty() && a <= o.title.size();) {
    const size_t b = std::min(o.title.find('\n', a), o.title.size());
    title_lines.push_back(o.title.substr(a, b - a));
    a = b + 1;
  }
  int title_w = 0;
  for (const std::string& l : title_lines) title_w = std::max(title_w, text_width(l));
  const int x0 = gap + axis_w, title_h = static_cast<int>(title_lines.size()) * kLineHeight + (title_lines.empty() ? 0 : gap);
  const int y0 = gap + title_h + kLineHeight;  // room for marks above a full bar
  const int plot_w = static_cast<int>(groups.size()) * group_w;
  const int W = std::max(x0 + plot_w + 2 * gap + legend_w + gap, gap + title_w + gap);
  const int H = y0 + ph + 4 + kLineHeight + gap;
  Tensor img = Tensor::full(Shape{3, H, W}, 1.0f);
  for (size_t i = 0; i < title_lines.size(); ++i)
    draw_text(img, gap, gap + static_cast<int>(i) * kLineHeight, title_lines[i], 1, kBlack);
  auto ypix = [&](double v) {
    const double t = (std::clamp(std::isfinite(v) ? v : o.lo, o.lo, o.hi) - o.lo) / (o.hi - o.lo);
    return y0 + ph - static_cast<int>(std::lround(t * ph));
  };
  // Axis, ticks and light grid lines at lo, the middle and hi.
  char buf[32];
  for (int k = 0; k <= 4; ++k) {
    const double v = o.lo + (o.hi - o.lo) * k / 4.0;
    const int y = ypix(v);
    for (int x = x0; x < x0 + plot_w; x += 2) fill(img, x, y, 1, 1, {0.85f, 0.85f, 0.85f});
    std::snprintf(buf, sizeof buf, "%.2f", v);
    draw_text(img, x0 - 6 - text_width(buf), y - kGlyphHeight / 2, buf, 1, kBlack);
  }
  fill(img, x0 - 1, y0, 1, ph + 1, kBlack);
  fill(img, x0 - 1, y0 + ph, plot_w, 1, kBlack);
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    const BarGroup& g = groups[gi];
    const int gx = x0 + static_cast<int>(gi) * group_w + (group_w - ns * bw) / 2;
    for (int s = 0; s < ns; ++s) {
      const GroupedBar& b = g.bars[static_cast<size_t>(s)];
      const Color c = kPalette[static_cast<size_t>(s) % kPalette.size()];
      const int bx = gx + s * bw, top = ypix(b.value), base = ypix(std::max(o.lo, std::min(0.0, o.hi)));
      fill(img, bx + 1, std::min(top, base), bw - 2, std::abs(base - top) + 1, b.faded ? faded(c) : c);
      if (std::isfinite(b.reference)) {
        const int ry = ypix(b.reference);
        for (int x = bx; x < bx + bw; x += 4) fill(img, x, ry, 2, 1, kBlack);
      }
      int mark_y = top;
      if (b.error > 0) {
        const int hi = ypix(b.value + b.error), lo = ypix(b.value - b.error), cx = bx + bw / 2;
        fill(img, cx, hi, 1, lo - hi + 1, kBlack);
        fill(img, cx - 3, hi, 7, 1, kBlack);
        fill(img, cx - 3, lo, 7, 1, kBlack);
        mark_y = std::min(mark_y, hi);
      }
      if (!b.mark.empty())
        draw_text(img, bx + (bw - text_width(b.mark)) / 2, mark_y - kGlyphHeight - 2, b.mark, 1, b.faded ? kGrey : kBlack);
    }
    draw_text(img, x0 + static_cast<int>(gi) * group_w + (group_w - text_width(g.label)) / 2, y0 + ph + 6, g.label, 1,
              kBlack);
  }
  const int lx = x0 + plot_w + 2 * gap;
  for (int s = 0; s < ns; ++s) {
    const int ly = y0 + s * kLineHeight;
    fill(img, lx, ly, 10, kGlyphHeight - 1, kPalette[static_cast<size_t>(s) % kPalette.size()]);
    draw_text(img, lx + 14, ly, o.series[static_cast<size_t>(s)], 1, kBlack);
  }
  return img;
}

}  // namespace backlight::cli
