#include <random>

#include <doctest/doctest.h>

#include "attribution/concepts/layer_similarity.h"
#include "engine/error.h"
#include "engine/modules/all.h"
#include "engine/tape.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

namespace {

// An MLP on 6 inputs: fc1 (10) relu1 fc2 (4); every layer has fewer features than the tests'
// 60 examples, so the feature-space path applies.
ModulePtr tiny_mlp(uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto m = std::make_shared<Sequential>();
  m->add("fc1", std::make_shared<Linear>(6, 10, rng))
      .add("relu1", std::make_shared<ReLU>())
      .add("fc2", std::make_shared<Linear>(10, 4, rng));
  return m;
}

Tensor inputs(int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  return uniform({n, 6}, rng, -1.0f, 1.0f);
}

BatchSource batches(const Tensor& all, int64_t batch) {
  auto next = std::make_shared<int64_t>(0);
  return [all, batch, next]() -> Tensor {
    if (*next >= all.size(0)) return {};
    const int64_t e = std::min(all.size(0), *next + batch);
    Tensor t = all.slice_batch(*next, e).clone();
    *next = e;
    return t;
  };
}

// Activations of `layer` by hand: the Sequential's children run one by one.
Eigen::MatrixXd run_upto(const Module& m, const Tensor& x, size_t upto) {
  const auto& seq = static_cast<const Sequential&>(m);
  Tape tape(TapeOptions{.record = false});
  Var v = tape.input(x);
  for (size_t i = 0; i <= upto; ++i) v = seq.children()[i].second->forward(v);
  const Tensor t = v.value();
  return Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(t.data(), t.size(0),
                                                                                                 t.numel() / t.size(0))
      .cast<double>();
}

}  // namespace

TEST_SUITE("attribution") {

TEST_CASE("layer_similarity: matches the measure on hand-computed activations, any batch size, either space") {
  const ModulePtr a = tiny_mlp(1), b = tiny_mlp(2);
  const Tensor x = inputs(60, 5);
  const std::vector<std::string> names = {"fc1", "relu1", "fc2"};
  for (SimilarityMeasure mm : {SimilarityMeasure::Cka, SimilarityMeasure::Svcca, SimilarityMeasure::Pwcca,
                               SimilarityMeasure::CkaRbf}) {
    CAPTURE(to_string(mm));
    LayerSimilarityOptions o{.measure = mm, .expected_examples = 60};
    o.progress.enabled = false;
    const LayerSimilarity r7 = layer_similarity(*a, names, *b, names, batches(x, 7), o);
    const LayerSimilarity r60 = layer_similarity(*a, names, *b, names, batches(x, 60), o);
    CHECK(r7.space == (mm == SimilarityMeasure::CkaRbf ? "example" : "feature"));
    REQUIRE(r7.values.rows() == 3);
    REQUIRE(r7.values.cols() == 3);
    CHECK(r7.examples == 60);
    for (size_t i = 0; i < 3; ++i)
      for (size_t j = 0; j < 3; ++j) {
        CAPTURE(i);
        CAPTURE(j);
        const double want = similarity(mm, run_upto(*a, x, i), run_upto(*b, x, j));
        CHECK(r7.values(static_cast<int64_t>(i), static_cast<int64_t>(j)) == doctest::Approx(want).epsilon(1e-6));
        CHECK(r60.values(static_cast<int64_t>(i), static_cast<int64_t>(j)) == doctest::Approx(want).epsilon(1e-6));
      }
    if (mm == SimilarityMeasure::Cka || mm == SimilarityMeasure::Svcca) {  // example space gives the same
      o.expected_examples = 0;
      const LayerSimilarity re = layer_similarity(*a, names, *b, names, batches(x, 9), o);
      CHECK(re.space == "example");
      for (int64_t i = 0; i < 3; ++i)
        for (int64_t j = 0; j < 3; ++j) CHECK(re.values(i, j) == doctest::Approx(r7.values(i, j)).epsilon(1e-6));
    }
  }
}

TEST_CASE("layer_similarity: a model against itself has ones on the diagonal") {
  const ModulePtr a = tiny_mlp(3);
  LayerSimilarityOptions o{.expected_examples = 50};
  o.progress.enabled = false;
  const Tensor x = inputs(50, 8);
  const std::vector<std::string> names = model_layer_names(*a, x);
  CHECK(names == std::vector<std::string>{"fc1", "relu1", "fc2"});
  const LayerSimilarity r = layer_similarity(*a, names, *a, names, batches(x, 16), o);
  for (int64_t i = 0; i < 3; ++i) CHECK(r.values(i, i) == doctest::Approx(1.0).epsilon(1e-9));
  CHECK(r.values(0, 2) < 0.999);
  CHECK(r.values(0, 2) == doctest::Approx(r.values(2, 0)).epsilon(1e-9));
}

TEST_CASE("layer_similarity: bad inputs throw naming the problem") {
  const ModulePtr a = tiny_mlp(4);
  LayerSimilarityOptions o{.expected_examples = 8};
  o.progress.enabled = false;
  const Tensor x = inputs(8, 1);
  CHECK_THROWS_WITH_AS(layer_similarity(*a, {"fc9"}, *a, {"fc1"}, batches(x, 4), o), doctest::Contains("fc9"), Error);
  CHECK_THROWS_WITH_AS(layer_similarity(*a, {"fc1"}, *a, {"fc1"}, []() { return Tensor{}; }, o),
                       doctest::Contains("stream is empty"), Error);
  o.measure = SimilarityMeasure::Cca;  // fc1 has 10 features, only 8 examples
  CHECK_THROWS_WITH_AS(layer_similarity(*a, {"fc1"}, *a, {"fc2"}, batches(x, 4), o),
                       doctest::Contains("more examples than features"), Error);
  o.measure = SimilarityMeasure::Cka;
  CHECK_THROWS_WITH_AS(layer_similarity(*a, {"fc1"}, *a, {"fc2"}, batches(inputs(1, 2), 4), o),
                       doctest::Contains("at least 2 examples"), Error);
}

}  // TEST_SUITE
