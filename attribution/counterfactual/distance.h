#pragma once
/// Distances and quality measures of counterfactual explanations (Wachter et al. 2017; Mothilal
/// et al. 2020, "Explaining machine learning classifiers through diverse counterfactual
/// explanations", DiCE). Everything works on items flattened to F features: a counterfactual
/// batch [k, ...] is k rows of F = numel / k values.
///
///   l1:  d(a, b) = sum_f |a_f - b_f|
///   l2:  d(a, b) = sqrt(sum_f (a_f - b_f)^2)
///   mad: d(a, b) = sum_f |a_f - b_f| / MAD_f      MAD_f = median_n |X_nf - median_n X_nf|
///        over a reference data set X [N, F] (Wachter's choice for tabular data; a feature whose
///        MAD is 0 gets weight 1, as dice-ml).
#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace backlight {

enum class CfDistance { L1, L2, Mad };

/// "l1" / "l2" / "mad"; throws naming the accepted names.
CfDistance cf_distance_from_string(const std::string& name);
std::string to_string(CfDistance d);

/// Per-feature weights 1 / MAD_f of a reference data set [N, F...] (N >= 1 rows; the features of
/// each row flattened). Throws for an empty or non-finite data set.
std::vector<float> mad_weights(const Tensor& reference);

/// A distance with its per-feature weights (empty: all 1; mad needs F weights).
struct CfMetric {
  CfDistance kind = CfDistance::L1;
  std::vector<float> weights;

  double distance(const float* a, const float* b, int64_t f) const;
  /// Adds scale * d d(a, b) / d a to `grad` (subgradient 0 where a_f = b_f; l2: 0 at a = b).
  void add_gradient(const float* a, const float* b, int64_t f, double scale, float* grad) const;
};

/// Quality of a set of k counterfactuals C [k, ...] of one input x [1, ...] (DiCE section 4):
struct CfMetrics {
  double validity = 0;          ///< fraction of counterfactuals the model assigns to the desired class
  double proximity = 0;         ///< mean d(c_i, x) in the chosen metric (lower: closer)
  double proximity_l1 = 0;      ///< mean sum_f |c_if - x_f|
  double proximity_l2 = 0;      ///< mean ||c_i - x||_2
  double changed_features = 0;  ///< mean number of features with |c_if - x_f| > change_tolerance
  double sparsity = 0;          ///< DiCE: 1 - changed_features / F (1: nothing changed)
  double diversity = 0;         ///< mean pairwise d(c_i, c_j), i < j (0 when k = 1)
  double dpp_diversity = 0;     ///< det K, K_ij = 1 / (1 + d(c_i, c_j)) (DiCE's dpp_style:inverse_dist; 1 when k = 1)
};

/// Measures `cfs` [k, ...] against `x` [1, ...] (same per-item size); `valid` has one flag per
/// counterfactual.
CfMetrics cf_metrics(const Tensor& x, const Tensor& cfs, const std::vector<uint8_t>& valid, const CfMetric& metric,
                     double change_tolerance = 1e-3);

/// det of K_ij = 1/(1 + d(c_i, c_j)) + 1e-4 on the diagonal (dice-ml's jitter, without its noise),
/// and when `grad` is not null its gradient d det / d C added times `scale` ([k, F] row-major).
double dpp_diversity(const float* cfs, int64_t k, int64_t f, const CfMetric& metric, double scale = 0,
                     float* grad = nullptr);

}  // namespace backlight
