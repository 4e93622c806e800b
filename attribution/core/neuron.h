#pragma once
/// Neuron: the unit a neuron method explains - one element of a layer's output per batch item,
/// chosen by index or by a selector function (Captum's `neuron_selector`). For neuron methods the
/// neuron plays the part of the target: the backward pass is seeded at the layer output (one-hot
/// at the neuron of every item), not at the logits.
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "engine/rules/rule_set.h"
#include "engine/tape.h"

namespace backlight {

struct Neuron {
  /// Module path of the layer ("features.3", "layer4.1.conv2"); its output is the output of the
  /// last tape node the module records (attribution/core/layer.h).
  std::string layer;
  /// Index into one item's layer output (without the batch axis): either one flat row-major index
  /// or one index per dimension (e.g. {channel, y, x} for a conv layer). Captum's int / tuple
  /// selectors; Captum's slices are expressed with a selector function instead.
  std::vector<int64_t> index;
  /// Alternative to `index`: maps the layer output Var [N, ...] to one scalar per item [N]
  /// (recorded on the tape, so it may be any differentiable function; Captum warns that it should
  /// only select, and NeuronConductance applies it to the layer gradient as well).
  std::function<Var(const Var& layer_output)> selector;

  static Neuron at(std::string layer, std::vector<int64_t> index);
  static Neuron select(std::string layer, std::function<Var(const Var& layer_output)> selector);
  bool is_function() const { return static_cast<bool>(selector); }
};

/// Flat per-item offset of the neuron in a layer output of shape `layer_shape` ([N, ...]).
/// Throws naming the layer, the index and the layer's shape when the index does not fit (wrong
/// number of indices, or one out of range). Function neurons: throws (they have no index).
int64_t neuron_offset(const Neuron& neuron, const Shape& layer_shape);

/// Backward from the neuron of every row of `layer_output` (a Var of a recording tape) to each of
/// `wrt` through `rules`: index neurons seed a one-hot per row at the layer output; selector
/// neurons record selector(layer_output) and seed it with ones.
std::vector<Tensor> neuron_backward(const Neuron& neuron, const Var& layer_output, std::span<const Var> wrt,
                                    const RuleSet& rules);

/// The neuron's value per row of a layer output [R, ...] -> [R] (the selector runs on a
/// non-recording tape).
Tensor neuron_values(const Neuron& neuron, const Tensor& layer_output);

}  // namespace backlight
