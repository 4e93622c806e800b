#include "attribution/counterfactual/counterfactual.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "attribution/core/pass.h"
#include "engine/backward.h"
#include "engine/error.h"

namespace backlight {

namespace {

// The fixed parts of one search: model, input, class, ranges and mask per feature.
struct Problem {
  const Module& model;
  const Workspace& ws;
  Tensor x;  // [1, ...]
  int64_t t;
  int64_t f;
  std::vector<float> lo, hi;
  std::vector<uint8_t> frozen;
  const CfMetric& metric;
};

Problem make_problem(const char* fn, const Module& model, const Tensor& x, int64_t t, const CfConstraints& c,
                     const CfMetric& metric, const Workspace& ws) {
  BL_CHECK_SHAPE(x.defined() && x.dim() >= 2 && x.size(0) == 1, fn, ": expected one input [1, ...], got ",
                 x.defined() ? x.shape().str() : std::string("no tensor"));
  BL_CHECK(!x.is_cuda(), fn, ": the input must be on the CPU");
  require_finite(x, fn);
  const int64_t f = x.numel();
  auto check_len = [&](size_t n, const char* what) {
    BL_CHECK(n == 0 || static_cast<int64_t>(n) == f, fn, ": ", what, " has ", n, " entries; expected one per feature (",
             f, ")");
  };
  check_len(c.immutable.size(), "immutable");
  check_len(c.lower.size(), "lower");
  check_len(c.upper.size(), "upper");
  check_len(metric.weights.size(), "metric weights");
  BL_CHECK(metric.kind != CfDistance::Mad || !metric.weights.empty(), fn,
           ": the mad distance needs per-feature weights (mad_weights of a reference data set)");
  Problem p{model, ws, x.to_cpu().clone(), t, f, {}, {}, {}, metric};
  p.lo.assign(static_cast<size_t>(f), c.lower_bound);
  p.hi.assign(static_cast<size_t>(f), c.upper_bound);
  if (!c.lower.empty()) p.lo = c.lower;
  if (!c.upper.empty()) p.hi = c.upper;
  p.frozen = c.immutable.empty() ? std::vector<uint8_t>(static_cast<size_t>(f), 0) : c.immutable;
  for (int64_t i = 0; i < f; ++i) {
    const size_t s = static_cast<size_t>(i);
    BL_CHECK(!std::isnan(p.lo[s]) && !std::isnan(p.hi[s]) && p.lo[s] <= p.hi[s], fn, ": feature ", i,
             " has the range [", p.lo[s], ", ", p.hi[s], "]; expected lower <= upper");
  }
  // The class is checked against the model's output once.
  Tape tape(TapeOptions{.record = false});
  const Tensor z = model.forward(tape.input(p.x)).value().to_cpu();
  BL_CHECK_SHAPE(z.dim() == 2 && z.size(0) == 1, fn, ": expected logits [1, classes], got ", z.shape());
  BL_CHECK(t >= 0 && t < z.size(1), fn, ": desired class ", t, " is not a class of the model (0..", z.size(1) - 1,
           ")");
  return p;
}

Tensor repeat_rows(const Tensor& x, int64_t k) {
  const auto span = x.shape().dims();
  std::vector<int64_t> dims(span.begin(), span.end());
  dims[0] = k;
  Tensor out = Tensor::empty(Shape(dims));
  for (int64_t i = 0; i < k; ++i) std::copy(x.data(), x.data() + x.numel(), out.data() + i * x.numel());
  return out;
}

void project(const Problem& p, Tensor& c) {
  const int64_t k = c.size(0);
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < p.f; ++j) {
      float& v = c.data()[i * p.f + j];
      const size_t s = static_cast<size_t>(j);
      v = p.frozen[s] ? p.x.data()[j] : std::min(std::max(v, p.lo[s]), p.hi[s]);
    }
}

Tensor logits_of(const Problem& p, const Tensor& c) {
  Tape tape(TapeOptions{.record = false});
  return p.model.forward(tape.input(c)).value().to_cpu();
}

// Margin of the desired class per row and the strongest other class.
struct Margin {
  double margin;
  int64_t other;
  int64_t argmax;
};

Margin margin_of(const float* z, int64_t classes, int64_t t) {
  Margin m{0, -1, 0};
  double best = -INFINITY;
  for (int64_t j = 0; j < classes; ++j) {
    if (z[j] > z[m.argmax]) m.argmax = j;
    if (j != t && z[j] > best) best = z[j], m.other = j;
  }
  m.margin = m.other < 0 ? INFINITY : z[t] - best;
  return m;
}

// Adam as torch.optim.Adam (betas 0.9, 0.999, eps 1e-8, bias-corrected).
struct Adam {
  std::vector<double> m, v;
  int64_t step = 0;
  void apply(Tensor& c, const std::vector<float>& g, double lr) {
    if (m.empty()) m.assign(g.size(), 0), v.assign(g.size(), 0);
    ++step;
    const double b1 = 0.9, b2 = 0.999, c1 = 1 - std::pow(b1, double(step)), c2 = 1 - std::pow(b2, double(step));
    for (size_t i = 0; i < g.size(); ++i) {
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * double(g[i]) * g[i];
      c.data()[i] -= static_cast<float>(lr * (m[i] / c1) / (std::sqrt(v[i] / c2) + 1e-8));
    }
  }
};

// One evaluation of the joint loss at C: value, gradient, validity per row.
struct Eval {
  double loss = 0;
  std::vector<float> grad;
  std::vector<uint8_t> valid;
  double proximity = 0;  // sum_i d(c_i, x)
};

Eval evaluate(const Problem& p, const Tensor& c, double hinge_w, double kappa, double prox_w, double div_w) {
  const int64_t k = c.size(0);
  Eval e;
  e.grad.assign(static_cast<size_t>(k * p.f), 0.0f);
  e.valid.assign(static_cast<size_t>(k), 0);
  ForwardPass pass = forward_pass(p.model, c, p.ws);
  const Tensor z = pass.output.value().to_cpu();
  const int64_t classes = z.size(1);
  Tensor seed = Tensor::zeros(z.shape());
  bool any = false;
  for (int64_t i = 0; i < k; ++i) {
    const Margin m = margin_of(z.data() + i * classes, classes, p.t);
    e.valid[static_cast<size_t>(i)] = m.argmax == p.t;
    const double h = kappa - m.margin;
    if (h > 0 && m.other >= 0) {
      e.loss += hinge_w * h;
      seed.data()[i * classes + p.t] = static_cast<float>(-hinge_w);
      seed.data()[i * classes + m.other] = static_cast<float>(hinge_w);
      any = true;
    }
  }
  if (any) {
    const Tensor g = backward(pass.output, seed, pass.input, RuleSet("gradient")).to_cpu();
    std::copy(g.data(), g.data() + g.numel(), e.grad.begin());
  }
  for (int64_t i = 0; i < k; ++i) {
    const float* ci = c.data() + i * p.f;
    const double d = p.metric.distance(ci, p.x.data(), p.f);
    e.proximity += d;
    e.loss += prox_w * d;
    if (prox_w != 0) p.metric.add_gradient(ci, p.x.data(), p.f, prox_w, e.grad.data() + i * p.f);
  }
  if (div_w != 0 && k > 1) e.loss -= div_w * dpp_diversity(c.data(), k, p.f, p.metric, -div_w, e.grad.data());
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < p.f; ++j)
      if (p.frozen[static_cast<size_t>(j)]) e.grad[static_cast<size_t>(i * p.f + j)] = 0;
  return e;
}

// DiCE 3.3: reset changed features to x one at a time (smallest weighted change first) while valid.
void posthoc_sparsity(const Problem& p, Tensor& c) {
  const int64_t k = c.size(0);
  for (int64_t i = 0; i < k; ++i) {
    Tensor row = Tensor::empty(p.x.shape());
    std::copy(c.data() + i * p.f, c.data() + (i + 1) * p.f, row.data());
    const Tensor z0 = logits_of(p, row);
    if (margin_of(z0.data(), z0.size(1), p.t).argmax != p.t) continue;
    std::vector<int64_t> order;
    for (int64_t j = 0; j < p.f; ++j)
      if (std::fabs(double(row.data()[j]) - p.x.data()[j]) > 0) order.push_back(j);
    auto w = [&](int64_t j) {
      return std::fabs(double(row.data()[j]) - p.x.data()[j]) *
             (p.metric.weights.empty() ? 1.0 : p.metric.weights[static_cast<size_t>(j)]);
    };
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return w(a) < w(b); });
    for (int64_t j : order) {
      const float keep = row.data()[j];
      row.data()[j] = p.x.data()[j];
      const Tensor z = logits_of(p, row);
      if (margin_of(z.data(), z.size(1), p.t).argmax != p.t) row.data()[j] = keep;
    }
    std::copy(row.data(), row.data() + p.f, c.data() + i * p.f);
  }
}

void finish(const Problem& p, CounterfactualResult& r, bool sparsify, double tol) {
  if (sparsify) posthoc_sparsity(p, r.counterfactuals);
  const Tensor z = logits_of(p, r.counterfactuals);
  const int64_t k = z.size(0), classes = z.size(1);
  r.desired_class = p.t;
  r.prediction.clear(), r.probability.clear(), r.valid.clear();
  for (int64_t i = 0; i < k; ++i) {
    const float* zi = z.data() + i * classes;
    const Margin m = margin_of(zi, classes, p.t);
    double s = 0;
    for (int64_t j = 0; j < classes; ++j) s += std::exp(double(zi[j]) - zi[m.argmax]);
    r.prediction.push_back(m.argmax);
    r.probability.push_back(static_cast<float>(std::exp(double(zi[p.t]) - zi[m.argmax]) / s));
    r.valid.push_back(m.argmax == p.t);
  }
  r.metrics = cf_metrics(p.x, r.counterfactuals, r.valid, p.metric, tol);
}

void check_common(const char* fn, float lr, int64_t max_iter, float kappa) {
  BL_CHECK(std::isfinite(lr) && lr > 0, fn, ": learning_rate must be > 0, got ", lr);
  BL_CHECK(max_iter >= 1, fn, ": max_iter must be >= 1, got ", max_iter);
  BL_CHECK(std::isfinite(kappa) && kappa >= 0, fn, ": kappa must be finite and >= 0, got ", kappa);
}

}  // namespace

CounterfactualResult wachter_counterfactual(const Module& model, const Tensor& x, int64_t desired_class,
                                            const WachterOptions& o) {
  check_common("wachter_counterfactual", o.learning_rate, o.max_iter, o.kappa);
  BL_CHECK(std::isfinite(o.lambda) && o.lambda >= 0, "wachter_counterfactual: lambda must be >= 0, got ", o.lambda);
  BL_CHECK(o.lambda_decay > 0 && o.lambda_decay < 1, "wachter_counterfactual: lambda_decay must be in (0, 1), got ",
           o.lambda_decay);
  BL_CHECK(o.lambda_steps >= 1, "wachter_counterfactual: lambda_steps must be >= 1, got ", o.lambda_steps);
  std::unique_ptr<Workspace> local;
  const Problem p = make_problem("wachter_counterfactual", model, x, desired_class, o.constraints, o.metric,
                                 pick_workspace(o.workspace, local));
  CounterfactualResult r;
  Progress progress("wachter", o.max_iter * o.lambda_steps, o.progress);
  double lambda = o.lambda;
  Tensor best;
  double best_d = INFINITY;
  for (int64_t round = 0; round < o.lambda_steps && !best.defined(); ++round, lambda *= o.lambda_decay) {
    Tensor c = p.x.clone();
    project(p, c);
    Adam adam;
    for (int64_t it = 0; it < o.max_iter; ++it, ++r.iterations) {
      const Eval e = evaluate(p, c, 1.0, o.kappa, lambda, 0.0);
      if (e.valid[0] && e.proximity < best_d) best_d = e.proximity, best = c.clone(), r.lambda = lambda;
      adam.apply(c, e.grad, o.learning_rate);
      project(p, c);
      progress.advance();
    }
    if (!best.defined()) {  // the last step's answer counts too
      const Tensor z = logits_of(p, c);
      if (margin_of(z.data(), z.size(1), p.t).argmax == p.t) best = c, r.lambda = lambda;
    }
    if (!best.defined() && round + 1 == o.lambda_steps) best = c, r.lambda = lambda;
  }
  progress.finish();
  r.counterfactuals = best;
  finish(p, r, o.posthoc_sparsity, o.change_tolerance);
  return r;
}

CounterfactualResult dice_counterfactuals(const Module& model, const Tensor& x, int64_t desired_class,
                                          const DiceOptions& o) {
  check_common("dice_counterfactuals", o.learning_rate, o.max_iter, o.kappa);
  BL_CHECK(o.k >= 1, "dice_counterfactuals: k must be >= 1, got ", o.k);
  BL_CHECK(o.min_iter >= 0 && o.min_iter <= o.max_iter, "dice_counterfactuals: expected 0 <= min_iter <= max_iter, got ",
           o.min_iter, " and ", o.max_iter);
  BL_CHECK(std::isfinite(o.proximity_weight) && o.proximity_weight >= 0 && std::isfinite(o.diversity_weight) &&
               o.diversity_weight >= 0,
           "dice_counterfactuals: proximity_weight and diversity_weight must be >= 0, got ", o.proximity_weight,
           " and ", o.diversity_weight);
  std::unique_ptr<Workspace> local;
  const Problem p = make_problem("dice_counterfactuals", model, x, desired_class, o.constraints, o.metric,
                                 pick_workspace(o.workspace, local));
  Tensor c = repeat_rows(p.x, o.k);
  for (int64_t i = 0; i < o.k; ++i)
    for (int64_t j = 0; j < p.f; ++j) c.data()[i * p.f + j] += static_cast<float>(i) * o.init_offset;
  project(p, c);
  const double hinge_w = 1.0 / double(o.k), prox_w = o.proximity_weight / double(o.k * p.f);
  CounterfactualResult r;
  Progress progress("dice", o.max_iter, o.progress);
  Adam adam;
  Tensor backup;
  double backup_prox = INFINITY, prev_loss = 0;
  for (int64_t it = 0;; ++it) {
    const Eval e = evaluate(p, c, hinge_w, o.kappa, prox_w, o.diversity_weight);
    const bool all_valid = std::all_of(e.valid.begin(), e.valid.end(), [](uint8_t v) { return v != 0; });
    if (all_valid && e.proximity < backup_prox) backup_prox = e.proximity, backup = c.clone();
    const double diff = std::fabs(e.loss - prev_loss);
    prev_loss = e.loss;
    if (it >= o.max_iter || (it >= o.min_iter && it > 0 && diff <= o.loss_diff_thresh && all_valid)) {
      r.iterations = it;
      break;
    }
    adam.apply(c, e.grad, o.learning_rate);
    project(p, c);
    progress.advance();
  }
  progress.finish();
  r.counterfactuals = c;
  finish(p, r, false, o.change_tolerance);
  if (backup.defined() && std::find(r.valid.begin(), r.valid.end(), 0) != r.valid.end()) r.counterfactuals = backup;
  finish(p, r, o.posthoc_sparsity, o.change_tolerance);
  return r;
}

}  // namespace backlight
