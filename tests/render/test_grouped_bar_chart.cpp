// The grouped bar chart of `backlight tcav` (render/grouped_bar_chart.h): layout, bar colours and heights, faded bars, errors.
#include <doctest/doctest.h>

#include "engine/error.h"
#include "render/grouped_bar_chart.h"

using namespace backlight;
using namespace backlight::cli;

TEST_SUITE("render") {

TEST_CASE("grouped_bar_chart: a full bar reaches the top, an empty one stays at the axis, faded bars are light") {
  const std::vector<BarGroup> groups = {{"a", {{.value = 1.0, .error = 0.1, .mark = "*"}, {.value = 0.0}}},
                                        {"b", {{.value = 0.5, .faded = true, .reference = 0.5}, {.value = 0.25}}}};
  const Tensor img = grouped_bar_chart(groups, {.title = "t\nsecond line", .series = {"l1", "l2"}, .plot_height = 100});
  REQUIRE(img.dim() == 3);
  CHECK(img.size(0) == 3);
  // Count saturated pixels (bar colours) per group column range: group a holds a full bar of series 0.
  const int64_t H = img.size(1), W = img.size(2);
  int64_t blue = 0, light = 0;
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x) {
      const float r = img.data()[(0 * H + y) * W + x], g = img.data()[(1 * H + y) * W + x], b = img.data()[(2 * H + y) * W + x];
      blue += r < 0.2f && g > 0.4f && g < 0.5f && b > 0.65f;  // tab10 blue, full strength
      light += r > 0.7f && r < 0.8f && b > 0.9f;                // the faded blue
    }
  const int64_t bar_px = 16;  // bar_width 18 minus the 1-pixel gaps
  CHECK(blue >= bar_px * 100);      // the full bar (100 px) + the legend swatch
  CHECK(blue <= bar_px * 101 + 80);
  CHECK(light >= bar_px * 40);      // the faded half bar
  CHECK_THROWS_WITH_AS(grouped_bar_chart({{"a", {{.value = 1}}}}, {.series = {"l1", "l2"}}),
                       doctest::Contains("one per series"), Error);
  CHECK_THROWS_WITH_AS(grouped_bar_chart({}, {.series = {"l1"}}), doctest::Contains("at least one group"), Error);
  CHECK_THROWS_WITH_AS(grouped_bar_chart(groups, {.series = {"l1", "l2"}, .lo = 1, .hi = 0}),
                       doctest::Contains("lo < hi"), Error);
}

}  // TEST_SUITE
