#pragma once
/// The top-k attack of Ghorbani, Abid, Zou 2019 ("Interpretation of neural networks is fragile",
/// AAAI, Algorithm 1) on gradient maps (saliency, input x gradient): perturb x inside an L-inf
/// ball so that the map's top-k positions move away while the predicted label stays.
///
///   B      the k most salient positions of the clean map (channel-summed |map|, as
///          explanation_fragility, attribution/metrics/fragility.h)
///   L(x)   sum_{i in B} sum_c |m_c,i(x)|, m = g~ (saliency) or x * g~ (input x gradient)
///   x_t+1  clip_{x, epsilon, [lower, upper]}(x_t - step * sign(grad_x L(x_t)))    t = 0 .. P-1
///   x'     the x_t (t >= 1) with the clean prediction and the lowest top-k intersection of the
///          method's own map with the clean one; x itself when no step keeps the prediction.
///
/// Smoothing. ReLU networks have a zero second derivative almost everywhere, so grad_x L would
/// vanish; the paper replaces ReLU by softplus. Here g~ is the input gradient of the target under
/// the rule set {relu -> softplus_gradient(beta)} (engine/rules/builtin.h): every ReLU's backward
/// becomes sigmoid(beta z), the forward (and z) stays the model's. Rules swap backwards only, never
/// the model, so this is the form the engine can run without rewriting the model; it is the
/// softplus network's gradient evaluated at the ReLU network's activations. Its Jacobian J is
/// symmetric (a true Hessian) for one hidden ReLU layer; deeper, the layers below a smoothed ReLU
/// enter J through the forward's step 1[z > 0] on one side and sigmoid(beta z) on the other, so J
/// is only nearly symmetric (the gap shrinks as beta grows) and J v below approximates the
/// paper's J^T v. beta (FragilityOptions::softplus_beta) = 10, a middle value of the 5-30 range
/// used for this smoothing (not tuned): sharp enough that g~ stays close to the ReLU gradient on
/// [0, 1] images, smooth enough that J is not negligible.
/// Other relu-like nodes (relu6, leaky_relu, clip) keep their plain gradient.
///
/// Second derivative. grad_x L = J v (+ mask * sign(x g~) * g~ for input x gradient, the direct
/// term), v = mask_B * sign(m) (* x for input x gradient), the derivative of L with respect to
/// g~. J v is a central finite difference of g~: (g~(x + h v) - g~(x - h v)) / (2 h),
/// h = 1e-3 * max|x| / max|v| per item (a step of 0.1 % of the input's range: large against
/// float32 rounding of g~, small against the curvature scale 1/beta of the smoothed ReLUs).
/// Max pooling (and other routing ops) keeps its plain backward, so g~ jumps where a pooling
/// window's maximum changes: on CNNs with max pooling J v is a noisy estimate (tests: on an MLP the
/// directional check holds to 1e-4 with one hidden layer and 4-9 % with two; on the shapes CNN a
/// finite difference of L does not converge). The attack uses only sign(grad L) and still moves
/// the top-k more than random signs there (tests/attribution/metrics/test_fragility_topk.cpp).
/// Cost per step: 3 smoothed backwards + 1 method map (each one forward + backward of N items).
/// CPU, synchronous.
#include <cstdint>
#include <string_view>
#include <vector>

#include "attribution/metrics/fragility_attack.h"

namespace backlight {

/// What the top-k attack descends: positions B per item and the map kind.
struct TopKObjective {
  std::vector<std::vector<int64_t>> positions;  ///< per item: indices into the H*W (or F) positions
  bool times_input = false;                     ///< input x gradient (else saliency)
  float beta = 10.0f;                           ///< softplus_gradient's beta
};

/// g~: the input gradient of `target` with every ReLU's backward replaced by sigmoid(beta z). [N, ...], CPU.
Tensor softplus_smoothed_gradient(const Module& model, const Tensor& inputs, const Target& target, float beta);

/// L(x) per item (see above).
std::vector<double> topk_objective(const Module& model, const Tensor& inputs, const Target& target,
                                   const TopKObjective& objective);

/// grad_x L (finite-difference Hessian-vector product plus the direct term), [N, ...] like inputs.
Tensor topk_objective_gradient(const Module& model, const Tensor& inputs, const Target& target,
                               const TopKObjective& objective);

struct TopKAttackResult {
  Tensor adversarial;                  ///< x' [N, ...]
  std::vector<bool> kept_input;        ///< per item: no step kept the prediction, x' = x
  std::vector<int64_t> step;           ///< per item: the t of x' (0 when kept_input)
};

/// The attack on registry method `method` ("saliency" or "input_x_gradient"; anything else
/// throws naming it), explaining `target` (class targets resolved by the caller), k positions.
/// Uses options.epsilon, steps, step_size (0: epsilon / 4), bounds and softplus_beta.
TopKAttackResult topk_attack(std::string_view method, const Module& model, const Tensor& inputs,
                             const Target& target, int64_t k, const MethodOptions& method_options,
                             const FragilityOptions& options);

}  // namespace backlight
