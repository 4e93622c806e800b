// Image files: PNG round trip, grey to RGB, error texts.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "engine/error.h"
#include "tests/cli/temp_dir.h"
#include "io/image_io.h"

using namespace backlight;
using namespace backlight::cli;
using backlight::test::TempDir;

TEST_SUITE("io") {

TEST_CASE("image_io: PNG round trip is exact to 8 bits, no resizing") {
  TempDir dir("image_io");
  Tensor img = Tensor::empty({3, 5, 7});
  for (int64_t i = 0; i < img.numel(); ++i) img.data()[i] = static_cast<float>((i * 37) % 256) / 255.0f;
  const std::string p = dir.file("sub/dir/rgb.png");  // parents are created
  write_png(p, img);
  const Tensor back = load_image(p);
  REQUIRE(back.shape() == Shape{3, 5, 7});
  for (int64_t i = 0; i < img.numel(); ++i) CHECK(back.data()[i] == doctest::Approx(img.data()[i]).epsilon(1e-6));
}

TEST_CASE("image_io: grey images load as three equal channels; values are clipped") {
  TempDir dir("image_io");
  const std::string p = dir.file("grey.png");
  write_png(p, Tensor::from({2, 2}, {-1.0f, 0.0f, 0.5f, 7.0f}));
  const Tensor back = load_image(p);
  REQUIRE(back.shape() == Shape{3, 2, 2});
  for (int c = 0; c < 3; ++c) {
    CHECK(back.at({c, 0, 0}) == 0.0f);
    CHECK(back.at({c, 1, 0}) == doctest::Approx(128.0f / 255.0f));
    CHECK(back.at({c, 1, 1}) == 1.0f);
  }
}

TEST_CASE("image_io: errors name the path and the reason") {
  TempDir dir("image_io");
  CHECK_THROWS_WITH_AS(load_image(dir.file("none.png")), doctest::Contains("none.png': no such file"), Error);
  const std::string junk = dir.file("junk.png");
  backlight::test::write_bytes(junk, "definitely not an image");
  const std::string expected = "cannot decode '" + junk + "' (expected PNG, JPEG or BMP)";
  CHECK_THROWS_WITH_AS(load_image(junk), doctest::Contains(expected.c_str()), Error);
  CHECK_THROWS_WITH_AS(write_png(dir.file("x.png"), Tensor::zeros({2, 4, 4})), doctest::Contains("expected an image [3,H,W]"),
                       Error);
}

}  // TEST_SUITE
