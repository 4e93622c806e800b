// The labelled grid: label wrapping, layout sizes, panel placement, colour bar.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "engine/error.h"
#include "render/font.h"
#include "render/grid.h"

using namespace backlight;
using namespace backlight::cli;

namespace {

Tensor solid(int64_t h, int64_t w, float r, float g, float b) {
  Tensor t = Tensor::empty({3, h, w});
  for (int64_t i = 0; i < h * w; ++i) {
    t.data()[i] = r;
    t.data()[h * w + i] = g;
    t.data()[2 * h * w + i] = b;
  }
  return t;
}

}  // namespace

TEST_SUITE("render") {

TEST_CASE("grid/wrap_label: breaks after separators, inside long words otherwise") {
  CHECK(wrap_label("saliency", 16) == std::vector<std::string>{"saliency"});
  CHECK(wrap_label("integrated_gradients", 16) == std::vector<std::string>{"integrated_", "gradients"});
  CHECK(wrap_label("input: circle, target square", 16) ==
        std::vector<std::string>{"input: circle,", "target square"});
  CHECK(wrap_label("abcdefghij", 4) == std::vector<std::string>{"abcd", "efgh", "ij"});
  CHECK(wrap_label("", 4) == std::vector<std::string>{""});
  CHECK_THROWS_AS(wrap_label("x", 0), Error);
}

TEST_CASE("grid/make_grid: panels enlarged to the minimum size, placed left to right under labels") {
  const std::vector<Panel> panels = {{solid(16, 32, 1, 0, 0), "red"}, {solid(16, 32, 0, 0, 1), "blue"}};
  const GridOptions o{.min_panel_size = 64, .gap = 8};
  const Tensor g = make_grid(panels, o);
  // factor 4 -> panels 64x128; 128 px is under 12 characters at scale 2, so labels use scale 1.
  const int64_t header = kLineHeight + 4;
  CHECK(g.shape() == Shape{3, 8 + header + 64 + 8, 8 + 128 + 8 + 128 + 8});
  // Panel centres carry the panel colours; the gap between them is white.
  const int64_t y = 8 + header + 32;
  CHECK(g.at({0, y, 8 + 64}) == 1.0f);
  CHECK(g.at({2, y, 8 + 64}) == 0.0f);
  CHECK(g.at({2, y, 8 + 128 + 8 + 64}) == 1.0f);
  CHECK(g.at({0, y, 8 + 128 + 8 + 64}) == 0.0f);
  CHECK(g.at({1, y, 8 + 128 + 4}) == 1.0f);
  // Some ink in the label row above each panel.
  int dark = 0;
  for (int64_t yy = 8; yy < 8 + header; ++yy)
    for (int64_t x = 8; x < 8 + 128; ++x) dark += g.at({1, yy, x}) < 0.5f;
  CHECK(dark > 0);
}

TEST_CASE("grid/make_grid: large panels keep their size and labels use scale 2; the colour bar adds a column") {
  const std::vector<Panel> panels = {{solid(200, 200, 0.5f, 0.5f, 0.5f), "integrated_gradients"}};
  const Tensor plain = make_grid(panels, {.min_panel_size = 100, .gap = 8});
  // 200 px hold 16 characters at scale 2: two lines.
  CHECK(plain.shape() == Shape{3, 8 + 2 * 2 * kLineHeight + 4 + 200 + 8, 8 + 200 + 8});
  const Tensor bar = make_grid(panels, {.min_panel_size = 100, .gap = 8, .colorbar = ColorBar{}});
  CHECK(bar.size(2) > plain.size(2));
  CHECK(bar.size(1) == plain.size(1));
  // The bar's top is the +1 end of bwr (red), its bottom the -1 end (blue).
  const int64_t x = 8 + 200 + 8 + 2, top = 8 + 2 * 2 * kLineHeight + 4, bottom = top + 199;
  CHECK(bar.at({0, top, x}) > 0.95f);
  CHECK(bar.at({2, top, x}) < 0.05f);
  CHECK(bar.at({2, bottom, x}) > 0.95f);
  CHECK(bar.at({0, bottom, x}) < 0.05f);
}

TEST_CASE("grid/make_grid: panels must share one shape") {
  const std::vector<Panel> panels = {{solid(8, 8, 0, 0, 0), "a"}, {solid(8, 9, 0, 0, 0), "b"}};
  CHECK_THROWS_WITH_AS(make_grid(panels), doctest::Contains("of one size"), ShapeError);
  CHECK_THROWS_AS(make_grid(std::vector<Panel>{}), Error);
}

}  // TEST_SUITE
