#pragma once
/// Module: a minimal PyTorch-like module tree for building models from tape ops.
///
/// Names are PyTorch's: a module's path is what `named_modules()` gives ("layer1.0.conv1"), its
/// parameters/buffers are the `state_dict()` keys ("layer1.0.conv1.weight"), so weights convert
/// one-to-one and rules choose layers by the names users know.
///
/// All state lives in the base class (ordered parameters, buffers, children); concrete modules
/// add only plain configuration values and find children and parameters by name. That makes
/// clone() a generic deep copy (canonizers and randomisation checks return new models and never
/// touch the caller's). forward() is const: one model may run on many tapes and threads at once.
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/tape.h"

namespace backlight {

class Module;
using ModulePtr = std::shared_ptr<Module>;

class Module {
 public:
  virtual ~Module() = default;

  /// Runs the module on the tape of `x`; ops are recorded under this module's path.
  virtual Var forward(const Var& x) const = 0;
  /// PyTorch class name ("Conv2d", "Sequential", "BasicBlock"), for listings and matchers.
  virtual std::string type_name() const = 0;

  /// Full module path ("" for the root).
  const std::string& path() const { return path_; }
  /// Sets this module's path and re-derives every descendant's (root: "").
  void set_path(std::string path);

  // --- tree -------------------------------------------------------------------------------------
  const std::vector<std::pair<std::string, ModulePtr>>& children() const { return children_; }
  /// Direct child by local name; throws naming the module and the known children.
  const Module& child(std::string_view name) const;
  Module& child(std::string_view name);
  /// Descendant by dotted path relative to this module ("layer1.0.conv1"); nullptr if absent.
  const Module* find(std::string_view dotted) const;
  Module* find(std::string_view dotted);
  /// (path, module) for this module and all descendants, pre-order, as named_modules().
  std::vector<std::pair<std::string, const Module*>> named_modules() const;

  // --- parameters and buffers --------------------------------------------------------------------
  /// Local parameter / buffer by name; throws naming the module and what exists.
  const Tensor& parameter(std::string_view name) const;
  Tensor& parameter(std::string_view name);
  const Tensor& buffer(std::string_view name) const;
  Tensor& buffer(std::string_view name);
  bool has_parameter(std::string_view name) const;
  /// Full-name parameters of the subtree ("features.0.weight"), in registration order.
  std::vector<std::pair<std::string, Tensor>> named_parameters() const;
  std::vector<std::pair<std::string, Tensor>> named_buffers() const;
  /// Parameters then buffers, as PyTorch's state_dict() (same keys, same order per module).
  std::vector<std::pair<std::string, Tensor>> state_dict() const;
  /// Replaces the tensor stored under a full name (shape must match); false if the name is unknown.
  bool set_tensor(std::string_view full_name, const Tensor& value);

  /// Deep copy: new tensors, new children; the copy shares nothing with this module.
  ModulePtr clone() const;
  /// Deep copy with every parameter and buffer on `device` (this module is untouched). To CUDA,
  /// `ws` must be the CUDA workspace the tapes running the copy will use (Workspace::for_cuda).
  ModulePtr to(Device device, const Workspace* ws = nullptr) const;
  /// Adds a parameter (canonizers give a bias-free conv of a *cloned* model its folded bias).
  /// Throws if the name is taken.
  Tensor& add_parameter(std::string name, Tensor value) { return register_parameter(std::move(name), std::move(value)); }

 protected:
  Module() = default;
  Module(const Module&) = default;
  Module& operator=(const Module&) = default;

  Tensor& register_parameter(std::string name, Tensor value);
  Tensor& register_buffer(std::string name, Tensor value);
  /// Adds a child; its path becomes this path + "." + name.
  Module& register_module(std::string name, ModulePtr child);

  /// The local parameter as a tape leaf named by its full name (undefined Var if `name` is absent
  /// and optional, e.g. a bias that was disabled).
  Var param(Tape& tape, std::string_view name, bool optional = false) const;
  Var buf(Tape& tape, std::string_view name) const;
  /// Path for functional ops this module records itself (its own path).
  std::string_view op_name() const { return path_; }

  /// Copy of the concrete type (configuration + shallow base); clone() deep-copies the rest.
  virtual ModulePtr shallow_copy() const = 0;

 private:
  std::string path_;
  std::vector<std::pair<std::string, Tensor>> params_;
  std::vector<std::pair<std::string, Tensor>> buffers_;
  std::vector<std::pair<std::string, ModulePtr>> children_;
};

/// CRTP helper: implements shallow_copy() via the copy constructor of Derived.
template <class Derived>
class ModuleImpl : public Module {
 protected:
  ModulePtr shallow_copy() const override { return std::make_shared<Derived>(static_cast<const Derived&>(*this)); }
};

}  // namespace backlight
