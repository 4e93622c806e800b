// Embedding lookup and its scatter-add gradient.
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

TEST_SUITE("engine") {

TEST_CASE("embedding: gathers rows, keeps the index shape") {
  Tape t;
  Var w = t.param(Tensor::from({3, 2}, {0, 1, 10, 11, 20, 21}), "emb.weight");
  const Tensor idx = Tensor::from({2, 2}, {2, 0, 2, 1});
  Var y = embedding(idx, w);
  REQUIRE(y.shape() == Shape{2, 2, 2});
  CHECK(y.value().to_vector() == std::vector<float>{20, 21, 0, 1, 20, 21, 10, 11});
  REQUIRE(t.node(0).saved.size() == 1);
  CHECK(t.node(0).saved[0].to_vector() == idx.to_vector());
  CHECK(t.node(0).inputs.size() == 1);
}

TEST_CASE("embedding: repeated indices accumulate in the weight gradient") {
  Tape t;
  Var w = t.param(Tensor::zeros({4, 3}), "emb.weight");
  Var y = embedding(Tensor::from({3}, {1, 3, 1}), w);
  const Tensor seed = Tensor::from({3, 3}, {1, 2, 3, 10, 20, 30, 100, 200, 300});
  CHECK(grad(y, seed, w).to_vector() == std::vector<float>{0, 0, 0, 101, 202, 303, 0, 0, 0, 10, 20, 30});
}

TEST_CASE("embedding: gradcheck") {
  std::mt19937_64 rng(kSeed);
  const Tensor idx = Tensor::from({2, 3}, {4, 0, 4, 2, 2, 1});
  gradcheck([idx](const std::vector<Var>& v) { return embedding(idx, v[0]); }, {randn({5, 3}, rng)});
}

TEST_CASE("embedding: bad indices and weights name the expectation") {
  Tape t;
  Var w = t.param(Tensor::zeros({5, 2}), "emb.weight");
  CHECK_THROWS_WITH_AS(embedding(Tensor::from({3}, {0, 5, 1}), w),
                       doctest::Contains("embedding: index 5 at position 1 out of range for num_embeddings 5"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(embedding(Tensor::from({2}, {-1, 0}), w),
                       doctest::Contains("index -1 at position 0 out of range for num_embeddings 5"), ShapeError);
  CHECK_THROWS_WITH_AS(embedding(Tensor::from({2}, {0, 1.5f}), w),
                       doctest::Contains("embedding: expected integer indices, got 1.5 at position 1"), ShapeError);
  CHECK_THROWS_WITH_AS(embedding(Tensor::from({1}, {0}), t.param(Tensor::zeros({5}), "bad")),
                       doctest::Contains("embedding: expected weight [num_embeddings, dim], got [5]"), ShapeError);
}

}  // TEST_SUITE
