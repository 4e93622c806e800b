#include "models/onnx/layers.h"

#include <algorithm>
#include <limits>

#include "engine/error.h"
#include "engine/ops/ops.h"
#include "models/onnx/fold.h"

namespace backlight::onnx {

namespace {

bool at_load(const Step& s, const Program& p, size_t i) {
  return i < s.in.size() && s.in[i] >= 0 && p.known[s.in[i]] == Known::AtLoad;
}
bool present(const Step& s, size_t i) { return i < s.in.size() && s.in[i] >= 0; }

Tensor to_tensor(const ConstTensor& c) {
  Tensor t = Tensor::empty(Shape(c.dims));
  for (int64_t i = 0; i < c.numel(); ++i) t.data()[i] = static_cast<float>(c.at(i));
  return t;
}

Var weight(const Step& s, const Module* layer, Tape& tape, std::string_view name, bool optional = false) {
  BL_CHECK(layer, "onnx: ", s.node.describe(), ": no module holds its weights");
  const std::string full = s.path + (s.path.empty() ? "" : ".") + std::string(name);
  if (layer->has_parameter(name)) return tape.param(layer->parameter(name), full);
  if (optional) return Var();
  return tape.buffer(layer->buffer(name), full);
}

// ONNX pads [begin_0, begin_1, end_0, end_1] of a 2-D window op, with auto_pad resolved.
std::array<int64_t, 4> window_pads(const Step& s, const Shape& x, std::array<int64_t, 2> k, std::array<int64_t, 2> st,
                                   std::array<int64_t, 2> dil) {
  const std::string autopad = attr_string(s.node, "auto_pad", "NOTSET");
  std::vector<int64_t> p = attr_ints(s.node, "pads", {0, 0, 0, 0});
  if (p.size() == 2) p = {0, p[0], 0, p[1]};  // 1-D window on [N,C,1,L]
  BL_CHECK(p.size() == 4, "onnx: ", s.node.describe(), ": attribute pads has ", p.size(),
           " entries; only 1-D and 2-D windows are supported (2 or 4 pads)");
  if (autopad == "NOTSET") return {p[0], p[1], p[2], p[3]};
  if (autopad == "VALID") return {0, 0, 0, 0};
  BL_CHECK(autopad == "SAME_UPPER" || autopad == "SAME_LOWER", "onnx: ", s.node.describe(), ": attribute auto_pad='",
           autopad, "' is not supported (NOTSET, VALID, SAME_UPPER, SAME_LOWER)");
  std::array<int64_t, 4> r{};
  for (int d = 0; d < 2; ++d) {
    const int64_t in = x[2 + d], out = (in + st[d] - 1) / st[d];
    const int64_t total = std::max<int64_t>(0, (out - 1) * st[d] + (k[d] - 1) * dil[d] + 1 - in);
    const int64_t small = total / 2, big = total - small;
    r[d] = autopad == "SAME_UPPER" ? small : big;
    r[d + 2] = autopad == "SAME_UPPER" ? big : small;
  }
  return r;
}

std::array<int64_t, 2> pair_attr(const Step& s, std::string_view name, std::vector<int64_t> fallback) {
  std::vector<int64_t> v = attr_ints(s.node, name, fallback);
  if (v.size() == 1) v = {1, v[0]};  // 1-D window on [N,C,1,L]
  BL_CHECK(v.size() == 2, "onnx: ", s.node.describe(), ": attribute ", name, " has ", v.size(),
           " entries; only 1-D and 2-D windows are supported");
  BL_CHECK(v[0] > 0 && v[1] > 0 && v[0] < (1 << 20) && v[1] < (1 << 20), "onnx: ", s.node.describe(), ": attribute ",
           name, " must be positive");
  return {v[0], v[1]};
}

void require_rank4(const Step& s, const Var& x) {
  BL_CHECK_SHAPE(x.shape().rank() == 4, "onnx: ", s.node.describe(), ": input of shape ", x.shape().str(),
                 "; only 1-D (N,C,L) and 2-D (N,C,H,W) inputs are supported");
}

// 1-D windows run as 2-D ones on [N,C,1,L] (kernel 1, stride 1, no padding along the new axis:
// exactly the 1-D op); the result is reshaped back to [N,C,L'].
Var as_2d(const Step& s, const Var& x) {
  if (x.shape().rank() != 3) return x;
  const std::vector<int64_t> d{x.shape()[0], x.shape()[1], 1, x.shape()[2]};
  return reshape(x, d, s.path);
}
Var from_2d(const Step& s, const Var& y, const Var& x) {
  if (x.shape().rank() != 3) return y;
  const std::vector<int64_t> d{y.shape()[0], y.shape()[1], y.shape()[3]};
  return reshape(y, d, s.path);
}

// Pads asymmetric windows explicitly (value: 0 for conv/avg, -inf for max); returns the
// symmetric remainder.
Var pad_asymmetric(const Step& s, Var x, std::array<int64_t, 4>& p, float value) {
  if (p[0] == p[2] && p[1] == p[3]) return x;
  const int64_t t = std::min(p[0], p[2]), l = std::min(p[1], p[3]);
  const std::vector<int64_t> extra{p[1] - l, p[3] - l, p[0] - t, p[2] - t};
  x = pad(x, extra, value, s.path);
  p = {t, l, t, l};
  return x;
}

Var conv(const Step& s, std::span<const Value> in, const Module* layer, Tape& tape) {
  Var x = as_2d(s, in[0].var);
  require_rank4(s, x);
  const Var w = weight(s, layer, tape, "weight");
  const Var b = weight(s, layer, tape, "bias", true);
  const std::array<int64_t, 2> k{w.shape()[2], w.shape()[3]};
  const auto st = pair_attr(s, "strides", {1, 1}), dil = pair_attr(s, "dilations", {1, 1});
  std::array<int64_t, 4> p = window_pads(s, x.shape(), k, st, dil);
  x = pad_asymmetric(s, x, p, 0.0f);
  Conv2dAttrs a;
  a.stride_h = static_cast<int>(st[0]), a.stride_w = static_cast<int>(st[1]);
  a.pad_h = static_cast<int>(p[0]), a.pad_w = static_cast<int>(p[1]);
  a.dilation_h = static_cast<int>(dil[0]), a.dilation_w = static_cast<int>(dil[1]);
  a.groups = static_cast<int>(attr_int(s.node, "group", 1));
  return from_2d(s, conv2d(x, w, b, a, s.path), in[0].var);
}

// ConvTranspose: symmetric pads, output_padding; output_shape and auto_pad are not supported
// (torch writes neither).
Var conv_transpose(const Step& s, std::span<const Value> in, const Module* layer, Tape& tape) {
  Var x = as_2d(s, in[0].var);
  require_rank4(s, x);
  BL_CHECK(attr_ints(s.node, "output_shape").empty(), "onnx: ", s.node.describe(),
           ": attribute output_shape is not supported (give pads and output_padding)");
  BL_CHECK(attr_string(s.node, "auto_pad", "NOTSET") == "NOTSET", "onnx: ", s.node.describe(),
           ": attribute auto_pad='", attr_string(s.node, "auto_pad", "NOTSET"), "' is not supported (NOTSET)");
  const Var w = weight(s, layer, tape, "weight");
  const Var b = weight(s, layer, tape, "bias", true);
  const auto st = pair_attr(s, "strides", {1, 1}), dil = pair_attr(s, "dilations", {1, 1});
  std::vector<int64_t> p = attr_ints(s.node, "pads", {0, 0, 0, 0});
  if (p.size() == 2) p = {0, p[0], 0, p[1]};
  BL_CHECK(p.size() == 4 && p[0] == p[2] && p[1] == p[3] && p[0] >= 0 && p[1] >= 0, "onnx: ", s.node.describe(),
           ": attribute pads must be symmetric and non-negative (begin == end) for ConvTranspose");
  std::vector<int64_t> op = attr_ints(s.node, "output_padding", {0, 0});
  if (op.size() == 1) op = {0, op[0]};
  BL_CHECK(op.size() == 2, "onnx: ", s.node.describe(), ": attribute output_padding has ", op.size(), " entries");
  ConvTranspose2dAttrs a;
  a.conv.stride_h = static_cast<int>(st[0]), a.conv.stride_w = static_cast<int>(st[1]);
  a.conv.pad_h = static_cast<int>(p[0]), a.conv.pad_w = static_cast<int>(p[1]);
  a.conv.dilation_h = static_cast<int>(dil[0]), a.conv.dilation_w = static_cast<int>(dil[1]);
  a.conv.groups = static_cast<int>(attr_int(s.node, "group", 1));
  a.output_pad_h = static_cast<int>(op[0]), a.output_pad_w = static_cast<int>(op[1]);
  return from_2d(s, conv_transpose2d(x, w, b, a, s.path), in[0].var);
}

Var pool(const Step& s, std::span<const Value> in) {
  Var x = as_2d(s, in[0].var);
  require_rank4(s, x);
  const bool is_max = s.node.op_type == "MaxPool";
  BL_CHECK(s.node.outputs.size() < 2 || s.node.outputs[1].empty(), "onnx: ", s.node.describe(),
           ": the Indices output of MaxPool is not supported");
  const auto k = pair_attr(s, "kernel_shape", {});
  const auto st = pair_attr(s, "strides", {1, 1});
  const auto dil = is_max ? pair_attr(s, "dilations", {1, 1}) : std::array<int64_t, 2>{1, 1};
  std::array<int64_t, 4> p = window_pads(s, x.shape(), k, st, dil);
  const bool include = attr_int(s.node, "count_include_pad", 0) != 0;
  if (!is_max && !include && (p[0] != p[2] || p[1] != p[3]))
    BL_THROW("onnx: ", s.node.describe(), ": asymmetric pads with count_include_pad=0 are not supported");
  x = pad_asymmetric(s, x, p, is_max ? -std::numeric_limits<float>::infinity() : 0.0f);
  Pool2dAttrs a;
  a.kernel_h = static_cast<int>(k[0]), a.kernel_w = static_cast<int>(k[1]);
  a.stride_h = static_cast<int>(st[0]), a.stride_w = static_cast<int>(st[1]);
  a.pad_h = static_cast<int>(p[0]), a.pad_w = static_cast<int>(p[1]);
  a.dilation_h = static_cast<int>(dil[0]), a.dilation_w = static_cast<int>(dil[1]);
  a.ceil_mode = attr_int(s.node, "ceil_mode", 0) != 0;
  a.count_include_pad = include;
  return from_2d(s, is_max ? maxpool2d(x, a, s.path) : avgpool2d(x, a, s.path), in[0].var);
}

}  // namespace

bool is_layer_op(std::string_view op) {
  return op == "Conv" || op == "ConvTranspose" || op == "Gemm" || op == "BatchNormalization" || op == "LayerNormalization" ||
         op == "MaxPool" || op == "AveragePool" || op == "GlobalAveragePool" || op == "GroupNorm";
}

bool has_weights(const Step& s, const Program& p) {
  const std::string& op = s.node.op_type;
  if (op == "Conv" || op == "ConvTranspose" || op == "Gemm") {
    BL_CHECK(at_load(s, p, 1) && (!present(s, 2) || at_load(s, p, 2)), "onnx: ", s.node.describe(),
             ": weights computed from activations are not supported (W and B must be constants)");
    return true;
  }
  if (op == "BatchNormalization") {
    for (size_t i = 1; i <= 4; ++i)
      BL_CHECK(at_load(s, p, i), "onnx: ", s.node.describe(), ": input ", i, " must be a constant");
    return true;
  }
  if (op == "LayerNormalization") return at_load(s, p, 1);
  if (op == "GroupNorm") {  // fused (program.cpp): x alone, or x, weight, bias
    BL_CHECK(s.in.size() == 1 || (s.in.size() == 3 && at_load(s, p, 1) && at_load(s, p, 2)), "onnx: ",
             s.node.describe(), ": GroupNorm takes x, or x with constant weight and bias");
    return s.in.size() == 3;
  }
  if (op == "MatMul") return at_load(s, p, 1) && p.constants[s.in[1]]->dims.size() == 2 && !at_load(s, p, 0);
  if (op == "Gather") return at_load(s, p, 0) && present(s, 1) && p.known[s.in[1]] == Known::OnTape;
  return false;
}

std::vector<Weight> step_weights(const Step& s, const Program& p) {
  const std::string& op = s.node.op_type;
  auto c = [&](size_t i) -> const ConstTensor& { return *p.constants[s.in[i]]; };
  std::vector<Weight> w;
  if (op == "Conv" || op == "ConvTranspose") {
    const std::vector<int64_t>& d = c(1).dims;
    BL_CHECK(d.size() == 4 || d.size() == 3, "onnx: ", s.node.describe(), ": weight of rank ", d.size(),
             "; only 1-D and 2-D convolutions (rank-3 or rank-4 weights) are supported");
    Tensor t = to_tensor(c(1));
    if (d.size() == 3) t = t.reshape(Shape{d[0], d[1], 1, d[2]});  // 1-D: kernel [1, k] on [N,C,1,L]
    w.push_back({"weight", s.in[1], t});
    if (present(s, 2)) w.push_back({"bias", s.in[2], to_tensor(c(2))});
  } else if (op == "Gemm") {
    BL_CHECK(attr_int(s.node, "transA", 0) == 0, "onnx: ", s.node.describe(), ": attribute transA=1 is not supported");
    const ConstTensor& b = c(1);
    BL_CHECK(b.dims.size() == 2, "onnx: ", s.node.describe(), ": B must be 2-D");
    const bool trans_b = attr_int(s.node, "transB", 0) != 0;
    const float alpha = attr_float(s.node, "alpha", 1.0f), beta = attr_float(s.node, "beta", 1.0f);
    const int64_t out = trans_b ? b.dims[0] : b.dims[1], inf = trans_b ? b.dims[1] : b.dims[0];
    Tensor t = Tensor::empty(Shape{out, inf});
    for (int64_t o = 0; o < out; ++o)
      for (int64_t i = 0; i < inf; ++i)
        t.data()[o * inf + i] = alpha * static_cast<float>(trans_b ? b.at(o * inf + i) : b.at(i * out + o));
    w.push_back({"weight", s.in[1], t});
    if (present(s, 2)) {
      const ConstTensor& bias = c(2);
      BL_CHECK(bias.numel() == out || bias.numel() == 1, "onnx: ", s.node.describe(), ": C of ", bias.numel(),
               " elements; only a per-output bias (", out, ") or a scalar is supported");
      Tensor bt = Tensor::empty(Shape{out});
      for (int64_t o = 0; o < out; ++o) bt.data()[o] = beta * static_cast<float>(bias.at(bias.numel() == 1 ? 0 : o));
      w.push_back({"bias", s.in[2], bt});
    }
  } else if (op == "MatMul") {
    const ConstTensor& b = c(1);
    const int64_t inf = b.dims[0], out = b.dims[1];
    Tensor t = Tensor::empty(Shape{out, inf});
    for (int64_t o = 0; o < out; ++o)
      for (int64_t i = 0; i < inf; ++i) t.data()[o * inf + i] = static_cast<float>(b.at(i * out + o));
    w.push_back({"weight", s.in[1], t});
    if (present(s, 2)) w.push_back({"bias", s.in[2], to_tensor(c(2))});  // fused Add (program.cpp)
  } else if (op == "BatchNormalization") {
    w.push_back({"weight", s.in[1], to_tensor(c(1))});
    w.push_back({"bias", s.in[2], to_tensor(c(2))});
    w.push_back({"running_mean", s.in[3], to_tensor(c(3)), true});
    w.push_back({"running_var", s.in[4], to_tensor(c(4)), true});
  } else if (op == "LayerNormalization") {
    w.push_back({"weight", s.in[1], to_tensor(c(1))});
    if (present(s, 2) && at_load(s, p, 2)) w.push_back({"bias", s.in[2], to_tensor(c(2))});
  } else if (op == "GroupNorm") {  // [C, 1, ..., 1] as torch's [C]
    w.push_back({"weight", s.in[1], to_tensor(c(1)).reshape(Shape{c(1).numel()})});
    w.push_back({"bias", s.in[2], to_tensor(c(2)).reshape(Shape{c(2).numel()})});
  } else if (op == "Gather") {
    BL_CHECK(c(0).dims.size() == 2 && attr_int(s.node, "axis", 0) == 0, "onnx: ", s.node.describe(),
             ": a lookup into a constant must be an embedding (2-D table, axis 0)");
    w.push_back({"weight", s.in[0], to_tensor(c(0))});
  }
  return w;
}

std::string torch_type(const Step& s, const Program& p) {
  const std::string& op = s.node.op_type;
  // (1-D convolutions: model.cpp renames them from the input rank; the weight constants are gone here)
  if (op == "Conv") return "Conv2d";
  if (op == "ConvTranspose") return "ConvTranspose2d";
  if (op == "Gemm" || op == "MatMul") return "Linear";
  if (op == "LayerNormalization") return "LayerNorm";
  if (op == "GroupNorm") return "GroupNorm";
  if (op == "Gather") return "Embedding";
  if (op == "BatchNormalization") return "BatchNorm";
  (void)p;
  return "Module";
}

Var run_layer(const Step& s, std::span<const Value> in, const Module* layer, Tape& tape) {
  const std::string& op = s.node.op_type;
  if (op == "Gather") {
    BL_CHECK(in[1].var.defined(), "onnx: ", s.node.describe(), ": indices must be an activation");
    return embedding(in[1].var.value(), weight(s, layer, tape, "weight"), s.path);
  }
  const Var& x = in[0].var;
  BL_CHECK(x.defined(), "onnx: ", s.node.describe(), ": input 0 must be an activation");
  if (op == "Conv") return conv(s, in, layer, tape);
  if (op == "ConvTranspose") return conv_transpose(s, in, layer, tape);
  if (op == "MaxPool" || op == "AveragePool") return pool(s, in);
  if (op == "GlobalAveragePool") {
    const Var x4 = as_2d(s, x);
    require_rank4(s, x4);
    return from_2d(s, adaptive_avgpool2d(x4, 1, 1, s.path), x);
  }
  if (op == "Gemm" || op == "MatMul") return linear(x, weight(s, layer, tape, "weight"), weight(s, layer, tape, "bias", true), s.path);
  if (op == "BatchNormalization") {
    BL_CHECK(attr_int(s.node, "training_mode", 0) == 0, "onnx: ", s.node.describe(),
             ": attribute training_mode=1 is not supported (export the model in eval mode)");
    return batchnorm(x, weight(s, layer, tape, "weight"), weight(s, layer, tape, "bias"),
                     weight(s, layer, tape, "running_mean"), weight(s, layer, tape, "running_var"),
                     attr_float(s.node, "epsilon", 1e-5f), s.path);
  }
  if (op == "LayerNormalization") {
    const int64_t rank = x.shape().rank();
    int64_t axis = attr_int(s.node, "axis", -1);
    if (axis < 0) axis += rank;
    BL_CHECK(axis >= 0 && axis < rank, "onnx: ", s.node.describe(), ": attribute axis out of range");
    // ONNX normalises axes [axis, rank): the last one or several trailing ones (torch's
    // F.layer_norm over normalized_shape of k dims writes axis=-k). Scale and bias must have
    // exactly that trailing shape; ONNX also allows ones that merely broadcast to it.
    const Var w = weight(s, layer, tape, "weight"), b = weight(s, layer, tape, "bias", true);
    const std::vector<int64_t> d = x.shape().to_vector();
    const Shape normalised(std::vector<int64_t>(d.begin() + axis, d.end()));
    for (const Var& v : {w, b})
      BL_CHECK_SHAPE(!v.defined() || v.shape() == normalised, "onnx: ", s.node.describe(), ": scale/bias of shape ",
                     v.shape().str(), " for input ", x.shape().str(), " normalised over axes ", axis, "..", rank - 1,
                     "; expected exactly the normalised shape ", normalised.str(),
                     " (broadcasting scale or bias is not supported)");
    return layernorm(x, w, b, static_cast<int>(rank - axis), attr_float(s.node, "epsilon", 1e-5f), s.path);
  }
  if (op == "GroupNorm") {
    const int64_t groups = attr_int(s.node, "num_groups", 0);
    const Var w = s.weighted ? weight(s, layer, tape, "weight") : Var();
    const Var b = s.weighted ? weight(s, layer, tape, "bias") : Var();
    BL_CHECK(x.shape().rank() >= 3 && groups >= 1 && x.shape()[1] % groups == 0 &&
                 (!w.defined() || w.shape() == Shape{x.shape()[1]}),
             "onnx: ", s.node.describe(), ": GroupNorm with ", groups, " groups",
             w.defined() ? " and weight " + w.shape().str() : std::string(), " on input ", x.shape().str(),
             "; expected [N, C, ...] with C divisible by the groups (and a weight of C elements)");
    return group_norm(x, groups, w, b, attr_float(s.node, "epsilon", 1e-5f), s.path);
  }
  BL_THROW("onnx: ", s.node.describe(), ": not a layer op");
}

}  // namespace backlight::onnx
