#pragma once
/// nn.Linear, nn.Identity and MultiheadAttention's out_proj class.
#include <random>

#include "engine/module.h"

namespace backlight {

/// y[..., out] = x[..., in] W^T + b as one `linear` tape node named by the module path.
/// Parameters: weight [out, in], bias [out] (optional). Init as PyTorch's reset_parameters:
/// weight kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(in)), bias U(+-1/sqrt(in)).
class Linear : public ModuleImpl<Linear> {
 public:
  Linear(int64_t in_features, int64_t out_features, std::mt19937_64& rng, bool bias = true);
  Var forward(const Var& x) const override;
  std::string type_name() const override { return "Linear"; }
  int64_t in_features() const { return in_features_; }
  int64_t out_features() const { return out_features_; }

 private:
  int64_t in_features_, out_features_;
};

/// PyTorch's nn.MultiheadAttention.out_proj: a Linear under another class name (kept so model
/// listings and type matchers see what PyTorch prints).
class NonDynamicallyQuantizableLinear : public Linear {
 public:
  using Linear::Linear;
  std::string type_name() const override { return "NonDynamicallyQuantizableLinear"; }

 protected:
  ModulePtr shallow_copy() const override { return std::make_shared<NonDynamicallyQuantizableLinear>(*this); }
};

/// Passes x through unchanged; records no node.
class Identity : public ModuleImpl<Identity> {
 public:
  Identity() = default;
  Var forward(const Var& x) const override { return x; }
  std::string type_name() const override { return "Identity"; }
};

}  // namespace backlight
