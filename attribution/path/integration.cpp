#include "attribution/path/integration.h"

#include <algorithm>
#include <cmath>

#include "attribution/core/limits.h"
#include "engine/error.h"
#include "engine/parallel.h"

namespace backlight {

namespace {

// Gauss-Legendre on [-1, 1] by Newton iteration on P_n (double precision, like numpy's leggauss),
// O(n) memory. Each root starts from Tricomi's asymptotic estimate
//   x_k ~ (1 - 1/(8n^2) + 1/(8n^3)) cos(pi (4k - 1) / (4n + 2)),
// accurate to O(n^-4), so Newton needs 2-3 evaluations of the O(n) three-term recurrence per root.
// The recurrence is a serial dependency chain, so kLanes roots run through it side by side (the
// lanes vectorise and hide the latency) with its coefficients precomputed (no division inside).
// O(n^2) in all, parallel over blocks of roots; numpy's leggauss builds an n x n companion
// matrix instead (80 GB at n = 100,000, the steps limit).
constexpr int kLanes = 8;

void gauss_legendre(int n, std::vector<double>& x, std::vector<double>& w) {
  x.assign(n, 0.0);
  w.assign(n, 0.0);
  if (n == 1) {
    w[0] = 2;
    return;
  }
  // P_k = a_k z P_{k-1} - b_k P_{k-2}, a_k = (2k - 1) / k, b_k = (k - 1) / k.
  std::vector<double> a(static_cast<size_t>(n) + 1), b(static_cast<size_t>(n) + 1);
  for (int k = 2; k <= n; ++k) a[k] = (2.0 * k - 1) / k, b[k] = (k - 1.0) / k;
  const int half = (n + 1) / 2;
  const double nd = n;
  const double shrink = 1 - 1 / (8 * nd * nd) + 1 / (8 * nd * nd * nd);
  const int64_t blocks = (half + kLanes - 1) / kLanes;
  parallel_for(blocks, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t blk = lo; blk < hi; ++blk) {
      const int i0 = static_cast<int>(blk) * kLanes;
      double z[kLanes], p0[kLanes], p1[kLanes], dp[kLanes];
      for (int l = 0; l < kLanes; ++l)
        z[l] = shrink * std::cos(M_PI * (4.0 * std::min(i0 + l, half - 1) + 3.0) / (4 * nd + 2));
      // Newton until every lane's step is below 1e-15.
      for (int it = 0; it < 100; ++it) {
        for (int l = 0; l < kLanes; ++l) p0[l] = 1, p1[l] = z[l];
        for (int k = 2; k <= n; ++k) {
          const double ak = a[k], bk = b[k];
          for (int l = 0; l < kLanes; ++l) {
            const double p2 = ak * z[l] * p1[l] - bk * p0[l];
            p0[l] = p1[l];
            p1[l] = p2;
          }
        }
        double worst = 0;
        for (int l = 0; l < kLanes; ++l) {
          dp[l] = n * (z[l] * p1[l] - p0[l]) / (z[l] * z[l] - 1);
          const double dz = p1[l] / dp[l];
          z[l] -= dz;
          worst = std::max(worst, std::fabs(dz));
        }
        if (worst < 1e-15) break;
      }
      // P_n' at the final iterate (the step above moved z by up to 1e-15; near +-1 that shifts
      // P_n' by ~n^2 times as much relatively, i.e. ~1e-11 in the weight).
      for (int l = 0; l < kLanes; ++l) p0[l] = 1, p1[l] = z[l];
      for (int k = 2; k <= n; ++k)
        for (int l = 0; l < kLanes; ++l) {
          const double p2 = a[k] * z[l] * p1[l] - b[k] * p0[l];
          p0[l] = p1[l];
          p1[l] = p2;
        }
      for (int l = 0; l < kLanes; ++l) dp[l] = n * (z[l] * p1[l] - p0[l]) / (z[l] * z[l] - 1);
      for (int l = 0; l < kLanes && i0 + l < half; ++l) {
        const size_t i = static_cast<size_t>(i0 + l);
        x[i] = -z[l];
        x[static_cast<size_t>(n - 1) - i] = z[l];
        w[i] = w[static_cast<size_t>(n - 1) - i] = 2 / ((1 - z[l] * z[l]) * dp[l] * dp[l]);
      }
    }
  });
  if (n % 2 == 1) x[static_cast<size_t>(n / 2)] = 0;  // the middle root is exactly 0
}

std::vector<double> linspace(double a, double b, int n) {
  std::vector<double> v(n);
  for (int i = 0; i < n; ++i) v[i] = n == 1 ? a : a + (b - a) * i / (n - 1);
  return v;
}

}  // namespace

IntegrationRule integration_rule(Integration method, int steps) {
  check_count_limit("integration", "steps", "--steps", steps, kMaxSteps);
  IntegrationRule r;
  if (method == Integration::GaussLegendre) {
    BL_CHECK(steps >= 1, "integration: gausslegendre needs steps >= 1, got ", steps);
    std::vector<double> x, w;
    gauss_legendre(steps, x, w);
    for (int i = 0; i < steps; ++i) {
      r.alphas.push_back(0.5 * (1 + x[i]));
      r.weights.push_back(0.5 * w[i]);
    }
    return r;
  }
  BL_CHECK(steps >= 2, "integration: ", to_string(method), " needs steps >= 2 (as Captum), got ", steps);
  const double n = steps;
  r.weights.assign(steps, 1.0 / n);
  switch (method) {
    case Integration::RiemannLeft: r.alphas = linspace(0, 1 - 1 / n, steps); break;
    case Integration::RiemannRight: r.alphas = linspace(1 / n, 1, steps); break;
    case Integration::RiemannMiddle: r.alphas = linspace(1 / (2 * n), 1 - 1 / (2 * n), steps); break;
    case Integration::RiemannTrapezoid:
      r.alphas = linspace(0, 1, steps);
      r.weights.front() /= 2;
      r.weights.back() /= 2;
      break;
    case Integration::GaussLegendre: break;
  }
  return r;
}

Integration integration_from_string(std::string_view name) {
  if (name == "riemann_left") return Integration::RiemannLeft;
  if (name == "riemann_right") return Integration::RiemannRight;
  if (name == "riemann_middle") return Integration::RiemannMiddle;
  if (name == "riemann_trapezoid") return Integration::RiemannTrapezoid;
  if (name == "gausslegendre") return Integration::GaussLegendre;
  BL_THROW("unknown integration method '", name,
           "' (expected riemann_left, riemann_right, riemann_middle, riemann_trapezoid or gausslegendre)");
}

std::string_view to_string(Integration method) {
  switch (method) {
    case Integration::RiemannLeft: return "riemann_left";
    case Integration::RiemannRight: return "riemann_right";
    case Integration::RiemannMiddle: return "riemann_middle";
    case Integration::RiemannTrapezoid: return "riemann_trapezoid";
    case Integration::GaussLegendre: return "gausslegendre";
  }
  return "?";
}

}  // namespace backlight
