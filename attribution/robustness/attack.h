#pragma once
/// Adversarial attacks as Captum's `captum.robust`: FGSM (Goodfellow et al. 2015, "Explaining and
/// harnessing adversarial examples") and PGD (Madry et al. 2018, "Towards deep learning models
/// resistant to adversarial attacks"), with Captum 0.8's parameter names and semantics.
///
/// The loss is Captum's default, -log softmax(f(x))[target] per item (cross-entropy on the logits;
/// Captum applies -log to the model output, so a Captum model ends in softmax), summed over the
/// batch, so each item's gradient is that of its own loss. With `targeted` the step goes down the
/// loss (towards `target`), otherwise up (away from it).
///
///   FGSM:  x' = clamp(x + s * epsilon * sign(g), lower_bound, upper_bound),  s = -1 if targeted else +1,
///          only where |g| > 1e-6 (Captum's zero_thresh; elsewhere x' = x before the clamp).
///   PGD:   x_0 = x (or a random point of the epsilon ball, then clamped to the bounds);
///          x_{k+1} = clamp(x + P(FGSM_step_size(x_k) - x), lower_bound, upper_bound)
///          (the inner FGSM step is not clamped), P = clamp(., -epsilon, epsilon) for Linf or
///          torch.renorm(., 2, 0, epsilon) for L2 (per item: scaled by epsilon / (||d||_2 + 1e-7)
///          when ||d||_2 > epsilon). As in Captum, the step is the gradient's sign for both norms.
///          Captum calls PGD's epsilon `radius`.
///
/// Inputs are a batch [N, ...] on the CPU; the model must return logits [N, classes]. Targets
/// are resolved once on the clean input (Target::top1() = the predicted class, Captum's usual
/// call `target=model(x).argmax(1)`); function targets are rejected.
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "attribution/core/progress.h"
#include "attribution/core/target.h"
#include "engine/module.h"

namespace backlight {

enum class AttackNorm { Linf, L2 };

/// "linf" / "l2" (also Captum's "Linf" / "L2"); throws naming the accepted names.
AttackNorm attack_norm_from_string(const std::string& name);
std::string to_string(AttackNorm norm);

struct FgsmOptions {
  float lower_bound = -std::numeric_limits<float>::infinity();
  float upper_bound = std::numeric_limits<float>::infinity();
  bool targeted = false;
  const Workspace* workspace = nullptr;
};

struct PgdOptions {
  float step_size = 0.01f;
  int64_t step_num = 10;
  AttackNorm norm = AttackNorm::Linf;
  bool targeted = false;
  bool random_start = false;
  uint64_t seed = 0;  ///< random start draws (Philox), so runs repeat exactly
  float lower_bound = -std::numeric_limits<float>::infinity();
  float upper_bound = std::numeric_limits<float>::infinity();
  ProgressOptions progress{.enabled = false};  ///< one unit per step
  const Workspace* workspace = nullptr;
};

struct AttackResult {
  Tensor adversarial;           ///< same shape as the input
  std::vector<int64_t> target;  ///< the resolved target per item
};

/// Gradient of sum_n -log softmax(model(x)[n])[target[n]] with respect to x; `logits` receives
/// model(x) when not null. Plain gradient rules.
Tensor cross_entropy_input_gradient(const Module& model, const Tensor& x, const std::vector<int64_t>& target,
                                    const Workspace& ws, Tensor* logits = nullptr);

/// Captum FGSM.perturb(inputs, epsilon, target, targeted=...).
AttackResult fgsm(const Module& model, const Tensor& inputs, float epsilon, const Target& target,
                  const FgsmOptions& options = {});

/// Captum PGD.perturb(inputs, radius=epsilon, step_size, step_num, target, targeted, random_start,
/// norm).
AttackResult pgd(const Module& model, const Tensor& inputs, float epsilon, const Target& target,
                 const PgdOptions& options = {});

}  // namespace backlight
