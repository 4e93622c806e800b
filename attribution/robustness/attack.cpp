#include "attribution/robustness/attack.h"

#include <algorithm>
#include <cmath>

#include "attribution/core/pass.h"
#include "engine/backward.h"
#include "engine/error.h"
#include "engine/philox.h"

namespace backlight {

namespace {

constexpr float kZeroThresh = 1e-6f;  // Captum FGSM.zero_thresh

void check_inputs(const char* fn, const Tensor& x, float epsilon) {
  BL_CHECK_SHAPE(x.defined() && x.dim() >= 2, fn, ": expected a batch of inputs [N, ...], got ",
                 x.defined() ? x.shape().str() : std::string("no tensor"));
  BL_CHECK(!x.is_cuda(), fn, ": inputs must be on the CPU (attacks run on the host)");
  BL_CHECK(std::isfinite(epsilon) && epsilon >= 0, fn, ": epsilon must be finite and >= 0, got ", epsilon);
}

void check_bounds(const char* fn, float lo, float hi) {
  BL_CHECK(!std::isnan(lo) && !std::isnan(hi) && lo <= hi, fn, ": lower_bound (", lo,
           ") must not exceed upper_bound (", hi, ")");
}

std::vector<int64_t> resolve_target(const char* fn, const Module& model, const Tensor& x, const Target& target,
                                    const Workspace& ws) {
  BL_CHECK(!target.is_function(), fn, ": function targets are not supported; give a class per item (Captum's "
           "target labels) or the top-1 prediction");
  ForwardPass p = forward_pass(model, x, ws);
  const Tensor out = p.output.value().to_cpu();
  BL_CHECK_SHAPE(out.dim() == 2 && out.size(0) == x.size(0), fn, ": expected logits [N, classes] for ", x.size(0),
                 " inputs, got ", out.shape());
  return target.resolve(out);
}

void clamp_inplace(Tensor& t, float lo, float hi) {
  for (float& v : t.span()) v = std::min(std::max(v, lo), hi);
}

// Captum FGSM._perturb: x + s * eps * sign(g) where |g| > zero_thresh.
Tensor fgsm_step(const Tensor& x, const Tensor& g, float epsilon, bool targeted) {
  Tensor out = x.clone();
  const float step = (targeted ? -1.0f : 1.0f) * epsilon;
  const float* gp = g.data();
  float* op = out.data();
  for (int64_t i = 0; i < out.numel(); ++i)
    if (std::fabs(gp[i]) > kZeroThresh) op[i] = op[i] + step * (gp[i] > 0 ? 1.0f : -1.0f);
  return out;
}

// Captum PGD._clip: x + clamp(adv - x, -r, r) (Linf) or x + renorm(adv - x, 2, 0, r) (L2).
Tensor project(const Tensor& x, const Tensor& adv, float radius, AttackNorm norm) {
  Tensor out = Tensor::empty(x.shape());
  const int64_t n = x.size(0), per = x.numel() / std::max<int64_t>(n, 1);
  const float *xp = x.data(), *ap = adv.data();
  float* op = out.data();
  for (int64_t b = 0; b < n; ++b) {
    const int64_t o = b * per;
    if (norm == AttackNorm::Linf) {
      for (int64_t i = o; i < o + per; ++i) op[i] = xp[i] + std::min(std::max(ap[i] - xp[i], -radius), radius);
      continue;
    }
    double sq = 0;
    for (int64_t i = o; i < o + per; ++i) {
      const float d = ap[i] - xp[i];
      sq += static_cast<double>(d) * d;
    }
    const double nrm = std::sqrt(sq);
    const float factor = nrm > radius ? static_cast<float>(radius / (nrm + 1e-7)) : 1.0f;
    for (int64_t i = o; i < o + per; ++i) op[i] = xp[i] + (ap[i] - xp[i]) * factor;
  }
  return out;
}

// Captum PGD._random_point: uniform in the Linf cube, or a uniform direction at radius r * U^(1/d)
// for L2.
Tensor random_point(const Tensor& x, float radius, AttackNorm norm, uint64_t seed) {
  Tensor out = x.clone();
  const int64_t n = x.size(0), per = x.numel() / std::max<int64_t>(n, 1);
  float* op = out.data();
  for (int64_t b = 0; b < n; ++b) {
    const int64_t o = b * per;
    if (norm == AttackNorm::Linf) {
      for (int64_t i = 0; i < per; ++i)
        op[o + i] += philox::uniform(seed, 0, static_cast<uint64_t>(o + i)) * radius * 2 - radius;
      continue;
    }
    std::vector<float> u(static_cast<size_t>(per));
    double sq = 0;
    for (int64_t i = 0; i < per; ++i) {
      u[static_cast<size_t>(i)] = philox::normal(seed, 1, static_cast<uint64_t>(o + i));
      sq += static_cast<double>(u[static_cast<size_t>(i)]) * u[static_cast<size_t>(i)];
    }
    const double len = std::max(std::sqrt(sq), 1e-12);
    const double r = std::pow(static_cast<double>(philox::uniform(seed, 2, static_cast<uint64_t>(b))),
                              1.0 / static_cast<double>(per)) * radius;
    for (int64_t i = 0; i < per; ++i) op[o + i] += static_cast<float>(r * u[static_cast<size_t>(i)] / len);
  }
  return out;
}

}  // namespace

AttackNorm attack_norm_from_string(const std::string& name) {
  if (name == "linf" || name == "Linf") return AttackNorm::Linf;
  if (name == "l2" || name == "L2") return AttackNorm::L2;
  BL_THROW("attack norm: unknown norm '", name, "'; expected linf or l2");
}

std::string to_string(AttackNorm norm) { return norm == AttackNorm::Linf ? "linf" : "l2"; }

Tensor cross_entropy_input_gradient(const Module& model, const Tensor& x, const std::vector<int64_t>& target,
                                    const Workspace& ws, Tensor* logits) {
  ForwardPass p = forward_pass(model, x, ws);
  const Tensor out = p.output.value().to_cpu();
  BL_CHECK_SHAPE(out.dim() == 2 && out.size(0) == static_cast<int64_t>(target.size()),
                 "cross_entropy_input_gradient: expected logits [", target.size(), ", classes], got ", out.shape());
  // d/dz of -log softmax(z)[t] = softmax(z) - onehot(t), computed in double.
  const int64_t n = out.size(0), c = out.size(1);
  Tensor seed = Tensor::empty(out.shape());
  for (int64_t b = 0; b < n; ++b) {
    const float* z = out.data() + b * c;
    const double m = *std::max_element(z, z + c);
    double s = 0;
    for (int64_t k = 0; k < c; ++k) s += std::exp(static_cast<double>(z[k]) - m);
    for (int64_t k = 0; k < c; ++k)
      seed.data()[b * c + k] = static_cast<float>(std::exp(static_cast<double>(z[k]) - m) / s -
                                                  (k == target[static_cast<size_t>(b)] ? 1.0 : 0.0));
  }
  if (logits) *logits = out;
  return backward(p.output, seed, p.input, RuleSet("gradient")).to_cpu();
}

AttackResult fgsm(const Module& model, const Tensor& inputs, float epsilon, const Target& target,
                  const FgsmOptions& options) {
  check_inputs("fgsm", inputs, epsilon);
  check_bounds("fgsm", options.lower_bound, options.upper_bound);
  std::unique_ptr<Workspace> local;
  const Workspace& ws = pick_workspace(options.workspace, local);
  AttackResult r;
  r.target = resolve_target("fgsm", model, inputs, target, ws);
  const Tensor g = cross_entropy_input_gradient(model, inputs, r.target, ws);
  r.adversarial = fgsm_step(inputs, g, epsilon, options.targeted);
  clamp_inplace(r.adversarial, options.lower_bound, options.upper_bound);
  return r;
}

AttackResult pgd(const Module& model, const Tensor& inputs, float epsilon, const Target& target,
                 const PgdOptions& options) {
  check_inputs("pgd", inputs, epsilon);
  check_bounds("pgd", options.lower_bound, options.upper_bound);
  BL_CHECK(options.step_num >= 0, "pgd: step_num must be >= 0, got ", options.step_num);
  BL_CHECK(std::isfinite(options.step_size) && options.step_size >= 0, "pgd: step_size must be finite and >= 0, got ",
           options.step_size);
  std::unique_ptr<Workspace> local;
  const Workspace& ws = pick_workspace(options.workspace, local);
  AttackResult r;
  r.target = resolve_target("pgd", model, inputs, target, ws);
  Tensor x = inputs.clone();
  if (options.random_start) {
    x = random_point(inputs, epsilon, options.norm, options.seed);
    clamp_inplace(x, options.lower_bound, options.upper_bound);
  }
  Progress progress("pgd", options.step_num, options.progress);
  for (int64_t k = 0; k < options.step_num; ++k) {
    const Tensor g = cross_entropy_input_gradient(model, x, r.target, ws);
    x = project(inputs, fgsm_step(x, g, options.step_size, options.targeted), epsilon, options.norm);
    clamp_inplace(x, options.lower_bound, options.upper_bound);
    progress.advance();
  }
  r.adversarial = x;
  return r;
}

}  // namespace backlight
