#include "engine/modules/norm.h"

#include "engine/error.h"
#include "engine/ops/ops.h"

namespace backlight {

BatchNorm::BatchNorm(int64_t num_features, float eps) : num_features_(num_features), eps_(eps) {
  BL_CHECK(num_features > 0, "BatchNorm: expected num_features > 0, got ", num_features);
  BL_CHECK(eps > 0, "BatchNorm: expected eps > 0, got ", eps);
  register_parameter("weight", Tensor::full({num_features}, 1.0f));
  register_parameter("bias", Tensor::zeros({num_features}));
  register_buffer("running_mean", Tensor::zeros({num_features}));
  register_buffer("running_var", Tensor::full({num_features}, 1.0f));
  register_buffer("num_batches_tracked", Tensor::zeros(Shape()));
}

Var BatchNorm::forward(const Var& x) const {
  BL_CHECK_SHAPE(accepts_rank(x.shape().rank()) && x.shape()[1] == num_features_, type_name(), " '", path(),
                 "': expected input ", expected_shape(), " with C=", num_features_, ", got ", x.shape());
  Tape& t = x.tape();
  // Leaves in state_dict order (argument evaluation order is unspecified).
  const Var w = param(t, "weight");
  const Var b = param(t, "bias");
  const Var mean = buf(t, "running_mean");
  const Var var = buf(t, "running_var");
  return batchnorm(x, w, b, mean, var, eps_, op_name());
}

LayerNorm::LayerNorm(std::vector<int64_t> normalized_shape, float eps, bool elementwise_affine)
    : normalized_shape_(std::move(normalized_shape)), eps_(eps) {
  BL_CHECK(!normalized_shape_.empty(), "LayerNorm: expected a non-empty normalized_shape");
  for (int64_t d : normalized_shape_) BL_CHECK(d > 0, "LayerNorm: expected normalized_shape dims > 0, got ", d);
  BL_CHECK(eps > 0, "LayerNorm: expected eps > 0, got ", eps);
  if (elementwise_affine) {
    register_parameter("weight", Tensor::full(Shape(normalized_shape_), 1.0f));
    register_parameter("bias", Tensor::zeros(Shape(normalized_shape_)));
  }
}

Var LayerNorm::forward(const Var& x) const {
  const Shape& s = x.shape();
  const int nd = static_cast<int>(normalized_shape_.size());
  bool ok = s.rank() >= nd;
  for (int i = 0; ok && i < nd; ++i) ok = s[s.rank() - nd + i] == normalized_shape_[i];
  BL_CHECK_SHAPE(ok, type_name(), " '", path(), "': expected input [..., ", Shape(normalized_shape_).str().substr(1),
                 " (trailing dims = normalized_shape), got ", s);
  Tape& t = x.tape();
  const Var w = param(t, "weight", /*optional=*/true);  // leaves in a fixed order: weight, bias
  const Var b = param(t, "bias", /*optional=*/true);
  return layernorm(x, w, b, nd, eps_, op_name());
}

}  // namespace backlight
