// Bar charts of tabular attributions (render/bar_chart.h).
#include <doctest/doctest.h>

#include <cmath>

#include "engine/error.h"
#include "render/bar_chart.h"
#include "render/token_view.h"

using namespace backlight;
using namespace backlight::cli;

TEST_SUITE("render") {
  TEST_CASE("bar chart: one bar per value, positive right of the axis in green; bad panels throw") {
    const std::vector<BarPanel> panels{{"m", {"a", "b"}, {1.0f, -0.5f}}};
    const Tensor img = bar_chart(panels, "caption", 600);
    CHECK(img.size(2) == 600);
    CHECK(img.size(1) > 2 * 22);
    int64_t green = 0, red = 0;
    const Rgb g = token_rgb(0.8f), r = token_rgb(-0.8f);
    const int64_t n = img.size(1) * img.size(2);
    for (int64_t i = 0; i < n; ++i) {
      green += std::fabs(img.data()[i] - g[0]) < 1e-6f && std::fabs(img.data()[n + i] - g[1]) < 1e-6f;
      red += std::fabs(img.data()[i] - r[0]) < 1e-6f && std::fabs(img.data()[n + i] - r[1]) < 1e-6f;
    }
    CHECK(green > 0);
    CHECK(red > 0);
    CHECK(green == doctest::Approx(2.0 * static_cast<double>(red)).epsilon(0.05));  // bar lengths 1 : 0.5
    const std::vector<BarPanel> bad{{"m", {"a"}, {1.0f, 2.0f}}};
    CHECK_THROWS_WITH_AS(bar_chart(bad, "c"), doctest::Contains("panel 'm' has 1 names but 2 values"), Error);
    const std::vector<BarPanel> nan{{"m", {"a"}, {std::nanf("")}}};
    CHECK_THROWS_WITH_AS(bar_chart(nan, "c"), doctest::Contains("value 0 is not finite"), Error);
  }
}
