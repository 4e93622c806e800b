#include "attribution/path/integration.h"

#include <cmath>

#include "engine/error.h"

namespace backlight {

namespace {

// Gauss-Legendre on [-1, 1] by Newton iteration on P_n (double precision, like numpy's leggauss).
void gauss_legendre(int n, std::vector<double>& x, std::vector<double>& w) {
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

std::vector<double> linspace(double a, double b, int n) {
  std::vector<double> v(n);
  for (int i = 0; i < n; ++i) v[i] = n == 1 ? a : a + (b - a) * i / (n - 1);
  return v;
}

}  // namespace

IntegrationRule integration_rule(Integration method, int steps) {
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
