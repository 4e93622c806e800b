#pragma once
/// nn.Sequential: children run in registration order, each on the previous output.
#include <initializer_list>
#include <string>
#include <vector>

#include "engine/module.h"

namespace backlight {

/// Children from the list or push_back are named "0", "1", ... (their index at insertion, as
/// PyTorch); add() gives a chosen name (PyTorch's OrderedDict form). forward on an empty
/// Sequential returns its input.
class Sequential : public ModuleImpl<Sequential> {
 public:
  Sequential() = default;
  Sequential(std::initializer_list<ModulePtr> modules);
  explicit Sequential(const std::vector<ModulePtr>& modules);

  /// Appends under the name of its index; returns *this for chaining.
  Sequential& push_back(ModulePtr module);
  /// Appends under `name` (unique, no '.').
  Sequential& add(std::string name, ModulePtr module);
  size_t size() const { return children().size(); }
  /// The i-th child (throws when out of range).
  const Module& operator[](size_t i) const;
  Module& operator[](size_t i);

  Var forward(const Var& x) const override;
  std::string type_name() const override { return "Sequential"; }
};

}  // namespace backlight
