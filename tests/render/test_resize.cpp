// Resizing: PIL/torchvision antialiased bilinear weights on hand-computed cases, aspect-kept
// sizes, nearest-neighbour enlargement.
#include <doctest/doctest.h>

#include <vector>

#include "engine/error.h"
#include "render/resize.h"

using namespace backlight;
using namespace backlight::cli;

namespace {

Tensor ramp(int64_t w) {
  Tensor t = Tensor::empty({1, 1, w});
  for (int64_t i = 0; i < w; ++i) t.data()[i] = static_cast<float>(i);
  return t;
}

void check_row(const Tensor& t, const std::vector<float>& want) {
  REQUIRE(t.numel() == static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) CHECK(t.data()[i] == doctest::Approx(want[i]).epsilon(1e-5));
}

}  // namespace

TEST_SUITE("render") {

TEST_CASE("resize/resize_image: bilinear up, triangle-filtered down (F.interpolate antialias=True)") {
  // Up 4 -> 8: half-pixel centres (i + 0.5) / 2 - 0.5, edges clamped.
  check_row(resize_image(ramp(4), 1, 8), {0.0f, 0.25f, 0.75f, 1.25f, 1.75f, 2.25f, 2.75f, 3.0f});
  // Down 4 -> 2: support 2 around centres 1 and 3, weights (.75, .75, .25) / 1.75 -> 5/7 and 16/7.
  check_row(resize_image(ramp(4), 1, 2), {5.0f / 7.0f, 16.0f / 7.0f});
  // Down 4 -> 3: support 4/3; the first output weighs pixels 0 and 1 by .875 and .375 -> 0.3.
  check_row(resize_image(ramp(4), 1, 3), {0.3f, 1.5f, 2.7f});
  // Same size: a copy; constant images stay constant in both directions.
  check_row(resize_image(ramp(3), 1, 3), {0, 1, 2});
  const Tensor c = resize_image(Tensor::full({3, 7, 5}, 0.25f), 3, 11);
  CHECK(c.shape() == Shape{3, 3, 11});
  for (float v : c.span()) CHECK(v == doctest::Approx(0.25f));
  CHECK_THROWS_WITH_AS(resize_image(Tensor::zeros({4, 4}), 2, 2), doctest::Contains("expected an image [C,H,W]"),
                       ShapeError);
  CHECK_THROWS_AS(resize_image(Tensor::zeros({1, 4, 4}), 0, 2), Error);
}

TEST_CASE("resize/shorter_side_size: torchvision Resize(int) keeps the aspect ratio") {
  CHECK(shorter_side_size(480, 640, 224) == std::pair<int64_t, int64_t>{224, 298});  // int(224 * 640 / 480)
  CHECK(shorter_side_size(640, 480, 224) == std::pair<int64_t, int64_t>{298, 224});
  CHECK(shorter_side_size(100, 100, 32) == std::pair<int64_t, int64_t>{32, 32});
}

TEST_CASE("resize/enlarge_nearest: every pixel becomes a factor x factor block") {
  const Tensor t = Tensor::from({1, 2, 2}, {1, 2, 3, 4});
  const Tensor e = enlarge_nearest(t, 3);
  REQUIRE(e.shape() == Shape{1, 6, 6});
  CHECK(e.at({0, 0, 0}) == 1.0f);
  CHECK(e.at({0, 2, 2}) == 1.0f);
  CHECK(e.at({0, 2, 3}) == 2.0f);
  CHECK(e.at({0, 3, 2}) == 3.0f);
  CHECK(e.at({0, 5, 5}) == 4.0f);
  CHECK(enlarge_nearest(t, 1).to_vector() == t.to_vector());
  CHECK_THROWS_AS(enlarge_nearest(t, 0), Error);
}

}  // TEST_SUITE
