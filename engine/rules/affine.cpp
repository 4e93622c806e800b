#include "engine/rules/affine.h"

#include <string>

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
  std::string kinds;  // the linear family of op_kinds.def
  for (OpKind k : all_op_kinds())
    if (family_of(k) == OpFamily::Linear) kinds += (kinds.empty() ? "" : ", ") + std::string(to_string(k));
  throw RuleError(detail::concat("LRP: node '", ctx.name(), "' (", to_string(ctx.kind()),
                                 ") is not affine; LRP rules apply to ", kinds, " nodes"));
}

// The three operations of one linear-family kind.
struct AffineOps {
  AffineParams (*params)(const RuleContext&);
  Tensor (*apply)(const RuleContext&, const Tensor& x, const Tensor& w, const Tensor& b);
  Tensor (*apply_transposed)(const RuleContext&, const Tensor& s, const Tensor& w);
};

// --- one affine map per linear-family kind (op_kinds.def); a linear kind without one does not compile

AffineParams weight_bias_params(const RuleContext& ctx) {
  return {ctx.input(1), ctx.num_inputs() > 2 ? ctx.input(2) : Tensor()};
}

constexpr AffineOps affine_Linear{
    weight_bias_params,
    [](const RuleContext& ctx, const Tensor& x, const Tensor& w, const Tensor& b) {
      return fn::linear_forward(x, w, b, &ctx.workspace());
    },
    [](const RuleContext& ctx, const Tensor& s, const Tensor& w) {
      return fn::linear_backward_input(s, w, ctx.input(0).shape(), &ctx.workspace());
    }};

constexpr AffineOps affine_Conv2d{
    weight_bias_params,
    [](const RuleContext& ctx, const Tensor& x, const Tensor& w, const Tensor& b) {
      return fn::conv2d_forward(x, w, b, ctx.attrs<Conv2dAttrs>(), &ctx.workspace());
    },
    [](const RuleContext& ctx, const Tensor& s, const Tensor& w) {
      return fn::conv2d_backward_input(s, w, ctx.input(0).shape(), ctx.attrs<Conv2dAttrs>(), &ctx.workspace());
    }};

constexpr AffineOps affine_ConvTranspose2d{
    weight_bias_params,
    [](const RuleContext& ctx, const Tensor& x, const Tensor& w, const Tensor& b) {
      return fn::conv_transpose2d_forward(x, w, b, ctx.attrs<ConvTranspose2dAttrs>(), &ctx.workspace());
    },
    [](const RuleContext& ctx, const Tensor& s, const Tensor& w) {
      return fn::conv2d_forward(s, w, Tensor(), ctx.attrs<ConvTranspose2dAttrs>().conv, &ctx.workspace());
    }};

constexpr AffineOps affine_BatchNorm{
    [](const RuleContext& ctx) -> AffineParams {
      const fn::ChannelAffine a = fn::batchnorm_affine(ctx.input(1), ctx.input(2), ctx.input(3), ctx.input(4),
                                                       ctx.attrs<NormAttrs>().eps, &ctx.workspace());
      return {a.scale, a.shift};
    },
    [](const RuleContext& ctx, const Tensor& x, const Tensor& w, const Tensor& b) {
      const Workspace* ws = &ctx.workspace();
      Tensor z = fn::binary(fn::BinaryOp::Mul, x, channel_view(w, x.shape()), ws);
      return b.defined() ? fn::binary(fn::BinaryOp::Add, z, channel_view(b, x.shape()), ws) : z;
    },
    [](const RuleContext& ctx, const Tensor& s, const Tensor& w) {
      return fn::binary(fn::BinaryOp::Mul, s, channel_view(w, s.shape()), &ctx.workspace());
    }};

constexpr AffineOps affine_Scale{
    [](const RuleContext& ctx) -> AffineParams {
      // On the tape's device, so weight modifiers (z+, gamma, ...) see the same device as x.
      return {Tensor::full(Shape{1}, ctx.attrs<ScaleAttrs>().factor, &ctx.workspace()), Tensor()};
    },
    [](const RuleContext& ctx, const Tensor& x, const Tensor& w, const Tensor&) {
      return fn::scale(x, w.to_cpu().data()[0], &ctx.workspace());  // the factor (a host scalar unless modified on device)
    },
    [](const RuleContext& ctx, const Tensor& s, const Tensor& w) {
      return fn::scale(s, w.to_cpu().data()[0], &ctx.workspace());
    }};

// Parameter-free linear ops (pools, sum, mean): no W or b; z is the recorded output.
constexpr AffineOps kParameterFree{
    [](const RuleContext&) { return AffineParams{}; },
    [](const RuleContext& ctx, const Tensor& x, const Tensor&, const Tensor&) {
      // Only the recorded input can be evaluated without re-running the op.
      if (x.shares_storage(ctx.input(0)) && x.shape() == ctx.input(0).shape()) return ctx.output();
      throw RuleError(detail::concat("LRP: rule modifies the input of parameter-free node '", ctx.name(), "' (",
                                     to_string(ctx.kind()), "); use epsilon/norm/pass there"));
    },
    [](const RuleContext& ctx, const Tensor& s, const Tensor&) { return plain_vjp(ctx, s)[0]; }};
constexpr const AffineOps& affine_AvgPool2d = kParameterFree;
constexpr const AffineOps& affine_AdaptiveAvgPool2d = kParameterFree;
constexpr const AffineOps& affine_Sum = kParameterFree;
constexpr const AffineOps& affine_Mean = kParameterFree;
constexpr const AffineOps& affine_Resize = kParameterFree;

#define BL_AFFINE_linear(e) &affine_##e
#define BL_AFFINE_elementwise(e) nullptr
#define BL_AFFINE_other(e) nullptr
constexpr const AffineOps* kAffine[] = {
#define X(e, name, fam, ...) BL_AFFINE_##fam(e),
#include "engine/op_kinds.def"
#undef X
};
#undef BL_AFFINE_linear
#undef BL_AFFINE_elementwise
#undef BL_AFFINE_other

const AffineOps& affine_ops(const RuleContext& ctx) {
  const AffineOps* ops = kAffine[static_cast<size_t>(ctx.kind())];
  if (!ops) not_affine(ctx);
  return *ops;
}

}  // namespace

bool is_affine_kind(OpKind kind) { return family_of(kind) == OpFamily::Linear; }

AffineParams affine_params(const RuleContext& ctx) { return affine_ops(ctx).params(ctx); }

Tensor affine_apply(const RuleContext& ctx, const Tensor& x, const Tensor& w, const Tensor& b) {
  return affine_ops(ctx).apply(ctx, x, w, b);
}

Tensor affine_apply_transposed(const RuleContext& ctx, const Tensor& s, const Tensor& w) {
  return affine_ops(ctx).apply_transposed(ctx, s, w);
}

}  // namespace backlight
