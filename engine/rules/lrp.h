#pragma once
/// LRP for affine nodes as data (Zennit's BasicHook made declarative).
///
/// A rule is a list of groups; each group is a list of terms. For a node z = apply(x, W, b):
///   z_g   = sum_t sign_t * apply(in_t(x), W_t, b_t)
///   s_g   = select_g(z) * R / stabilize(z_g, eps)          (select: all | z > 0 | z < 0)
///   R_in  = sum_g coef_g * sum_t sign_t * in_t(x) * apply_transposed(s_g, W_t)
/// where z is the node's recorded output. Examples (Zennit 0.5.1 definitions):
///   epsilon   {1, all, [(+, x, W, b)]}
///   z+        {1, all, [(+, x+, W+, b+), (+, x-, W-, 0)]}
///   alpha-beta {alpha, all, [(+, x+, W+, b+), (+, x-, W-, 0)]}, {-beta, all, [(+, x+, W-, b-), (+, x-, W+, 0)]}
///   gamma     {1, z>0, [(+, x+, W+gW+, b+gb+), (+, x-, W+gW-, 0)]}, {1, z<0, [(+, x+, W+gW-, b+gb-), (+, x-, W+gW+, 0)]}
///   z-box     {1, all, [(+, x, W, b), (-, low, W+, b+), (-, high, W-, b-)]}
///   flat      {1, all, [(+, 1, 1, 0)]}          w-square {1, all, [(+, 1, W^2, b^2)]}
/// Modified parameters are computed per backward call as scratch tensors; nothing is written back.
/// Terms whose input modifier yields all zeros (x- after a ReLU) are skipped, which is exact.
#include <functional>
#include <string>
#include <vector>

#include "engine/rules/rule.h"

namespace backlight {

/// How a term modifies the node's input x.
struct InputMod {
  enum class Kind { Keep, Positive, Negative, Ones, Constant };
  Kind kind = Kind::Keep;
  /// Kind::Constant: a scalar ([1]) or a tensor broadcastable to x (e.g. per channel [1,C,1,1]).
  Tensor constant;

  static InputMod keep() { return {}; }
  static InputMod positive() { return of(Kind::Positive); }
  static InputMod negative() { return of(Kind::Negative); }
  static InputMod ones() { return of(Kind::Ones); }
  static InputMod fill(Tensor value) {
    InputMod m = of(Kind::Constant);
    m.constant = std::move(value);
    return m;
  }
  static InputMod of(Kind k) {
    InputMod m;
    m.kind = k;
    return m;
  }
};

/// How a term modifies a parameter (weight or bias).
struct ParamMod {
  enum class Kind { Keep, Zero, Ones, Positive, Negative, Square, GammaPositive, GammaNegative, Custom };
  Kind kind = Kind::Keep;
  float gamma = 0.0f;  ///< GammaPositive: p + gamma*p+; GammaNegative: p + gamma*p-
  std::function<float(float)> custom;  ///< Kind::Custom, per element

  static ParamMod keep() { return {}; }
  static ParamMod zero() { return of(Kind::Zero); }
  static ParamMod ones() { return of(Kind::Ones); }
  static ParamMod positive() { return of(Kind::Positive); }
  static ParamMod negative() { return of(Kind::Negative); }
  static ParamMod square() { return of(Kind::Square); }
  static ParamMod gamma_positive(float g) { return of(Kind::GammaPositive, g); }
  static ParamMod gamma_negative(float g) { return of(Kind::GammaNegative, g); }
  static ParamMod map(std::function<float(float)> f) {
    ParamMod m = of(Kind::Custom);
    m.custom = std::move(f);
    return m;
  }
  static ParamMod of(Kind k, float g = 0.0f) {
    ParamMod m;
    m.kind = k;
    m.gamma = g;
    return m;
  }
};

struct LrpTerm {
  float sign = 1.0f;
  InputMod input;
  ParamMod weight;
  ParamMod bias;
};

struct LrpGroup {
  enum class Select { All, PositiveOutput, NegativeOutput };
  float coef = 1.0f;
  Select where = Select::All;
  std::vector<LrpTerm> terms;
};

struct LrpSpec {
  std::vector<LrpGroup> groups;
  float stabilizer = 1e-6f;
};

/// A rule from a spec; `name` appears in listings ("epsilon(eps=1e-06)").
RulePtr make_lrp_rule(std::string name, LrpSpec spec);

/// Relevance of an affine node under `spec` (the engine of make_lrp_rule, usable from custom rules).
Tensor lrp_relevance(const RuleContext& ctx, const LrpSpec& spec, const Tensor& relevance);

}  // namespace backlight
