// RISE: masks as in Petsiuk et al. 2018, the region a model looks at scores highest, seeds.
#include "attribution/perturbation/rise.h"
#include "engine/modules/all.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

namespace {

// A model whose single output is the sum of the pixels in rows 4..7, columns 9..12 of a 16x16
// image (the rest of the image is ignored).
ModulePtr region_model() {
  std::mt19937_64 rng(kSeed);
  auto lin = std::make_shared<Linear>(256, 1, rng);
  lin->parameter("weight").fill(0.0f);
  lin->parameter("bias").fill(0.0f);
  for (int64_t y = 4; y < 8; ++y)
    for (int64_t x = 9; x < 13; ++x) lin->parameter("weight").data()[y * 16 + x] = 1.0f;
  return std::make_shared<Sequential>(std::initializer_list<ModulePtr>{std::make_shared<Flatten>(), lin});
}

bool in_region(int64_t y, int64_t x) { return y >= 4 && y < 8 && x >= 9 && x < 13; }

}  // namespace

TEST_SUITE("attribution") {
  TEST_CASE("rise: masks keep about p of the image, are smooth and depend only on (seed, index)") {
    double mean = 0;
    for (int64_t i = 0; i < 200; ++i) {
      const Tensor m = rise_mask(20, 17, 5, 0.3f, 4, i);
      for (float v : m.span()) {
        CHECK((v >= 0.0f && v <= 1.0f));
        mean += v;
      }
    }
    mean /= 200.0 * 20 * 17;
    CHECK(mean == doctest::Approx(0.3).epsilon(0.1));
    BL_CHECK_CLOSE(rise_mask(20, 17, 5, 0.3f, 4, 7), rise_mask(20, 17, 5, 0.3f, 4, 7), 0.0, 0.0);
    CHECK(!allclose_report(rise_mask(20, 17, 5, 0.3f, 4, 7), rise_mask(20, 17, 5, 0.3f, 4, 8), 1e-6, 0).empty());
    CHECK_THROWS_WITH_AS(rise_mask(4, 4, 5, 0.5f, 0, 0), doctest::Contains("expected 1 <= cells <= min(H, W) = 4"),
                         backlight::Error);
  }

  TEST_CASE("rise: the region the model looks at gets the highest saliency") {
    const ModulePtr m = region_model();
    const Tensor x = Tensor::full({2, 1, 16, 16}, 1.0f);
    const AttributionResult r = rise(*m, x, Target::index(0), {.masks = 600, .cells = 4, .seed = 3});
    CHECK(r.attribution.shape() == Shape({2, 1, 16, 16}));
    for (int64_t n = 0; n < 2; ++n) {
      double inside = 0, outside = 0;
      int64_t best = 0;
      for (int64_t p = 0; p < 256; ++p) {
        const float v = r.attribution.data()[n * 256 + p];
        (in_region(p / 16, p % 16) ? inside : outside) += v;
        if (v > r.attribution.data()[n * 256 + best]) best = p;
      }
      inside /= 16;
      outside /= 240;
      CAPTURE(inside);
      CAPTURE(outside);
      CHECK(in_region(best / 16, best % 16));
      // E[f | M(p) = 1] exceeds E[f] only through the correlation of mask values near the region,
      // so the contrast is moderate (about 1.3 here); far pixels sit at E[f] = 16 p = 8.
      CHECK(inside > 1.2 * outside);
    }
  }

  TEST_CASE("rise: same seed, same result; masks_per_eval does not matter; other seeds differ") {
    const ModulePtr m = region_model();
    std::mt19937_64 rng(kSeed);
    const Tensor x = uniform({2, 1, 16, 16}, rng, 0.0f, 1.0f);
    const RiseOptions o{
        .masks = 50, .cells = 3, .keep_probability = 0.4f, .baseline = Baseline::constant(0.5f), .seed = 1};
    const Tensor a = rise(*m, x, Target::index(0), o).attribution;
    BL_CHECK_CLOSE(rise(*m, x, Target::index(0), o).attribution, a, 0.0, 0.0);
    for (int per : {1, 7, 1000}) {
      RiseOptions b = o;
      b.masks_per_eval = per;
      BL_CHECK_CLOSE(rise(*m, x, Target::index(0), b).attribution, a, 1e-5, 1e-5);
    }
    RiseOptions c = o;
    c.seed = 2;
    CHECK(!allclose_report(rise(*m, x, Target::index(0), c).attribution, a, 1e-6, 0).empty());
    CHECK_THROWS_WITH_AS(rise(*m, Tensor::zeros({2, 256}), Target::index(0)),
                         doctest::Contains("expected inputs [N, ..., H, W] with two spatial axes"), backlight::Error);
  }

}  // TEST_SUITE("attribution")
