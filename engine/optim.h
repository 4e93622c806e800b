#pragma once
/// Training support: parameter gradients by full name, and the SGD and Adam optimizers with
/// PyTorch's update formulas (torch 1.13, single-tensor path, maximize=False, amsgrad=False).
///
/// An optimizer holds a reference to the model and its own per-parameter state (keyed by full
/// parameter name); step() updates the model's parameter tensors in place, so every handle that
/// shares their storage sees the new values. Tapes recorded before a step hold the same storage:
/// record a new tape per step. Nothing here is global; one optimizer per model and thread.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/module.h"

namespace backlight {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

/// d loss / d p for every parameter p of `model` that appears on the loss's tape, keyed by full
/// name in named_parameters() order (parameters not on the tape are left out, like PyTorch's
/// grad None). Several leaves of one parameter (a module called twice, MultiheadAttention's
/// row-block views of in_proj_weight) are summed into the rows they alias.
/// `loss` must have one element. Throws when a parameter leaf on the tape is not a parameter of
/// `model` (names must match: record with the model whose gradients you want).
NamedTensors parameter_gradients(const Module& model, const Var& loss);

/// torch.optim.SGD. lr has no default in PyTorch: set it.
struct SGDOptions {
  float lr = 0.0f;
  float momentum = 0.0f;
  float dampening = 0.0f;
  float weight_decay = 0.0f;
  bool nesterov = false;
};

/// Per parameter p with gradient g:
///   g += weight_decay * p
///   buf = g (first step) | momentum * buf + (1 - dampening) * g      (when momentum != 0)
///   g = nesterov ? g + momentum * buf : buf                           (when momentum != 0)
///   p -= lr * g
class SGD {
 public:
  SGD(Module& model, SGDOptions options);
  /// One update from gradients by full parameter name (e.g. from parameter_gradients());
  /// parameters without a gradient are left unchanged. Throws on unknown names or shapes.
  void step(const NamedTensors& grads);
  const SGDOptions& options() const { return options_; }
  /// Changes the learning rate of the following steps (what a PyTorch LR scheduler does to
  /// param_groups[0]["lr"]); the momentum buffers are kept. Throws for lr <= 0.
  void set_lr(float lr);

 private:
  Module& model_;
  SGDOptions options_;
  std::map<std::string, Tensor, std::less<>> momentum_buffer_;
};

/// torch.optim.Adam defaults.
struct AdamOptions {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;
};

/// Per parameter p with gradient g, at its t-th update (t counted per parameter, from 1):
///   g += weight_decay * p
///   m = beta1 * m + (1 - beta1) * g;   v = beta2 * v + (1 - beta2) * g^2
///   p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
class Adam {
 public:
  Adam(Module& model, AdamOptions options = {});
  void step(const NamedTensors& grads);
  const AdamOptions& options() const { return options_; }
  /// Changes the learning rate of the following steps (as a PyTorch LR scheduler does); the
  /// moment estimates and step counts are kept. Throws for lr < 0.
  void set_lr(float lr);
  /// Number of updates parameter `full_name` has received (0 if none).
  int64_t step_count(const std::string& full_name) const;

 private:
  struct State {
    Tensor exp_avg, exp_avg_sq;
    int64_t step = 0;
  };
  Module& model_;
  AdamOptions options_;
  std::map<std::string, State, std::less<>> state_;
};

}  // namespace backlight
