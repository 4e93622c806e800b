// Steps and sample counts (issue 14): Gauss-Legendre nodes in O(n) memory and fast, every count
// refused above its documented limit naming option and flag, and memory bounded by one chunk of
// rows whatever the count (10,000 steps used to run as one 10,000-row batch: 21 GB).
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>

#include "attribution/path/gradient_shap.h"
#include "attribution/path/integrated_gradients.h"
#include "attribution/path/integration.h"
#include "attribution/layer/layer_path_methods.h"
#include "attribution/perturbation/lime.h"
#include "attribution/core/limits.h"
#include "attribution/gradient/noise_tunnel.h"
#include "attribution/perturbation/rise.h"
#include "attribution/perturbation/shapley.h"
#include "engine/modules/all.h"
#include "engine/parallel.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

namespace {

// The implementation before issue 14 (cold start cos(pi (i + 0.75) / (n + 0.5)), serial), kept as
// the reference the new one must reproduce.
void gauss_legendre_before(int n, std::vector<double>& x, std::vector<double>& w) {
  x.assign(n, 0.0);
  w.assign(n, 0.0);
  for (int i = 0; i < (n + 1) / 2; ++i) {
    double z = std::cos(M_PI * (i + 0.75) / (n + 0.5)), dp = 0;
    for (int it = 0; it < 100; ++it) {
      double p0 = 1, p1 = z;
      for (int k = 2; k <= n; ++k) {
        const double p2 = ((2 * k - 1) * z * p1 - (k - 1) * p0) / k;
        p0 = p1;
        p1 = p2;
      }
      dp = n * (z * p1 - p0) / (z * z - 1);
      const double dz = p1 / dp;
      z -= dz;
      if (std::fabs(dz) < 1e-15) break;
    }
    x[i] = -z;
    x[n - 1 - i] = z;
    w[i] = w[n - 1 - i] = 2 / ((1 - z * z) * dp * dp);
  }
  if (n == 1) x[0] = 0, w[0] = 2;
}

// Wraps a model and records the largest batch any forward saw (IG's CPU workers call forward
// from two threads at once, hence the atomic).
class BatchRecorder : public ModuleImpl<BatchRecorder> {
 public:
  explicit BatchRecorder(ModulePtr inner) : inner_(std::move(inner)) { register_module("inner", inner_); }
  Var forward(const Var& x) const override {
    int64_t seen = rows_->load();
    while (seen < x.shape()[0] && !rows_->compare_exchange_weak(seen, x.shape()[0])) {
    }
    return inner_->forward(x);
  }
  std::string type_name() const override { return "BatchRecorder"; }
  int64_t max_rows() const { return rows_->load(); }

 private:
  ModulePtr inner_;
  std::shared_ptr<std::atomic<int64_t>> rows_ = std::make_shared<std::atomic<int64_t>>(0);
};

std::shared_ptr<BatchRecorder> small_model() {
  std::mt19937_64 rng(kSeed);
  auto m = std::make_shared<Sequential>(std::initializer_list<ModulePtr>{
      std::make_shared<Conv2d>(1, 2, 3, rng), std::make_shared<ReLU>(), std::make_shared<Flatten>(),
      std::make_shared<Linear>(2 * 4 * 4, 3, rng)});
  return std::make_shared<BatchRecorder>(m);
}

}  // namespace

TEST_SUITE("attribution") {

TEST_CASE("gauss-legendre: same nodes and weights as before to 1e-12 relative, n = 1..100") {
  for (int n = 1; n <= 100; ++n) {
    CAPTURE(n);
    std::vector<double> x, w;
    gauss_legendre_before(n, x, w);
    const IntegrationRule r = integration_rule(Integration::GaussLegendre, n);
    REQUIRE(r.alphas.size() == static_cast<size_t>(n));
    double worst_a = 0, worst_w = 0;
    for (int i = 0; i < n; ++i) {
      const double a = 0.5 * (1 + x[i]), wt = 0.5 * w[i];
      worst_a = std::max(worst_a, std::fabs(r.alphas[i] - a) / a);
      worst_w = std::max(worst_w, std::fabs(r.weights[i] - wt) / wt);
    }
    CHECK(worst_a < 1e-12);
    CHECK(worst_w < 1e-12);
  }
}

TEST_CASE("gauss-legendre: nodes to 1e-15 and weights to ~n^2 eps relative of an 80-bit reference, n = 300, 2000") {
  // The weight 1 / ((1 - z^2) P_n'(z)^2) inherits the double rounding of z amplified by
  // 1 / (1 - z^2) ~ n^2 at the end nodes (measured: 1.3e-12 at n = 300, 4e-11 at n = 2000).
  for (const int n : {300, 2000}) {
    CAPTURE(n);
    const IntegrationRule r = integration_rule(Integration::GaussLegendre, n);
    double worst_a = 0, worst_w = 0;
    for (int i = 0; i < (n + 1) / 2; ++i) {  // long double Newton from the double node
      long double z = 2 * static_cast<long double>(r.alphas[static_cast<size_t>(i)]) - 1, dp = 0;
      for (int it = 0; it < 5; ++it) {
        long double p0 = 1, p1 = z;
        for (int k = 2; k <= n; ++k) {
          const long double p2 = ((2 * k - 1) * z * p1 - (k - 1) * p0) / k;
          p0 = p1;
          p1 = p2;
        }
        dp = n * (z * p1 - p0) / (z * z - 1);
        z -= p1 / dp;
      }
      const long double alpha = (1 + z) / 2, weight = 1 / ((1 - z * z) * dp * dp);
      worst_a = std::max(worst_a, static_cast<double>(std::fabs(alpha - r.alphas[static_cast<size_t>(i)])));
      worst_w = std::max(worst_w, static_cast<double>(std::fabs(weight - r.weights[static_cast<size_t>(i)]) / weight));
    }
    CHECK(worst_a < 1e-15);
    CHECK(worst_w < 4e-17 * n * n + 1e-12);
  }
}

TEST_CASE("gauss-legendre: 20,000 nodes in O(n) memory, fast, weights sum to 1, symmetric, sorted") {
  const auto t0 = std::chrono::steady_clock::now();
  const IntegrationRule r = integration_rule(Integration::GaussLegendre, 20'000);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  MESSAGE("20,000 Gauss-Legendre nodes in ", secs, " s");
  CHECK(secs < 30);  // ~0.1 s on one core; the bound only catches a runaway
  double sum = 0;
  for (size_t i = 0; i < r.weights.size(); ++i) {
    sum += r.weights[i];
    if (i) CHECK_MESSAGE(r.alphas[i] > r.alphas[i - 1], i);
    CHECK(std::fabs(r.alphas[i] + r.alphas[r.alphas.size() - 1 - i] - 1) < 1e-12);
  }
  CHECK(std::fabs(sum - 1) < 1e-10);
}

TEST_CASE("count limits: steps and samples above the limit are refused up front, naming option, flag and limit") {
  const auto m = small_model();
  const Tensor x = Tensor::zeros({1, 1, 6, 6});
  const Target t = Target::indices({0});
  for (const Integration rule : {Integration::GaussLegendre, Integration::RiemannTrapezoid})
    CHECK_THROWS_WITH_AS(integration_rule(rule, 100'001),
                         doctest::Contains("steps (--steps) = 100001 exceeds the limit of 100000"), Error);
  CHECK_THROWS_WITH_AS(integrated_gradients(*m, x, t, {.steps = 1'000'000'000}),
                       doctest::Contains("steps (--steps) = 1000000000 exceeds the limit of 100000"), Error);
  CHECK_THROWS_WITH_AS(layer_integrated_gradients(*m, x, t, {.layer = "inner.1", .steps = 200'000}),
                       doctest::Contains("exceeds the limit of 100000"), Error);
  const char* const over = "samples (--samples) = 1000001 exceeds the limit of 1000000";
  CHECK_THROWS_WITH_AS(gradient_shap(*m, x, t, {.samples = 1'000'001}), doctest::Contains(over), Error);
  CHECK_THROWS_WITH_AS(shapley_value_sampling(*m, x, t, {.samples = 1'000'001}), doctest::Contains(over), Error);
  CHECK_THROWS_WITH_AS(lime(*m, x, t, {.samples = 1'000'001}), doctest::Contains(over), Error);
  CHECK_THROWS_WITH_AS(kernel_shap(*m, x, t, {.samples = 1'000'001}), doctest::Contains(over), Error);
  CHECK_THROWS_WITH_AS(rise(*m, x, t, {.masks = 1'000'001}),
                       doctest::Contains("masks (--samples) = 1000001 exceeds the limit of 1000000"), Error);
  const AttributionFn saliency_fn = [&](const Tensor& in, const Target& tt) {
    return integrated_gradients(*m, in, tt, {.steps = 2});
  };
  CHECK_THROWS_WITH_AS(noise_tunnel(saliency_fn, x, t, {.samples = 1'000'001}), doctest::Contains(over), Error);
}

TEST_CASE("count limits: memory is one chunk of rows whatever the steps or samples (default chunking)") {
  const Tensor x = Tensor::zeros({2, 1, 6, 6});
  const Target t = Target::indices({0, 1});
  // One thread: one forward per chunk. With two, IG's CPU workers split each chunk's steps
  // between them (integrated_gradients.h): half the rows per forward, the same rows alive.
  const int before = num_threads();
  for (int threads : {1, 2}) {
    CAPTURE(threads);
    set_num_threads(threads);
    {
      const auto m = small_model();
      integrated_gradients(*m, x, t, {.steps = 3000});
      CHECK(m->max_rows() * threads <= kDefaultChunkRows);
      CHECK(m->max_rows() * threads >= kDefaultChunkRows - 2);
    }
    {
      const auto m = small_model();
      integrated_gradients(*m, x, t, {.steps = 20});  // fits one chunk: one batch (per thread), as Captum
      CHECK(m->max_rows() == 40 / threads);
    }
  }
  set_num_threads(before);
  {
    const auto m = small_model();
    gradient_shap(*m, x, t, {.samples = 500});
    CHECK(m->max_rows() <= kDefaultChunkRows);
  }
  {
    const auto m = small_model();
    layer_integrated_gradients(*m, x, t, {.layer = "inner.1", .steps = 1000});
    CHECK(m->max_rows() <= kDefaultChunkRows);
  }
  CHECK(units_per_chunk(0, 1, 50) == 50);
  CHECK(units_per_chunk(0, 4, 50) == 13);  // 16 per chunk would take 4 chunks: 13 + 13 + 13 + 11
  CHECK(units_per_chunk(0, 100, 50) == 1);
  CHECK(units_per_chunk(10, 4, 50) == 2);
  CHECK(units_per_chunk(20, 1, 50) == 20);  // the caller's size is kept, not balanced
  // A memory budget: ~100 MB per row fits ~10 rows in kChunkActivationBytes, ~30 MB per row 35.
  CHECK(units_per_chunk(0, 1, 50, kChunkActivationBytes / 10) == 10);
  CHECK(units_per_chunk(0, 1, 50, kChunkActivationBytes / 35) == 25);  // 2 chunks of 25, not 35 + 15
  CHECK(units_per_chunk(0, 1, 50, kChunkActivationBytes / 1000) == 50);  // small model: capped by the rows
  CHECK(units_per_chunk(0, 2, 50, kChunkActivationBytes * 4) == 1);  // one row over the budget: 1 unit
  CHECK(units_per_chunk(7, 1, 50, kChunkActivationBytes * 4) == 7);  // the caller wins over the budget
}

}  // TEST_SUITE
