// Shapley value sampling, KernelSHAP and LIME: efficiency, convergence to exact Shapley values
// (all coalitions enumerated here), recovery of linear models, seeds and batching.
#include <cmath>

#include "attribution/perturbation/lime.h"
#include "attribution/perturbation/shapley.h"
#include "attribution/perturbation/surrogate.h"
#include "engine/modules/all.h"
#include "models/small.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

namespace {

// Exact Shapley values of target class `c` for inputs [N, M] (every element a feature) against
// a zero baseline, from all 2^M coalitions: phi_i = sum_S |S|! (M-|S|-1)! / M! (v(S+i) - v(S)).
Tensor exact_shapley(const Module& model, const Tensor& x, int64_t c) {
  const int64_t n = x.size(0), m = x.size(1), coalitions = int64_t{1} << m;
  Tensor rows = Tensor::zeros({coalitions * n, m});
  for (int64_t s = 0; s < coalitions; ++s)
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < m; ++j)
        if (s >> j & 1) rows.data()[(s * n + i) * m + j] = x.data()[i * m + j];
  Tape t(TapeOptions{.record = false});
  const Tensor out = model.forward(t.input(rows)).value();
  const int64_t k = out.size(1);
  auto v = [&](int64_t s, int64_t i) { return static_cast<double>(out.data()[(s * n + i) * k + c]); };
  std::vector<double> fact(m + 1, 1.0);
  for (int64_t i = 1; i <= m; ++i) fact[i] = fact[i - 1] * i;
  Tensor phi = Tensor::zeros({n, m});
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < m; ++j) {
      double acc = 0;
      for (int64_t s = 0; s < coalitions; ++s) {
        if (s >> j & 1) continue;
        const int size = __builtin_popcountll(static_cast<unsigned long long>(s));
        acc += fact[size] * fact[m - size - 1] / fact[m] * (v(s | (int64_t{1} << j), i) - v(s, i));
      }
      phi.data()[i * m + j] = static_cast<float>(acc);
    }
  return phi;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  double d = 0;
  for (int64_t i = 0; i < a.numel(); ++i) d = std::max(d, std::fabs(double(a.data()[i]) - b.data()[i]));
  return d;
}

// A linear model on [N, m]: logits = x W^T + b.
std::shared_ptr<Linear> linear_model(int64_t m, uint64_t seed = kSeed) {
  std::mt19937_64 rng(seed);
  return std::make_shared<Linear>(m, 3, rng);
}

}  // namespace

TEST_SUITE("attribution") {
  TEST_CASE("shapley_value_sampling: efficiency holds exactly; converges to exact Shapley values (6 features)") {
    std::mt19937_64 rng(kSeed);
    const ModulePtr mlp = make_mlp({6, 16, 16}, 3, rng);
    const Tensor x = randn({2, 6}, rng, 1.5f);
    const Tensor exact = exact_shapley(*mlp, x, 2);
    const double scale = max_abs(exact);
    double err_few = 0, err_many = 0;
    for (int samples : {20, 2000}) {
      CAPTURE(samples);
      const AttributionResult r = shapley_value_sampling(*mlp, x, Target::index(2), {.samples = samples, .seed = 3});
      // Efficiency: sum_i phi_i = f(x) - f(0), exactly up to float round-off of the stored values.
      Tape t(TapeOptions{.record = false});
      const Tensor f0 = mlp->forward(t.input(Tensor::zeros({2, 6}))).value();
      for (int64_t n = 0; n < 2; ++n) {
        double total = 0;
        for (int64_t j = 0; j < 6; ++j) total += r.attribution.at({n, j});
        const double diff = r.output.at({n, 2}) - f0.at({n, 2});
        CHECK(std::fabs(total - diff) <= 1e-6 * std::max(1.0, std::fabs(diff)));
        CHECK(std::fabs(r.delta.data()[n]) <= 1e-6);
      }
      (samples == 20 ? err_few : err_many) = max_abs_diff(r.attribution, exact) / scale;
    }
    MESSAGE("relative max error vs exact Shapley: 20 permutations ", err_few, ", 2000 permutations ", err_many);
    CHECK(err_many < 0.05);
    CHECK(err_many < err_few);
  }

  TEST_CASE("shapley_value_sampling: grouped features, baselines, seeds and batching") {
    std::mt19937_64 rng(kSeed + 1);
    const ModulePtr mlp = make_mlp({8, 16}, 4, rng);
    const Tensor x = randn({3, 8}, rng);
    const Tensor mask = Tensor::from({1, 8}, {0, 0, 1, 1, 2, 2, 3, 3});
    const ShapleyValueSamplingOptions o{
        .feature_mask = mask, .baseline = Baseline::constant(0.3f), .samples = 9, .seed = 11};
    const AttributionResult a = shapley_value_sampling(*mlp, x, Target::top1(), o);
    for (int64_t n = 0; n < 3; ++n) {
      CHECK(a.attribution.at({n, 0}) == a.attribution.at({n, 1}));  // one value per group
      CHECK(std::fabs(a.delta.data()[n]) <= 1e-6);
    }
    BL_CHECK_CLOSE(shapley_value_sampling(*mlp, x, Target::top1(), o).attribution, a.attribution, 0.0, 0.0);
    for (int ppe : {1, 3, 1000}) {
      CAPTURE(ppe);
      ShapleyValueSamplingOptions b = o;
      b.perturbations_per_eval = ppe;
      BL_CHECK_CLOSE(shapley_value_sampling(*mlp, x, Target::top1(), b).attribution, a.attribution, 1e-5, 1e-5);
    }
    ShapleyValueSamplingOptions other = o;
    other.seed = 12;
    CHECK(!allclose_report(shapley_value_sampling(*mlp, x, Target::top1(), other).attribution, a.attribution, 1e-6, 0)
               .empty());
  }

  TEST_CASE("kernel_shap: exact Shapley values of a linear model (elements and groups)") {
    const auto lin = linear_model(8);
    std::mt19937_64 rng(kSeed + 2);
    const Tensor x = randn({2, 8}, rng);
    const Tensor b = randn({1, 8}, rng, 0.3f);
    // Shapley value of feature j for class c: w_cj (x_j - b_j).
    const Tensor& w = lin->parameter("weight");
    const AttributionResult r =
        kernel_shap(*lin, x, Target::index(1), {.baseline = Baseline::given(b), .samples = 64, .seed = 5});
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t j = 0; j < 8; ++j)
        CHECK(r.attribution.at({n, j}) ==
              doctest::Approx(w.at({1, j}) * (x.at({n, j}) - b.at({0, j}))).epsilon(1e-4).scale(1e-3));
    for (int64_t n = 0; n < 2; ++n) CHECK(std::fabs(r.delta.data()[n]) < 1e-4);
    const Tensor mask = Tensor::from({8}, {0, 0, 0, 1, 1, 2, 2, 2});
    const AttributionResult g =
        kernel_shap(*lin, x, Target::index(1), {.features = {.feature_mask = mask}, .samples = 20, .seed = 5});
    for (int64_t n = 0; n < 2; ++n) {
      double group0 = 0;
      for (int64_t j = 0; j < 3; ++j) group0 += w.at({1, j}) * x.at({n, j});
      CHECK(g.attribution.at({n, 0}) == doctest::Approx(group0).epsilon(1e-4).scale(1e-3));
      CHECK(g.attribution.at({n, 2}) == g.attribution.at({n, 0}));
    }
  }

  TEST_CASE("kernel_shap and lime: same seed, same result; batching does not matter; other seed differs") {
    std::mt19937_64 rng(kSeed + 3);
    const ModulePtr mlp = make_mlp({10, 12}, 3, rng);
    const Tensor x = randn({2, 10}, rng);
    const KernelShapOptions ko{.samples = 30, .seed = 9};
    const Tensor k1 = kernel_shap(*mlp, x, Target::top1(), ko).attribution;
    BL_CHECK_CLOSE(kernel_shap(*mlp, x, Target::top1(), ko).attribution, k1, 0.0, 0.0);
    const LimeOptions lo{.samples = 40, .seed = 9};
    const Tensor l1 = lime(*mlp, x, Target::top1(), lo).attribution;
    BL_CHECK_CLOSE(lime(*mlp, x, Target::top1(), lo).attribution, l1, 0.0, 0.0);
    for (int ppe : {1, 7, 1000}) {
      CAPTURE(ppe);
      KernelShapOptions kb = ko;
      kb.perturbations_per_eval = ppe;
      BL_CHECK_CLOSE(kernel_shap(*mlp, x, Target::top1(), kb).attribution, k1, 1e-4, 1e-4);
      LimeOptions lb = lo;
      lb.perturbations_per_eval = ppe;
      BL_CHECK_CLOSE(lime(*mlp, x, Target::top1(), lb).attribution, l1, 1e-4, 1e-4);
    }
    KernelShapOptions k2 = ko;
    k2.seed = 10;
    CHECK(!allclose_report(kernel_shap(*mlp, x, Target::top1(), k2).attribution, k1, 1e-6, 0).empty());
    LimeOptions l2 = lo;
    l2.seed = 10;
    CHECK(!allclose_report(lime(*mlp, x, Target::top1(), l2).attribution, l1, 1e-6, 0).empty());
  }

  TEST_CASE("lime: recovers the coefficients of a linear model (least squares, ridge, lasso)") {
    const auto lin = linear_model(6, kSeed + 4);
    std::mt19937_64 rng(kSeed + 4);
    const Tensor x = randn({1, 6}, rng);
    const Tensor& w = lin->parameter("weight");
    // In interpretable space f(z) = f(0) + sum_j z_j w_j x_j exactly, so any weighting recovers w_j x_j.
    for (auto [kind, alpha, tol] :
         {std::tuple{Surrogate::LeastSquares, 0.0, 1e-4}, std::tuple{Surrogate::Ridge, 1e-6, 1e-4},
          std::tuple{Surrogate::Lasso, 1e-5, 2e-3}}) {
      CAPTURE(static_cast<int>(kind));
      for (LimeDistance d : {LimeDistance::Cosine, LimeDistance::Euclidean}) {
        const AttributionResult r = lime(*lin, x, Target::index(0),
                                         {.samples = 200, .seed = 1, .distance = d, .surrogate = kind, .alpha = alpha});
        for (int64_t j = 0; j < 6; ++j)
          CHECK(r.attribution.at({0, j}) == doctest::Approx(w.at({0, j}) * x.at({0, j})).epsilon(tol).scale(tol));
      }
    }
    // The default Ridge(alpha = 1) biases the coefficients only slightly at 200 samples.
    const AttributionResult def = lime(*lin, x, Target::index(0), {.samples = 200, .seed = 1});
    for (int64_t j = 0; j < 6; ++j)
      CHECK(def.attribution.at({0, j}) == doctest::Approx(w.at({0, j}) * x.at({0, j})).epsilon(0.15).scale(0.05));
  }

  TEST_CASE("surrogate: weighted least squares, ridge and lasso against closed forms") {
    // y = 1 + 2 a - 3 b exactly; weights do not matter for an exact fit.
    const std::vector<float> x = {0, 0, 1, 0, 0, 1, 1, 1, 2, 1};
    const std::vector<float> y = {1, 3, -2, 0, 2};
    const std::vector<float> w = {1, 2, 3, 1, 0.5f};
    const SurrogateFit ls = fit_surrogate(Surrogate::LeastSquares, x, 5, 2, y, w);
    CHECK(ls.intercept == doctest::Approx(1.0));
    CHECK(ls.coef[0] == doctest::Approx(2.0));
    CHECK(ls.coef[1] == doctest::Approx(-3.0));
    // One column, centred: ridge b = sum w xc yc / (sum w xc^2 + alpha); lasso soft-thresholds.
    const std::vector<float> x1 = {0, 1, 2, 3}, y1 = {0, 2, 4, 6}, w1 = {1, 1, 1, 1};
    const SurrogateFit ridge = fit_surrogate(Surrogate::Ridge, x1, 4, 1, y1, w1, 5.0);
    CHECK(ridge.coef[0] == doctest::Approx(2.0 * 5 / (5 + 5.0)));
    const SurrogateFit lasso = fit_surrogate(Surrogate::Lasso, x1, 4, 1, y1, w1, 0.5);
    CHECK(lasso.coef[0] == doctest::Approx((2.0 * 1.25 - 0.5) / 1.25));  // (sum xc yc / n - alpha) / (sum xc^2 / n)
    // Rank deficient (a duplicated column): minimum-norm solution splits the coefficient.
    const std::vector<float> xd = {0, 0, 1, 1, 2, 2};
    const SurrogateFit dup =
        fit_surrogate(Surrogate::LeastSquares, xd, 3, 2, std::vector<float>{0, 2, 4}, std::vector<float>{1, 1, 1});
    CHECK(dup.coef[0] == doctest::Approx(1.0));
    CHECK(dup.coef[1] == doctest::Approx(1.0));
    CHECK_THROWS_WITH_AS(fit_surrogate(Surrogate::Ridge, x1, 4, 2, y1, w1), doctest::Contains("expected X 4x2"),
                         backlight::Error);
  }

}  // TEST_SUITE("attribution")
