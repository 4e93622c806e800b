#pragma once
/// nn.Flatten: merges dims [start_dim, end_dim] (defaults 1 and -1: keep the batch axis) as one
/// `reshape` tape node named by the module path.
#include "engine/module.h"

namespace backlight {

class Flatten : public ModuleImpl<Flatten> {
 public:
  explicit Flatten(int start_dim = 1, int end_dim = -1) : start_dim_(start_dim), end_dim_(end_dim) {}
  Var forward(const Var& x) const override;
  std::string type_name() const override { return "Flatten"; }
  int start_dim() const { return start_dim_; }
  int end_dim() const { return end_dim_; }

 private:
  int start_dim_, end_dim_;
};

}  // namespace backlight
