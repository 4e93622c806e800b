// The t-test and Bonferroni correction of TCAV's significance test against scipy.stats.ttest_ind
// (fixture: tools/reference/make_tcav_fixtures.py).
#include <cmath>
#include <vector>

#include <doctest/doctest.h>

#include "attribution/concepts/tcav_stats.h"
#include "engine/error.h"
#include "tests/attribution/concepts/tcav_fixture.h"

using namespace backlight;
using namespace backlight::test;

namespace {
std::vector<double> values(const std::string& name) {
  const Eigen::VectorXd v = tcav_vector(name);
  return {v.data(), v.data() + v.size()};
}
}  // namespace

TEST_SUITE("attribution") {

TEST_CASE("tcav_stats: Student and Welch p-values equal scipy.stats.ttest_ind") {
  for (int i = 0; i < 3; ++i) {
    CAPTURE(i);
    const std::string k = "ttest/" + std::to_string(i) + "/";
    // The fixture stores the samples as float32 (safetensors F64 is read rounded), scipy's p from the doubles:
    // relative agreement ~1e-6 is what the rounding allows.
    const std::vector<double> a = values(k + "a"), b = values(k + "b");
    CHECK(t_test(a, b).p_value == doctest::Approx(tcav_vector(k + "student_p")(0)).epsilon(1e-5));
    CHECK(t_test(a, b, TTestKind::Welch).p_value == doctest::Approx(tcav_vector(k + "welch_p")(0)).epsilon(1e-5));
  }
}

TEST_CASE("tcav_stats: hand-checked t statistic and tails") {
  // a = {1,2,3,4}, b = {3,4,5,6}: means 2.5, 4.5, variances 5/3 each, pooled se = sqrt(5/3 * 1/2),
  // t = -2 / 0.91287 = -2.19089, dof 6; two-sided p = 0.0709 (t table: t_{0.05,6} = 2.447, t_{0.10,6} = 1.943).
  const std::vector<double> a{1, 2, 3, 4}, b{3, 4, 5, 6};
  const TTest r = t_test(a, b);
  CHECK(r.t == doctest::Approx(-2.190890230));
  CHECK(r.dof == 6);
  CHECK(r.p_value == doctest::Approx(0.070895).epsilon(1e-4));
  CHECK(student_t_two_sided_p(2.446912, 6) == doctest::Approx(0.05).epsilon(1e-5));
  CHECK(student_t_two_sided_p(0.0, 9) == doctest::Approx(1.0));
  CHECK(student_t_two_sided_p(1e6, 9) < 1e-30);
  // Welch equals Student for equal sizes and variances.
  CHECK(t_test(a, b, TTestKind::Welch).p_value == doctest::Approx(r.p_value));
}

TEST_CASE("tcav_stats: constant samples, Bonferroni, mean and std, errors") {
  const std::vector<double> ones{1, 1, 1}, zeros{0, 0, 0};
  CHECK(t_test(ones, zeros).p_value == 0.0);
  CHECK(t_test(ones, ones).p_value == 1.0);
  CHECK(bonferroni(0.01, 6) == doctest::Approx(0.06));
  CHECK(bonferroni(0.4, 6) == 1.0);
  const MeanStd m = mean_std(std::vector<double>{1, 2, 3, 4});
  CHECK(m.mean == doctest::Approx(2.5));
  CHECK(m.std == doctest::Approx(std::sqrt(5.0 / 3.0)));
  const std::vector<double> one{1};
  CHECK_THROWS_WITH_AS(t_test(one, ones), doctest::Contains("at least 2 values"), Error);
  CHECK_THROWS_WITH_AS(t_test(std::vector<double>{1, NAN}, ones), doctest::Contains("finite"), Error);
  CHECK_THROWS_WITH_AS(bonferroni(0.1, 0), doctest::Contains("at least one test"), Error);
  CHECK_THROWS_WITH_AS(t_test_kind_from_string("paired"), doctest::Contains("student, welch"), Error);
}

}  // TEST_SUITE
