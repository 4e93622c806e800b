#pragma once
/// The statistics of TCAV's significance test (Kim et al. 2018, section 3.2): the TCAV scores of a
/// concept over R runs (each against another random counterexample set) are compared with the
/// scores of random-vs-random CAVs by a two-sided two-sample t-test, and the p-values are
/// Bonferroni-corrected across every (concept, layer) tested.
///
/// The default is Student's t-test with pooled variance: scipy.stats.ttest_ind with its default
/// equal_var=True, which the authors' code (tensorflow/tcav, utils_plot.py) and Captum's TCAV
/// tutorial call. Welch's unequal-variance test is an option.
///
/// The t distribution's CDF comes from Eigen's unsupported SpecialFunctions module (the
/// regularised incomplete beta function `betainc`, Cephes' continued fraction): the same Eigen the
/// engine already depends on, no new package, and checked against scipy.stats in the tests.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace backlight {

enum class TTestKind { Student, Welch };

/// "student" | "welch"; throws backlight::Error naming the accepted values.
TTestKind t_test_kind_from_string(std::string_view name);
std::string to_string(TTestKind k);

struct TTest {
  double t = 0;        ///< the t statistic (mean(a) - mean(b)) / standard error
  double dof = 0;      ///< degrees of freedom (n_a + n_b - 2, or Welch-Satterthwaite)
  double p_value = 1;  ///< two-sided
};

/// Two-sided two-sample t-test of `a` against `b` (each at least 2 values). Degenerate cases
/// (both samples constant): equal means give t = 0, p = 1; different means give t = +-inf,
/// p = 0 (scipy returns NaN for the first and p = 0 for the second). Throws backlight::Error for
/// fewer than 2 values on either side or a non-finite value.
TTest t_test(std::span<const double> a, std::span<const double> b, TTestKind kind = TTestKind::Student);

/// P(|T| >= |t|) for Student's t distribution with `dof` > 0 degrees of freedom:
/// I_{dof/(dof+t^2)}(dof/2, 1/2) (regularised incomplete beta).
double student_t_two_sided_p(double t, double dof);

/// min(1, p * tests): the Bonferroni-corrected p-value for `tests` >= 1 simultaneous tests.
double bonferroni(double p, int64_t tests);

struct MeanStd {
  double mean = 0;
  double std = 0;  ///< sample standard deviation (n - 1 in the denominator; 0 for one value)
};
MeanStd mean_std(std::span<const double> v);

}  // namespace backlight
