#include "attribution/core/neuron.h"

#include <sstream>

#include "engine/backward.h"
#include "engine/error.h"

namespace backlight {

Neuron Neuron::at(std::string layer, std::vector<int64_t> index) {
  BL_CHECK(!index.empty(), "Neuron::at: no index given for layer '", layer, "'");
  Neuron n;
  n.layer = std::move(layer);
  n.index = std::move(index);
  return n;
}

Neuron Neuron::select(std::string layer, std::function<Var(const Var& layer_output)> selector) {
  BL_CHECK(selector, "Neuron::select: no selector function given for layer '", layer, "'");
  Neuron n;
  n.layer = std::move(layer);
  n.selector = std::move(selector);
  return n;
}

namespace {

std::string index_str(const std::vector<int64_t>& index) {
  std::ostringstream os;
  os << "[";
  for (size_t i = 0; i < index.size(); ++i) os << (i ? "," : "") << index[i];
  os << "]";
  return os.str();
}

}  // namespace

int64_t neuron_offset(const Neuron& neuron, const Shape& layer_shape) {
  BL_CHECK(!neuron.is_function(), "neuron '", neuron.layer, "': a selector function has no index");
  BL_CHECK(!neuron.index.empty(), "neuron: no index given for layer '", neuron.layer,
           "' (expected a flat index or one index per dimension of the layer output)");
  const int per_rank = layer_shape.rank() - 1;
  const int64_t per = layer_shape.numel_range(1, layer_shape.rank());
  const std::vector<int64_t>& idx = neuron.index;
  if (idx.size() == 1) {
    BL_CHECK(idx[0] >= 0 && idx[0] < per, "neuron index ", index_str(idx), " out of range for layer '", neuron.layer,
             "' with output shape ", layer_shape, " (a flat index must be in 0..", per - 1, ")");
    return idx[0];
  }
  BL_CHECK(static_cast<int>(idx.size()) == per_rank, "neuron index ", index_str(idx), " does not fit layer '",
           neuron.layer, "' with output shape ", layer_shape, " (expected a flat index or ", per_rank,
           " indices, one per dimension after the batch axis)");
  int64_t offset = 0;
  for (int d = 0; d < per_rank; ++d) {
    BL_CHECK(idx[d] >= 0 && idx[d] < layer_shape[d + 1], "neuron index ", index_str(idx), " out of range for layer '",
             neuron.layer, "' with output shape ", layer_shape, " (dimension ", d + 1, " has size ", layer_shape[d + 1],
             ")");
    offset = offset * layer_shape[d + 1] + idx[d];
  }
  return offset;
}

std::vector<Tensor> neuron_backward(const Neuron& neuron, const Var& layer_output, std::span<const Var> wrt,
                                    const RuleSet& rules) {
  const int64_t rows = layer_output.shape()[0];
  if (neuron.is_function()) {
    const Var s = neuron.selector(layer_output);
    BL_CHECK_SHAPE(s.shape().numel() == rows, "neuron selector for layer '", neuron.layer,
                   "': expected one value per item (", rows, "), got shape ", s.shape());
    const std::vector<Var> outs{s};
    const std::vector<Tensor> seeds{Tensor::full(s.shape(), 1.0f)};
    return backward(layer_output.tape(), outs, seeds, wrt, rules);
  }
  const int64_t offset = neuron_offset(neuron, layer_output.shape());
  const int64_t per = layer_output.shape().numel() / rows;
  Tensor seed = Tensor::zeros(layer_output.shape());
  for (int64_t r = 0; r < rows; ++r) seed.data()[r * per + offset] = 1.0f;
  const std::vector<Var> outs{layer_output};
  const std::vector<Tensor> seeds{seed};
  return backward(layer_output.tape(), outs, seeds, wrt, rules);
}

Tensor neuron_values(const Neuron& neuron, const Tensor& layer_output) {
  const int64_t rows = layer_output.size(0);
  Tensor out = Tensor::empty(Shape{rows});
  if (neuron.is_function()) {
    Tape tape(TapeOptions{.record = false});
    const Tensor v = neuron.selector(tape.input(layer_output)).value();
    BL_CHECK_SHAPE(v.numel() == rows, "neuron selector for layer '", neuron.layer, "': expected one value per item (",
                   rows, "), got shape ", v.shape());
    std::copy(v.data(), v.data() + rows, out.data());
    return out;
  }
  const int64_t offset = neuron_offset(neuron, layer_output.shape());
  const int64_t per = layer_output.numel() / rows;
  for (int64_t r = 0; r < rows; ++r) out.data()[r] = layer_output.data()[r * per + offset];
  return out;
}

}  // namespace backlight
