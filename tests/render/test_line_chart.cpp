// The line chart of `backlight roar` (render/line_chart.h): points at their values, error bars,
// one colour per series, errors for inconsistent input.
#include <doctest/doctest.h>

#include <cmath>

#include "engine/error.h"
#include "render/line_chart.h"

using namespace backlight;
using namespace backlight::cli;

namespace {

// Rows (top to bottom) holding a pixel of tab10 blue / orange.
std::vector<int64_t> rows_with(const Tensor& img, bool orange) {
  const int64_t H = img.size(1), W = img.size(2);
  std::vector<int64_t> rows;
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x) {
      const float r = img.data()[y * W + x], g = img.data()[(H + y) * W + x], b = img.data()[(2 * H + y) * W + x];
      const bool hit = orange ? (r > 0.95f && g > 0.45f && g < 0.55f && b < 0.1f) : (r < 0.2f && g > 0.4f && g < 0.5f && b > 0.65f);
      if (hit) {
        rows.push_back(y);
        break;
      }
    }
  return rows;
}

}  // namespace

TEST_SUITE("render") {

TEST_CASE("line_chart: a flat high series stays above a flat low one; error bars span rows") {
  const LineChartOptions o{.title = "t", .x = {0.0, 0.5, 1.0}, .plot_width = 200, .plot_height = 100};
  const Tensor img = line_chart({{.name = "high", .y = {0.9, 0.9, 0.9}}, {.name = "low", .y = {0.1, 0.1, 0.1}, .error = {0, 0.1, 0}}}, o);
  REQUIRE(img.dim() == 3);
  const std::vector<int64_t> blue = rows_with(img, false), orange = rows_with(img, true);
  REQUIRE(!blue.empty());
  REQUIRE(!orange.empty());
  // Blue (series 0): the line rows and the legend; orange's line lies ~80 rows lower in the plot.
  CHECK(orange.back() - blue.front() >= 70);
  // The error bar of +-0.1 on a 100-pixel plot spans about 20 rows around the orange line.
  CHECK(orange.back() - orange.front() >= 18);
}

TEST_CASE("line_chart: refuses inconsistent input") {
  CHECK_THROWS_WITH_AS(line_chart({}, {.x = {0.0}}), doctest::Contains("at least one series"), Error);
  CHECK_THROWS_WITH_AS(line_chart({{.name = "a", .y = {1.0}}}, {.x = {0.0, 1.0}}),
                       doctest::Contains("series 'a' has 1 points"), Error);
  CHECK_THROWS_WITH_AS(line_chart({{.name = "a", .y = {1.0, 1.0}}}, {.x = {1.0, 0.0}}),
                       doctest::Contains("increasing x values"), Error);
  CHECK_THROWS_WITH_AS(line_chart({{.name = "a", .y = {1.0}}}, {.x = {0.0}, .lo = 1.0, .hi = 1.0}),
                       doctest::Contains("lo < hi"), Error);
}

}  // TEST_SUITE
