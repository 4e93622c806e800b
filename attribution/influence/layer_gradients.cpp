#include "attribution/influence/layer_gradients.h"

#include <algorithm>
#include <cmath>

#include "attribution/core/layer.h"
#include "engine/backward.h"
#include "engine/error.h"
#include "engine/functional/conv.h"
#include "engine/parallel.h"

namespace backlight {

namespace {

bool is_weight_layer(const Tape& tape, const Node& n) {
  return (n.kind == OpKind::Linear || n.kind == OpKind::Conv2d) && n.inputs.size() >= 2 &&
         tape.value(n.inputs[1]).role == ValueRole::Parameter;
}

std::string weight_layers(const Tape& tape) {
  std::string s;
  for (const Node& n : tape.nodes())
    if (is_weight_layer(tape, n)) s += (s.empty() ? "" : ", ") + n.name;
  return s.empty() ? "none" : s;
}

// The one Linear/Conv2d node recorded by module `layer` (exact path).
int weight_node(const Tape& tape, const std::string& layer) {
  int found = -1;
  for (int i = 0; i < tape.num_nodes(); ++i) {
    const Node& n = tape.node(i);
    if (n.name != layer || !is_weight_layer(tape, n)) continue;
    BL_CHECK(found < 0, "influence: layer '", layer,
             "' runs more than once in the forward pass; per-example gradients of a reused layer are not supported");
    found = i;
  }
  if (found >= 0) return found;
  const int any = layer_output_node(tape, layer);  // throws with the known paths when absent
  std::string inside;
  for (const Node& n : tape.nodes())
    if (is_weight_layer(tape, n) && n.name.rfind(layer + ".", 0) == 0) inside += (inside.empty() ? "" : ", ") + n.name;
  BL_CHECK(inside.empty(), "influence: '", layer, "' is a container module; name its Linear/Conv2d layers (", inside,
           ")");
  BL_THROW("influence: layer '", layer, "' is a ", to_string(tape.node(any).kind),
           " op; per-example gradients need a Linear or Conv2d layer with a weight (these qualify: ",
           weight_layers(tape), ")");
}

}  // namespace

int64_t LayerFactors::gradient_size() const {
  return weight_shape.numel() + (has_bias ? weight_shape[0] : 0);
}

Tensor cross_entropy_logit_grad(const Tensor& logits, std::span<const int64_t> labels) {
  BL_CHECK_SHAPE(logits.dim() == 2, "influence: expected logits [N, classes], got ", logits.shape());
  const int64_t n = logits.size(0), c = logits.size(1);
  BL_CHECK(static_cast<int64_t>(labels.size()) == n, "influence: ", labels.size(), " labels for a batch of ", n);
  Tensor g = Tensor::empty(Shape{n, c});
  for (int64_t i = 0; i < n; ++i) {
    const int64_t y = labels[static_cast<size_t>(i)];
    BL_CHECK(y >= 0 && y < c, "influence: label ", y, " of example ", i, " is outside [0, ", c, ")");
    const float* row = logits.data() + i * c;
    float* out = g.data() + i * c;
    const float mx = *std::max_element(row, row + c);
    double sum = 0.0;
    for (int64_t j = 0; j < c; ++j) sum += std::exp(static_cast<double>(row[j] - mx));
    for (int64_t j = 0; j < c; ++j)
      out[j] = static_cast<float>(std::exp(static_cast<double>(row[j] - mx)) / sum) - (j == y ? 1.0f : 0.0f);
  }
  return g;
}

std::string last_linear_layer(const Module& model, const Tensor& example) {
  Tape tape;
  model.forward(tape.input(example.slice_batch(0, 1)));
  for (int i = tape.num_nodes() - 1; i >= 0; --i)
    if (tape.node(i).kind == OpKind::Linear && is_weight_layer(tape, tape.node(i))) return tape.node(i).name;
  BL_THROW("influence: the ", model.type_name(),
           " has no Linear layer (the default layer of TracIn); name layers with --layers (these qualify: ",
           weight_layers(tape), ")");
}

std::vector<LayerFactors> layer_factors(const Module& model, const LabeledBatch& batch,
                                        std::span<const std::string> layers) {
  BL_CHECK(batch.inputs.defined() && batch.inputs.dim() >= 1 && batch.inputs.size(0) > 0,
           "influence: expected a non-empty batch of inputs [N, ...]");
  Tape tape;
  const Var logits = model.forward(tape.input(batch.inputs));
  BL_CHECK_SHAPE(logits.shape().rank() == 2, "influence: expected the model to output logits [N, classes], got ",
                 logits.shape());
  std::vector<std::string> names(layers.begin(), layers.end());
  if (names.empty()) {
    for (int i = tape.num_nodes() - 1; i >= 0 && names.empty(); --i)
      if (tape.node(i).kind == OpKind::Linear && is_weight_layer(tape, tape.node(i))) names.push_back(tape.node(i).name);
    BL_CHECK(!names.empty(), "influence: the ", model.type_name(),
             " has no Linear layer (the default layer of TracIn); name layers (these qualify: ", weight_layers(tape),
             ")");
  }
  std::vector<LayerFactors> out;
  std::vector<Var> wrt;
  for (const std::string& name : names) {
    const Node& n = tape.node(weight_node(tape, name));
    LayerFactors f{.layer = name, .conv = n.kind == OpKind::Conv2d};
    f.input = tape.value(n.inputs[0]).tensor;
    f.weight_shape = tape.value(n.inputs[1]).tensor.shape();
    f.has_bias = n.inputs.size() > 2;
    if (f.conv) f.attrs = std::get<Conv2dAttrs>(n.attrs);
    else
      BL_CHECK_SHAPE(f.input.dim() == 2, "influence: Linear layer '", name,
                     "' must see inputs [N, in] (one vector per example), got ", f.input.shape());
    wrt.push_back(tape.var(n.output));
    out.push_back(std::move(f));
  }
  const Tensor seed = cross_entropy_logit_grad(logits.value(), batch.labels);
  const std::vector<Tensor> grads =
      backward(tape, std::span<const Var>(&logits, 1), std::span<const Tensor>(&seed, 1), wrt, RuleSet());
  for (size_t i = 0; i < out.size(); ++i) out[i].grad_output = grads[i];
  return out;
}

Tensor per_example_gradients(std::span<const LayerFactors> factors) {
  BL_CHECK(!factors.empty(), "per_example_gradients: no layers");
  const int64_t n = factors[0].input.size(0);
  int64_t d = 0;
  for (const LayerFactors& f : factors) d += f.gradient_size();
  Tensor out = Tensor::empty(Shape{n, d});
  int64_t col = 0;
  for (const LayerFactors& f : factors) {
    BL_CHECK(f.input.size(0) == n, "per_example_gradients: layers of different batch sizes");
    const int64_t o = f.weight_shape[0], wsize = f.weight_shape.numel();
    if (!f.conv) {
      const int64_t in = f.input.size(1);
      parallel_for(n, 1, [&](int64_t lo, int64_t hi) {
        for (int64_t e = lo; e < hi; ++e) {
          const float* a = f.input.data() + e * in;
          const float* g = f.grad_output.data() + e * o;
          float* row = out.data() + e * d + col;
          for (int64_t r = 0; r < o; ++r)
            for (int64_t c = 0; c < in; ++c) row[r * in + c] = g[r] * a[c];
          if (f.has_bias) std::copy(g, g + o, row + wsize);
        }
      });
    } else {
      // One weight-gradient convolution per example (each is a GEMM over that example's unfolded
      // input, threaded inside); the batch's forward and backward were shared.
      const int64_t positions = f.grad_output.numel() / (n * o);
      for (int64_t e = 0; e < n; ++e) {
        const Tensor dw = fn::conv2d_backward_weight(f.grad_output.slice_batch(e, e + 1), f.input.slice_batch(e, e + 1),
                                                     f.weight_shape, f.attrs, nullptr);
        float* row = out.data() + e * d + col;
        std::copy(dw.data(), dw.data() + wsize, row);
        if (f.has_bias) {
          const float* g = f.grad_output.data() + e * o * positions;
          for (int64_t r = 0; r < o; ++r) {
            double s = 0.0;
            for (int64_t p = 0; p < positions; ++p) s += g[r * positions + p];
            row[wsize + r] = static_cast<float>(s);
          }
        }
      }
    }
    col += f.gradient_size();
  }
  return out;
}

}  // namespace backlight
