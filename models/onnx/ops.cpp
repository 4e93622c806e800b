// ONNX op -> tape ops, for the values that live on the tape (constants are folded in fold.cpp).
// Weighted layers (Conv, Gemm, MatMul with a constant operand, norms, embeddings) are in
// layers.cpp; this file holds the element-wise, binary, reduction and shape ops.
#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/error.h"
#include "engine/ops/ops.h"
#include "models/onnx/einsum.h"
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
  if (op == "Div" && b.c && a.var.defined()) {  // by a constant tensor: a product with its reciprocal
    Tensor t = Tensor::empty(Shape(b.c->dims));
    for (int64_t i = 0; i < b.c->numel(); ++i) t.data()[i] = static_cast<float>(1.0 / b.c->at(i));
    return mul(a.var, tape.buffer(t, s.path + (s.path.empty() ? "" : ".") + "divisor"), s.path);
  }
  const Var x = leaf(a, "constant0"), y = leaf(b, "constant1");
  if (op == "Add") return add(x, y, s.path);
  if (op == "Sub") return sub(x, y, s.path);
  if (op == "Div") return div(x, y, s.path);
  return mul(x, y, s.path);
}

// A constant or activation operand as a tape value (constants become buffers named after the node).
Var operand(const Step& s, const Value& v, std::string_view which, Tape& tape) {
  if (v.var.defined()) return v.var;
  Tensor t = Tensor::empty(Shape(v.c->dims.empty() ? std::vector<int64_t>{} : v.c->dims));
  for (int64_t i = 0; i < v.c->numel(); ++i) t.data()[i] = static_cast<float>(v.c->at(i));
  return tape.buffer(t, s.path + (s.path.empty() ? "" : ".") + std::string(which));
}

// Max / Min of one or more operands (numpy broadcasting), folded left to right.
Var extremum(const Step& s, std::span<const Value> in, Tape& tape) {
  BL_CHECK(!in.empty(), "onnx: ", s.node.describe(), ": needs at least one input");
  Var acc = operand(s, input(s, in, 0), "constant0", tape);
  for (size_t i = 1; i < in.size(); ++i) {
    const Var v = operand(s, input(s, in, i), "constant" + std::to_string(i), tape);
    acc = s.node.op_type == "Max" ? maximum(acc, v, s.path) : minimum(acc, v, s.path);
  }
  return acc;
}

// Pow(x, constant scalar exponent) -> pow node; any other operands (an activation exponent, a
// constant base, tensors that broadcast) -> pow_tensor node.
Var pow_op(const Step& s, std::span<const Value> in, Tape& tape) {
  const Value& base = input(s, in, 0);
  const Value& e = input(s, in, 1);
  if (base.var.defined() && e.c && e.c->numel() == 1) return pow(base.var, static_cast<float>(e.c->at(0)), s.path);
  return pow(operand(s, base, "base", tape), operand(s, e, "exponent", tape), s.path);
}

// Where(condition, a, b): the condition is a bool mask known when the step runs - folded from
// shapes, or computed per call by a comparison of activations (mask_op) - and the branches may be
// activations or constants.
Var where_op(const Step& s, std::span<const Value> in, Tape& tape) {
  const Value& c = input(s, in, 0);
  BL_CHECK(c.c, "onnx: ", s.node.describe(), ": Where whose condition is a float activation is not supported "
           "(supported: a bool condition from a comparison (Equal, Greater, Less, ..., Not, And, Or) of "
           "activations or constants)");
  Tensor cond = Tensor::empty(Shape(c.c->dims.empty() ? std::vector<int64_t>{} : c.c->dims));
  for (int64_t i = 0; i < c.c->numel(); ++i) cond.data()[i] = c.c->at(i) != 0.0 ? 1.0f : 0.0f;
  return where(cond, operand(s, input(s, in, 1), "constant1", tape), operand(s, input(s, in, 2), "constant2", tape),
               s.path);
}

// A comparison or logic op (Equal, Greater, ..., Not, And, Or, Xor) with an activation operand:
// evaluated on the values of this call. Its gradient is zero everywhere (torch's too), so the
// mask is a per-call constant, not a tape node; Where and arithmetic then read it as a constant.
ConstPtr mask_op(const Step& s, std::span<const Value> in) {
  std::vector<ConstPtr> cs;
  for (const Value& v : in) {
    if (v.c || !v.var.defined()) {
      cs.push_back(v.c);
      continue;
    }
    const Tensor t = v.var.value().to_cpu();
    auto c = std::make_shared<ConstTensor>();
    c->dims = v.var.shape().to_vector();
    c->floats.assign(t.data(), t.data() + t.numel());
    cs.push_back(std::move(c));
  }
  return eval_constant(s.node, cs).at(0);
}

// Expand(x, shape) on an activation: numpy broadcast of x against `shape`, written as x * ones
// (exact for every float, NaN and Inf included; the gradient sums back over the broadcast dims).
Var expand_op(const Step& s, std::span<const Value> in, Tape& tape) {
  const Var& x = in[0].var;
  const std::vector<int64_t> shape = const_ints(const_input(s, in, 1, "shape"));
  std::vector<int64_t> xd = dims_of(x);
  const size_t r = std::max(xd.size(), shape.size());
  std::vector<int64_t> out(r);
  for (size_t i = 0; i < r; ++i) {
    const int64_t a = i + xd.size() >= r ? xd[i + xd.size() - r] : 1;
    const int64_t b = i + shape.size() >= r ? shape[i + shape.size() - r] : 1;
    BL_CHECK(a == b || a == 1 || b == 1, "onnx: ", s.node.describe(), ": cannot expand ", Shape(xd), " to ",
             Shape(shape));
    out[i] = a == 1 ? b : a;
  }
  if (out == xd) return x;
  return mul(x, tape.buffer(Tensor::full(Shape(out), 1.0f), s.path + (s.path.empty() ? "" : ".") + "ones"), s.path);
}

Var clip(const Step& s, std::span<const Value> in) {
  float lo = attr_float(s.node, "min", -std::numeric_limits<float>::infinity());
  float hi = attr_float(s.node, "max", std::numeric_limits<float>::infinity());
  if (in.size() > 1 && (in[1].c || in[1].var.defined())) lo = static_cast<float>(const_input(s, in, 1, "min").at(0));
  if (in.size() > 2 && (in[2].c || in[2].var.defined())) hi = static_cast<float>(const_input(s, in, 2, "max").at(0));
  if (lo == 0.0f && hi == 6.0f) return relu6(in[0].var, s.path);
  if (lo == 0.0f && std::isinf(hi) && hi > 0) return relu(in[0].var, s.path);
  BL_CHECK(!(lo > hi), "onnx: ", s.node.describe(), ": Clip with min ", lo, " above max ", hi);
  return clip(in[0].var, lo, hi, s.path);
}

Var reduce(const Step& s, std::span<const Value> in) {
  const Var& x = in[0].var;
  const int64_t rank = x.shape().rank();
  // ReduceSum takes axes as input from opset 13, ReduceMean and ReduceMax from opset 18.
  std::vector<int64_t> axes = axes_of(s, in, 1);
  const bool keep = attr_int(s.node, "keepdims", 1) != 0;
  if (axes.empty()) {
    BL_CHECK(!attr_int(s.node, "noop_with_empty_axes", 0), "onnx: ", s.node.describe(),
             ": noop_with_empty_axes=1 is not supported");
    for (int64_t d = 0; d < rank; ++d) axes.push_back(d);
  }
  std::vector<int> ax;
  for (int64_t a : axes) ax.push_back(norm_axis(s, a, rank));
  if (s.node.op_type == "ReduceMax") return amax(x, ax, keep, s.path);
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

// InstanceNormalization(x, scale[C], bias[C]): layernorm over every axis after the channel axis
// (no affine), then the per-channel affine when it is not the identity. torch's GroupNorm export
// (Reshape [N, G, -1] -> InstanceNormalization(ones, zeros) -> Reshape -> Mul -> Add) thus becomes
// reshape, one layernorm node per group normalisation, reshape, mul, add.
Var instance_norm(const Step& s, std::span<const Value> in, Tape& tape) {
  const Var& x = in[0].var;
  const int64_t rank = x.shape().rank();
  BL_CHECK_SHAPE(rank >= 3, "onnx: ", s.node.describe(), ": input of shape ", x.shape().str(),
                 "; expected [N, C, ...] with at least one spatial axis");
  const ConstTensor& scale = const_input(s, in, 1, "scale");
  const ConstTensor& bias = const_input(s, in, 2, "B");
  const int64_t c = x.shape()[1];
  BL_CHECK(scale.numel() == c && bias.numel() == c, "onnx: ", s.node.describe(), ": scale and B need ", c,
           " elements, got ", scale.numel(), " and ", bias.numel());
  Var y = layernorm(x, Var(), Var(), static_cast<int>(rank - 2), attr_float(s.node, "epsilon", 1e-5f), s.path);
  bool ones = true, zeros = true;
  for (int64_t i = 0; i < c; ++i) {
    ones &= scale.at(i) == 1.0;
    zeros &= bias.at(i) == 0.0;
  }
  std::vector<int64_t> dims(static_cast<size_t>(rank - 1), 1);
  dims[0] = c;
  auto buffer = [&](const ConstTensor& v, const char* name) {
    Tensor t = Tensor::empty(Shape(dims));
    for (int64_t i = 0; i < c; ++i) t.data()[i] = static_cast<float>(v.at(i));
    return tape.buffer(t, s.path + (s.path.empty() ? "" : ".") + name);
  };
  if (!ones) y = mul(y, buffer(scale, "weight"), s.path);
  if (!zeros) y = add(y, buffer(bias, "bias"), s.path);
  return y;
}

// Resize(X, roi, scales, sizes) on [N, C, H, W] (and [N, C, L] as H = 1): nearest or linear, the
// coordinate modes torch writes (asymmetric, half_pixel, pytorch_half_pixel, align_corners).
Var resize_op(const Step& s, std::span<const Value> in) {
  const Var& x = in[0].var;
  const int64_t rank = x.shape().rank();
  BL_CHECK_SHAPE(rank == 4 || rank == 3, "onnx: ", s.node.describe(), ": input of shape ", x.shape().str(),
                 "; only [N, C, H, W] and [N, C, L] are supported");
  ResizeAttrs a;
  const std::string mode = attr_string(s.node, "mode", "nearest");
  BL_CHECK(mode == "nearest" || mode == "linear", "onnx: ", s.node.describe(), ": attribute mode='", mode,
           "' is not supported (nearest, linear)");
  a.mode = mode == "nearest" ? ResizeAttrs::Mode::Nearest : ResizeAttrs::Mode::Linear;
  const std::string coord = attr_string(s.node, "coordinate_transformation_mode", "half_pixel");
  if (coord == "asymmetric") a.coord = ResizeAttrs::Coord::Asymmetric;
  else if (coord == "half_pixel") a.coord = ResizeAttrs::Coord::HalfPixel;
  else if (coord == "pytorch_half_pixel") a.coord = ResizeAttrs::Coord::PytorchHalfPixel;
  else if (coord == "align_corners") a.coord = ResizeAttrs::Coord::AlignCorners;
  else
    BL_THROW("onnx: ", s.node.describe(), ": attribute coordinate_transformation_mode='", coord,
             "' is not supported (asymmetric, half_pixel, pytorch_half_pixel, align_corners)");
  const std::string round = attr_string(s.node, "nearest_mode", "round_prefer_floor");
  if (round == "floor") a.round = ResizeAttrs::Round::Floor;
  else if (round == "ceil") a.round = ResizeAttrs::Round::Ceil;
  else if (round == "round_prefer_floor") a.round = ResizeAttrs::Round::RoundPreferFloor;
  else if (round == "round_prefer_ceil") a.round = ResizeAttrs::Round::RoundPreferCeil;
  else BL_THROW("onnx: ", s.node.describe(), ": attribute nearest_mode='", round, "' is not supported");
  BL_CHECK(attr_int(s.node, "antialias", 0) == 0, "onnx: ", s.node.describe(), ": attribute antialias=1 is not supported");
  BL_CHECK(attr_string(s.node, "keep_aspect_ratio_policy", "stretch") == "stretch", "onnx: ", s.node.describe(),
           ": attribute keep_aspect_ratio_policy is not supported (stretch)");
  BL_CHECK(attr_ints(s.node, "axes").empty(), "onnx: ", s.node.describe(), ": attribute axes is not supported");
  const std::vector<int64_t> d = dims_of(x);
  const bool has_scales = in.size() > 2 && in[2].c && in[2].c->numel() > 0;
  const bool has_sizes = in.size() > 3 && in[3].c && in[3].c->numel() > 0;
  BL_CHECK(has_scales != has_sizes, "onnx: ", s.node.describe(), ": needs constant scales or sizes (exactly one)");
  std::vector<double> scale(d.size(), 1.0);
  std::vector<int64_t> out = d;
  const ConstTensor& given = *(has_scales ? in[2].c : in[3].c);
  BL_CHECK(given.numel() == rank, "onnx: ", s.node.describe(), ": ", has_scales ? "scales" : "sizes", " has ",
           given.numel(), " entries for rank ", rank);
  for (int64_t i = 0; i < rank; ++i) {
    if (has_scales) {
      scale[i] = given.at(i);
      BL_CHECK(scale[i] > 0, "onnx: ", s.node.describe(), ": scales must be positive");
      out[i] = static_cast<int64_t>(std::floor(static_cast<double>(d[i]) * scale[i]));
    } else {
      out[i] = given.int_at(i);
    }
  }
  BL_CHECK(out[0] == d[0] && out[1] == d[1], "onnx: ", s.node.describe(),
           ": resizing the batch or channel axis is not supported");
  const Var x4 = rank == 3 ? reshape(x, std::vector<int64_t>{d[0], d[1], 1, d[2]}, s.path) : x;
  const int64_t ih = rank == 3 ? 1 : d[2], iw = d[rank - 1];
  a.out_h = rank == 3 ? 1 : out[2];
  a.out_w = out[rank - 1];
  // torch: 1/scale_factor when scales are given, else in/out (float).
  a.inv_scale_h = rank == 3 ? 1.0f : has_scales ? static_cast<float>(1.0 / scale[2])
                                                : static_cast<float>(ih) / static_cast<float>(a.out_h);
  a.inv_scale_w = has_scales ? static_cast<float>(1.0 / scale[rank - 1])
                             : static_cast<float>(iw) / static_cast<float>(a.out_w);
  const Var y = resize(x4, a, s.path);
  return rank == 3 ? reshape(y, std::vector<int64_t>{d[0], d[1], a.out_w}, s.path) : y;
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
      "HardSigmoid", "HardSwish", "PRelu", "Neg", "Split", "Silu", "Exp", "Log", "Sqrt", "Pow", "Abs", "Erf",
      "Max", "Min", "Where", "Expand", "ReduceMax", "ConvTranspose", "InstanceNormalization", "Resize",
      "GroupNorm", "Einsum", "Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual", "Not", "And", "Or", "Xor"};
  return std::find(std::begin(kOps), std::end(kOps), op) != std::end(kOps);
}

std::vector<Value> run_step(const Step& s, std::span<const Value> in, const Module* layer, Tape& tape) {
  const std::string& op = s.node.op_type;
  auto one = [](Var v) { return std::vector<Value>{Value{std::move(v), nullptr}}; };
  if (op == "Shape") {
    // The input may itself be a per-call constant (swin's window mask: ConstantOfShape, then the
    // exporter's Shape of it for the slice assignments); an undefined Var has rank 0.
    const Value& v = input(s, in, 0);
    return {Value{Var(), v.c ? shape_constant(s.node, v.c->dims) : shape_constant(s.node, v.var.shape().dims())}};
  }
  if (s.known != Known::OnTape) {  // shape arithmetic on per-call constants
    std::vector<ConstPtr> cs;
    for (const Value& v : in) cs.push_back(v.c);
    std::vector<Value> out;
    for (ConstPtr& c : eval_constant(s.node, cs)) out.push_back(Value{Var(), std::move(c)});
    return out;
  }
  if (is_layer_op(s.node.op_type) || s.weighted) return one(run_layer(s, in, layer, tape));
  if (is_comparison(op) || op == "Not") return {Value{Var(), mask_op(s, in)}};
  if (op == "Einsum") {
    BL_CHECK(in.size() == 2, "onnx: ", s.node.describe(), ": Einsum with ", in.size(),
             " operands is not supported (two operands: a batched matrix product)");
    return one(run_einsum(s, operand(s, input(s, in, 0), "constant0", tape), operand(s, input(s, in, 1), "constant1", tape)));
  }
  const Var& x = input(s, in, 0).var;
  BL_CHECK(x.defined() || op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Concat" || op == "MatMul" ||
               op == "Max" || op == "Min" || op == "Where" || op == "Pow",
           "onnx: ",
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
    return one(hardsigmoid(x, attr_float(s.node, "alpha", 0.2f), attr_float(s.node, "beta", 0.5f), s.path));
  if (op == "HardSwish") return one(hardswish(x, s.path));
  if (op == "Silu") return one(silu(x, s.path));  // fused Sigmoid -> Mul (program.cpp)
  if (op == "Exp") return one(exp(x, s.path));
  if (op == "Log") return one(log(x, s.path));
  if (op == "Sqrt") return one(sqrt(x, s.path));
  if (op == "Abs") return one(abs(x, s.path));
  if (op == "Erf") return one(erf(x, s.path));
  if (op == "Pow") return one(pow_op(s, in, tape));
  if (op == "Max" || op == "Min") return one(extremum(s, in, tape));
  if (op == "Where") return one(where_op(s, in, tape));
  if (op == "Expand") return one(expand_op(s, in, tape));
  if (op == "InstanceNormalization") return one(instance_norm(s, in, tape));
  if (op == "Resize") return one(resize_op(s, in));
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
  if (op == "ReduceMean" || op == "ReduceSum" || op == "ReduceMax") return one(reduce(s, in));
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
      BL_CHECK(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end(), "onnx: ", s.node.describe(),
               ": Unsqueeze axes must be distinct");
      for (int64_t a : sorted) d.insert(d.begin() + a, 1);  // sorted, distinct, < r: each a <= d.size()
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
