#pragma once
/// nn.Dropout: identity at inference, kept as a `dropout` tape node so node names line up with
/// the module tree (there is no training-mode masking).
#include "engine/module.h"

namespace backlight {

class Dropout : public ModuleImpl<Dropout> {
 public:
  explicit Dropout(float p = 0.5f);
  Var forward(const Var& x) const override;
  std::string type_name() const override { return "Dropout"; }
  float p() const { return p_; }

 private:
  float p_;
};

}  // namespace backlight
