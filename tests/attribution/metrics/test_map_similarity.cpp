// Map similarities of the sanity checks (attribution/metrics/map_similarity.h) against
// scikit-image 0.19 and scipy (tools/reference/make_map_similarity_fixtures.py).
#include <fstream>

#include <nlohmann/json.hpp>

#include "attribution/metrics/map_similarity.h"
#include "engine/error.h"
#include "tests/helpers.h"

using namespace backlight;

TEST_SUITE("attribution") {

TEST_CASE("metrics/map_similarity: SSIM, HOG and Spearman equal scikit-image and scipy") {
  std::ifstream f(std::string(BACKLIGHT_TEST_DATA) + "/attribution/map_similarity.json");
  REQUIRE(f.good());
  const nlohmann::json j = nlohmann::json::parse(f);
  const int64_t h = j["height"], w = j["width"];
  const MapPlane a{j["a"].get<std::vector<double>>(), h, w}, b{j["b"].get<std::vector<double>>(), h, w};
  CHECK(ssim(a, b, 1.0) == doctest::Approx(j["ssim"].get<double>()).epsilon(1e-9));
  CHECK(ssim(a, a, 1.0) == doctest::Approx(1.0));
  for (const auto& [plane, key] : {std::pair{&a, "hog_a"}, std::pair{&b, "hog_b"}}) {
    CAPTURE(key);
    const std::vector<double> got = hog(*plane), want = j[key].get<std::vector<double>>();
    REQUIRE(got.size() == want.size());
    double worst = 0;
    for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, std::fabs(got[i] - want[i]));
    CAPTURE(worst);
    CHECK(worst < 1e-6);  // skimage sums cells in float
  }
  CHECK(hog_similarity(a, b) == doctest::Approx(j["hog_similarity"].get<double>()).epsilon(1e-6));
  CHECK(map_spearman(a, b, false) == doctest::Approx(j["spearman"].get<double>()).epsilon(1e-9));
  CHECK(map_spearman(a, b, true) == doctest::Approx(j["spearman_abs"].get<double>()).epsilon(1e-9));
  const MapPlane small{std::vector<double>(36, 1.0), 6, 6};
  CHECK_THROWS_WITH_AS(ssim(small, small, 1.0), doctest::Contains("at least 7x7"), Error);
  CHECK_THROWS_WITH_AS(ssim(a, small, 1.0), doctest::Contains("one size"), Error);
  CHECK_THROWS_WITH_AS(hog(small), doctest::Contains("fewer than 3 cells"), Error);
}

}  // TEST_SUITE
