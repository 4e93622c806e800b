// Receptive-field algebra of incremental occlusion, against brute force over the windows.
#include <doctest/doctest.h>

#include "attribution/perturbation/incremental/rect.h"
#include "engine/functional/pool.h"

using namespace backlight;
using namespace backlight::incremental;

namespace {

// Outputs o in [0, out_len) with a tap o*s - p + j*d inside `in`, as a hull (brute force).
Interval brute_reached(Interval in, AxisWindow w, int64_t out_len) {
  Interval r{};
  for (int64_t o = 0; o < out_len; ++o)
    for (int64_t j = 0; j < w.kernel; ++j) {
      const int64_t i = o * w.stride - w.pad + j * w.dilation;
      if (i >= in.lo && i < in.hi) r = hull(r, {o, o + 1});
    }
  return r;
}

bool contains(Interval outer, Interval inner) {
  return inner.empty() || (outer.lo <= inner.lo && inner.hi <= outer.hi);
}

}  // namespace

TEST_SUITE("attribution") {
  TEST_CASE("incremental rect: reached outputs of conv and pooling windows") {
    // conv 3x3, padding 1, stride 1: one row more on each side, clamped at the map.
    CHECK(reached_outputs({5, 7}, {3, 1, 1, 1}, 10) == Interval{4, 8});
    CHECK(reached_outputs({0, 2}, {3, 1, 1, 1}, 10) == Interval{0, 3});
    CHECK(reached_outputs({8, 10}, {3, 1, 1, 1}, 10) == Interval{7, 10});
    // ResNet stem 7x7 / 2, padding 3, on 224: output o reads 2o-3 .. 2o+3, so input rows
    // [16, 32) reach outputs [7, 18).
    CHECK(reached_outputs({16, 32}, {7, 2, 3, 1}, 112) == Interval{7, 18});
    // 1x1 / 2 (downsample): odd rows reach nothing.
    CHECK(reached_outputs({3, 4}, {1, 2, 0, 1}, 8).empty());
    CHECK(reached_outputs({3, 5}, {1, 2, 0, 1}, 8) == Interval{2, 3});
    CHECK(reached_outputs({}, {3, 1, 1, 1}, 10).empty());

    // Against brute force over many geometries: equal without dilation, a superset with it.
    for (int64_t k = 1; k <= 4; ++k)
      for (int64_t s = 1; s <= 3; ++s)
        for (int64_t p = 0; p <= k / 2; ++p)
          for (int64_t d = 1; d <= 2; ++d)
            for (bool ceil_mode : {false, true}) {
              const int64_t len = 11;
              if (len + 2 * p < d * (k - 1) + 1) continue;
              const int64_t out = fn::pool_output_size(len, k, p, s, d, ceil_mode);
              for (int64_t lo = 0; lo < len; ++lo)
                for (int64_t hi = lo + 1; hi <= len; ++hi) {
                  CAPTURE(k);
                  CAPTURE(s);
                  CAPTURE(p);
                  CAPTURE(d);
                  CAPTURE(ceil_mode);
                  CAPTURE(lo);
                  CAPTURE(hi);
                  const Interval got = reached_outputs({lo, hi}, {k, s, p, d}, out);
                  const Interval want = brute_reached({lo, hi}, {k, s, p, d}, out);
                  if (d == 1) CHECK(got == want);
                  else CHECK(contains(got, want));
                  CHECK(contains({0, out}, got));
                }
            }
  }

  TEST_CASE("incremental rect: inputs read, hull, clamp and placement") {
    // Outputs [2, 5) of a 3x3 / 2 window with padding 1 read inputs [3, 10).
    CHECK(read_inputs({2, 5}, {3, 2, 1, 1}) == Interval{3, 10});
    // Dilation 2: the kernel spans 5 inputs; padding reaches before 0.
    CHECK(read_inputs({0, 2}, {3, 1, 2, 2}) == Interval{-2, 4});
    // ceil_mode pooling (2 / 2 over 7 inputs, 4 outputs): the last window reads past the end.
    CHECK(fn::pool_output_size(7, 2, 0, 2, 1, true) == 4);
    CHECK(read_inputs({3, 4}, {2, 2, 0, 1}) == Interval{6, 8});

    CHECK(hull(Interval{2, 4}, Interval{7, 9}) == Interval{2, 9});
    CHECK(hull(Interval{}, Interval{7, 9}) == Interval{7, 9});
    CHECK(hull(Interval{3, 5}, Interval{6, 6}) == Interval{3, 5});
    CHECK(hull(Rect{{1, 2}, {3, 4}}, Rect{{5, 6}, {0, 1}}) == Rect{{1, 6}, {0, 4}});
    CHECK(hull(Rect{{1, 2}, {3, 3}}, Rect{{5, 6}, {0, 1}}) == Rect{{5, 6}, {0, 1}});

    CHECK(clamp({-3, 4}, 10) == Interval{0, 4});
    CHECK(clamp({8, 14}, 10) == Interval{8, 10});
    CHECK(clamp({12, 14}, 10).empty());

    // Regions of size 6 on a map of 20: kept where they fit, shifted inward at the far end.
    CHECK(place({3, 7}, 6, 20) == 3);
    CHECK(place({16, 20}, 6, 20) == 14);
    CHECK(place({0, 6}, 6, 20) == 0);
    CHECK(place({}, 6, 20) == 0);
    for (int64_t lo = 0; lo < 20; ++lo)
      for (int64_t hi = lo + 1; hi <= std::min<int64_t>(20, lo + 6); ++hi) {
        const int64_t o = place({lo, hi}, 6, 20);
        CHECK(o >= 0);
        CHECK(o + 6 <= 20);
        CHECK(contains({o, o + 6}, {lo, hi}));
      }
  }
}
