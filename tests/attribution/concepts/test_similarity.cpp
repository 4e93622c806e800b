#include <cmath>
#include <fstream>
#include <random>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "attribution/concepts/similarity.h"
#include "engine/error.h"

using namespace backlight;

namespace {

Eigen::MatrixXd matrix(const nlohmann::json& rows) {
  Eigen::MatrixXd m(static_cast<int64_t>(rows.size()), static_cast<int64_t>(rows[0].size()));
  for (int64_t i = 0; i < m.rows(); ++i)
    for (int64_t j = 0; j < m.cols(); ++j) m(i, j) = rows[static_cast<size_t>(i)][static_cast<size_t>(j)].get<double>();
  return m;
}

Eigen::MatrixXd random_matrix(int64_t r, int64_t c, std::mt19937_64& rng) {
  std::normal_distribution<double> nd;
  Eigen::MatrixXd m(r, c);
  for (int64_t i = 0; i < m.size(); ++i) m.data()[i] = nd(rng);
  return m;
}

Eigen::MatrixXd random_orthogonal(int64_t p, std::mt19937_64& rng) {
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(random_matrix(p, p, rng));
  return qr.householderQ() * Eigen::MatrixXd::Identity(p, p);
}

// A tall pair: y depends on x (so similarities are far from 0 and 1).
std::pair<Eigen::MatrixXd, Eigen::MatrixXd> related_pair(int64_t n, int64_t p, int64_t q, std::mt19937_64& rng) {
  Eigen::MatrixXd x = random_matrix(n, p, rng);
  Eigen::MatrixXd y = (x * random_matrix(p, q, rng)).cwiseMax(0.0) + 0.5 * random_matrix(n, q, rng);
  return {x, y};
}

const SimilarityMeasure kAll[] = {SimilarityMeasure::Cka, SimilarityMeasure::CkaRbf, SimilarityMeasure::Cca,
                                  SimilarityMeasure::Svcca, SimilarityMeasure::Pwcca};

}  // namespace

TEST_SUITE("attribution") {

TEST_CASE("similarity: every measure matches the numpy reference formulas") {
  std::ifstream f(std::string(BACKLIGHT_TEST_DATA) + "/similarity_fixture.json");
  REQUIRE(f.good());
  const nlohmann::json fx = nlohmann::json::parse(f);
  REQUIRE(fx["cases"].size() == 3);
  for (const auto& c : fx["cases"]) {
    const std::string name = c["name"].get<std::string>();
    CAPTURE(name);
    const Eigen::MatrixXd x = matrix(c["x"]), y = matrix(c["y"]);
    SimilarityOptions o{.rbf_threshold = fx["rbf_threshold"].get<float>(), .keep_variance = fx["keep_variance"]};
    CHECK(similarity(SimilarityMeasure::Cka, x, y, o) == doctest::Approx(c["cka"].get<double>()).epsilon(1e-9));
    CHECK(similarity(SimilarityMeasure::CkaRbf, x, y, o) == doctest::Approx(c["cka_rbf"].get<double>()).epsilon(1e-9));
    o.unbiased = true;
    CHECK(similarity(SimilarityMeasure::CkaRbf, x, y, o) ==
          doctest::Approx(c["cka_rbf_unbiased"].get<double>()).epsilon(1e-9));
    o.unbiased = false;
    if (x.cols() < x.rows()) {
      CHECK(similarity(SimilarityMeasure::Svcca, x, y, o) == doctest::Approx(c["svcca"].get<double>()).epsilon(1e-8));
      CHECK(similarity(SimilarityMeasure::Cca, x, y, o) == doctest::Approx(c["cca"].get<double>()).epsilon(1e-8));
      CHECK(similarity(SimilarityMeasure::Pwcca, x, y, o) == doctest::Approx(c["pwcca"].get<double>()).epsilon(1e-8));
    } else {
      // Wide: the example-space forms (linear CKA above) and SVCCA through example coordinates.
      const Eigen::MatrixXd zx = example_coordinates(x), zy = example_coordinates(y);
      PairMoments mz(zx.cols(), zy.cols());
      mz.add(zx, zy);
      CHECK(svcca(mz, o) == doctest::Approx(c["svcca"].get<double>()).epsilon(1e-8));
      CHECK(linear_cka(mz) == doctest::Approx(c["cka"].get<double>()).epsilon(1e-9));
    }
  }
}

TEST_CASE("similarity: linear CKA's feature-space and example-space forms agree") {
  std::mt19937_64 rng(0xdeadbeef);
  auto [x, y] = related_pair(50, 8, 6, rng);
  PairMoments m(8, 6);
  m.add(x, y);
  const double feature = linear_cka(m);
  const double example = cka_from_grams(gram_linear(x), gram_linear(y), false);
  CHECK(feature == doctest::Approx(example).epsilon(1e-10));
  CHECK(feature > 0.05);
  CHECK(feature < 0.95);
}

TEST_CASE("similarity: streaming batch by batch equals one shot") {
  std::mt19937_64 rng(0xdeadbeef);
  auto [x, y] = related_pair(64, 7, 5, rng);
  PairMoments once(7, 5);
  once.add(x, y);
  PairMoments streamed(7, 5);
  for (int64_t b : {0, 13, 30, 31, 50}) {
    const int64_t e = b == 50 ? 64 : (b == 0 ? 13 : b == 13 ? 30 : b == 30 ? 31 : 50);
    streamed.add(x.middleRows(b, e - b), y.middleRows(b, e - b));
  }
  REQUIRE(streamed.count() == 64);
  for (SimilarityMeasure mm : {SimilarityMeasure::Cka, SimilarityMeasure::Cca, SimilarityMeasure::Svcca,
                               SimilarityMeasure::Pwcca}) {
    CAPTURE(to_string(mm));
    CHECK(similarity_from_moments(mm, streamed) == doctest::Approx(similarity_from_moments(mm, once)).epsilon(1e-10));
    CHECK(similarity_from_moments(mm, once) == doctest::Approx(similarity(mm, x, y)).epsilon(1e-10));
  }
}

TEST_CASE("similarity: CKA is invariant to orthogonal transforms and isotropic scaling") {
  std::mt19937_64 rng(7);
  auto [x, y] = related_pair(40, 6, 5, rng);
  const Eigen::MatrixXd q = random_orthogonal(6, rng);
  const Eigen::MatrixXd xt = 3.7 * x * q;
  for (SimilarityMeasure mm : {SimilarityMeasure::Cka, SimilarityMeasure::CkaRbf}) {
    CAPTURE(to_string(mm));
    const double base = similarity(mm, x, y);
    CHECK(similarity(mm, xt, y) == doctest::Approx(base).epsilon(1e-9));
    // ... but not to a general invertible map (so the check above can fail)
    Eigen::MatrixXd a = random_matrix(6, 6, rng);
    a.col(0) *= 10.0;
    CHECK(std::abs(similarity(mm, x * a, y) - base) > 1e-3);
  }
}

TEST_CASE("similarity: CCA correlations are invariant to invertible linear maps") {
  std::mt19937_64 rng(11);
  auto [x, y] = related_pair(60, 5, 4, rng);
  Eigen::MatrixXd a = random_matrix(5, 5, rng);
  a.col(2) *= 25.0;  // badly scaled but invertible
  const Eigen::MatrixXd xa = x * a;
  CHECK(similarity(SimilarityMeasure::Cca, xa, y) == doctest::Approx(similarity(SimilarityMeasure::Cca, x, y)).epsilon(1e-8));
  PairMoments m1(5, 4), m2(5, 4);
  m1.add(x, y);
  m2.add(xa, y);
  const std::vector<double> r1 = canonical_correlations(m1), r2 = canonical_correlations(m2);
  REQUIRE(r1.size() == 4);
  REQUIRE(r2.size() == 4);
  for (size_t i = 0; i < 4; ++i) CHECK(r1[i] == doctest::Approx(r2[i]).epsilon(1e-8));
  CHECK(r1[0] >= r1[3]);
  // a shift of every feature changes nothing either
  const Eigen::MatrixXd shifted = x.rowwise() + Eigen::RowVectorXd::Constant(5, 4.0);
  CHECK(similarity(SimilarityMeasure::Cca, shifted, y) == doctest::Approx(similarity(SimilarityMeasure::Cca, x, y)).epsilon(1e-8));
}

TEST_CASE("similarity: identical representations score 1, independent ones score low") {
  std::mt19937_64 rng(3);
  const Eigen::MatrixXd x = random_matrix(200, 4, rng), z = random_matrix(200, 4, rng);
  for (SimilarityMeasure mm : kAll) {
    CAPTURE(to_string(mm));
    CHECK(similarity(mm, x, x) == doctest::Approx(1.0).epsilon(1e-9));
    CHECK(similarity(mm, x, z) < 0.3);
  }
}

TEST_CASE("similarity: bad inputs throw naming the problem") {
  std::mt19937_64 rng(1);
  const Eigen::MatrixXd x = random_matrix(10, 3, rng), y = random_matrix(9, 3, rng);
  CHECK_THROWS_WITH_AS(similarity(SimilarityMeasure::Cka, x, y), doctest::Contains("same n >= 2"), Error);
  CHECK_THROWS_WITH_AS(similarity_measure_from_string("kca"), doctest::Contains("cka, cka_rbf, cca, svcca, pwcca"),
                       Error);
  const Eigen::MatrixXd constant = Eigen::MatrixXd::Ones(10, 3);
  CHECK_THROWS_WITH_AS(similarity(SimilarityMeasure::Cka, constant, x), doctest::Contains("no variance"), Error);
  CHECK_THROWS_WITH_AS(similarity(SimilarityMeasure::Cca, constant, x), doctest::Contains("no variance"), Error);
  PairMoments m(3, 3);
  CHECK_THROWS_WITH_AS(m.add(x, random_matrix(10, 2, rng)), doctest::Contains("PairMoments::add"), Error);
  CHECK_THROWS_WITH_AS(linear_cka(m), doctest::Contains("at least 2 examples"), Error);
  CHECK_THROWS_WITH_AS(similarity_from_moments(SimilarityMeasure::CkaRbf, m), doctest::Contains("cka_rbf"), Error);
}

}  // TEST_SUITE
