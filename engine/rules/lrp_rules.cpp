// The built-in LRP rules as LrpSpec data (definitions: Zennit 0.5.1 rules.py), plus Norm and Pass.
#include <sstream>

#include "engine/functional/cuda_ops.h"
#include "engine/functional/dispatch.h"
#include "engine/functional/elementwise.h"
#include "engine/parallel.h"
#include "engine/rules/builtin.h"
#include "engine/rules/stabilize.h"
#include "engine/rules/rule_math.h"

namespace backlight {

namespace {

using Select = LrpGroup::Select;

std::string fmt(const char* name, std::initializer_list<std::pair<const char*, float>> params) {
  std::ostringstream os;
  os << name << "(";
  bool first = true;
  for (const auto& [k, v] : params) {
    os << (first ? "" : ", ") << k << "=" << v;
    first = false;
  }
  return os.str() + ")";
}

// Add node under Norm: each addend keeps the share of relevance its value contributes.
Tensor norm_add(const RuleContext& ctx, const Tensor& rel, float stab, int which) {
  const Workspace* ws = &ctx.workspace();
  const Tensor& x = ctx.input(which);
  BL_ON_CUDA("lrp norm", ws, rel, ctx.output(), x) {
    const Tensor s = fn::cuda_ops::lrp_ratio(rel, ctx.output(), ctx.output(), rule_math::kAll, stab);
    return fn::sum_to(fn::binary(fn::BinaryOp::Mul, s, x, ws), x.shape(), ws);
  }
  Tensor s = ctx.alloc(rel.shape());
  const float* pr = rel.data();
  const float* pz = ctx.output().data();
  float* ps = s.data();
  parallel_for(rel.numel(), 1 << 14, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) ps[i] = pr[i] / math::stabilize(pz[i], stab);
  });
  return fn::sum_to(fn::binary(fn::BinaryOp::Mul, s, x, ws), x.shape(), ws);
}

class NormRule final : public Rule {
 public:
  explicit NormRule(float stab) : stab_(stab) {
    spec_.groups = {LrpGroup{1.0f, Select::All, {LrpTerm{}}}};
    spec_.stabilizer = stab;
  }
  std::string name() const override { return fmt("norm", {{"stabilizer", stab_}}); }
  std::vector<Tensor> backward(const RuleContext& ctx, const Tensor& rel) const override {
    std::vector<Tensor> out(ctx.num_inputs());
    if (ctx.kind() == OpKind::Add || ctx.kind() == OpKind::Sub) {
      // z = a - b is z = a + (-b): the subtrahend's share is -b * R / z.
      for (int i = 0; i < 2; ++i)
        if (ctx.needs_grad(i)) {
          out[i] = norm_add(ctx, rel, stab_, i);
          if (i == 1 && ctx.kind() == OpKind::Sub) out[i] = fn::scale(out[i], -1.0f, &ctx.workspace());
        }
      return out;
    }
    out[0] = lrp_relevance(ctx, spec_, rel);
    return out;
  }

 private:
  float stab_;
  LrpSpec spec_;
};

class PassRule final : public Rule {
 public:
  std::string name() const override { return "pass"; }
  std::vector<Tensor> backward(const RuleContext& ctx, const Tensor& rel) const override {
    BL_CHECK_SHAPE(ctx.input(0).shape() == rel.shape(), "pass: node '", ctx.name(), "' (", to_string(ctx.kind()),
                   ") changes the shape ", ctx.input(0).shape(), " -> ", rel.shape(),
                   "; pass applies to element-wise nodes");
    std::vector<Tensor> out(ctx.num_inputs());
    out[0] = rel;
    return out;
  }
};

LrpTerm term(float sign, InputMod in, ParamMod w, ParamMod b) { return LrpTerm{sign, std::move(in), w, b}; }

RulePtr zbox_impl(std::string name, InputMod low, InputMod high, float stab) {
  return make_lrp_rule(std::move(name),
                       LrpSpec{{LrpGroup{1.0f,
                                         Select::All,
                                         {term(1, InputMod::keep(), ParamMod::keep(), ParamMod::keep()),
                                          term(-1, std::move(low), ParamMod::positive(), ParamMod::positive()),
                                          term(-1, std::move(high), ParamMod::negative(), ParamMod::negative())}}},
                               stab});
}

}  // namespace

RulePtr epsilon(float eps) {
  return make_lrp_rule(fmt("epsilon", {{"epsilon", eps}}), LrpSpec{{LrpGroup{1.0f, Select::All, {LrpTerm{}}}}, eps});
}

RulePtr zplus(float stab) {
  return make_lrp_rule(fmt("zplus", {{"stabilizer", stab}}),
                       LrpSpec{{LrpGroup{1.0f,
                                         Select::All,
                                         {term(1, InputMod::positive(), ParamMod::positive(), ParamMod::positive()),
                                          term(1, InputMod::negative(), ParamMod::negative(), ParamMod::zero())}}},
                               stab});
}

RulePtr alpha_beta(float alpha, float beta, float stab) {
  BL_CHECK(alpha >= 0 && beta >= 0, "alpha_beta: alpha and beta must be >= 0, got alpha=", alpha, " beta=", beta);
  BL_CHECK(alpha - beta == 1.0f, "alpha_beta: alpha - beta must equal 1, got alpha=", alpha, " beta=", beta);
  const auto pos = {term(1, InputMod::positive(), ParamMod::positive(), ParamMod::positive()),
                    term(1, InputMod::negative(), ParamMod::negative(), ParamMod::zero())};
  const auto neg = {term(1, InputMod::positive(), ParamMod::negative(), ParamMod::negative()),
                    term(1, InputMod::negative(), ParamMod::positive(), ParamMod::zero())};
  return make_lrp_rule(fmt("alpha_beta", {{"alpha", alpha}, {"beta", beta}, {"stabilizer", stab}}),
                       LrpSpec{{LrpGroup{alpha, Select::All, pos}, LrpGroup{-beta, Select::All, neg}}, stab});
}

RulePtr gamma(float g, float stab) {
  BL_CHECK(g >= 0, "gamma: gamma must be >= 0, got ", g);
  const auto gp = ParamMod::gamma_positive(g), gn = ParamMod::gamma_negative(g);
  const auto pos = {term(1, InputMod::positive(), gp, gp), term(1, InputMod::negative(), gn, ParamMod::zero())};
  const auto neg = {term(1, InputMod::positive(), gn, gn), term(1, InputMod::negative(), gp, ParamMod::zero())};
  return make_lrp_rule(fmt("gamma", {{"gamma", g}, {"stabilizer", stab}}),
                       LrpSpec{{LrpGroup{1.0f, Select::PositiveOutput, pos},
                                LrpGroup{1.0f, Select::NegativeOutput, neg}},
                               stab});
}

RulePtr zbox(float low, float high, float stab) {
  BL_CHECK(low <= high, "zbox: low must be <= high, got low=", low, " high=", high);
  return zbox_impl(fmt("zbox", {{"low", low}, {"high", high}, {"stabilizer", stab}}),
                   InputMod::fill(Tensor::full(Shape{1}, low)), InputMod::fill(Tensor::full(Shape{1}, high)), stab);
}

RulePtr zbox(Tensor low, Tensor high, float stab) {
  BL_CHECK(low.defined() && high.defined(), "zbox: low and high bounds must be given");
  return zbox_impl(fmt("zbox", {{"stabilizer", stab}}), InputMod::fill(std::move(low)),
                   InputMod::fill(std::move(high)), stab);
}

RulePtr flat(float stab) {
  return make_lrp_rule(
      fmt("flat", {{"stabilizer", stab}}),
      LrpSpec{{LrpGroup{1.0f, Select::All, {term(1, InputMod::ones(), ParamMod::ones(), ParamMod::zero())}}}, stab});
}

RulePtr wsquare(float stab) {
  return make_lrp_rule(
      fmt("wsquare", {{"stabilizer", stab}}),
      LrpSpec{{LrpGroup{1.0f, Select::All, {term(1, InputMod::ones(), ParamMod::square(), ParamMod::square())}}},
              stab});
}

RulePtr norm(float stab) { return std::make_shared<const NormRule>(stab); }
RulePtr pass() { return std::make_shared<const PassRule>(); }

}  // namespace backlight
