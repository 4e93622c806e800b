// ONNX op -> tape ops, for the values that live on the tape (constants are folded in fold.cpp).
// Weighted layers (Conv, Gemm, MatMul with a constant operand, norms, embeddings) are in
// layers.cpp; this file holds the element-wise, binary, reduction and shape ops.
#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/error.h"
#include "engine/ops/ops.h"
#include "models/onnx/fold.h"
#include "models/onnx/layers.h"
#include "models/onnx/program.h"

namespace backlight::onnx {

namespace {

std::vector<int64_t> dims_of(const Var& v) { return v.shape().to_vector(); }

int norm_axis(const Step& s, int64_t axis, int64_t rank) {
  if (axis < 0) axis += rank;
  BL_CHECK(axis >= 0 && axis < rank, "onnx: ", s.node.describe(), ": axis ", axis, " out of range for rank ", rank);
  return static_cast<int>(axis);
}

const Value& input(const Step& s, std::span<const Value> in, size_t i) {
  BL_CHECK(i < in.size() && (in[i].var.defined() || in[i].c), "onnx: ", s.node.describe(), ": input ", i,
           " is required");
  return in[i];
}

const ConstTensor& const_input(const Step& s, std::span<const Value> in, size_t i, std::string_view what) {
  const Value& v = input(s, in, i);
  BL_CHECK(v.c, "onnx: ", s.node.describe(), ": input ", i, " (", what,
           ") must be a constant (computed from weights or the input's shape), not an activation");
  return *v.c;
}

std::vector<int64_t> const_ints(const ConstTensor& t) {
  std::vector<int64_t> v;
  for (int64_t i = 0; i < t.numel(); ++i) v.push_back(t.int_at(i));
  return v;
}

Var reshape_to(const Var& x, std::vector<int64_t> dims, const std::string& path) {
  return reshape(x, dims, path);
}

// Optional axes: the attribute (older opsets) or input 1 (newer).
std::vector<int64_t> axes_of(const Step& s, std::span<const Value> in, size_t input_index) {
  std::vector<int64_t> axes = attr_ints(s.node, "axes");
  if (in.size() > input_index && in[input_index].c) axes = const_ints(*in[input_index].c);
  else if (in.size() > input_index && in[input_index].var.defined())
    BL_THROW("onnx: ", s.node.describe(), ": axes must be constant");
  return axes;
}

Var binary(const Step& s, std::span<const Value> in, Tape& tape) {
  const std::string& op = s.node.op_type;
  const Value& a = input(s, in, 0);
  const Value& b = input(s, in, 1);
  // A scalar constant factor stays a linear `scale` node (LRP treats it as affine).
  auto scalar = [](const Value& v) { return v.c && v.c->numel() == 1 && !v.c->is_int; };
  if (op == "Mul" && scalar(b)) return scale(a.var, static_cast<float>(b.c->at(0)), s.path);
  if (op == "Mul" && scalar(a)) return scale(b.var, static_cast<float>(a.c->at(0)), s.path);
  if (op == "Div" && scalar(b)) return scale(a.var, static_cast<float>(1.0 / b.c->at(0)), s.path);
  auto leaf = [&](const Value& v, std::string_view which) {
    if (v.var.defined()) return v.var;
    Tensor t = Tensor::empty(Shape(v.c->dims.empty() ? std::vector<int64_t>{} : v.c->dims));
    for (int64_t i = 0; i < v.c->numel(); ++i) t.data()[i] = static_cast<float>(v.c->at(i));
    return tape.buffer(t, s.path + (s.path.empty() ? "" : ".") + std::string(which));
  };
  if (op == "Div") {
    BL_CHECK(b.c, "onnx: ", s.node.describe(), ": Div by an activation is not supported (only by constants)");
    Tensor t = Tensor::empty(Shape(b.c->dims));
    for (int64_t i = 0; i < b.c->numel(); ++i) t.data()[i] = static_cast<float>(1.0 / b.c->at(i));
    return mul(a.var, tape.buffer(t, s.path + (s.path.empty() ? "" : ".") + "divisor"), s.path);
  }
  const Var x = leaf(a, "constant0"), y = leaf(b, "constant1");
  if (op == "Add") return add(x, y, s.path);
  if (op == "Sub") return sub(x, y, s.path);
  return mul(x, y, s.path);
}

Var clip(const Step& s, std::span<const Value> in) {
  float lo = attr_float(s.node, "min", -std::numeric_limits<float>::infinity());
  float hi = attr_float(s.node, "max", std::numeric_limits<float>::infinity());
  if (in.size() > 1 && (in[1].c || in[1].var.defined())) lo = static_cast<float>(const_input(s, in, 1, "min").at(0));
  if (in.size() > 2 && (in[2].c || in[2].var.defined())) hi = static_cast<float>(const_input(s, in, 2, "max").at(0));
  if (lo == 0.0f && hi == 6.0f) return relu6(in[0].var, s.path);
  if (lo == 0.0f && std::isinf(hi) && hi > 0) return relu(in[0].var, s.path);
  BL_THROW("onnx: ", s.node.describe(), ": Clip with min ", lo, " and max ", hi,
           " is not supported (supported: [0, 6] -> relu6, [0, inf) -> relu)");
}

Var reduce(const Step& s, std::span<const Value> in) {
  const Var& x = in[0].var;
  const int64_t rank = x.shape().rank();
  // ReduceSum takes axes as input from opset 13, ReduceMean from opset 18.
  std::vector<int64_t> axes = axes_of(s, in, 1);
  const bool keep = attr_int(s.node, "keepdims", 1) != 0;
  if (axes.empty()) {
    BL_CHECK(!attr_int(s.node, "noop_with_empty_axes", 0), "onnx: ", s.node.describe(),
             ": noop_with_empty_axes=1 is not supported");
    for (int64_t d = 0; d < rank; ++d) axes.push_back(d);
  }
  std::vector<int> ax;
  for (int64_t a : axes) ax.push_back(norm_axis(s, a, rank));
  return s.node.op_type == "ReduceMean" ? mean(x, ax, keep, s.path) : sum(x, ax, keep, s.path);
}

Var slice_op(const Step& s, std::span<const Value> in) {
  Var x = in[0].var;
  const int64_t rank = x.shape().rank();
  const std::vector<int64_t> starts = const_ints(const_input(s, in, 1, "starts"));
  const std::vector<int64_t> ends = const_ints(const_input(s, in, 2, "ends"));
  std::vector<int64_t> axes, steps;
  if (in.size() > 3 && in[3].c) axes = const_ints(*in[3].c);
  if (in.size() > 4 && in[4].c) steps = const_ints(*in[4].c);
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  BL_CHECK(starts.size() == ends.size() && axes.size() == starts.size() && (steps.empty() || steps.size() == axes.size()),
           "onnx: ", s.node.describe(), ": starts, ends, axes and steps differ in length");
  for (size_t i = 0; i < axes.size(); ++i) {
    const int axis = norm_axis(s, axes[i], rank);
    const int64_t size = x.shape()[axis];
    const int64_t step = steps.empty() ? 1 : steps[i];
    BL_CHECK(step > 0, "onnx: ", s.node.describe(), ": attribute/input steps = ", step,
             " is not supported (positive steps only)");
    int64_t b = starts[i], e = ends[i];
    if (b < 0) b += size;
    if (e < 0) e += size;
    b = std::clamp<int64_t>(b, 0, size);
    e = std::clamp<int64_t>(e, 0, size);
    if (b == 0 && e == size && step == 1) continue;
    x = slice(x, axis, b, std::max(b, e), step, s.path);
  }
  return x;
}

Var pad_op(const Step& s, std::span<const Value> in) {
  const Var& x = in[0].var;
  const int64_t rank = x.shape().rank();
  const std::string mode = attr_string(s.node, "mode", "constant");
  BL_CHECK(mode == "constant", "onnx: ", s.node.describe(), ": attribute mode='", mode,
           "' is not supported (supported: constant)");
  std::vector<int64_t> pads = in.size() > 1 && in[1].c ? const_ints(*in[1].c) : attr_ints(s.node, "pads");
  BL_CHECK(static_cast<int64_t>(pads.size()) == 2 * rank, "onnx: ", s.node.describe(), ": pads has ", pads.size(),
           " entries for rank ", rank);
  BL_CHECK(!(in.size() > 3 && (in[3].c || in[3].var.defined())), "onnx: ", s.node.describe(),
           ": the axes input is not supported");
  const float value = in.size() > 2 && in[2].c ? static_cast<float>(in[2].c->at(0)) : attr_float(s.node, "value", 0.0f);
  std::vector<int64_t> torch_pads;  // last dim first: (before, after)
  for (int64_t d = rank - 1; d >= 0; --d) {
    BL_CHECK(pads[d] >= 0 && pads[d + rank] >= 0, "onnx: ", s.node.describe(), ": negative pads are not supported");
    torch_pads.push_back(pads[d]);
    torch_pads.push_back(pads[d + rank]);
  }
  while (torch_pads.size() > 2 && torch_pads[torch_pads.size() - 1] == 0 && torch_pads[torch_pads.size() - 2] == 0)
    torch_pads.resize(torch_pads.size() - 2);
  return pad(x, torch_pads, value, s.path);
}

Var gather_activation(const Step& s, std::span<const Value> in) {
  const Var& x = in[0].var;
  const ConstTensor& idx = const_input(s, in, 1, "indices");
  const int64_t rank = x.shape().rank();
  const int axis = norm_axis(s, attr_int(s.node, "axis", 0), rank);
  const int64_t size = x.shape()[axis];
  auto pick = [&](int64_t i) {
    int64_t k = idx.int_at(i);
    if (k < 0) k += size;
    BL_CHECK(k >= 0 && k < size, "onnx: ", s.node.describe(), ": index ", idx.int_at(i), " out of range [0, ", size, ")");
    return slice(x, axis, k, k + 1, 1, s.path);
  };
  if (idx.dims.empty()) {  // scalar index: the axis disappears
    std::vector<int64_t> dims = dims_of(x);
    dims.erase(dims.begin() + axis);
    return reshape_to(pick(0), dims, s.path);
  }
  BL_CHECK(idx.dims.size() == 1, "onnx: ", s.node.describe(), ": indices of rank ", idx.dims.size(),
           " into an activation are not supported (scalar or 1-D)");
  std::vector<Var> parts;
  for (int64_t i = 0; i < idx.numel(); ++i) parts.push_back(pick(i));
  return parts.size() == 1 ? parts[0] : concat(parts, axis, s.path);
}

// HardSigmoid max(0, min(1, alpha x + beta)) as relu6(6 alpha x + 6 beta) / 6: scale, add,
// relu6, scale nodes with PyTorch's gradient (1/6 inside (-3, 3), 0 at and beyond the kinks).
// Composed from existing tape ops until the op table gains an atomic hardsigmoid.
Var hard_sigmoid(const Step& s, const Var& x, float alpha, float beta, Tape& tape) {
  const Var shift = tape.buffer(Tensor::full(Shape{1}, 6.0f * beta), s.path + (s.path.empty() ? "" : ".") + "beta");
  return scale(relu6(add(scale(x, 6.0f * alpha, s.path), shift, s.path), s.path), 1.0f / 6.0f, s.path);
}

// PRelu: a scalar slope is a leaky_relu node; per-channel slopes (broadcast like numpy) are
// relu(x) + slope * (x - relu(x)).
Var prelu(const Step& s, std::span<const Value> in, Tape& tape) {
  const Var& x = in[0].var;
  const ConstTensor& slope = const_input(s, in, 1, "slope");
  if (slope.numel() == 1) return leaky_relu(x, static_cast<float>(slope.at(0)), s.path);
  Tensor t = Tensor::empty(Shape(slope.dims));
  for (int64_t i = 0; i < slope.numel(); ++i) t.data()[i] = static_cast<float>(slope.at(i));
  const Var r = relu(x, s.path);
  return add(r, mul(tape.buffer(t, s.path + (s.path.empty() ? "" : ".") + "weight"), sub(x, r, s.path), s.path), s.path);
}

// Split into slices along an axis (sizes from the input, the attribute, or equal parts).
std::vector<Value> split(const Step& s, std::span<const Value> in) {
  const Var& x = in[0].var;
  const int64_t rank = x.shape().rank();
  const int axis = norm_axis(s, attr_int(s.node, "axis", 0), rank);
  const int64_t size = x.shape()[axis];
  std::vector<int64_t> sizes = attr_ints(s.node, "split");
  if (in.size() > 1 && in[1].c) sizes = const_ints(*in[1].c);
  const int64_t parts = static_cast<int64_t>(s.node.outputs.size());
  if (sizes.empty()) {
    const int64_t n = attr_int(s.node, "num_outputs", parts);
    BL_CHECK(n > 0, "onnx: ", s.node.describe(), ": no outputs");
    const int64_t each = (size + n - 1) / n;
    for (int64_t i = 0, left = size; i < n; ++i, left -= each) sizes.push_back(std::min(each, left));
  }
  std::vector<Value> out;
  int64_t start = 0;
  for (int64_t len : sizes) {
    BL_CHECK(len >= 0 && start + len <= size, "onnx: ", s.node.describe(), ": split sizes exceed dimension ", size);
    out.push_back(Value{slice(x, axis, start, start + len, 1, s.path), nullptr});
    start += len;
  }
  BL_CHECK(start == size && static_cast<int64_t>(out.size()) == parts, "onnx: ", s.node.describe(),
           ": split sizes do not cover dimension ", size, " with ", parts, " outputs");
  return out;
}

}  // namespace

bool is_runnable(std::string_view op) {
  static constexpr std::string_view kOps[] = {
      "Conv", "Gemm", "MatMul", "BatchNormalization", "LayerNormalization", "MaxPool", "AveragePool",
      "GlobalAveragePool", "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Gelu", "Softmax", "LogSoftmax", "Clip",
      "Add", "Sub", "Mul", "Div", "ReduceMean", "ReduceSum", "Reshape", "Flatten", "Transpose", "Squeeze",
      "Unsqueeze", "Concat", "Slice", "Pad", "Gather", "Identity", "Dropout", "Cast", "Shape",
      "HardSigmoid", "HardSwish", "PRelu", "Neg", "Split"};
  return std::find(std::begin(kOps), std::end(kOps), op) != std::end(kOps);
}

std::vector<Value> run_step(const Step& s, std::span<const Value> in, const Module* layer, Tape& tape) {
  const std::string& op = s.node.op_type;
  auto one = [](Var v) { return std::vector<Value>{Value{std::move(v), nullptr}}; };
  if (op == "Shape") return {Value{Var(), shape_constant(s.node, input(s, in, 0).var.shape().dims())}};
  if (s.known != Known::OnTape) {  // shape arithmetic on per-call constants
    std::vector<ConstPtr> cs;
    for (const Value& v : in) cs.push_back(v.c);
    std::vector<Value> out;
    for (ConstPtr& c : eval_constant(s.node, cs)) out.push_back(Value{Var(), std::move(c)});
    return out;
  }
  if (is_layer_op(s.node.op_type) || s.weighted) return one(run_layer(s, in, layer, tape));
  const Var& x = input(s, in, 0).var;
  BL_CHECK(x.defined() || op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Concat" || op == "MatMul", "onnx: ",
           s.node.describe(), ": input 0 must be an activation here");
  if (op == "Relu") return one(relu(x, s.path));
  if (op == "LeakyRelu") return one(leaky_relu(x, attr_float(s.node, "alpha", 0.01f), s.path));
  if (op == "Sigmoid") return one(sigmoid(x, s.path));
  if (op == "Tanh") return one(tanh(x, s.path));
  if (op == "Gelu") return one(gelu(x, attr_string(s.node, "approximate", "none") == "tanh", s.path));
  if (op == "Clip") return one(clip(s, in));
  if (op == "PRelu") return one(prelu(s, in, tape));
  if (op == "Neg") return one(scale(x, -1.0f, s.path));
  if (op == "Split") return split(s, in);
  if (op == "HardSigmoid")
    return one(hard_sigmoid(s, x, attr_float(s.node, "alpha", 0.2f), attr_float(s.node, "beta", 0.5f), tape));
  if (op == "HardSwish") return one(mul(x, hard_sigmoid(s, x, 1.0f / 6.0f, 0.5f, tape), s.path));
  if (op == "Softmax" || op == "LogSoftmax") {
    const int64_t rank = x.shape().rank();
    // Before opset 13 the default axis is 1 and the input is coerced to 2-D at that axis: the
    // same as a softmax over the last axis only when the axis is the last one.
    const int axis = norm_axis(s, attr_int(s.node, "axis", s.opset < 13 ? 1 : -1), rank);
    BL_CHECK(s.opset >= 13 || axis == rank - 1, "onnx: ", s.node.describe(), ": attribute axis=", axis,
             " below opset 13 (softmax over the flattened trailing dims) is only supported on the last axis");
    return one(op == "Softmax" ? softmax(x, axis, s.path) : log_softmax(x, axis, s.path));
  }
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") return one(binary(s, in, tape));
  if (op == "ReduceMean" || op == "ReduceSum") return one(reduce(s, in));
  if (op == "Identity" || op == "Cast") return {in[0]};
  if (op == "Dropout") return one(dropout(x, 0.5f, s.path));
  if (op == "Flatten") {
    const int64_t rank = x.shape().rank();
    int64_t axis = attr_int(s.node, "axis", 1);
    if (axis < 0) axis += rank;
    BL_CHECK(axis >= 0 && axis <= rank, "onnx: ", s.node.describe(), ": axis out of range");
    const std::vector<int64_t> d = dims_of(x);
    int64_t a = 1, b = 1;
    for (int64_t i = 0; i < rank; ++i) (i < axis ? a : b) *= d[i];
    return one(reshape_to(x, {a, b}, s.path));
  }
  if (op == "Reshape") {
    const std::vector<int64_t> target = const_ints(const_input(s, in, 1, "shape"));
    const std::vector<int64_t> d = dims_of(x);
    std::vector<int64_t> dims;
    const bool allowzero = attr_int(s.node, "allowzero", 0) != 0;
    for (size_t i = 0; i < target.size(); ++i)
      dims.push_back(target[i] == 0 && !allowzero && i < d.size() ? d[i] : target[i]);
    return one(reshape_to(x, dims, s.path));
  }
  if (op == "Squeeze" || op == "Unsqueeze") {
    const std::vector<int64_t> axes = axes_of(s, in, 1);
    std::vector<int64_t> d = dims_of(x);
    if (op == "Unsqueeze") {
      const int64_t r = static_cast<int64_t>(d.size() + axes.size());
      std::vector<int64_t> sorted;
      for (int64_t a : axes) sorted.push_back(norm_axis(s, a, r));
      std::sort(sorted.begin(), sorted.end());
      for (int64_t a : sorted) d.insert(d.begin() + a, 1);
    } else {
      const int64_t r = static_cast<int64_t>(d.size());
      std::vector<int64_t> keep;
      for (int64_t i = 0; i < r; ++i) {
        bool drop = axes.empty() && d[i] == 1;
        for (int64_t a : axes) drop |= norm_axis(s, a, r) == i;
        if (!drop) keep.push_back(d[i]);
      }
      d = keep;
    }
    return one(reshape_to(x, d, s.path));
  }
  if (op == "Transpose") {
    const int64_t rank = x.shape().rank();
    std::vector<int64_t> perm = attr_ints(s.node, "perm");
    if (perm.empty())
      for (int64_t i = rank - 1; i >= 0; --i) perm.push_back(i);
    BL_CHECK(static_cast<int64_t>(perm.size()) == rank, "onnx: ", s.node.describe(), ": perm has ", perm.size(),
             " entries for rank ", rank);
    std::vector<int> p;
    for (int64_t a : perm) p.push_back(norm_axis(s, a, rank));
    return one(permute(x, p, s.path));
  }
  if (op == "Concat") {
    std::vector<Var> parts;
    for (size_t i = 0; i < in.size(); ++i) {
      if (in[i].var.defined()) {
        parts.push_back(in[i].var);
        continue;
      }
      const ConstTensor& c = const_input(s, in, i, "concatenated tensor");
      Tensor t = Tensor::empty(Shape(c.dims));
      for (int64_t k = 0; k < c.numel(); ++k) t.data()[k] = static_cast<float>(c.at(k));
      parts.push_back(tape.buffer(t, s.path + (s.path.empty() ? "" : ".") + "constant" + std::to_string(i)));
    }
    const int64_t rank = parts[0].shape().rank();
    return one(concat(parts, norm_axis(s, attr_int(s.node, "axis", 0), rank), s.path));
  }
  if (op == "MatMul") {
    auto side = [&](size_t i) {
      if (in[i].var.defined()) return in[i].var;
      const ConstTensor& c = const_input(s, in, i, "matrix");
      Tensor t = Tensor::empty(Shape(c.dims));
      for (int64_t k = 0; k < c.numel(); ++k) t.data()[k] = static_cast<float>(c.at(k));
      return tape.buffer(t, s.path + (s.path.empty() ? "" : ".") + "constant" + std::to_string(i));
    };
    return one(matmul(side(0), side(1), s.path));
  }
  if (op == "Slice") return one(slice_op(s, in));
  if (op == "Pad") return one(pad_op(s, in));
  if (op == "Gather") return one(gather_activation(s, in));
  BL_THROW("onnx: ", s.node.describe(), ": op type ", op, " is not supported on activations");
}

}  // namespace backlight::onnx
