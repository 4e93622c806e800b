#include "attribution/concepts/tcav_stats.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <unsupported/Eigen/SpecialFunctions>

#include "engine/error.h"

namespace backlight {

TTestKind t_test_kind_from_string(std::string_view name) {
  if (name == "student") return TTestKind::Student;
  if (name == "welch") return TTestKind::Welch;
  BL_THROW("t_test: unknown test '", name, "' (accepted: student, welch)");
}

std::string to_string(TTestKind k) { return k == TTestKind::Student ? "student" : "welch"; }

MeanStd mean_std(std::span<const double> v) {
  MeanStd r;
  if (v.empty()) return r;
  for (double x : v) r.mean += x;
  r.mean /= static_cast<double>(v.size());
  if (v.size() < 2) return r;
  double ss = 0;
  for (double x : v) ss += (x - r.mean) * (x - r.mean);
  r.std = std::sqrt(ss / static_cast<double>(v.size() - 1));
  return r;
}

double student_t_two_sided_p(double t, double dof) {
  BL_CHECK(dof > 0 && !std::isnan(t), "student_t_two_sided_p: expected dof > 0 and a number t, got dof ", dof,
           ", t ", t);
  if (std::isinf(t)) return 0.0;
  // P(|T| >= |t|) = I_x(dof/2, 1/2) with x = dof / (dof + t^2).
  const double x = dof / (dof + t * t);
  return std::clamp(Eigen::numext::betainc(0.5 * dof, 0.5, x), 0.0, 1.0);
}

double bonferroni(double p, int64_t tests) {
  BL_CHECK(tests >= 1, "bonferroni: expected at least one test, got ", tests);
  return std::min(1.0, p * static_cast<double>(tests));
}

TTest t_test(std::span<const double> a, std::span<const double> b, TTestKind kind) {
  BL_CHECK(a.size() >= 2 && b.size() >= 2, "t_test: expected at least 2 values per sample, got ", a.size(), " and ",
           b.size());
  for (std::span<const double> s : {a, b})
    for (double x : s) BL_CHECK(std::isfinite(x), "t_test: expected finite values, got ", x);
  const MeanStd ma = mean_std(a), mb = mean_std(b);
  const double na = static_cast<double>(a.size()), nb = static_cast<double>(b.size());
  const double va = ma.std * ma.std, vb = mb.std * mb.std;
  TTest r;
  double se2 = 0;
  if (kind == TTestKind::Student) {
    r.dof = na + nb - 2;
    const double pooled = ((na - 1) * va + (nb - 1) * vb) / r.dof;
    se2 = pooled * (1 / na + 1 / nb);
  } else {
    const double qa = va / na, qb = vb / nb;
    se2 = qa + qb;
    r.dof = se2 > 0 ? se2 * se2 / (qa * qa / (na - 1) + qb * qb / (nb - 1)) : na + nb - 2;
  }
  const double diff = ma.mean - mb.mean;
  if (se2 <= 0) {  // both samples constant
    r.t = diff == 0 ? 0.0 : std::copysign(std::numeric_limits<double>::infinity(), diff);
    r.p_value = diff == 0 ? 1.0 : 0.0;
    return r;
  }
  r.t = diff / std::sqrt(se2);
  r.p_value = student_t_two_sided_p(r.t, r.dof);
  return r;
}

}  // namespace backlight
