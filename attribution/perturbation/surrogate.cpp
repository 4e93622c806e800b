#include "attribution/perturbation/surrogate.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>

#include "engine/error.h"

namespace backlight {

namespace {

using MatrixXd = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic>;
using VectorXd = Eigen::VectorXd;

// Soft thresholding, the proximal step of the L1 penalty.
double soft(double v, double t) { return v > t ? v - t : (v < -t ? v + t : 0.0); }

// Lasso on centred data: minimise 1/(2 W) sum_i w_i (y_i - x_i b)^2 + alpha |b|_1, W = sum w.
// Stops when the largest coefficient update is below tol * max |b| (sklearn's first criterion;
// it then also checks the duality gap, which only matters for ill-conditioned problems).
VectorXd lasso(const MatrixXd& xc, const VectorXd& yc, const VectorXd& w, double alpha) {
  const int64_t cols = xc.cols();
  const double wsum = w.sum();
  VectorXd b = VectorXd::Zero(cols), r = yc;
  VectorXd norm2(cols);
  for (int64_t j = 0; j < cols; ++j) norm2[j] = (w.array() * xc.col(j).array().square()).sum() / wsum;
  constexpr double kTol = 1e-4;
  for (int sweep = 0; sweep < 1000; ++sweep) {
    double max_step = 0, max_b = 0;
    for (int64_t j = 0; j < cols; ++j) {
      if (norm2[j] == 0) continue;
      const double old = b[j];
      const double rho = (w.array() * xc.col(j).array() * r.array()).sum() / wsum + norm2[j] * old;
      b[j] = soft(rho, alpha) / norm2[j];
      if (b[j] != old) r -= (b[j] - old) * xc.col(j);
      max_step = std::max(max_step, std::fabs(b[j] - old));
      max_b = std::max(max_b, std::fabs(b[j]));
    }
    if (max_b == 0 || max_step < kTol * max_b) break;
  }
  return b;
}

}  // namespace

SurrogateFit fit_surrogate(Surrogate kind, std::span<const float> x, int64_t rows, int64_t cols,
                           std::span<const float> y, std::span<const float> w, double alpha) {
  BL_CHECK(rows >= 1 && cols >= 0, "surrogate fit: expected at least one sample, got ", rows, " x ", cols);
  BL_CHECK(static_cast<int64_t>(x.size()) == rows * cols && static_cast<int64_t>(y.size()) == rows &&
               static_cast<int64_t>(w.size()) == rows,
           "surrogate fit: expected X ", rows, "x", cols, ", y and w of ", rows, " values, got ", x.size(), ", ",
           y.size(), " and ", w.size());
  BL_CHECK(alpha >= 0, "surrogate fit: expected alpha >= 0, got ", alpha);
  MatrixXd xm(rows, cols);
  VectorXd yv(rows), wv(rows);
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) xm(i, j) = x[i * cols + j];
    yv[i] = y[i];
    wv[i] = w[i];
  }
  const double wsum = wv.sum();
  BL_CHECK(wsum > 0, "surrogate fit: sample weights must sum to > 0");
  const Eigen::RowVectorXd xmean = (wv.transpose() * xm) / wsum;
  const double ymean = wv.dot(yv) / wsum;
  const MatrixXd xc = xm.rowwise() - xmean;
  const VectorXd yc = yv.array() - ymean;
  VectorXd b;
  if (kind == Surrogate::Lasso) {
    b = lasso(xc, yc, wv, alpha);
  } else {
    const VectorXd sw = wv.array().sqrt();
    const MatrixXd xs = sw.asDiagonal() * xc;
    const VectorXd ys = sw.asDiagonal() * yc;
    if (kind == Surrogate::LeastSquares || alpha == 0) {
      b = xs.completeOrthogonalDecomposition().solve(ys);
    } else {
      MatrixXd gram = xs.transpose() * xs;
      gram.diagonal().array() += alpha;
      b = gram.ldlt().solve(xs.transpose() * ys);
    }
  }
  SurrogateFit fit;
  fit.coef.assign(b.data(), b.data() + b.size());
  fit.intercept = ymean - xmean.dot(b);
  return fit;
}

}  // namespace backlight
