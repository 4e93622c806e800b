// CAV classifiers: logistic regression against scikit-learn's LogisticRegression(lbfgs) and the
// SGD classifier against SGDClassifier with shuffling off (fixture: tools/reference/make_tcav_fixtures.py).
#include <random>

#include <doctest/doctest.h>

#include "attribution/concepts/cav.h"
#include "engine/error.h"
#include "tests/attribution/concepts/tcav_fixture.h"

using namespace backlight;
using namespace backlight::test;

TEST_SUITE("attribution") {

TEST_CASE("cav/logistic: equals sklearn LogisticRegression (lbfgs) in the primal and the example-space case") {
  for (const auto& [name, n] : {std::pair<std::string, int64_t>{"tall", 40}, {"wide", 30}}) {
    CAPTURE(name);
    const std::string k = "logistic/" + name + "/";
    const Eigen::MatrixXf x = tcav_matrix(k + "x", n);
    double b = 0;
    int it = 0;
    bool ok = false;
    const Eigen::VectorXd w = logistic_regression(x, tcav_vector(k + "y"), tcav_vector(k + "c")(0), 100, &b, &it, &ok);
    CHECK(ok);
    CHECK(it < 40);
    const Eigen::VectorXd ref = tcav_vector(k + "coef");
    CHECK(cosine(w, ref) >= 0.99999);
    CHECK((w - ref).lpNorm<Eigen::Infinity>() <= 1e-4 * ref.lpNorm<Eigen::Infinity>());
    CHECK(b == doctest::Approx(tcav_vector(k + "intercept")(0)).epsilon(1e-4));
  }
}

TEST_CASE("cav/sgd: with shuffling off equals sklearn SGDClassifier (hinge, alpha 0.01, optimal rate)") {
  const Eigen::MatrixXf x = tcav_matrix("sgd/x", 30);
  double b = 0;
  int epochs = 0;
  const Eigen::VectorXd w = sgd_hinge(x, tcav_vector("sgd/y"), 0.01, 1000, 1e-3, false, 0, &b, &epochs);
  const Eigen::VectorXd ref = tcav_vector("sgd/coef");
  CHECK(epochs == static_cast<int>(tcav_vector("sgd/n_iter")(0)));
  CHECK((w - ref).lpNorm<Eigen::Infinity>() <= 1e-5 * ref.lpNorm<Eigen::Infinity>());
  CHECK(b == doctest::Approx(tcav_vector("sgd/intercept")(0)).epsilon(1e-5));
}

TEST_CASE("cav: separable concept, unit direction towards the concept, seeded and deterministic") {
  std::mt19937_64 rng(0xdeadbeef);
  std::normal_distribution<float> nd;
  Eigen::MatrixXf concept_acts(60, 40), random(60, 40);
  for (int64_t i = 0; i < concept_acts.size(); ++i) concept_acts.data()[i] = nd(rng), random.data()[i] = nd(rng);
  concept_acts.col(5).array() += 4.0f;  // the concept lives along feature 5
  for (const CavClassifier c : {CavClassifier::Logistic, CavClassifier::Sgd}) {
    CAPTURE(to_string(c));
    const CavOptions o{.classifier = c, .seed = 3};
    const Cav a = train_cav(concept_acts, random, o), b = train_cav(concept_acts, random, o);
    CHECK(a.direction.norm() == doctest::Approx(1.0));
    CHECK(a.direction(5) > 0.3f);  // the largest component, positive
    CHECK(a.direction.cwiseAbs().maxCoeff() == a.direction(5));
    CHECK(a.accuracy >= 0.85);
    CHECK((a.direction - b.direction).norm() == 0.0f);
    const Cav other = train_cav(concept_acts, random, {.classifier = c, .seed = 4});
    CHECK(other.direction(5) > 0.3f);
  }
  // Logistic without a split is seed-independent (deterministic solver).
  const Cav l1 = train_cav(concept_acts, random, {.test_split = 0, .seed = 1});
  const Cav l2 = train_cav(concept_acts, random, {.test_split = 0, .seed = 2});
  CHECK((l1.direction - l2.direction).norm() == 0.0f);
}

TEST_CASE("cav: errors name what was wrong") {
  const Eigen::MatrixXf a = Eigen::MatrixXf::Random(5, 4), b = Eigen::MatrixXf::Random(5, 3);
  CHECK_THROWS_WITH_AS(train_cav(a, b), doctest::Contains("concept activations have 4 features, random ones 3"), Error);
  CHECK_THROWS_WITH_AS(train_cav(a.topRows(1), a), doctest::Contains("at least 2 concept and 2 random"), Error);
  CHECK_THROWS_WITH_AS(train_cav(a, a, {.c = 0}), doctest::Contains("c, alpha, tol > 0"), Error);
  CHECK_THROWS_WITH_AS(train_cav(a, a, {.test_split = 1.0}), doctest::Contains("test_split"), Error);
  CHECK_THROWS_WITH_AS(cav_classifier_from_string("svm"), doctest::Contains("logistic, sgd"), Error);
}

}  // TEST_SUITE
