#pragma once
/// Per-example parameter gradients of chosen layers, batched: one forward and one backward per
/// batch, whatever the batch size (never one backward per example).
///
/// The loss is the cross-entropy of each example on its own (sum reduction), so row n holds
/// d L(z_n) / d theta with L(z) = -log softmax(f(x))[y]. Its gradient at the logits is
/// softmax(f(x)) - onehot(y); one backward of that seed gives every example's gradient at the
/// layer's output, g_n, because examples do not interact in the forward pass (no BatchNorm in
/// training mode, which the engine's modules never use). From g_n and the layer's input a_n:
///   Linear  W [out, in]:  dW_n = g_n a_n^T (an outer product),  db_n = g_n
///   Conv2d  W [O, C/g, kh, kw]:  dW_n = g_n [O, P] . unfold(a_n)^T [P, K]  (the weight-gradient
///           convolution of example n alone, fn::conv2d_backward_weight on a batch of one),
///           db_n = sum over positions of g_n.
/// Row layout: the layers in the order given, each weight (row-major) then bias.
#include <span>
#include <string>
#include <vector>

#include "attribution/influence/examples.h"
#include "engine/attrs.h"
#include "engine/module.h"

namespace backlight {

/// What one layer needs for per-example gradients: its input and the loss gradient at its output.
struct LayerFactors {
  std::string layer;       ///< module path ("classifier", "features.9")
  bool conv = false;       ///< Conv2d (else Linear)
  Tensor input;            ///< a: Linear [N, in]; Conv2d [N, C, H, W]
  Tensor grad_output;      ///< g: Linear [N, out]; Conv2d [N, O, OH, OW]
  Shape weight_shape;      ///< the layer's weight shape
  bool has_bias = false;
  Conv2dAttrs attrs{};     ///< Conv2d only
  /// Elements of one example's gradient (weight + bias).
  int64_t gradient_size() const;
};

/// Runs `model` on batch.inputs (one recorded forward) and one backward of the per-example
/// cross-entropy gradients, returning the factors of each layer in `layers`; an empty `layers`
/// means the last Linear layer in forward order. Each layer must be a module that records one
/// Linear or Conv2d node with its weight as a parameter (throws naming the layer, the op it found
/// and the layers that qualify; a module called more than once is refused). Labels must be in
/// [0, classes) and match the batch size.
std::vector<LayerFactors> layer_factors(const Module& model, const LabeledBatch& batch,
                                        std::span<const std::string> layers);

/// The module path of the last Linear layer of `model` on an input like `example` ([N, ...]).
/// Throws when the model has none.
std::string last_linear_layer(const Module& model, const Tensor& example);

/// [N, D] per-example gradients (D = sum of gradient_size()), from factors of one batch.
Tensor per_example_gradients(std::span<const LayerFactors> factors);

/// softmax(logits) - onehot(labels): d L_n / d logits_n of the per-example cross-entropy,
/// [N, C]. Throws for a label outside [0, C) or a count mismatch.
Tensor cross_entropy_logit_grad(const Tensor& logits, std::span<const int64_t> labels);

}  // namespace backlight
