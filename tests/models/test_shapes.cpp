// The synthetic shapes dataset: determinism per (seed, index), masks that mark a visible target
// inside the image, class balance, batch == single samples, config validation.
#include <cmath>

#include "models/data/shapes.h"
#include "tests/helpers.h"

using namespace backlight;

namespace {

constexpr uint64_t kSeed = 7;

bool same(const Tensor& a, const Tensor& b) { return a.shape() == b.shape() && a.to_vector() == b.to_vector(); }

}  // namespace

TEST_SUITE("models") {

TEST_CASE("shapes: a sample depends only on (seed, index)") {
  const ShapesConfig cfg;
  const ShapesSample a = make_shapes_sample(cfg, kSeed, 12);
  const ShapesSample b = make_shapes_sample(cfg, kSeed, 12);
  CHECK(a.image.shape() == Shape{3, 64, 64});
  CHECK(a.mask.shape() == Shape{1, 64, 64});
  CHECK(same(a.image, b.image));
  CHECK(same(a.mask, b.mask));
  CHECK(a.label == b.label);
  // Generated in another order (after other samples) it is still the same.
  make_shapes_sample(cfg, kSeed, 3);
  CHECK(same(make_shapes_sample(cfg, kSeed, 12).image, a.image));

  CHECK_FALSE(same(make_shapes_sample(cfg, kSeed, 13).image, a.image));
  CHECK_FALSE(same(make_shapes_sample(cfg, kSeed + 1, 12).image, a.image));
}

TEST_CASE("shapes: the mask marks a non-empty target inside the image that stands out from its surroundings") {
  const ShapesConfig cfg;
  const int64_t h = cfg.height, w = cfg.width, plane = h * w;
  for (int64_t index = 0; index < 40; ++index) {
    CAPTURE(index);
    const ShapesSample s = make_shapes_sample(cfg, kSeed, index);
    const float* img = s.image.data();
    const float* m = s.mask.data();
    int64_t area = 0, out_of_range = 0, not_binary = 0, on_border = 0;
    for (int64_t i = 0; i < s.image.numel(); ++i) out_of_range += !(img[i] >= 0.0f && img[i] <= 1.0f);
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        const float v = m[y * w + x];
        not_binary += !(v == 0.0f || v == 1.0f);
        if (v == 0.0f) continue;
        ++area;
        on_border += !(y > 0 && x > 0 && y < h - 1 && x < w - 1);  // one pixel of margin: fully inside
      }
    CHECK(out_of_range == 0);
    CHECK(not_binary == 0);
    CHECK(on_border == 0);
    CHECK(area >= 60);  // smallest target: a triangle of half-extent 0.15 * 64

    // Mean colour on the target vs on the 2-pixel ring around it.
    double inside[3] = {0, 0, 0}, ring[3] = {0, 0, 0};
    int64_t n_ring = 0;
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        if (m[y * w + x] != 0.0f) {
          for (int c = 0; c < 3; ++c) inside[c] += img[c * plane + y * w + x];
          continue;
        }
        bool near = false;
        for (int64_t dy = -2; dy <= 2 && !near; ++dy)
          for (int64_t dx = -2; dx <= 2 && !near; ++dx) {
            const int64_t yy = y + dy, xx = x + dx;
            near = yy >= 0 && xx >= 0 && yy < h && xx < w && m[yy * w + xx] != 0.0f;
          }
        if (!near) continue;
        ++n_ring;
        for (int c = 0; c < 3; ++c) ring[c] += img[c * plane + y * w + x];
      }
    REQUIRE(n_ring > 0);
    double diff = 0;
    for (int c = 0; c < 3; ++c) diff += std::fabs(inside[c] / area - ring[c] / n_ring);
    CHECK(diff / 3 > 0.1);

    // The target is a flat colour (plus pixel noise): within 2 * noise of its mean.
    int64_t off_colour = 0;
    for (int64_t i = 0; i < plane; ++i)
      if (m[i] != 0.0f)
        for (int c = 0; c < 3; ++c)
          off_colour += std::fabs(img[c * plane + i] - inside[c] / area) > 2 * cfg.pixel_noise + 1e-5;
    CHECK(off_colour == 0);
  }
}

TEST_CASE("shapes: classes are balanced (400 samples, exact per aligned block of 4)") {
  const ShapesBatch b = make_shapes_batch(ShapesConfig{}, kSeed, 0, 400);
  int64_t count[kNumShapeClasses] = {0, 0, 0, 0};
  for (int64_t label : b.labels) {
    REQUIRE((label >= 0 && label < kNumShapeClasses));
    ++count[label];
  }
  for (int64_t c = 0; c < kNumShapeClasses; ++c) {
    CAPTURE(c);
    CHECK(std::abs(count[c] - 100) <= 15);
  }
  // Unaligned ranges are balanced to within one block.
  const ShapesBatch u = make_shapes_batch(ShapesConfig{}, kSeed, 1001, 400);
  int64_t ucount[kNumShapeClasses] = {0, 0, 0, 0};
  for (int64_t label : u.labels) ++ucount[label];
  for (int64_t c = 0; c < kNumShapeClasses; ++c) CHECK(std::abs(ucount[c] - 100) <= 2);
}

TEST_CASE("shapes: a batch equals the samples one by one") {
  ShapesConfig cfg;
  cfg.height = 32;
  cfg.width = 48;
  const ShapesBatch b = make_shapes_batch(cfg, kSeed, 50, 9);
  CHECK(b.images.shape() == Shape{9, 3, 32, 48});
  CHECK(b.masks.shape() == Shape{9, 1, 32, 48});
  REQUIRE(b.labels.size() == 9);
  for (int64_t i = 0; i < 9; ++i) {
    CAPTURE(i);
    const ShapesSample s = make_shapes_sample(cfg, kSeed, 50 + i);
    CHECK(same(b.images.slice_batch(i, i + 1).reshape(s.image.shape()), s.image));
    CHECK(same(b.masks.slice_batch(i, i + 1).reshape(s.mask.shape()), s.mask));
    CHECK(b.labels[static_cast<size_t>(i)] == s.label);
  }
}

TEST_CASE("shapes: invalid configurations and indices throw naming the problem") {
  ShapesConfig tiny;
  tiny.height = 8;
  CHECK_THROWS_WITH_AS(make_shapes_sample(tiny, 0, 0), doctest::Contains("at least 16x16, got 8x64"), Error);
  ShapesConfig inverted;
  inverted.distractor_min = 0.2f;
  inverted.distractor_max = 0.1f;
  CHECK_THROWS_WITH_AS(make_shapes_sample(inverted, 0, 0),
                       doctest::Contains("0 < distractor_min <= distractor_max < 0.5"), Error);
  CHECK_THROWS_WITH_AS(make_shapes_sample(ShapesConfig{}, 0, -1), doctest::Contains("expected index >= 0, got -1"),
                       Error);
  CHECK_THROWS_WITH_AS(make_shapes_batch(ShapesConfig{}, 0, 0, 0), doctest::Contains("count >= 1"), Error);
}

}  // TEST_SUITE
