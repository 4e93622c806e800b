#pragma once
/// Target: what to explain - a class index per batch item, the top-1 prediction, or any scalar
/// function of the model output (a segmentation region, a neuron, a custom score).
#include <functional>
#include <vector>

#include "engine/tape.h"

namespace backlight {

class Target {
 public:
  /// Top-1 prediction of each item (the default).
  Target() = default;
  static Target top1() { return {}; }
  /// The same class for every item.
  static Target index(int64_t c);
  /// One class per item.
  static Target indices(std::vector<int64_t> cs);
  /// Any differentiable function of the output Var [N,...] returning one scalar per item ([N]);
  /// it is recorded on the tape, so the seed is ones. resolve() leaves the class list empty.
  static Target function(std::function<Var(const Var& output)> f);

  bool is_function() const { return static_cast<bool>(fn_); }
  /// Class per item for an output [N, classes] on either device (top-1 copies a device output to
  /// the host; class lists read only its shape); throws naming the bad index and the class count.
  std::vector<int64_t> resolve(const Tensor& output) const;
  /// The scalar per item that the backward pass starts from: output[:, target] (shape [N]) or
  /// the target function. Recorded on the output's tape.
  Var select(const Var& output) const;
  /// The classes of `items` inputs when they do not depend on the model output (index targets;
  /// throws when an index list has another length); empty for top-1 and function targets.
  std::vector<int64_t> fixed_classes(int64_t items) const;

 private:
  enum class Kind { Top1, Index, Indices };
  Kind kind_ = Kind::Top1;
  std::vector<int64_t> classes_;
  std::function<Var(const Var&)> fn_;
};

/// One-hot seed [N, classes] with 1 at each item's class (for backward straight from logits).
Tensor one_hot_seed(const Shape& output_shape, const std::vector<int64_t>& classes);

}  // namespace backlight
