#pragma once
/// Softmax and log-softmax along one axis of any shape (no tape), CPU, parallel over the
/// independent lanes. Numerically stable: the lane maximum is subtracted before exp, so large
/// logits neither overflow nor lose the small probabilities. The VJPs need only the forward
/// output y (what the tape keeps anyway), not the input.
#include "engine/tensor.h"

namespace backlight::fn {

/// y = exp(x - max) / sum(exp(x - max)) along `axis` (negative counts from the end).
Tensor softmax_forward(const Tensor& x, int axis, const Workspace* ws);
/// y = x - max - log(sum(exp(x - max))) along `axis`.
Tensor log_softmax_forward(const Tensor& x, int axis, const Workspace* ws);

/// dx = y * (g - sum_axis(g * y)), y = softmax(x).
Tensor softmax_backward(const Tensor& g, const Tensor& y, int axis, const Workspace* ws);
/// dx = g - exp(y) * sum_axis(g), y = log_softmax(x).
Tensor log_softmax_backward(const Tensor& g, const Tensor& y, int axis, const Workspace* ws);

}  // namespace backlight::fn
