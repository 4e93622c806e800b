#pragma once
/// Weighted linear surrogate models for LIME and KernelSHAP: fit y ~ intercept + X b with sample
/// weights w, as the scikit-learn estimators Captum 0.8 trains (fit_intercept = True: X and y are
/// centred by their weighted means, the intercept is not penalised). Solved in double with Eigen.
///   LeastSquares  min sum_i w_i r_i^2; rank-deficient systems get the minimum-norm solution
///                 (sklearn LinearRegression, via lstsq; here a complete orthogonal decomposition)
///   Ridge         min sum_i w_i r_i^2 + alpha |b|^2                   (sklearn Ridge)
///   Lasso         min 1/(2 sum w) sum_i w_i r_i^2 + alpha |b|_1       (sklearn Lasso with
///                 sample weights; cyclic coordinate descent, tol 1e-4, at most 1000 sweeps)
#include <cstdint>
#include <span>
#include <vector>

namespace backlight {

enum class Surrogate { LeastSquares, Ridge, Lasso };

struct SurrogateFit {
  std::vector<double> coef;  ///< one per column of X
  double intercept = 0.0;
};

/// X row-major [rows, cols] (interpretable samples), y [rows], w [rows] (> 0). Throws naming the
/// sizes when they disagree, when rows == 0, or alpha < 0.
SurrogateFit fit_surrogate(Surrogate kind, std::span<const float> x, int64_t rows, int64_t cols,
                           std::span<const float> y, std::span<const float> w, double alpha = 0.0);

}  // namespace backlight
