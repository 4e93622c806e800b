#pragma once
/// Activation modules: each records one element-wise tape node (softmax: one node over `dim`)
/// named by the module path, so rules choose them by kind or by name. No parameters.
#include <string>

#include "engine/module.h"

namespace backlight {

class ReLU : public ModuleImpl<ReLU> {
 public:
  Var forward(const Var& x) const override;
  std::string type_name() const override { return "ReLU"; }
};

/// min(max(x, 0), 6).
class ReLU6 : public ModuleImpl<ReLU6> {
 public:
  Var forward(const Var& x) const override;
  std::string type_name() const override { return "ReLU6"; }
};

/// x for x > 0, negative_slope * x otherwise.
class LeakyReLU : public ModuleImpl<LeakyReLU> {
 public:
  explicit LeakyReLU(float negative_slope = 0.01f) : negative_slope_(negative_slope) {}
  Var forward(const Var& x) const override;
  std::string type_name() const override { return "LeakyReLU"; }
  float negative_slope() const { return negative_slope_; }

 private:
  float negative_slope_;
};

class Sigmoid : public ModuleImpl<Sigmoid> {
 public:
  Var forward(const Var& x) const override;
  std::string type_name() const override { return "Sigmoid"; }
};

class Tanh : public ModuleImpl<Tanh> {
 public:
  Var forward(const Var& x) const override;
  std::string type_name() const override { return "Tanh"; }
};

/// approximate: "none" (exact x*Phi(x)) or "tanh", as PyTorch's GELU(approximate=...).
class GELU : public ModuleImpl<GELU> {
 public:
  explicit GELU(std::string approximate = "none");
  Var forward(const Var& x) const override;
  std::string type_name() const override { return "GELU"; }
  const std::string& approximate() const { return approximate_; }

 private:
  std::string approximate_;
};

/// Softmax over `dim` (negative counts from the end). PyTorch's implicit-dim form is not offered.
class Softmax : public ModuleImpl<Softmax> {
 public:
  explicit Softmax(int dim) : dim_(dim) {}
  Var forward(const Var& x) const override;
  std::string type_name() const override { return "Softmax"; }
  int dim() const { return dim_; }

 private:
  int dim_;
};

}  // namespace backlight
