#pragma once
/// TCAV scores from directional derivatives (Kim et al. 2018, section 3.2). For inputs x of class
/// k, the conceptual sensitivity is the directional derivative of the class logit h_{l,k} at
/// layer l along the CAV v:  S(x) = grad h_{l,k}(f_l(x)) . v. Two scores per CAV:
///
///   sign_count  TCAV_Q = |{x : S(x) > 0}| / |X_k|      (the paper's score)
///   magnitude   mean_x S(x)                             (Captum's "magnitude")
///
/// Captum (captum.concept.TCAV._tcav_sub_computation) computes exactly these two on the layer
/// gradients (LayerGradientXActivation with multiply_by_inputs=False) and the CAV weights it is
/// given, so with the same gradients and CAVs the scores are equal (tested). Note the magnitude
/// scales with the CAV's length: backlight scores with unit CAVs, Captum with the raw classifier
/// coefficients.
///
/// Inputs stream: TcavAccumulator takes the gradients batch by batch and keeps per CAV one count
/// and one sum (double), so a layer's gradients are used once by every CAV and then dropped.
#include <cstdint>
#include <vector>

#include <Eigen/Dense>

namespace backlight {

struct TcavScore {
  double sign_count = 0;
  double magnitude = 0;
};

class TcavAccumulator {
 public:
  /// cavs: [m, p], one CAV per row (used as given, not normalised).
  explicit TcavAccumulator(Eigen::MatrixXf cavs);
  /// grads: [b, p] gradients of the class logit wrt the flattened layer, one row per input.
  /// Throws backlight::Error when p differs from the CAVs' or a value is not finite.
  void add(const Eigen::Ref<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>& grads);
  int64_t inputs() const { return inputs_; }
  /// Per CAV: the inputs with a positive directional derivative, and the sum of the derivatives
  /// (what scores() divides by inputs(); partial accumulators of disjoint inputs add up).
  const std::vector<int64_t>& positive() const { return positive_; }
  const std::vector<double>& sums() const { return sum_; }
  /// One score per CAV; throws when no input was added.
  std::vector<TcavScore> scores() const;

 private:
  Eigen::MatrixXf cavs_;
  std::vector<int64_t> positive_;
  std::vector<double> sum_;
  int64_t inputs_ = 0;
};

/// One-shot: every CAV (rows of cavs [m, p]) scored on grads [n, p].
std::vector<TcavScore> tcav_scores(const Eigen::MatrixXf& grads, const Eigen::MatrixXf& cavs);

}  // namespace backlight
