#pragma once
// Test helpers: seeded random tensors, one comparison report, finite-difference gradcheck.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "engine/backward.h"
#include "engine/ops/ops.h"
#include "engine/tape.h"
#include "engine/cuda/device.h"

/// First statement of a GPU test case (TEST_SUITE "cuda"): without a CUDA device it says
/// "skipped: no CUDA device (why)" and returns (doctest has no run-time skip).
#define BL_REQUIRE_CUDA_OR_SKIP()                                         \
  do {                                                                    \
    if (::backlight::cuda_device_count() == 0) {                          \
      MESSAGE("skipped: no CUDA device (", ::backlight::cuda_device_summary(), ")"); \
      return;                                                             \
    }                                                                     \
  } while (0)

namespace backlight::test {

inline constexpr uint64_t kSeed = 0xdeadbeef;

inline Tensor randn(const Shape& s, std::mt19937_64& rng, float stdev = 1.0f) {
  std::normal_distribution<float> d(0.0f, stdev);
  Tensor t = Tensor::empty(s);
  for (float& v : t.span()) v = d(rng);
  return t;
}

inline Tensor uniform(const Shape& s, std::mt19937_64& rng, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> d(lo, hi);
  Tensor t = Tensor::empty(s);
  for (float& v : t.span()) v = d(rng);
  return t;
}

/// Moves values within `margin` of any kink away from it (for non-smooth ops under FD).
inline void away_from(Tensor& t, std::initializer_list<float> kinks, float margin) {
  for (float& v : t.span())
    for (float k : kinks)
      if (std::fabs(v - k) < margin) v = (v >= k) ? k + margin : k - margin;
}

/// Empty string when |a-b| <= atol + rtol*|b| everywhere; else max errors and first mismatches.
inline std::string allclose_report(const Tensor& a, const Tensor& b, double atol, double rtol) {
  std::ostringstream os;
  if (a.shape() != b.shape()) {
    os << "shape " << a.shape() << " != " << b.shape();
    return os.str();
  }
  double max_abs = 0, max_rel = 0;
  int bad = 0;
  std::ostringstream first;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double x = a.data()[i], y = b.data()[i];
    const double err = std::fabs(x - y);
    if (!(std::isfinite(x) == std::isfinite(y))) {
      if (bad++ < 5) first << "  [" << i << "] " << x << " vs " << y << "\n";
      continue;
    }
    max_abs = std::max(max_abs, err);
    max_rel = std::max(max_rel, err / std::max(1e-12, std::fabs(y)));
    if (!(err <= atol + rtol * std::fabs(y))) {
      if (bad++ < 5) first << "  [" << i << "] " << x << " vs " << y << "\n";
    }
  }
  if (!bad) return "";
  os << bad << " of " << a.numel() << " elements differ (max abs " << max_abs << ", max rel " << max_rel
     << ", atol " << atol << ", rtol " << rtol << "):\n"
     << first.str();
  return os.str();
}

#define BL_CHECK_CLOSE(a, b, atol, rtol)                                            \
  do {                                                                              \
    const std::string _report = ::backlight::test::allclose_report(a, b, atol, rtol); \
    CHECK_MESSAGE(_report.empty(), _report);                                        \
  } while (0)

/// The relative scale of a comparison: max |b| (at least 1e-12).
inline double max_abs(const Tensor& t) {
  double m = 1e-12;
  for (float v : t.span()) m = std::max(m, static_cast<double>(std::fabs(v)));
  return m;
}

using BuildFn = std::function<Var(const std::vector<Var>&)>;

struct GradcheckOptions {
  double h = 1e-2;
  double atol = 2e-3;
  double rtol = 1e-2;
};

/// Compares the tape's plain gradient of sum(seed * f(inputs)) with respect to every input
/// against central finite differences (the objective accumulated in double).
inline void gradcheck(const BuildFn& f, std::vector<Tensor> inputs, GradcheckOptions opt = {},
                      uint64_t seed = kSeed) {
  std::mt19937_64 rng(seed);
  Tape tape;
  std::vector<Var> vars;
  for (size_t i = 0; i < inputs.size(); ++i) vars.push_back(tape.input(inputs[i], "x" + std::to_string(i)));
  Var y = f(vars);
  const Tensor cot = randn(y.shape(), rng);
  const Tensor seed_t = cot;
  std::vector<Var> outs{y};
  std::vector<Tensor> seeds{seed_t};
  const std::vector<Tensor> grads = backward(tape, outs, seeds, vars, RuleSet());

  auto objective = [&](const std::vector<Tensor>& xs) {
    Tape t2(TapeOptions{.record = false});
    std::vector<Var> v2;
    for (const Tensor& x : xs) v2.push_back(t2.input(x));
    const Tensor out = f(v2).value();
    double s = 0;
    for (int64_t i = 0; i < out.numel(); ++i) s += static_cast<double>(out.data()[i]) * cot.data()[i];
    return s;
  };
  for (size_t k = 0; k < inputs.size(); ++k) {
    CAPTURE(k);
    Tensor fd = Tensor::empty(inputs[k].shape());
    std::vector<Tensor> xs;
    for (const Tensor& x : inputs) xs.push_back(x.clone());
    for (int64_t i = 0; i < inputs[k].numel(); ++i) {
      const float orig = xs[k].data()[i];
      xs[k].data()[i] = orig + static_cast<float>(opt.h);
      const double plus = objective(xs);
      xs[k].data()[i] = orig - static_cast<float>(opt.h);
      const double minus = objective(xs);
      xs[k].data()[i] = orig;
      fd.data()[i] = static_cast<float>((plus - minus) / (2 * opt.h));
    }
    const std::string report = allclose_report(grads[k], fd, opt.atol, opt.rtol);
    CHECK_MESSAGE(report.empty(), "input ", k, " of shape ", inputs[k].shape(), ": analytic vs finite difference: ",
                  report);
  }
}

}  // namespace backlight::test
