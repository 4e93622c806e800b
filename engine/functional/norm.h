#pragma once
/// Normalisation layers (no tape), CPU, parallel over channel planes / rows.
///
/// BatchNorm here is the inference form: running statistics, so per channel it is the affine map
/// y = x * scale + shift (scale = weight / sqrt(var + eps), shift = bias - mean * scale), which
/// is what LRP treats as a linear layer and what canonizers fold into the preceding conv.
/// LayerNorm normalises each row over its trailing dims with the biased (population) variance,
/// as PyTorch.
#include "engine/tensor.h"

namespace backlight::fn {

// --- batch norm (inference) --------------------------------------------------------------------

/// Validates x ([N,C], [N,C,L] or [N,C,H,W]) and the four per-channel tensors (each [C]);
/// throws ShapeError naming the offending tensor.
void batchnorm_check(const Shape& x, const Shape& weight, const Shape& bias, const Shape& mean, const Shape& var);

/// Per-channel affine form of inference batch norm.
struct ChannelAffine {
  Tensor scale;  ///< [C] weight / sqrt(var + eps)
  Tensor shift;  ///< [C] bias - mean * scale
};
ChannelAffine batchnorm_affine(const Tensor& weight, const Tensor& bias, const Tensor& mean, const Tensor& var,
                               float eps, const Workspace* ws);

/// y = (x - mean) / sqrt(var + eps) * weight + bias along axis 1.
Tensor batchnorm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& mean,
                         const Tensor& var, float eps, const Workspace* ws);
/// dx = g * weight / sqrt(var + eps) (per channel).
Tensor batchnorm_backward_input(const Tensor& g, const Tensor& weight, const Tensor& var, float eps,
                                const Workspace* ws);

/// Gradients of the per-channel tensors (each [C]); the running statistics get theirs only for
/// completeness (a model keeps them as buffers, which never need one).
struct BatchNormParamGrads {
  Tensor weight;  ///< sum over N and space of g * (x - mean) / sqrt(var + eps)
  Tensor bias;    ///< sum of g
  Tensor mean;    ///< -sum of g * scale
  Tensor var;     ///< -weight / 2 * (var + eps)^(-3/2) * sum of g * (x - mean)
};
BatchNormParamGrads batchnorm_backward_params(const Tensor& g, const Tensor& x, const Tensor& weight,
                                              const Tensor& mean, const Tensor& var, float eps, const Workspace* ws);

// --- layer norm --------------------------------------------------------------------------------

/// Validates normalized_dims (1 .. rank) and weight/bias (each undefined or of the trailing
/// shape x[rank-normalized_dims ..]).
void layernorm_check(const Shape& x, const Tensor& weight, const Tensor& bias, int normalized_dims);

/// y = (x - mean) * rstd * weight + bias per row, rows = the leading dims flattened (M of them),
/// each of D = product of the trailing normalized_dims; rstd = 1 / sqrt(biased var + eps).
/// weight and bias may be undefined (1 and 0). Also returns the row statistics the backward uses.
struct LayerNormResult {
  Tensor y;
  Tensor mean;  ///< [M]
  Tensor rstd;  ///< [M]
};
LayerNormResult layernorm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, int normalized_dims,
                                  float eps, const Workspace* ws);
/// dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat)) per row, gw = g * weight,
/// xhat = (x - mean) * rstd. weight may be undefined.
Tensor layernorm_backward_input(const Tensor& g, const Tensor& x, const Tensor& weight, const Tensor& mean,
                                const Tensor& rstd, int normalized_dims, const Workspace* ws);
/// dweight = sum over rows of g * xhat, dbias = sum over rows of g (trailing shape each).
struct LayerNormParamGrads {
  Tensor weight;
  Tensor bias;
};
LayerNormParamGrads layernorm_backward_params(const Tensor& g, const Tensor& x, const Tensor& mean,
                                              const Tensor& rstd, int normalized_dims, const Workspace* ws);

// --- group norm --------------------------------------------------------------------------------
// torch.nn.GroupNorm: x [N, C, ...] in `groups` groups of C / groups consecutive channels; each
// (image, group) is normalised over its channels and positions (biased variance), then the
// per-channel affine. Composed from the layer-norm kernels on the [N, groups, rest] view and
// broadcasting element-wise ops, so it runs wherever those run (CPU and CUDA).

/// Validates x (rank >= 2), groups (>= 1, dividing C) and weight/bias (each undefined or [C]).
void group_norm_check(const Shape& x, const Tensor& weight, const Tensor& bias, int64_t groups);

struct GroupNormResult {
  Tensor y;
  Tensor xhat;  ///< the normalised input before the affine, shape of x
  Tensor mean;  ///< [N * groups]
  Tensor rstd;  ///< [N * groups]
};
/// y = xhat * weight[c] + bias[c]; weight and bias may be undefined (1 and 0).
GroupNormResult group_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t groups,
                                   float eps, const Workspace* ws);
/// dx: layer norm's input gradient per (image, group) of g * weight[c].
Tensor group_norm_backward_input(const Tensor& g, const Tensor& x, const Tensor& weight, const Tensor& mean,
                                 const Tensor& rstd, int64_t groups, const Workspace* ws);
/// dweight[c] = sum over images and positions of g * xhat, dbias[c] = sum of g (each [C]).
struct GroupNormParamGrads {
  Tensor weight;
  Tensor bias;
};
GroupNormParamGrads group_norm_backward_params(const Tensor& g, const Tensor& xhat, const Workspace* ws);

}  // namespace backlight::fn
