#include "attribution/robustness/min_param.h"

#include <cmath>

#include "engine/error.h"

namespace backlight {

namespace {

Tensor logits_of(const Module& model, const Tensor& x) {
  Tape tape(TapeOptions{.record = false});
  Tensor z = model.forward(tape.input(x)).value().to_cpu();
  BL_CHECK_SHAPE(z.dim() == 2 && z.size(0) == x.size(0), "min_param_perturbation: expected logits [", x.size(0),
                 ", classes], got ", z.shape());
  return z;
}

// Captum's default_correct_fn: all(argmax(out, 1) == target).
bool correct(const Tensor& z, const std::vector<int64_t>& target) {
  for (int64_t b = 0; b < z.size(0); ++b) {
    const float* r = z.data() + b * z.size(1);
    if (std::max_element(r, r + z.size(1)) - r != target[static_cast<size_t>(b)]) return false;
  }
  return true;
}

// Python's float a // b (floatobject.c float_floor_div), which is not always floor(a / b):
// 1.0 // 0.1 is 9.0, floor(1.0 / 0.1) is 10.
double py_floordiv(double a, double b) {
  double mod = std::fmod(a, b);
  double div = (a - mod) / b;
  if (mod != 0 && ((b < 0) != (mod < 0))) div -= 1.0;
  if (div == 0) return std::copysign(0.0, a / b);
  double f = std::floor(div);
  if (div - f > 0.5) f += 1.0;
  return f;
}

}  // namespace

MinParamMode min_param_mode_from_string(const std::string& name) {
  if (name == "linear") return MinParamMode::Linear;
  if (name == "binary") return MinParamMode::Binary;
  BL_THROW("min_param_perturbation: unknown mode '", name, "'; expected linear or binary");
}

MinParamResult min_param_perturbation(const Module& model, const Tensor& inputs, const ParamPerturbation& perturb,
                                      const Target& target, const MinParamOptions& o) {
  BL_CHECK(perturb, "min_param_perturbation: no perturbation given");
  BL_CHECK(!target.is_function(), "min_param_perturbation: function targets are not supported; give classes");
  BL_CHECK(std::isfinite(o.arg_min) && std::isfinite(o.arg_max) && std::isfinite(o.arg_step) && o.arg_step > 0,
           "min_param_perturbation: arg_min, arg_max and arg_step must be finite with arg_step > 0");
  BL_CHECK(o.arg_max > o.arg_min + o.arg_step, "min_param_perturbation: arg_max (", o.arg_max,
           ") must exceed arg_min + arg_step (", o.arg_min + o.arg_step, ")");
  BL_CHECK(o.num_attempts >= 1, "min_param_perturbation: num_attempts must be >= 1, got ", o.num_attempts);
  MinParamResult r;
  r.target = target.resolve(logits_of(model, inputs));
  // One value: true (and the perturbed input kept) when some attempt is misclassified.
  auto succeeds = [&](double param) {
    for (int64_t a = 0; a < o.num_attempts; ++a) {
      Tensor p = perturb(inputs, param);
      ++r.evaluations;
      BL_CHECK_SHAPE(p.shape() == inputs.shape(), "min_param_perturbation: the perturbation returned ", p.shape(),
                     " for inputs ", inputs.shape());
      if (!correct(logits_of(model, p), r.target)) {
        r.perturbed = p;
        return true;
      }
    }
    return false;
  };
  if (o.mode == MinParamMode::Linear) {
    for (double param = o.arg_min; param < o.arg_max; param += o.arg_step)  // Captum's drange
      if (succeeds(param)) {
        r.param = param;
        return r;
      }
    return r;
  }
  double lo = o.arg_min, hi = o.arg_max;
  Tensor best;
  while (hi > lo) {
    double mid_step = py_floordiv(py_floordiv(hi - lo, o.arg_step), 2);  // Captum's float //
    if (mid_step == 0 && lo + o.arg_step < hi) mid_step = 1;
    const double mid = lo + mid_step * o.arg_step;
    const bool ok = succeeds(mid);
    if (ok) {
      hi = mid;
      if (!r.param || *r.param > mid) r.param = mid, best = r.perturbed;
    }
    if (std::fabs(lo - mid) <= 1e-9 * std::max(std::fabs(lo), std::fabs(mid))) break;  // math.isclose
    if (!ok) lo = mid;
  }
  r.perturbed = best;
  return r;
}

}  // namespace backlight
