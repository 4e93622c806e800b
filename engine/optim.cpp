#include "engine/optim.h"

#include <cmath>
#include <cstring>

#include "engine/backward.h"

namespace backlight {

namespace {

// name -> parameter handle (shares storage with the model's tensor).
std::map<std::string, Tensor, std::less<>> parameter_map(const Module& model) {
  std::map<std::string, Tensor, std::less<>> m;
  for (auto& [name, t] : model.named_parameters()) m.emplace(name, t);
  return m;
}

// The model's parameter a gradient is for, checked by name and shape.
Tensor& checked_param(std::map<std::string, Tensor, std::less<>>& params, const std::string& name, const Tensor& g,
                      const char* who) {
  auto it = params.find(name);
  BL_CHECK(it != params.end(), who, ": '", name, "' is not a parameter of the model");
  BL_CHECK(g.defined(), who, ": gradient for '", name, "' has no tensor");
  BL_CHECK_SHAPE(g.shape() == it->second.shape(), who, ": gradient for '", name, "' has shape ", g.shape(),
                 ", expected the parameter's shape ", it->second.shape());
  return it->second;
}

void check_unique(const NamedTensors& grads, const char* who) {
  std::map<std::string_view, int> seen;
  for (const auto& [name, g] : grads) BL_CHECK(++seen[name] == 1, who, ": two gradients for '", name, "'");
}

}  // namespace

NamedTensors parameter_gradients(const Module& model, const Var& loss) {
  BL_CHECK(loss.defined(), "parameter_gradients: loss is undefined");
  BL_CHECK_SHAPE(loss.shape().numel() == 1, "parameter_gradients: expected a one-element loss, got shape ",
                 loss.shape());
  const Tape& tape = loss.tape();
  const std::vector<Var> leaves = tape.parameters();
  const NamedTensors params = model.named_parameters();
  NamedTensors out;
  if (leaves.empty()) return out;

  const Tensor seed = Tensor::full(loss.shape(), 1.0f);
  const std::vector<Tensor> grads =
      backward(tape, std::span<const Var>(&loss, 1), std::span<const Tensor>(&seed, 1), leaves, RuleSet());

  std::vector<Tensor> acc(params.size());
  for (size_t i = 0; i < leaves.size(); ++i) {
    const std::string& name = tape.value(leaves[i].id()).name;
    size_t p = 0;
    while (p < params.size() && params[p].first != name) ++p;
    BL_CHECK(p < params.size(), "parameter_gradients: tape parameter '", name, "' is not a parameter of the ",
             model.type_name(), " at path '", model.path(), "'");
    const Tensor& full = params[p].second;
    const Tensor& leaf = leaves[i].value();
    // A leaf is the parameter itself or a contiguous view into it; its offset places the gradient.
    int64_t offset = 0;
    if (leaf.shares_storage(full)) {
      offset = leaf.data() - full.data();
      BL_CHECK(offset >= 0 && offset + leaf.numel() <= full.numel(), "parameter_gradients: leaf '", name,
               "' of shape ", leaf.shape(), " lies outside the parameter of shape ", full.shape());
    } else {
      BL_CHECK_SHAPE(leaf.shape() == full.shape(), "parameter_gradients: leaf '", name, "' of shape ", leaf.shape(),
                     " is neither the model's tensor nor a view of it (shape ", full.shape(), ")");
    }
    if (!acc[p].defined()) acc[p] = Tensor::zeros(full.shape());
    float* dst = acc[p].data() + offset;
    const float* src = grads[i].data();
    for (int64_t j = 0; j < leaf.numel(); ++j) dst[j] += src[j];
  }
  for (size_t p = 0; p < params.size(); ++p)
    if (acc[p].defined()) out.emplace_back(params[p].first, std::move(acc[p]));
  return out;
}

// --- SGD --------------------------------------------------------------------------------------------

SGD::SGD(Module& model, SGDOptions options) : model_(model), options_(options) {
  const SGDOptions& o = options_;
  BL_CHECK(o.lr > 0, "SGD: expected lr > 0 (PyTorch requires it), got ", o.lr);
  BL_CHECK(o.momentum >= 0, "SGD: expected momentum >= 0, got ", o.momentum);
  BL_CHECK(o.weight_decay >= 0, "SGD: expected weight_decay >= 0, got ", o.weight_decay);
  BL_CHECK(!o.nesterov || (o.momentum > 0 && o.dampening == 0),
           "SGD: nesterov momentum requires momentum > 0 and zero dampening, got momentum ", o.momentum,
           " and dampening ", o.dampening);
}

void SGD::set_lr(float lr) {
  BL_CHECK(lr > 0, "SGD::set_lr: expected lr > 0, got ", lr);
  options_.lr = lr;
}

void SGD::step(const NamedTensors& grads) {
  check_unique(grads, "SGD::step");
  auto params = parameter_map(model_);
  const SGDOptions& o = options_;
  for (const auto& [name, grad] : grads) {
    Tensor& p = checked_param(params, name, grad, "SGD::step");
    const int64_t n = p.numel();
    Tensor d = grad.clone();  // never write into the caller's gradient
    float* dp = d.data();
    float* pp = p.data();
    if (o.weight_decay != 0)
      for (int64_t i = 0; i < n; ++i) dp[i] += o.weight_decay * pp[i];
    if (o.momentum != 0) {
      auto it = momentum_buffer_.find(name);
      if (it == momentum_buffer_.end()) {
        it = momentum_buffer_.emplace(name, d.clone()).first;
      } else {
        float* b = it->second.data();
        for (int64_t i = 0; i < n; ++i) b[i] = b[i] * o.momentum + (1 - o.dampening) * dp[i];
      }
      const float* b = it->second.data();
      for (int64_t i = 0; i < n; ++i) dp[i] = o.nesterov ? dp[i] + o.momentum * b[i] : b[i];
    }
    for (int64_t i = 0; i < n; ++i) pp[i] -= o.lr * dp[i];
  }
}

// --- Adam -------------------------------------------------------------------------------------------

Adam::Adam(Module& model, AdamOptions options) : model_(model), options_(options) {
  const AdamOptions& o = options_;
  BL_CHECK(o.lr >= 0, "Adam: expected lr >= 0, got ", o.lr);
  BL_CHECK(o.eps >= 0, "Adam: expected eps >= 0, got ", o.eps);
  BL_CHECK(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1, "Adam: expected betas in [0, 1), got (",
           o.beta1, ", ", o.beta2, ")");
  BL_CHECK(o.weight_decay >= 0, "Adam: expected weight_decay >= 0, got ", o.weight_decay);
}

void Adam::set_lr(float lr) {
  BL_CHECK(lr >= 0, "Adam::set_lr: expected lr >= 0, got ", lr);
  options_.lr = lr;
}

int64_t Adam::step_count(const std::string& full_name) const {
  auto it = state_.find(full_name);
  return it == state_.end() ? 0 : it->second.step;
}

void Adam::step(const NamedTensors& grads) {
  check_unique(grads, "Adam::step");
  auto params = parameter_map(model_);
  const AdamOptions& o = options_;
  for (const auto& [name, grad] : grads) {
    Tensor& p = checked_param(params, name, grad, "Adam::step");
    const int64_t n = p.numel();
    auto it = state_.find(name);
    if (it == state_.end())
      it = state_.emplace(name, State{Tensor::zeros(p.shape()), Tensor::zeros(p.shape()), 0}).first;
    State& s = it->second;
    ++s.step;
    // PyTorch computes the bias corrections as Python floats (double), the rest in float32.
    const double bc1 = 1.0 - std::pow(double(o.beta1), double(s.step));
    const double bc2 = 1.0 - std::pow(double(o.beta2), double(s.step));
    const float step_size = static_cast<float>(o.lr / bc1);
    const float bc2_sqrt = static_cast<float>(std::sqrt(bc2));
    float* pp = p.data();
    float* m = s.exp_avg.data();
    float* v = s.exp_avg_sq.data();
    const float* g = grad.data();
    for (int64_t i = 0; i < n; ++i) {
      const float gi = o.weight_decay != 0 ? g[i] + o.weight_decay * pp[i] : g[i];
      m[i] = m[i] * o.beta1 + (1 - o.beta1) * gi;
      v[i] = v[i] * o.beta2 + (1 - o.beta2) * gi * gi;
      const float denom = std::sqrt(v[i]) / bc2_sqrt + o.eps;
      pp[i] -= step_size * (m[i] / denom);
    }
  }
}

}  // namespace backlight
