// Attention rollout: one and two MultiheadAttention layers against hand-computed products for
// every head fusion, the class-token row as a patch grid, and a tiny ViT end to end.
#include <cmath>

#include "attribution/attention/attention_rollout.h"
#include "attribution/registry.h"
#include "models/vit.h"
#include "tests/helpers.h"
#include "engine/modules/all.h"

using namespace backlight;
using namespace backlight::test;

namespace {

using Matrix = std::vector<std::vector<double>>;

// rownorm(0.5 fuse(P) + 0.5 I) for item n of per-head probabilities P [N, H, L, L].
Matrix fused(const Tensor& p, int64_t n, HeadFusion f, bool residual) {
  const int64_t h = p.size(1), l = p.size(2);
  Matrix a(l, std::vector<double>(l));
  for (int64_t i = 0; i < l; ++i) {
    double row = 0;
    for (int64_t j = 0; j < l; ++j) {
      double v = f == HeadFusion::Mean ? 0.0 : p.at({n, 0, i, j});
      for (int64_t k = 0; k < h; ++k) {
        const double x = p.at({n, k, i, j});
        v = f == HeadFusion::Mean ? v + x / h : f == HeadFusion::Max ? std::max(v, x) : std::min(v, x);
      }
      a[i][j] = residual ? 0.5 * v + (i == j ? 0.5 : 0.0) : v;
      row += a[i][j];
    }
    for (double& v : a[i]) v /= row;
  }
  return a;
}

Matrix product(const Matrix& a, const Matrix& b) {
  const size_t l = a.size();
  Matrix c(l, std::vector<double>(l, 0.0));
  for (size_t i = 0; i < l; ++i)
    for (size_t k = 0; k < l; ++k)
      for (size_t j = 0; j < l; ++j) c[i][j] += a[i][k] * b[k][j];
  return c;
}

}  // namespace

TEST_SUITE("attribution") {

TEST_CASE("attention_rollout: one and two attention layers equal the hand-computed products") {
  std::mt19937_64 rng(kSeed);
  auto mha1 = std::make_shared<MultiheadAttention>(4, 2, rng);
  auto mha2 = std::make_shared<MultiheadAttention>(4, 2, rng);
  const Tensor x = randn({2, 5, 4}, rng);  // L = 5 = 1 + 2^2 tokens
  // Per-head probabilities of each layer, computed with forward_with_weights.
  Tape t(TapeOptions{.record = false});
  const AttentionOutput o1 = mha1->forward_with_weights(t.input(x), false);
  const AttentionOutput o2 = mha2->forward_with_weights(o1.output, false);
  const Tensor p1 = o1.weights.value().clone(), p2 = o2.weights.value().clone();

  const Sequential one{mha1->clone()};
  const Sequential two{mha1->clone(), mha2->clone()};
  for (HeadFusion f : {HeadFusion::Mean, HeadFusion::Max, HeadFusion::Min})
    for (bool residual : {true, false}) {
      CAPTURE(static_cast<int>(f));
      CAPTURE(residual);
      const AttentionRolloutOptions opt{.head_fusion = f, .residual = residual};
      const AttributionResult r1 = attention_rollout(one, x, Target::top1(), opt);
      const AttributionResult r2 = attention_rollout(two, x, Target::top1(), opt);
      REQUIRE(r1.layer_map.shape() == Shape{2, 1, 2, 2});
      CHECK(r1.attribution.shape() == r1.layer_map.shape());  // token inputs: nothing to upsample to
      for (int64_t n = 0; n < 2; ++n) {
        const Matrix a1 = fused(p1, n, f, residual);
        const Matrix r = product(fused(p2, n, f, residual), a1);
        for (int64_t j = 1; j < 5; ++j) {
          CHECK(r1.layer_map.data()[n * 4 + j - 1] == doctest::Approx(a1[0][j]).epsilon(1e-5));
          CHECK(r2.layer_map.data()[n * 4 + j - 1] == doctest::Approx(r[0][j]).epsilon(1e-5));
        }
      }
    }
  // Restricting to one block's attention map: the second layer alone.
  {
    Tape rec;
    const Var out = two.forward(rec.input(x));
    (void)out;
    const Tensor r = attention_rollout_matrix(rec, {.layer = "1"});
    const Matrix a2 = fused(p2, 1, HeadFusion::Mean, true);
    for (int64_t i = 0; i < 5; ++i)
      for (int64_t j = 0; j < 5; ++j) CHECK(r.at({1, i, j}) == doctest::Approx(a2[i][j]).epsilon(1e-5));
    CHECK_THROWS_WITH_AS(attention_rollout_matrix(rec, {.layer = "7"}), doctest::Contains("no attention maps"), Error);
  }
}

TEST_CASE("attention_rollout: tiny ViT, rows stochastic, CLS row upsampled to the image") {
  std::mt19937_64 rng(kSeed + 1);
  const VisionTransformer vit({.image_size = 8, .patch_size = 4, .num_layers = 2, .num_heads = 2, .hidden_dim = 8,
                               .mlp_dim = 16, .num_classes = 3},
                              rng);
  const Tensor x = randn({2, 3, 8, 8}, rng);
  const AttributionResult r = attention_rollout(vit, x, Target::top1());
  CHECK(r.layer_map.shape() == Shape{2, 1, 2, 2});
  CHECK(r.attribution.shape() == Shape{2, 1, 8, 8});
  CHECK(r.target.size() == 2);
  BL_CHECK_CLOSE(attribute("attention_rollout", vit, x, Target::top1()).attribution, r.attribution, 0, 0);
  Tape tape;
  vit.forward(tape.input(x));
  const Tensor m = attention_rollout_matrix(tape);
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t i = 0; i < 5; ++i) {
      double row = 0;
      for (int64_t j = 0; j < 5; ++j) row += m.at({n, i, j});
      CHECK(row == doctest::Approx(1.0).epsilon(1e-5));
    }
}

}  // TEST_SUITE
