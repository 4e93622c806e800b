// Heatmaps: the diverging colormap's anchors and the percentile clip.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <limits>

#include "engine/error.h"
#include "tools/cli/heatmap.h"

using namespace backlight;
using namespace backlight::cli;

TEST_SUITE("cli") {

TEST_CASE("heatmap/diverging_color: white at 0, blue below, red above, clamped") {
  const std::array<float, 3> white{1, 1, 1};
  CHECK(diverging_color(0.0f) == white);
  const auto blue = diverging_color(-1.0f), red = diverging_color(1.0f);
  CHECK(blue[2] > blue[0]);
  CHECK(red[0] > red[2]);
  CHECK(diverging_color(-5.0f) == blue);
  CHECK(diverging_color(5.0f) == red);
  CHECK(diverging_color(std::numeric_limits<float>::quiet_NaN()) == white);
  const auto half = diverging_color(0.5f);
  for (int k = 0; k < 3; ++k) CHECK(half[k] == doctest::Approx(0.5f * (1.0f + red[k])));
}

TEST_CASE("heatmap/symmetric_clip: numpy.percentile of |values|, safe for zero maps") {
  Tensor t = Tensor::empty({10, 10});
  for (int i = 0; i < 100; ++i) t.data()[i] = (i % 2 ? -1.0f : 1.0f) * static_cast<float>(i + 1);
  CHECK(symmetric_clip(t, 98.0f) == doctest::Approx(98.02f));  // np.percentile(np.arange(1,101), 98)
  CHECK(symmetric_clip(t, 100.0f) == doctest::Approx(100.0f));
  CHECK(symmetric_clip(Tensor::zeros({4, 4}), 98.0f) == 1.0f);
  Tensor sparse = Tensor::zeros({10, 10});
  sparse.data()[7] = -3.0f;  // the 98th percentile is 0: fall back to max |value|
  CHECK(symmetric_clip(sparse, 98.0f) == 3.0f);
  CHECK_THROWS_AS(symmetric_clip(t, 0.0f), Error);
}

TEST_CASE("heatmap/heatmap_rgb: [H,W] -> [3,H,W], sign picks the colour") {
  Tensor m = Tensor::from({1, 3}, {-2.0f, 0.0f, 2.0f});
  const Tensor rgb = heatmap_rgb(m);
  CHECK(rgb.shape() == Shape{3, 1, 3});
  CHECK(rgb.at({2, 0, 0}) > rgb.at({0, 0, 0}));  // negative: blue dominates
  CHECK(rgb.at({0, 0, 1}) == 1.0f);               // zero: white
  CHECK(rgb.at({0, 0, 2}) > rgb.at({2, 0, 2}));   // positive: red dominates
  CHECK_THROWS_WITH_AS(heatmap_rgb(Tensor::zeros({2, 3, 3})), doctest::Contains("expected a map [H,W]"), ShapeError);
}

}  // TEST_SUITE
