#include "attribution/concepts/feature_visualization.h"

#include <chrono>
#include <cmath>

#include "attribution/core/layer_eval.h"
#include "attribution/core/pass.h"
#include "engine/backward.h"
#include "engine/error.h"
#include "engine/workspace.h"

namespace backlight {

namespace {

Tensor to_input(const std::vector<double>& x, const FeatureVisOptions& o) {
  const int64_t c = o.input_shape[0], h = o.input_shape[1], w = o.input_shape[2];
  Tensor t = Tensor::empty(Shape{1, c, h, w});
  for (int64_t ch = 0; ch < c; ++ch) {
    const float m = o.mean.empty() ? 0.0f : o.mean[ch], s = o.std.empty() ? 1.0f : o.std[ch];
    for (int64_t p = 0; p < h * w; ++p) t.data()[ch * h * w + p] = (static_cast<float>(x[ch * h * w + p]) - m) / s;
  }
  return t;
}

// Objective and its gradient wrt the model input [1, C, H, W].
struct Eval {
  double value = 0;
  Tensor grad;
};

Eval evaluate(const Module& model, const Tensor& input, int op, const FeatureVisOptions& o, const Workspace& ws,
              bool want_grad) {
  ForwardPass pass = forward_pass(model, input, ws);
  const Var out = o.objective == VisObjective::Logit ? pass.output : layer_var(pass, op);
  const Tensor& v = out.value();
  const int64_t per = v.numel() / std::max<int64_t>(v.size(0), 1);
  Tensor seed = Tensor::zeros(v.shape());
  double value = 0;
  if (o.objective == VisObjective::Channel) {
    BL_CHECK(v.dim() >= 2 && o.channel >= 0 && o.channel < v.size(1), "visualize: channel ", o.channel,
             " outside layer '", o.layer, "' with output ", v.shape().str());
    const int64_t hw = per / v.size(1);
    for (int64_t p = 0; p < hw; ++p) {
      value += v.data()[o.channel * hw + p] / static_cast<double>(hw);
      seed.data()[o.channel * hw + p] = 1.0f / static_cast<float>(hw);
    }
  } else {
    const int64_t idx = o.objective == VisObjective::Neuron ? o.neuron : o.target;
    BL_CHECK(idx >= 0 && idx < per, "visualize: ", o.objective == VisObjective::Neuron ? "neuron " : "target ", idx,
             " outside ", o.objective == VisObjective::Neuron ? "layer '" + o.layer + "'" : std::string("the output"),
             " with ", per, " values per input (shape ", v.shape().str(), ")");
    value = v.data()[idx];
    seed.data()[idx] = 1.0f;
  }
  Eval e;
  e.value = value;
  if (want_grad) e.grad = grad(out, seed, pass.input);
  return e;
}

void check_options(const FeatureVisOptions& o) {
  BL_CHECK(o.input_shape.size() == 3 && o.input_shape[0] == 3 && o.input_shape[1] >= 2 && o.input_shape[2] >= 2,
           "visualize: expected an RGB input shape [3, H, W], got ", o.input_shape.size(), " values");
  BL_CHECK(o.steps >= 1 && o.lr > 0, "visualize: expected steps >= 1 and lr > 0, got ", o.steps, " and ", o.lr);
  BL_CHECK(o.l2 >= 0 && o.l1 >= 0 && o.tv >= 0, "visualize: expected non-negative regulariser weights");
  BL_CHECK((o.mean.empty() || o.mean.size() == 3) && (o.std.empty() || o.std.size() == 3),
           "visualize: expected 3 mean and 3 std values");
}

int objective_op(const Module& model, const FeatureVisOptions& o, const Workspace& ws) {
  if (o.objective == VisObjective::Logit) return -1;
  Tensor probe = Tensor::empty(Shape{1, o.input_shape[0], o.input_shape[1], o.input_shape[2]});
  std::fill(probe.data(), probe.data() + probe.numel(), 0.5f);
  return layer_op_index(model, probe, o.layer, ws);
}

}  // namespace

double feature_objective(const Module& model, const Tensor& image, const FeatureVisOptions& o) {
  check_options(o);
  BL_CHECK(image.dim() == 3 && image.size(0) == 3 && image.size(1) == o.input_shape[1] &&
               image.size(2) == o.input_shape[2],
           "feature_objective: expected an image [3, ", o.input_shape[1], ", ", o.input_shape[2], "], got ",
           image.shape().str());
  Workspace ws;
  const std::vector<double> x(image.data(), image.data() + image.numel());
  return evaluate(model, to_input(x, o), objective_op(model, o, ws), o, ws, false).value;
}

FeatureVis visualize_feature(const Module& model, const FeatureVisOptions& o) {
  check_options(o);
  const auto start = std::chrono::steady_clock::now();
  const int64_t h = o.input_shape[1], w = o.input_shape[2], plane = h * w;
  Workspace ws;
  const int op = objective_op(model, o, ws);
  const ImageParam param(h, w, o.param);
  std::mt19937_64 rng(o.seed);
  std::vector<double> theta = param.init(rng);
  std::vector<double> m(theta.size(), 0.0), v(theta.size(), 0.0);
  const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
  FeatureVis res;
  for (int64_t step = 1; step <= o.steps; ++step) {
    const std::vector<double> x = param.render(theta);
    const Transform t(h, w, o.transform, rng);
    const Eval e = evaluate(model, to_input(t.apply(x), o), op, o, ws, true);
    res.history.push_back(e.value);
    std::vector<double> g(static_cast<size_t>(3 * plane));
    for (int64_t c = 0; c < 3; ++c) {
      const double s = o.std.empty() ? 1.0 : o.std[c];
      for (int64_t p = 0; p < plane; ++p) g[c * plane + p] = e.grad.data()[c * plane + p] / s;
    }
    g = t.adjoint(g);
    // Regularisers (gradient of the penalty, subtracted: we ascend objective - penalty).
    const double n = static_cast<double>(3 * plane);
    for (size_t i = 0; i < g.size(); ++i) {
      const double d = x[i] - 0.5;
      g[i] -= o.l2 * 2 * d / n + o.l1 * (d > 0 ? 1.0 : d < 0 ? -1.0 : 0.0) / n;
    }
    if (o.tv > 0)
      for (int64_t c = 0; c < 3; ++c)
        for (int64_t y = 0; y < h; ++y)
          for (int64_t xx = 0; xx < w; ++xx) {
            const int64_t p = c * plane + y * w + xx;
            auto pen = [&](int64_t q) {
              const double d = x[q] - x[p];
              const double s = (d > 0 ? 1.0 : d < 0 ? -1.0 : 0.0) * o.tv / n;
              g[q] -= s, g[p] += s;
            };
            if (xx + 1 < w) pen(p + 1);
            if (y + 1 < h) pen(p + w);
          }
    const std::vector<double> gt = param.backward(theta, g);
    const double c1 = 1 - std::pow(b1, static_cast<double>(step)), c2 = 1 - std::pow(b2, static_cast<double>(step));
    for (size_t i = 0; i < theta.size(); ++i) {
      m[i] = b1 * m[i] + (1 - b1) * gt[i];
      v[i] = b2 * v[i] + (1 - b2) * gt[i] * gt[i];
      theta[i] += o.lr * (m[i] / c1) / (std::sqrt(v[i] / c2) + eps);
    }
  }
  const std::vector<double> x = param.render(theta);
  res.image = Tensor::empty(Shape{3, h, w});
  for (size_t i = 0; i < x.size(); ++i) res.image.data()[i] = static_cast<float>(x[i]);
  res.objective = evaluate(model, to_input(x, o), op, o, ws, false).value;
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return res;
}

}  // namespace backlight
