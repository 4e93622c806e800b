// Colormaps: matplotlib's endpoints and anchors, monotone luminance of the perceptual maps.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <limits>

#include "engine/error.h"
#include "render/colormap.h"

using namespace backlight;
using namespace backlight::cli;

namespace {

void check_rgb(const Rgb& got, const Rgb& want, float tol) {
  for (size_t k = 0; k < 3; ++k) CHECK(std::fabs(got[k] - want[k]) <= tol);
}

}  // namespace

TEST_SUITE("render") {

TEST_CASE("colormap: diverging maps are matplotlib's segments, white at the centre") {
  check_rgb(colormap_color(Colormap::Bwr, 0.0f), {0, 0, 1}, 1e-6f);
  check_rgb(colormap_color(Colormap::Bwr, 0.5f), {1, 1, 1}, 1e-6f);
  check_rgb(colormap_color(Colormap::Bwr, 1.0f), {1, 0, 0}, 1e-6f);
  check_rgb(colormap_color(Colormap::Bwr, 0.75f), {1, 0.5f, 0.5f}, 1e-6f);  // halfway white -> red
  check_rgb(colormap_color(Colormap::Seismic, 0.0f), {0, 0, 0.3f}, 1e-6f);
  check_rgb(colormap_color(Colormap::Seismic, 0.25f), {0, 0, 1}, 1e-6f);
  check_rgb(colormap_color(Colormap::Seismic, 0.5f), {1, 1, 1}, 1e-6f);
  check_rgb(colormap_color(Colormap::Seismic, 0.75f), {1, 0, 0}, 1e-6f);
  check_rgb(colormap_color(Colormap::Seismic, 1.0f), {0.5f, 0, 0}, 1e-6f);
  CHECK(is_diverging(Colormap::Bwr));
  CHECK(is_diverging(Colormap::Seismic));
  CHECK_FALSE(is_diverging(Colormap::Inferno));
  // Out of range clamps, NaN is the centre.
  CHECK(colormap_color(Colormap::Bwr, -3.0f) == colormap_color(Colormap::Bwr, 0.0f));
  CHECK(colormap_color(Colormap::Bwr, 7.0f) == colormap_color(Colormap::Bwr, 1.0f));
  CHECK(colormap_color(Colormap::Bwr, std::numeric_limits<float>::quiet_NaN()) == colormap_color(Colormap::Bwr, 0.5f));
}

TEST_CASE("colormap: inferno and viridis match matplotlib's published table") {
  // Entries 0, 128 and 255 of matplotlib's _inferno_data / _viridis_data are anchors (exact);
  // entry 100 lies between anchors (interpolated, within 0.007 of the table).
  check_rgb(colormap_color(Colormap::Inferno, 0.0f), {0.001462f, 0.000466f, 0.013866f}, 1e-6f);
  check_rgb(colormap_color(Colormap::Inferno, 128.0f / 255.0f), {0.735683f, 0.215906f, 0.330245f}, 1e-5f);
  check_rgb(colormap_color(Colormap::Inferno, 1.0f), {0.988362f, 0.998364f, 0.644924f}, 1e-6f);
  check_rgb(colormap_color(Colormap::Inferno, 100.0f / 255.0f), {0.565854f, 0.143567f, 0.408258f}, 7e-3f);
  check_rgb(colormap_color(Colormap::Viridis, 0.0f), {0.267004f, 0.004874f, 0.329415f}, 1e-6f);
  check_rgb(colormap_color(Colormap::Viridis, 128.0f / 255.0f), {0.127568f, 0.566949f, 0.550556f}, 1e-5f);
  check_rgb(colormap_color(Colormap::Viridis, 1.0f), {0.993248f, 0.906157f, 0.143936f}, 1e-6f);
  check_rgb(colormap_color(Colormap::Viridis, 100.0f / 255.0f), {0.166617f, 0.463708f, 0.558119f}, 7e-3f);
}

TEST_CASE("colormap: inferno and viridis have strictly increasing luminance; bwr is symmetric") {
  for (Colormap map : {Colormap::Inferno, Colormap::Viridis}) {
    CAPTURE(to_string(map));
    float previous = -1.0f;
    for (int i = 0; i <= 1000; ++i) {
      const float l = luminance(colormap_color(map, static_cast<float>(i) / 1000.0f));
      CHECK(l > previous);
      previous = l;
    }
  }
  for (int i = 0; i <= 10; ++i) {
    const float t = static_cast<float>(i) / 20.0f;
    const Rgb lo = colormap_color(Colormap::Bwr, 0.5f - t), hi = colormap_color(Colormap::Bwr, 0.5f + t);
    CHECK(lo[2] == doctest::Approx(hi[0]));  // blue side mirrors the red side
    CHECK(lo[0] == doctest::Approx(hi[2]));
  }
}

TEST_CASE("colormap: names round trip; unknown names list the accepted ones") {
  for (Colormap map : {Colormap::Bwr, Colormap::Seismic, Colormap::Inferno, Colormap::Viridis})
    CHECK(colormap_from_string(to_string(map)) == map);
  CHECK_THROWS_WITH_AS(colormap_from_string("jet"), doctest::Contains("bwr, seismic, inferno, viridis"), Error);
}

}  // TEST_SUITE
