#include "attribution/metrics/fragility_topk.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <string>

#include "attribution/gradient/gradient_methods.h"
#include "engine/error.h"
#include "engine/rules/builtin.h"

namespace backlight {

namespace {

// [N, C, positions] view of a map or input: C = size(1) for rank >= 3, else 1 (as fragility.cpp).
struct Layout {
  int64_t n, per, c, pos;
  explicit Layout(const Tensor& t)
      : n(t.size(0)), per(t.numel() / std::max<int64_t>(t.size(0), 1)), c(t.dim() >= 3 ? t.size(1) : 1),
        pos(per / c) {}
  int64_t at(int64_t b, int64_t ch, int64_t i) const { return b * per + ch * pos + i; }
};

float sign(float v) { return v > 0 ? 1.0f : (v < 0 ? -1.0f : 0.0f); }

void check_objective(const Tensor& x, const TopKObjective& o) {
  const Layout l(x);
  BL_CHECK(static_cast<int64_t>(o.positions.size()) == l.n, "topk_objective: expected positions for ", l.n,
           " items, got ", o.positions.size());
  for (const auto& p : o.positions)
    for (int64_t i : p)
      BL_CHECK(i >= 0 && i < l.pos, "topk_objective: position ", i, " outside [0, ", l.pos, ")");
}

// v = dL/dg~ (masked signs, times x for input x gradient) and the map m = g~ or x * g~.
Tensor objective_weights(const Tensor& x, const Tensor& g, const TopKObjective& o) {
  const Layout l(x);
  Tensor v = Tensor::zeros(x.shape());
  for (int64_t b = 0; b < l.n; ++b)
    for (int64_t i : o.positions[size_t(b)])
      for (int64_t ch = 0; ch < l.c; ++ch) {
        const int64_t k = l.at(b, ch, i);
        const float xi = x.data()[k], m = o.times_input ? xi * g.data()[k] : g.data()[k];
        v.data()[k] = sign(m) * (o.times_input ? xi : 1.0f);
      }
  return v;
}

// The predicted class of each row of logits [N, classes].
std::vector<int64_t> argmax_rows(const Tensor& logits) {
  const Tensor o = logits.to_cpu();
  const int64_t n = o.size(0), c = o.numel() / std::max<int64_t>(n, 1);
  std::vector<int64_t> r(static_cast<size_t>(n));
  for (int64_t b = 0; b < n; ++b)
    r[size_t(b)] = std::max_element(o.data() + b * c, o.data() + (b + 1) * c) - (o.data() + b * c);
  return r;
}

// Top-k positions of the channel-summed |map| per item (ties: lower index first, as fragility.cpp).
std::vector<std::vector<int64_t>> top_positions(const Tensor& map, int64_t k) {
  const Tensor m = map.to_cpu();
  const Layout l(m);
  std::vector<std::vector<int64_t>> out;
  for (int64_t b = 0; b < l.n; ++b) {
    std::vector<double> s(size_t(l.pos), 0.0);
    for (int64_t ch = 0; ch < l.c; ++ch)
      for (int64_t i = 0; i < l.pos; ++i) s[size_t(i)] += std::fabs(double(m.data()[l.at(b, ch, i)]));
    std::vector<int64_t> idx(size_t(l.pos));
    std::iota(idx.begin(), idx.end(), 0);
    const int64_t kk = std::min(k, l.pos);
    std::partial_sort(idx.begin(), idx.begin() + kk, idx.end(), [&](int64_t a, int64_t c) {
      return s[size_t(a)] > s[size_t(c)] || (s[size_t(a)] == s[size_t(c)] && a < c);
    });
    idx.resize(size_t(kk));
    out.push_back(std::move(idx));
  }
  return out;
}

}  // namespace

Tensor softplus_smoothed_gradient(const Module& model, const Tensor& inputs, const Target& target, float beta) {
  const RuleSet rules = RuleSet("softplus_gradient").when(kind(OpKind::Relu), softplus_gradient(beta));
  return rule_set_attribution(model, inputs, target, rules).attribution.to_cpu();
}

std::vector<double> topk_objective(const Module& model, const Tensor& inputs, const Target& target,
                                   const TopKObjective& o) {
  check_objective(inputs, o);
  const Tensor g = softplus_smoothed_gradient(model, inputs, target, o.beta);
  const Layout l(inputs);
  std::vector<double> r(size_t(l.n), 0.0);
  for (int64_t b = 0; b < l.n; ++b)
    for (int64_t i : o.positions[size_t(b)])
      for (int64_t ch = 0; ch < l.c; ++ch) {
        const int64_t k = l.at(b, ch, i);
        r[size_t(b)] += std::fabs(double(g.data()[k]) * (o.times_input ? inputs.data()[k] : 1.0f));
      }
  return r;
}

Tensor topk_objective_gradient(const Module& model, const Tensor& inputs, const Target& target,
                               const TopKObjective& o) {
  check_objective(inputs, o);
  const Tensor x = inputs.to_cpu();
  const Tensor g = softplus_smoothed_gradient(model, x, target, o.beta);
  const Tensor v = objective_weights(x, g, o);
  const Layout l(x);
  // Per-item step h = 1e-3 max|x| / max|v| (1e-3 / max|v| for an all-zero item).
  std::vector<float> h(size_t(l.n), 0.0f);
  Tensor plus = x.clone(), minus = x.clone();
  for (int64_t b = 0; b < l.n; ++b) {
    float mx = 0, mv = 0;
    for (int64_t k = b * l.per; k < (b + 1) * l.per; ++k)
      mx = std::max(mx, std::fabs(x.data()[k])), mv = std::max(mv, std::fabs(v.data()[k]));
    if (mv == 0) continue;  // nothing in B has a signal: grad L = 0 for this item
    h[size_t(b)] = 1e-3f * (mx > 0 ? mx : 1.0f) / mv;
    for (int64_t k = b * l.per; k < (b + 1) * l.per; ++k) {
      plus.data()[k] += h[size_t(b)] * v.data()[k];
      minus.data()[k] -= h[size_t(b)] * v.data()[k];
    }
  }
  const Tensor gp = softplus_smoothed_gradient(model, plus, target, o.beta);
  const Tensor gm = softplus_smoothed_gradient(model, minus, target, o.beta);
  Tensor d = Tensor::zeros(x.shape());
  for (int64_t b = 0; b < l.n; ++b) {
    if (h[size_t(b)] == 0) continue;
    const double inv = 1.0 / (2.0 * double(h[size_t(b)]));
    for (int64_t k = b * l.per; k < (b + 1) * l.per; ++k)
      d.data()[k] = static_cast<float>((double(gp.data()[k]) - double(gm.data()[k])) * inv);
  }
  if (o.times_input)  // d|x g~|/dx directly: sign(x g~) g~ on B
    for (int64_t b = 0; b < l.n; ++b)
      for (int64_t i : o.positions[size_t(b)])
        for (int64_t ch = 0; ch < l.c; ++ch) {
          const int64_t k = l.at(b, ch, i);
          d.data()[k] += sign(x.data()[k] * g.data()[k]) * g.data()[k];
        }
  return d;
}

TopKAttackResult topk_attack(std::string_view method, const Module& model, const Tensor& inputs,
                             const Target& target, int64_t k, const MethodOptions& method_options,
                             const FragilityOptions& o) {
  BL_CHECK(method == "saliency" || method == "input_x_gradient", "fragility: the topk attack needs a gradient map "
           "(supported methods: saliency, input_x_gradient), got method '", method, "'");
  BL_CHECK(o.steps >= 1, "fragility: expected topk steps >= 1, got ", o.steps);
  BL_CHECK(o.softplus_beta > 0 && std::isfinite(o.softplus_beta), "fragility: expected softplus_beta > 0, got ",
           o.softplus_beta);
  BL_CHECK(k >= 1, "fragility: expected k >= 1 for the topk attack, got ", k);
  const Tensor x = inputs.to_cpu();
  const std::string name(method);
  const AttributionResult clean = attribute(name, model, x, target, method_options);
  const std::vector<int64_t> label = argmax_rows(clean.output);
  const TopKObjective objective{.positions = top_positions(clean.attribution, k),
                                .times_input = method == "input_x_gradient",
                                .beta = o.softplus_beta};
  const float step = o.step_size > 0 ? o.step_size : o.epsilon / 4;
  const Layout l(x);

  TopKAttackResult r{.adversarial = x.clone(), .kept_input = std::vector<bool>(size_t(l.n), true),
                     .step = std::vector<int64_t>(size_t(l.n), 0)};
  std::vector<double> best(size_t(l.n), 2.0);  // above any intersection
  Tensor xt = x.clone();
  for (int64_t t = 1; t <= o.steps; ++t) {
    const Tensor grad = topk_objective_gradient(model, xt, target, objective);
    for (int64_t q = 0; q < x.numel(); ++q) {
      const float moved = xt.data()[q] - step * sign(grad.data()[q]);  // x + step * sign(D), D = -grad L
      const float lo = std::max(x.data()[q] - o.epsilon, o.lower_bound);
      const float hi = std::min(x.data()[q] + o.epsilon, o.upper_bound);
      xt.data()[q] = std::clamp(moved, std::min(lo, hi), std::max(lo, hi));
    }
    const AttributionResult now = attribute(name, model, xt, target, method_options);
    const std::vector<int64_t> pred = argmax_rows(now.output);
    const FragilityResult f = explanation_fragility(clean.attribution, now.attribution, k);
    for (int64_t b = 0; b < l.n; ++b) {
      if (pred[size_t(b)] != label[size_t(b)] || !(f.top_k_intersection[size_t(b)] < best[size_t(b)])) continue;
      best[size_t(b)] = f.top_k_intersection[size_t(b)];
      r.kept_input[size_t(b)] = false;
      r.step[size_t(b)] = t;
      std::copy(xt.data() + b * l.per, xt.data() + (b + 1) * l.per, r.adversarial.data() + b * l.per);
    }
  }
  return r;
}

}  // namespace backlight
