// Attribution pictures: Captum's normalisation (_normalize_attr, _cumulative_sum_threshold) on
// hand-computed cases, and the four visual methods pixel by pixel.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "engine/error.h"
#include "render/heatmap.h"

using namespace backlight;
using namespace backlight::cli;

namespace {

// [[-4, 1, 0], [2, 3, -1]]: |v| sorted 0 1 1 2 3 4, running sums 0 1 2 4 7 11.
Tensor sample_map() { return Tensor::from({2, 3}, {-4.0f, 1.0f, 0.0f, 2.0f, 3.0f, -1.0f}); }

void check_values(const Tensor& t, const std::vector<float>& want) {
  REQUIRE(t.numel() == static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) {
    CAPTURE(i);
    CHECK(t.data()[i] == doctest::Approx(want[i]).epsilon(1e-6));
  }
}

}  // namespace

TEST_SUITE("render") {

TEST_CASE("heatmap/cumulative_sum_threshold: Captum's first value whose running sum reaches p% of the total") {
  const std::vector<float> v = {4, 1, 3, 2};  // sorted 1 2 3 4, running sums 1 3 6 10
  CHECK(cumulative_sum_threshold(v, 50.0f) == 3.0f);   // first sum >= 5 is 6
  CHECK(cumulative_sum_threshold(v, 30.0f) == 2.0f);   // first sum >= 3 is 3 (ties reach it)
  CHECK(cumulative_sum_threshold(v, 0.0f) == 1.0f);    // the smallest value
  CHECK(cumulative_sum_threshold(v, 100.0f) == 4.0f);  // the largest
  CHECK(cumulative_sum_threshold({}, 98.0f) == 0.0f);
  CHECK_THROWS_WITH_AS(cumulative_sum_threshold(v, 101.0f), doctest::Contains("[0,100]"), Error);
}

TEST_CASE("heatmap/normalize_attribution: each sign as Captum's _normalize_attr") {
  const Tensor m = sample_map();
  // all, 2% outliers: threshold 4 (sum 11 * 0.98 = 10.78 is reached only by the last value).
  check_values(normalize_attribution(m, VisualSign::All), {-1.0f, 0.25f, 0.0f, 0.5f, 0.75f, -0.25f});
  // all, 50%: sum >= 5.5 first at 7 -> threshold 3; -4 clips to -1.
  check_values(normalize_attribution(m, VisualSign::All, 50.0f), {-1.0f, 1 / 3.0f, 0.0f, 2 / 3.0f, 1.0f, -1 / 3.0f});
  // positive, 50%: positives 1 2 3 (sums 1 3 6) -> threshold 2.
  check_values(normalize_attribution(m, VisualSign::Positive, 50.0f), {0.0f, 0.5f, 0.0f, 1.0f, 1.0f, 0.0f});
  // negative, 50%: |negatives| 1 4 (sums 1 5) -> threshold -4; values become magnitudes in [0,1].
  check_values(normalize_attribution(m, VisualSign::Negative, 50.0f), {1.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.25f});
  // absolute_value, 50%: as all, then |.|.
  check_values(normalize_attribution(m, VisualSign::AbsoluteValue, 50.0f),
               {1.0f, 1 / 3.0f, 0.0f, 2 / 3.0f, 1.0f, 1 / 3.0f});
}

TEST_CASE("heatmap/normalize_attribution: nothing of the sign gives zeros (Captum asserts); bad input throws") {
  check_values(normalize_attribution(Tensor::zeros({2, 2}), VisualSign::All), {0, 0, 0, 0});
  check_values(normalize_attribution(Tensor::from({1, 2}, {-1.0f, -2.0f}), VisualSign::Positive), {0, 0});
  check_values(normalize_attribution(Tensor::from({1, 2}, {NAN, 2.0f}), VisualSign::All), {0, 1});
  CHECK_THROWS_WITH_AS(normalize_attribution(sample_map(), VisualSign::All, 100.0f), doctest::Contains("[0,100)"),
                       Error);
  CHECK_THROWS_WITH_AS(normalize_attribution(Tensor::zeros({2, 2, 2}), VisualSign::All),
                       doctest::Contains("expected a map [H,W]"), ShapeError);
}

TEST_CASE("heatmap/value_color: diverging maps centre 0; sequential maps span the sign's range") {
  CHECK(value_color(Colormap::Bwr, VisualSign::All, 0.0f) == colormap_color(Colormap::Bwr, 0.5f));
  CHECK(value_color(Colormap::Bwr, VisualSign::Positive, 1.0f) == colormap_color(Colormap::Bwr, 1.0f));
  CHECK(value_color(Colormap::Bwr, VisualSign::Positive, 0.0f) == colormap_color(Colormap::Bwr, 0.5f));
  CHECK(value_color(Colormap::Inferno, VisualSign::AbsoluteValue, 0.0f) == colormap_color(Colormap::Inferno, 0.0f));
  CHECK(value_color(Colormap::Inferno, VisualSign::All, -1.0f) == colormap_color(Colormap::Inferno, 0.0f));
  CHECK(value_color(Colormap::Inferno, VisualSign::All, 0.0f) == colormap_color(Colormap::Inferno, 0.5f));
  CHECK(resolve_colormap({.sign = VisualSign::All}) == Colormap::Bwr);
  CHECK(resolve_colormap({.sign = VisualSign::Positive}) == Colormap::Inferno);
  CHECK(resolve_colormap({.sign = VisualSign::Positive, .colormap = Colormap::Viridis}) == Colormap::Viridis);
}

TEST_CASE("heatmap/visualize_attribution: the four methods pixel by pixel") {
  const Tensor m = sample_map();
  // A grey ramp 0 .2 .4 .6 .8 1 in all three channels (its grey version is the same ramp).
  Tensor image = Tensor::empty({3, 2, 3});
  for (int64_t k = 0; k < 3; ++k)
    for (int64_t i = 0; i < 6; ++i) image.data()[k * 6 + i] = 0.2f * static_cast<float>(i);
  auto px = [](const Tensor& t, int64_t k, int64_t i) { return t.data()[k * 6 + i]; };

  SUBCASE("heat_map: the colormap of the normalised value") {
    const Tensor h = visualize_attribution(m, Tensor{}, {});
    REQUIRE(h.shape() == Shape{3, 2, 3});
    const Tensor n = normalize_attribution(m, VisualSign::All);
    for (int64_t i = 0; i < 6; ++i)
      for (int64_t k = 0; k < 3; ++k)
        CHECK(px(h, k, i) == doctest::Approx(value_color(Colormap::Bwr, VisualSign::All, n.data()[i])[k]));
    CHECK(px(h, 2, 0) == 1.0f);  // -4 -> -1: pure blue
    CHECK(px(h, 0, 0) == 0.0f);
    CHECK(px(h, 0, 2) == 1.0f);  // 0 -> white
  }
  SUBCASE("blended_heat_map: half grey image, half heat map") {
    const Tensor b = visualize_attribution(m, image, {.method = VisualMethod::BlendedHeatMap});
    const Tensor n = normalize_attribution(m, VisualSign::All);
    for (int64_t i = 0; i < 6; ++i)
      for (int64_t k = 0; k < 3; ++k)
        CHECK(px(b, k, i) == doctest::Approx(0.5f * 0.2f * static_cast<float>(i) +
                                             0.5f * value_color(Colormap::Bwr, VisualSign::All, n.data()[i])[k]));
  }
  SUBCASE("masked_image: image * normalised magnitude") {
    const VisualOptions o{
        .method = VisualMethod::MaskedImage, .sign = VisualSign::AbsoluteValue, .outlier_percent = 50};
    const Tensor mk = visualize_attribution(m, image, o);
    const std::vector<float> n = {1.0f, 1 / 3.0f, 0.0f, 2 / 3.0f, 1.0f, 1 / 3.0f};
    for (int64_t i = 0; i < 6; ++i)
      for (int64_t k = 0; k < 3; ++k) CHECK(px(mk, k, i) == doctest::Approx(0.2f * static_cast<float>(i) * n[i]));
  }
  SUBCASE("alpha_scaling: the image where the map is 1, the checkerboard where it is 0") {
    const VisualOptions o{.method = VisualMethod::AlphaScaling, .sign = VisualSign::Positive, .outlier_percent = 50};
    const Tensor a = visualize_attribution(m, image, o);
    // positive, 50%: {0, .5, 0, 1, 1, 0}; all six pixels lie in the first checker square (0.96).
    const std::vector<float> n = {0.0f, 0.5f, 0.0f, 1.0f, 1.0f, 0.0f};
    for (int64_t i = 0; i < 6; ++i)
      for (int64_t k = 0; k < 3; ++k)
        CHECK(px(a, k, i) == doctest::Approx(n[i] * 0.2f * static_cast<float>(i) + (1 - n[i]) * 0.96f));
  }
  SUBCASE("one-channel images repeat their channel") {
    Tensor grey = Tensor::empty({1, 2, 3});
    for (int64_t i = 0; i < 6; ++i) grey.data()[i] = 0.2f * static_cast<float>(i);
    const VisualOptions o{.method = VisualMethod::MaskedImage, .sign = VisualSign::AbsoluteValue};
    CHECK(visualize_attribution(m, grey, o).to_vector() == visualize_attribution(m, image, o).to_vector());
  }
}

TEST_CASE("heatmap/visualize_attribution: sign all cannot mask; images must match the map") {
  const Tensor m = sample_map();
  const Tensor image = Tensor::full({3, 2, 3}, 0.5f);
  CHECK_THROWS_WITH_AS(visualize_attribution(m, image, {.method = VisualMethod::MaskedImage}),
                       doctest::Contains("needs sign positive, negative or absolute_value"), Error);
  CHECK_THROWS_WITH_AS(visualize_attribution(m, image, {.method = VisualMethod::AlphaScaling}),
                       doctest::Contains("alpha_scaling"), Error);
  const Tensor other = Tensor::full({3, 4, 4}, 0.5f);
  CHECK_THROWS_WITH_AS(visualize_attribution(m, other, {.method = VisualMethod::BlendedHeatMap}),
                       doctest::Contains("needs the image [3,2,3]"), ShapeError);
  CHECK_THROWS_WITH_AS(visualize_attribution(m, Tensor{}, {.method = VisualMethod::BlendedHeatMap}),
                       doctest::Contains("blended_heat_map needs the image"), ShapeError);
}

TEST_CASE("heatmap: names round trip; unknown names list the accepted ones") {
  for (VisualSign s : {VisualSign::All, VisualSign::Positive, VisualSign::Negative, VisualSign::AbsoluteValue})
    CHECK(visual_sign_from_string(to_string(s)) == s);
  for (VisualMethod v : {VisualMethod::HeatMap, VisualMethod::BlendedHeatMap, VisualMethod::MaskedImage,
                         VisualMethod::AlphaScaling, VisualMethod::TopRegions})
    CHECK(visual_method_from_string(to_string(v)) == v);
  CHECK_THROWS_WITH_AS(visual_sign_from_string("both"), doctest::Contains("all, positive, negative, absolute_value"),
                       Error);
  CHECK_THROWS_WITH_AS(visual_method_from_string("overlay"), doctest::Contains("heat_map, blended_heat_map"), Error);
}

TEST_CASE("heatmap: top_regions shows the image where the map reaches its top percent, black elsewhere") {
  // Regions of values 3 (2 px), 2 (3 px), 1 (5 px); top 20%: the first region; top 50%: two.
  const Tensor m = Tensor::from({2, 5}, {3, 3, 2, 2, 2, 1, 1, 1, 1, 1});
  const Tensor image = Tensor::full({3, 2, 5}, 0.5f);
  auto shown = [&](float percent) {
    const Tensor p = visualize_attribution(m, image, {.method = VisualMethod::TopRegions, .top_percent = percent});
    int n = 0;
    for (int64_t i = 0; i < 10; ++i) n += p.data()[i] == 0.5f && p.data()[10 + i] == 0.5f;
    return n;
  };
  CHECK(shown(20) == 2);
  CHECK(shown(50) == 5);
  CHECK(shown(100) == 10);
  CHECK_THROWS_WITH_AS(visualize_attribution(m, image, {.method = VisualMethod::TopRegions, .top_percent = 0}),
                       doctest::Contains("top_percent in (0, 100]"), Error);
}

}  // TEST_SUITE
