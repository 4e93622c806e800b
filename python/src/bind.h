#pragma once
/// Shared pieces of the Python bindings (backlight._core): array <-> Tensor conversion without
/// copies, the model handle, and one bind_* function per source file.
///
/// Arrays: float32, C-contiguous, CPU (the Python layer checks dtype and device first and names
/// the argument; these checks are the last line). Inputs are wrapped, not copied: the Tensor's
/// storage holds a reference to the array, released under the GIL. Outputs are numpy arrays that
/// own a reference to the Tensor's storage (no copy either).
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <string>
#include <vector>

#include "engine/module.h"
#include "engine/tensor.h"
#include "engine/workspace.h"

namespace backlight {
class Target;
struct MethodOptions;
}  // namespace backlight

namespace backlight::python {

namespace nb = nanobind;

using InArray = nb::ndarray<const float, nb::c_contig, nb::device::cpu>;
using OutArray = nb::ndarray<nb::numpy, float>;

/// Wraps `a` as a Tensor sharing its memory; `what` names the argument in errors (a 0-d array
/// is rejected unless `allow_scalar`).
Tensor to_tensor(const InArray& a, const char* what, bool allow_scalar = false);
/// A numpy array viewing `t` (a CPU tensor), keeping its storage alive.
OutArray to_numpy(const Tensor& t);

/// A file could not be read or written: raised in Python as OSError.
struct FileError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// A loaded model: the module tree plus what the zoo knows about it.
struct Model {
  ModulePtr module;
  std::string arch;              ///< zoo name ("resnet18"), or "" when unknown
  std::vector<int64_t> input;    ///< default per-item input shape, [] when unknown
  int64_t num_classes = 0;
  /// Buffers reused by every attribution call on this model (as bench_methods and the CLI reuse
  /// theirs: fresh memory costs a page fault per 4 KiB). Thread-safe; copies share the pool. Holds
  /// the peak of the calls made so far until release_memory() or the model is dropped.
  Workspace workspace{};
};

/// Threads for the computation that follows on this OS thread (backlight.set_num_threads; 0 keeps
/// OpenMP's default). Each binding that computes calls it after releasing the GIL.
void apply_num_threads();

/// Target from Python: None (top-1), an int (every item), or one int per item.
Target to_target(nb::handle h, int64_t items);
/// The registry's MethodOptions from backlight's option keys (attribute.cpp, the one mapping).
MethodOptions registry_options(const nb::dict& kw);

void bind_model(nb::module_& m);
void bind_attribute(nb::module_& m);
void bind_rules(nb::module_& m);
void bind_metrics(nb::module_& m);

}  // namespace backlight::python

#include "engine/rules/rule_set.h"

namespace backlight::python {
/// A rule set built in Python (backlight.rules.RuleSet): ordered (matcher, rule) entries.
struct PyRuleSet {
  RuleSet set;
};
}  // namespace backlight::python
