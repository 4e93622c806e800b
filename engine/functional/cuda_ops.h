#pragma once
/// Tensor-level CUDA versions of the functional ops, called by the fn:: entry points through
/// BL_ON_CUDA (dispatch.h) after the shared shape checks, so arguments arrive validated.
/// Implemented in engine/functional/cuda/*.cpp on top of engine/cuda/ops.h (raw pointers);
/// defined only in CUDA builds. Outputs are allocated on the inputs' CUDA context; the
/// workspace argument of the fn:: functions is not needed here. Nothing here syncs unless noted.
#include <span>
#include <vector>

#include "engine/attrs.h"
#include "engine/functional/conv.h"
#include "engine/functional/norm.h"
#include "engine/functional/pool.h"
#include "engine/tensor.h"
#include "engine/functional/map_math.h"

namespace backlight::fn::cuda_ops {

// --- element-wise, broadcasting, reductions (cuda/elementwise.cpp) ------------------------------
void add_inplace(Tensor& acc, const Tensor& g);
void add_into(Tensor& out, const Tensor& a, const Tensor& b);
Tensor scale(const Tensor& a, float s);
/// op: 0 add, 1 sub, 2 mul (fn::BinaryOp's order); out_shape from broadcast_shape.
Tensor binary(int op, const Tensor& a, const Tensor& b, const Shape& out_shape);
Tensor sum_to(const Tensor& g, const Shape& shape);
Tensor map_unary(const Tensor& x, maps::Unary op, float p, float q = 0.0f);
Tensor map_grad(const Tensor& g, const Tensor& v, maps::Grad op, float p, float q = 0.0f);
Tensor reduce(const Tensor& x, uint32_t mask, bool keepdim, float scale);
Tensor reduce_backward(const Tensor& g, const Shape& x_shape, uint32_t mask, float scale);
/// Syncs.
bool any_nonzero(const Tensor& x);

// --- shape ops (cuda/shape.cpp) ------------------------------------------------------------------
Tensor permute(const Tensor& x, std::span<const int> perm);  // perm normalised
Tensor concat(std::span<const Tensor> xs, int axis, const Shape& out_shape);  // axis normalised
Tensor slice(const Tensor& x, const SliceAttrs& a);
Tensor slice_backward(const Tensor& g, const Shape& x_shape, const SliceAttrs& a);
Tensor pad(const Tensor& x, const PadAttrs& a);
Tensor pad_backward(const Tensor& g, const Shape& x_shape, const PadAttrs& a);

// --- dense products and convolution (cuda/dense.cpp) ---------------------------------------------
Tensor linear_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Shape& y_shape);
Tensor linear_backward_input(const Tensor& g, const Tensor& w, const Shape& x_shape);
Tensor linear_backward_weight(const Tensor& g, const Tensor& x);
Tensor linear_backward_bias(const Tensor& g);
/// Batched matmul; `batch` is the broadcast batch shape, a_batch / b_batch the operands' own.
Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b, const Shape& batch,
              const Shape& a_batch, const Shape& b_batch, int64_t m, int64_t n, int64_t k);
Tensor conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvGeometry& g);
Tensor conv2d_backward_input(const Tensor& gy, const Tensor& w, const ConvGeometry& g);
Tensor conv2d_backward_weight(const Tensor& gy, const Tensor& x, const ConvGeometry& g);
Tensor conv2d_backward_bias(const Tensor& gy);

// --- pooling, softmax, normalisation, lookup (cuda/norm.cpp) -------------------------------------
MaxPool2dResult maxpool2d_forward(const Tensor& x, const Pool2dGeometry& geo, bool with_argmax);
/// argmax may be undefined (then the window maxima are recomputed on device).
Tensor maxpool2d_backward(const Tensor& g, const Tensor& x, const Tensor& argmax, const Pool2dGeometry& geo);
Tensor mean_pool_forward(const Tensor& x, const Pool2dGeometry& geo);
Tensor mean_pool_backward(const Tensor& g, const Pool2dGeometry& geo);
/// Lanes [outer, len, inner] around the softmax axis.
Tensor softmax_forward(const Tensor& x, bool log, int64_t outer, int64_t len, int64_t inner);
Tensor softmax_backward(const Tensor& g, const Tensor& y, bool log, int64_t outer, int64_t len, int64_t inner);
ChannelAffine batchnorm_affine(const Tensor& weight, const Tensor& bias, const Tensor& mean, const Tensor& var,
                               float eps);
/// y = x * scale[c] (+ shift[c]) along axis 1 of x (shift may be undefined).
Tensor channel_affine(const Tensor& x, const Tensor& scale, const Tensor& shift);
Tensor batchnorm_backward_input(const Tensor& g, const Tensor& weight, const Tensor& var, float eps);
BatchNormParamGrads batchnorm_backward_params(const Tensor& g, const Tensor& x, const Tensor& weight,
                                              const Tensor& mean, const Tensor& var, float eps);
LayerNormResult layernorm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t d, float eps);
Tensor layernorm_backward_input(const Tensor& g, const Tensor& x, const Tensor& weight, const Tensor& mean,
                                const Tensor& rstd, int64_t d);
LayerNormParamGrads layernorm_backward_params(const Tensor& g, const Tensor& x, const Tensor& mean,
                                              const Tensor& rstd, const Shape& param_shape);
/// Indices may be on the host or the device; they are validated on the host (a sync when on
/// the device).
Tensor embedding(const Tensor& indices, const Tensor& weight);
Tensor embedding_backward(const Tensor& g, const Tensor& indices, const Shape& weight_shape);

// --- rule maps (cuda/rules.cpp) -----------------------------------------------------------------
/// DeepLIFT Rescale over a paired batch (half = elements per half); plain = the plain gradient.
Tensor deeplift_rescale(const Tensor& x, const Tensor& y, const Tensor& g, const Tensor& plain, float eps);
/// Subtracts per item the mean over both halves (n items per half).
void center_pairs(Tensor& out);
Tensor deeplift_maxpool_weights(const Tensor& y, const Tensor& g);
Tensor deeplift_from_unpooled(const Tensor& x, const Tensor& unpooled, const Tensor& plain, float eps);
/// where: rule_math::Select.
Tensor lrp_ratio(const Tensor& rel, const Tensor& z, const Tensor& out, int where, float eps);
/// acc += coef * in * c (in undefined: ones).
void lrp_accumulate(Tensor& acc, float coef, const Tensor& in, const Tensor& c);

}  // namespace backlight::fn::cuda_ops
