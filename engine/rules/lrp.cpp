#include "engine/rules/lrp.h"

#include <algorithm>

#include "engine/functional/cuda_ops.h"
#include "engine/functional/dispatch.h"
#include "engine/functional/elementwise.h"
#include "engine/functional/map.h"
#include "engine/parallel.h"
#include "engine/rules/affine.h"
#include "engine/rules/stabilize.h"
#include "engine/rules/rule_math.h"

namespace backlight {

namespace {

constexpr int64_t kGrain = 1 << 14;

static_assert(static_cast<int>(LrpGroup::Select::All) == rule_math::kAll &&
              static_cast<int>(LrpGroup::Select::PositiveOutput) == rule_math::kPositiveOutput &&
              static_cast<int>(LrpGroup::Select::NegativeOutput) == rule_math::kNegativeOutput);

bool all_zero(const Tensor& t) {
  if (t.is_cuda()) {
    if constexpr (kCudaBuild) return !fn::cuda_ops::any_nonzero(t);  // syncs
  }
  return std::all_of(t.data(), t.data() + t.numel(), [](float v) { return v == 0.0f; });
}

// Returns the modified input, or an undefined tensor when it is identically zero.
Tensor modify_input(const RuleContext& ctx, const InputMod& m) {
  const Tensor& x = ctx.input(0);
  const Workspace* ws = &ctx.workspace();
  switch (m.kind) {
    case InputMod::Kind::Keep:
      return x;
    case InputMod::Kind::Positive: {
      Tensor y = fn::map_named(x, ws, maps::Unary::PositivePart);
      return all_zero(y) ? Tensor() : y;
    }
    case InputMod::Kind::Negative: {
      Tensor y = fn::map_named(x, ws, maps::Unary::NegativePart);
      return all_zero(y) ? Tensor() : y;
    }
    case InputMod::Kind::Ones:
      return Tensor::full(x.shape(), 1.0f, ws);
    case InputMod::Kind::Constant: {
      BL_CHECK(m.constant.defined(), "LRP: constant input modifier without a value at node '", ctx.name(), "'");
      Tensor zeros = Tensor::zeros(x.shape(), ws);
      // The bounds (z-box) usually live on the host; bring them to the input's device.
      Tensor c = m.constant.numel() == 1 ? Tensor::full(x.shape(), m.constant.to_cpu().data()[0], ws)
                                          : fn::binary(fn::BinaryOp::Add, zeros, m.constant.to(x.device(), ws), ws);
      BL_CHECK_SHAPE(c.shape() == x.shape(), "LRP: constant input of shape ", m.constant.shape(),
                     " does not broadcast to the input ", x.shape(), " of node '", ctx.name(), "'");
      return c;
    }
  }
  return x;
}

Tensor modify_param(const Tensor& p, const ParamMod& m, const Workspace* ws) {
  if (!p.defined()) return p;
  switch (m.kind) {
    case ParamMod::Kind::Keep: return p;
    case ParamMod::Kind::Zero: return Tensor();
    case ParamMod::Kind::Ones: return Tensor::full(p.shape(), 1.0f, ws);
    case ParamMod::Kind::Positive: return fn::map_named(p, ws, maps::Unary::PositivePart);
    case ParamMod::Kind::Negative: return fn::map_named(p, ws, maps::Unary::NegativePart);
    case ParamMod::Kind::Square: return fn::map_named(p, ws, maps::Unary::Square);
    case ParamMod::Kind::GammaPositive: return fn::map_named(p, ws, maps::Unary::GammaPositive, m.gamma);
    case ParamMod::Kind::GammaNegative: return fn::map_named(p, ws, maps::Unary::GammaNegative, m.gamma);
    case ParamMod::Kind::Custom:
      // A user function runs on the host; device parameters make a round trip (once per node).
      if (p.is_cuda()) return fn::map_unary(p.to_cpu(), nullptr, m.custom).to(Device::CUDA, ws);
      return fn::map_unary(p, ws, m.custom);
  }
  return p;
}

bool unmodified(const LrpTerm& t) {
  return t.input.kind == InputMod::Kind::Keep && t.weight.kind == ParamMod::Kind::Keep &&
         t.bias.kind == ParamMod::Kind::Keep;
}

struct PreparedTerm {
  float sign;
  bool ones;      // input modifier is Ones: multiply by 1 without a tensor
  Tensor input;   // undefined: identically zero (term skipped)
  Tensor weight;
};

// R / stabilize(z) masked by the group's output selection.
Tensor ratio(const RuleContext& ctx, const Tensor& rel, const Tensor& z, LrpGroup::Select where, float eps) {
  BL_ON_CUDA("lrp", &ctx.workspace(), rel, z, ctx.output())
    return fn::cuda_ops::lrp_ratio(rel, z, ctx.output(), static_cast<int>(where), eps);
  Tensor s = ctx.alloc(rel.shape());
  const float* pr = rel.data();
  const float* pz = z.data();
  const float* po = ctx.output().data();
  float* ps = s.data();
  parallel_for(rel.numel(), kGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      ps[i] = rule_math::lrp_ratio(pr[i], pz[i], po[i], static_cast<int>(where), eps);
    }
  });
  return s;
}

// acc += coef * in * c (in undefined means ones).
void accumulate(Tensor& acc, float coef, const Tensor& in, const Tensor& c, bool input_is_ones) {
  BL_ON_CUDA("lrp", nullptr, acc, c, input_is_ones ? Tensor() : in)
    return fn::cuda_ops::lrp_accumulate(acc, coef, input_is_ones ? Tensor() : in, c);
  float* pa = acc.data();
  const float* pc = c.data();
  const float* pi = input_is_ones ? nullptr : in.data();
  parallel_for(acc.numel(), kGrain, [&](int64_t lo, int64_t hi) {
    if (pi)
      for (int64_t i = lo; i < hi; ++i) pa[i] += coef * pi[i] * pc[i];
    else
      for (int64_t i = lo; i < hi; ++i) pa[i] += coef * pc[i];
  });
}

class LrpRule final : public Rule {
 public:
  LrpRule(std::string name, LrpSpec spec) : name_(std::move(name)), spec_(std::move(spec)) {}
  std::string name() const override { return name_; }
  std::vector<Tensor> backward(const RuleContext& ctx, const Tensor& rel) const override {
    std::vector<Tensor> out(ctx.num_inputs());
    out[0] = lrp_relevance(ctx, spec_, rel);
    return out;
  }

 private:
  std::string name_;
  LrpSpec spec_;
};

}  // namespace

Tensor lrp_relevance(const RuleContext& ctx, const LrpSpec& spec, const Tensor& rel) {
  if (!is_affine_kind(ctx.kind()))
    throw RuleError(detail::concat("LRP: node '", ctx.name(), "' (", to_string(ctx.kind()),
                                   ") is not affine; LRP rules apply to linear, conv2d, batchnorm, scale, avgpool2d, "
                                   "adaptive_avgpool2d, sum and mean nodes (use pass or gradient elsewhere)"));
  const Workspace* ws = &ctx.workspace();
  const AffineParams params = affine_params(ctx);
  Tensor result = Tensor::zeros(ctx.input(0).shape(), ws);
  for (const LrpGroup& group : spec.groups) {
    std::vector<PreparedTerm> terms;
    Tensor z;
    for (const LrpTerm& t : group.terms) {
      PreparedTerm p{t.sign, t.input.kind == InputMod::Kind::Ones, modify_input(ctx, t.input), modify_param(params.weight, t.weight, ws)};
      const Tensor bias = modify_param(params.bias, t.bias, ws);
      // A zero input with no bias contributes nothing to z nor to R_in: skipping it is exact.
      if (!p.input.defined() && !bias.defined()) continue;
      Tensor zt;
      if (unmodified(t)) {
        zt = ctx.output();
      } else {
        const Tensor in = p.input.defined() ? p.input : Tensor::zeros(ctx.input(0).shape(), ws);
        zt = affine_apply(ctx, in, p.weight, bias);
      }
      if (!z.defined()) {
        z = t.sign == 1.0f ? zt : fn::scale(zt, t.sign, ws);
      } else {
        if (z.use_count() > 1) z = z.clone(ws);  // never write into the recorded output
        fn::add_inplace(z, t.sign == 1.0f ? zt : fn::scale(zt, t.sign, ws));
      }
      if (p.input.defined()) terms.push_back(std::move(p));
    }
    if (terms.empty()) continue;
    const Tensor s = ratio(ctx, rel, z, group.where, spec.stabilizer);
    for (const PreparedTerm& p : terms) {
      const Tensor c = affine_apply_transposed(ctx, s, p.weight);
      accumulate(result, group.coef * p.sign, p.input, c, p.ones);
    }
  }
  return result;
}

RulePtr make_lrp_rule(std::string name, LrpSpec spec) {
  BL_CHECK(!spec.groups.empty(), "make_lrp_rule(", name, "): the spec has no groups");
  return std::make_shared<const LrpRule>(std::move(name), std::move(spec));
}

}  // namespace backlight
