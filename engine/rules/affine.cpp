#include "engine/rules/affine.h"

#include "engine/functional/conv.h"
#include "engine/functional/elementwise.h"
#include "engine/functional/linear.h"
#include "engine/functional/norm.h"

namespace backlight {

namespace {

// Per-channel vector [C] viewed so it broadcasts over axis 1 of x ([N,C], [N,C,L], [N,C,H,W]).
Tensor channel_view(const Tensor& v, const Shape& x) {
  std::vector<int64_t> d(x.rank(), 1);
  d[1] = v.numel();
  return v.reshape(Shape(d));
}

[[noreturn]] void not_affine(const RuleContext& ctx) {
  throw RuleError(detail::concat("LRP: node '", ctx.name(), "' (", to_string(ctx.kind()),
                                 ") is not affine; LRP rules apply to linear, conv2d, batchnorm, scale, avgpool2d, "
                                 "adaptive_avgpool2d, sum and mean nodes"));
}

}  // namespace

bool is_affine_kind(OpKind kind) {
  switch (kind) {
    case OpKind::Linear:
    case OpKind::Conv2d:
    case OpKind::BatchNorm:
    case OpKind::Scale:
    case OpKind::AvgPool2d:
    case OpKind::AdaptiveAvgPool2d:
    case OpKind::Sum:
    case OpKind::Mean:
      return true;
    default:
      return false;
  }
}

AffineParams affine_params(const RuleContext& ctx) {
  switch (ctx.kind()) {
    case OpKind::Linear:
    case OpKind::Conv2d:
      return {ctx.input(1), ctx.num_inputs() > 2 ? ctx.input(2) : Tensor()};
    case OpKind::BatchNorm: {
      const fn::ChannelAffine a = fn::batchnorm_affine(ctx.input(1), ctx.input(2), ctx.input(3), ctx.input(4),
                                                       ctx.attrs<NormAttrs>().eps, &ctx.workspace());
      return {a.scale, a.shift};
    }
    case OpKind::Scale:
      // On the tape's device, so weight modifiers (z+, gamma, ...) see the same device as x.
      return {Tensor::full(Shape{1}, ctx.attrs<ScaleAttrs>().factor, &ctx.workspace()), Tensor()};
    case OpKind::AvgPool2d:
    case OpKind::AdaptiveAvgPool2d:
    case OpKind::Sum:
    case OpKind::Mean:
      return {};
    default:
      not_affine(ctx);
  }
}

Tensor affine_apply(const RuleContext& ctx, const Tensor& x, const Tensor& w, const Tensor& b) {
  const Workspace* ws = &ctx.workspace();
  switch (ctx.kind()) {
    case OpKind::Linear:
      return fn::linear_forward(x, w, b, ws);
    case OpKind::Conv2d:
      return fn::conv2d_forward(x, w, b, ctx.attrs<Conv2dAttrs>(), ws);
    case OpKind::BatchNorm: {
      Tensor z = fn::binary(fn::BinaryOp::Mul, x, channel_view(w, x.shape()), ws);
      return b.defined() ? fn::binary(fn::BinaryOp::Add, z, channel_view(b, x.shape()), ws) : z;
    }
    case OpKind::Scale:
      return fn::scale(x, w.to_cpu().data()[0], ws);  // the factor (a host scalar unless modified on device)
    case OpKind::AvgPool2d:
    case OpKind::AdaptiveAvgPool2d:
    case OpKind::Sum:
    case OpKind::Mean:
      // Parameter-free: only the recorded input can be evaluated without re-running the op.
      if (x.shares_storage(ctx.input(0)) && x.shape() == ctx.input(0).shape()) return ctx.output();
      throw RuleError(detail::concat("LRP: rule modifies the input of parameter-free node '", ctx.name(), "' (",
                                     to_string(ctx.kind()), "); use epsilon/norm/pass there"));
    default:
      not_affine(ctx);
  }
}

Tensor affine_apply_transposed(const RuleContext& ctx, const Tensor& s, const Tensor& w) {
  const Workspace* ws = &ctx.workspace();
  switch (ctx.kind()) {
    case OpKind::Linear:
      return fn::linear_backward_input(s, w, ctx.input(0).shape(), ws);
    case OpKind::Conv2d:
      return fn::conv2d_backward_input(s, w, ctx.input(0).shape(), ctx.attrs<Conv2dAttrs>(), ws);
    case OpKind::BatchNorm:
      return fn::binary(fn::BinaryOp::Mul, s, channel_view(w, s.shape()), ws);
    case OpKind::Scale:
      return fn::scale(s, w.to_cpu().data()[0], ws);
    case OpKind::AvgPool2d:
    case OpKind::AdaptiveAvgPool2d:
    case OpKind::Sum:
    case OpKind::Mean:
      return plain_vjp(ctx, s)[0];
    default:
      not_affine(ctx);
  }
}

}  // namespace backlight
