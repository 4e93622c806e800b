#include "attribution/counterfactual/distance.h"

#include <algorithm>
#include <cmath>

#include <Eigen/Dense>

#include "engine/error.h"

namespace backlight {

CfDistance cf_distance_from_string(const std::string& name) {
  if (name == "l1") return CfDistance::L1;
  if (name == "l2") return CfDistance::L2;
  if (name == "mad") return CfDistance::Mad;
  BL_THROW("counterfactual distance: unknown distance '", name, "'; expected l1, l2 or mad");
}

std::string to_string(CfDistance d) {
  switch (d) {
    case CfDistance::L1: return "l1";
    case CfDistance::L2: return "l2";
    case CfDistance::Mad: return "mad";
  }
  return "?";
}

std::vector<float> mad_weights(const Tensor& reference) {
  BL_CHECK_SHAPE(reference.defined() && reference.dim() >= 2 && reference.size(0) >= 1,
                 "mad_weights: expected reference data [N, features...] with N >= 1, got ",
                 reference.defined() ? reference.shape().str() : std::string("no tensor"));
  const Tensor r = reference.to_cpu();
  const int64_t n = r.size(0), f = r.numel() / n;
  std::vector<float> w(static_cast<size_t>(f));
  std::vector<double> col(static_cast<size_t>(n));
  auto median = [](std::vector<double>& v) {
    const size_t m = v.size() / 2;
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(m), v.end());
    const double hi = v[m];
    if (v.size() % 2) return hi;
    return 0.5 * (hi + *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(m)));
  };
  for (int64_t j = 0; j < f; ++j) {
    for (int64_t i = 0; i < n; ++i) {
      col[static_cast<size_t>(i)] = r.data()[i * f + j];
      BL_CHECK(std::isfinite(col[static_cast<size_t>(i)]), "mad_weights: reference value at row ", i, ", feature ",
               j, " is not finite");
    }
    const double med = median(col);
    for (double& v : col) v = std::fabs(v - med);
    const double mad = median(col);
    w[static_cast<size_t>(j)] = mad > 0 ? static_cast<float>(1.0 / mad) : 1.0f;
  }
  return w;
}

double CfMetric::distance(const float* a, const float* b, int64_t f) const {
  BL_CHECK(weights.empty() || static_cast<int64_t>(weights.size()) == f, "counterfactual distance: ", weights.size(),
           " feature weights for ", f, " features");
  double s = 0;
  for (int64_t i = 0; i < f; ++i) {
    const double d = static_cast<double>(a[i]) - b[i];
    const double w = weights.empty() ? 1.0 : weights[static_cast<size_t>(i)];
    s += kind == CfDistance::L2 ? w * d * d : w * std::fabs(d);
  }
  return kind == CfDistance::L2 ? std::sqrt(s) : s;
}

void CfMetric::add_gradient(const float* a, const float* b, int64_t f, double scale, float* grad) const {
  if (kind == CfDistance::L2) {
    const double n = distance(a, b, f);
    if (n <= 0) return;
    for (int64_t i = 0; i < f; ++i) {
      const double w = weights.empty() ? 1.0 : weights[static_cast<size_t>(i)];
      grad[i] += static_cast<float>(scale * w * (static_cast<double>(a[i]) - b[i]) / n);
    }
    return;
  }
  for (int64_t i = 0; i < f; ++i) {
    const double w = weights.empty() ? 1.0 : weights[static_cast<size_t>(i)];
    const float d = a[i] - b[i];
    if (d != 0) grad[i] += static_cast<float>(scale * w * (d > 0 ? 1.0 : -1.0));
  }
}

double dpp_diversity(const float* cfs, int64_t k, int64_t f, const CfMetric& metric, double scale, float* grad) {
  if (k <= 1) return 1.0;
  Eigen::MatrixXd K(k, k), D(k, k);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < k; ++j) {
      D(i, j) = i == j ? 0.0 : metric.distance(cfs + i * f, cfs + j * f, f);
      K(i, j) = 1.0 / (1.0 + D(i, j)) + (i == j ? 1e-4 : 0.0);
    }
  const Eigen::PartialPivLU<Eigen::MatrixXd> lu(K);
  const double det = lu.determinant();
  if (grad && scale != 0 && std::fabs(det) > 1e-300) {
    // d det / d K = det * K^-T; K_ij depends on c_i and c_j through d_ij (dK/dd = -1/(1+d)^2).
    const Eigen::MatrixXd G = det * lu.inverse().transpose();
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < k; ++j) {
        if (i == j) continue;
        const double dk = -1.0 / ((1.0 + D(i, j)) * (1.0 + D(i, j)));
        metric.add_gradient(cfs + i * f, cfs + j * f, f, scale * (G(i, j) + G(j, i)) * dk, grad + i * f);
      }
  }
  return det;
}

CfMetrics cf_metrics(const Tensor& x, const Tensor& cfs, const std::vector<uint8_t>& valid, const CfMetric& metric,
                     double change_tolerance) {
  const int64_t k = cfs.size(0), f = cfs.numel() / std::max<int64_t>(k, 1);
  BL_CHECK_SHAPE(x.numel() == f, "cf_metrics: the input has ", x.numel(), " values, each counterfactual ", f);
  BL_CHECK(static_cast<int64_t>(valid.size()) == k, "cf_metrics: ", valid.size(), " validity flags for ", k,
           " counterfactuals");
  CfMetrics m;
  if (k == 0) return m;
  const CfMetric l1{CfDistance::L1, {}}, l2{CfDistance::L2, {}};
  for (int64_t i = 0; i < k; ++i) {
    const float* c = cfs.data() + i * f;
    m.validity += valid[static_cast<size_t>(i)] ? 1 : 0;
    m.proximity += metric.distance(c, x.data(), f);
    m.proximity_l1 += l1.distance(c, x.data(), f);
    m.proximity_l2 += l2.distance(c, x.data(), f);
    for (int64_t j = 0; j < f; ++j) m.changed_features += std::fabs(double(c[j]) - x.data()[j]) > change_tolerance;
  }
  m.validity /= double(k);
  m.proximity /= double(k);
  m.proximity_l1 /= double(k);
  m.proximity_l2 /= double(k);
  m.changed_features /= double(k);
  m.sparsity = 1.0 - m.changed_features / double(f);
  int64_t pairs = 0;
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = i + 1; j < k; ++j, ++pairs) m.diversity += metric.distance(cfs.data() + i * f, cfs.data() + j * f, f);
  if (pairs) m.diversity /= double(pairs);
  m.dpp_diversity = dpp_diversity(cfs.data(), k, f, metric);
  return m;
}

}  // namespace backlight
