// batchnorm (inference), layernorm and group_norm on the tape, and their plain VJPs.
#include <string>

#include "engine/functional/norm.h"
#include "engine/ops/ops.h"
#include "engine/vjp.h"

namespace backlight {

namespace {

// Absent affine tensors become constant buffers (ones / zeros), so the node's inputs always are
// x, weight, bias[, ...] and rules index them without guessing which optional one is missing.
Var or_constant(const Var& v, Tape& t, const Shape& shape, float value, std::string_view node, const char* what) {
  if (v.defined() || !t.recording()) return v;
  return t.buffer(Tensor::full(shape, value, &t.workspace()), std::string(node) + "." + what + "(constant)");
}

}  // namespace

Var batchnorm(const Var& x, const Var& weight, const Var& bias, const Var& running_mean, const Var& running_var,
              float eps, std::string_view name) {
  Tape& t = x.tape();
  BL_CHECK(running_mean.defined() && running_var.defined(),
           "batchnorm: expected running_mean and running_var (inference batch norm)");
  BL_CHECK_SHAPE(x.shape().rank() >= 2, "batchnorm: expected input [N,C], [N,C,L] or [N,C,H,W], got ", x.shape());
  const Shape c{x.shape()[1]};
  const Var w = or_constant(weight, t, c, 1.0f, name, "weight");
  const Var b = or_constant(bias, t, c, 0.0f, name, "bias");
  const Tensor wv = w.defined() ? w.value() : Tensor::full(c, 1.0f, &t.workspace());
  const Tensor bv = b.defined() ? b.value() : Tensor::full(c, 0.0f, &t.workspace());
  Tensor y =
      fn::batchnorm_forward(x.value(), wv, bv, running_mean.value(), running_var.value(), eps, &t.workspace());
  return t.record(OpKind::BatchNorm, name, {x, w, b, running_mean, running_var}, std::move(y), NormAttrs{.eps = eps});
}

std::vector<Tensor> vjp_BatchNorm(const RuleContext& ctx, const Tensor& g) {
  const float eps = ctx.attrs<NormAttrs>().eps;
  const Workspace* ws = &ctx.workspace();
  const Tensor &x = ctx.input(0), &w = ctx.input(1), &mean = ctx.input(3), &var = ctx.input(4);
  std::vector<Tensor> out(ctx.num_inputs());
  if (ctx.needs_grad(0)) out[0] = fn::batchnorm_backward_input(g, w, var, eps, ws);
  if (ctx.needs_grad(1) || ctx.needs_grad(2) || ctx.needs_grad(3) || ctx.needs_grad(4)) {
    fn::BatchNormParamGrads p = fn::batchnorm_backward_params(g, x, w, mean, var, eps, ws);
    if (ctx.needs_grad(1)) out[1] = std::move(p.weight);
    if (ctx.needs_grad(2)) out[2] = std::move(p.bias);
    if (ctx.needs_grad(3)) out[3] = std::move(p.mean);
    if (ctx.needs_grad(4)) out[4] = std::move(p.var);
  }
  return out;
}

Var layernorm(const Var& x, const Var& weight, const Var& bias, int normalized_dims, float eps,
              std::string_view name) {
  Tape& t = x.tape();
  fn::layernorm_check(x.shape(), weight.defined() ? weight.value() : Tensor(), bias.defined() ? bias.value() : Tensor(),
                      normalized_dims);
  fn::LayerNormResult r = fn::layernorm_forward(x.value(), weight.defined() ? weight.value() : Tensor(),
                                                bias.defined() ? bias.value() : Tensor(), normalized_dims, eps,
                                                &t.workspace());
  const Shape trailing(x.shape().dims().subspan(x.shape().rank() - normalized_dims));
  const Var w = or_constant(weight, t, trailing, 1.0f, name, "weight");
  const Var b = or_constant(bias, t, trailing, 0.0f, name, "bias");
  // saved: the row mean and 1/std ([M] each), so the backward does not recompute them.
  return t.record(OpKind::LayerNorm, name, {x, w, b}, std::move(r.y),
                  NormAttrs{.eps = eps, .normalized_dims = normalized_dims}, {std::move(r.mean), std::move(r.rstd)});
}

std::vector<Tensor> vjp_LayerNorm(const RuleContext& ctx, const Tensor& g) {
  const int nd = ctx.attrs<NormAttrs>().normalized_dims;
  const Workspace* ws = &ctx.workspace();
  const Tensor &x = ctx.input(0), &mean = ctx.node().saved.at(0), &rstd = ctx.node().saved.at(1);
  std::vector<Tensor> out(ctx.num_inputs());
  if (ctx.needs_grad(0)) out[0] = fn::layernorm_backward_input(g, x, ctx.input(1), mean, rstd, nd, ws);
  if (ctx.needs_grad(1) || ctx.needs_grad(2)) {
    fn::LayerNormParamGrads p = fn::layernorm_backward_params(g, x, mean, rstd, nd, ws);
    if (ctx.needs_grad(1)) out[1] = std::move(p.weight);
    if (ctx.needs_grad(2)) out[2] = std::move(p.bias);
  }
  return out;
}

Var group_norm(const Var& x, int64_t groups, const Var& weight, const Var& bias, float eps, std::string_view name) {
  Tape& t = x.tape();
  const Tensor wv = weight.defined() ? weight.value() : Tensor(), bv = bias.defined() ? bias.value() : Tensor();
  fn::group_norm_check(x.shape(), wv, bv, groups);
  fn::GroupNormResult r = fn::group_norm_forward(x.value(), wv, bv, groups, eps, &t.workspace());
  const Shape c{x.shape()[1]};
  const Var w = or_constant(weight, t, c, 1.0f, name, "weight");
  const Var b = or_constant(bias, t, c, 0.0f, name, "bias");
  // normalized_dims = rank - 1: every axis after the batch axis takes part (incremental replay
  // reads it); saved: the per-(image, group) mean and 1/std and the normalised input.
  return t.record(OpKind::GroupNorm, name, {x, w, b}, std::move(r.y),
                  NormAttrs{.eps = eps, .normalized_dims = static_cast<int>(x.shape().rank() - 1), .groups = groups},
                  {std::move(r.mean), std::move(r.rstd), std::move(r.xhat)});
}

std::vector<Tensor> vjp_GroupNorm(const RuleContext& ctx, const Tensor& g) {
  const NormAttrs& a = ctx.attrs<NormAttrs>();
  const Workspace* ws = &ctx.workspace();
  const auto& saved = ctx.node().saved;
  std::vector<Tensor> out(ctx.num_inputs());
  if (ctx.needs_grad(0))
    out[0] = fn::group_norm_backward_input(g, ctx.input(0), ctx.input(1), saved.at(0), saved.at(1), a.groups, ws);
  if (ctx.needs_grad(1) || ctx.needs_grad(2)) {
    fn::GroupNormParamGrads p = fn::group_norm_backward_params(g, saved.at(2), ws);
    if (ctx.needs_grad(1)) out[1] = std::move(p.weight);
    if (ctx.needs_grad(2)) out[2] = std::move(p.bias);
  }
  return out;
}

}  // namespace backlight
