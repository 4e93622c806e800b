#include "models/onnx/supported.h"

#include "engine/error.h"
#include "models/onnx/fold.h"
#include "models/onnx/program.h"

namespace backlight::onnx {

std::vector<OpSupport> supported_ops() {
  return {
      {"Conv", "conv2d", "1-D ([N,C,L] as [N,C,1,L]) and 2-D; groups (depthwise), dilations, strides, pads incl. asymmetric (explicit pad), auto_pad"},
      {"Gemm", "linear", "transA=0; transB 0/1, alpha, beta folded into the weights"},
      {"MatMul", "linear / matmul", "constant 2-D right operand: linear (LRP affine); two activations: batched matmul"},
      {"BatchNormalization", "batchnorm", "inference (training_mode=0); an engine BatchNorm module, merged by the canonizer"},
      {"LayerNormalization", "layernorm", "epsilon; axis: the last axis or several trailing ones; scale and optional bias of exactly the normalised shape"},
      {"ConvTranspose", "conv_transpose2d", "1-D and 2-D; groups, strides, dilations, symmetric pads, output_padding"},
      {"Resize", "resize", "[N,C,H,W] or [N,C,L]; nearest (floor, ceil, round_prefer_floor/ceil) or linear; asymmetric, half_pixel, pytorch_half_pixel, align_corners; constant scales or sizes"},
      {"InstanceNormalization", "layernorm (+ mul, add) / group_norm", "epsilon; torch's GroupNorm export (Reshape [0, G, -1], InstanceNormalization(ones, zeros), Reshape to Shape(x), Mul, Add) is fused into one group_norm node"},
      {"MaxPool", "maxpool2d", "1-D and 2-D; kernel, strides, pads (asymmetric: explicit -inf pad), dilations, ceil_mode"},
      {"AveragePool", "avgpool2d", "1-D and 2-D; count_include_pad 0/1, ceil_mode"},
      {"GlobalAveragePool", "adaptive_avgpool2d", "N,C,H,W -> N,C,1,1 (N,C,L -> N,C,1)"},
      {"Relu", "relu", ""},
      {"LeakyRelu", "leaky_relu", "alpha"},
      {"Sigmoid", "sigmoid / silu", "Sigmoid(x) -> Mul(x, .) (torch's SiLU) is fused into one silu node"},
      {"Tanh", "tanh", ""},
      {"Clip", "relu6 / relu / clip", "min 0 with max 6: relu6; min 0 without max: relu; any other bounds: clip"},
      {"HardSigmoid", "hardsigmoid", "alpha, beta"},
      {"HardSwish", "hardswish", ""},
      {"Exp", "exp", ""},
      {"Log", "log", ""},
      {"Sqrt", "sqrt", ""},
      {"Pow", "pow / pow_tensor", "constant scalar exponent: pow; an activation exponent or base, or constant tensors (numpy broadcasting): pow_tensor"},
      {"Abs", "abs", ""},
      {"Erf", "erf", "(inside torch's GELU pattern: fused into gelu)"},
      {"Max", "maximum", "element-wise, any number of operands, numpy broadcasting"},
      {"Min", "minimum", "element-wise, any number of operands, numpy broadcasting"},
      {"Where", "where", "bool condition: folded from shapes, or a comparison of activations evaluated per call; activation or constant branches (both may be activations), numpy broadcasting"},
      {"Equal, Greater, Less, GreaterOrEqual, LessOrEqual, Not, And, Or, Xor", "(mask)", "on activations: evaluated per call into a constant bool mask (zero gradient, as torch), read by Where or arithmetic"},
      {"Einsum", "permute, reshape, matmul", "two operands forming a batched matrix product (e.g. MaxViT's 'bghid,bghjd->bghij'); other equations are refused naming the node and the equation"},
      {"Expand", "mul", "on activations: x * ones(broadcast shape)"},
      {"PRelu", "leaky_relu / relu, sub, mul, add", "scalar slope: one leaky_relu node; per-channel: composed"},
      {"Neg", "scale", "factor -1"},
      {"Split", "slice", "split sizes (input or attribute) or equal parts; constant sizes"},
      {"Gelu", "gelu", "opset-20 op, and torch's erf form x*(erf(x/sqrt2)+1)*0.5 fused into one node"},
      {"Softmax", "softmax", "any axis (opset >= 13), last axis below"},
      {"LogSoftmax", "log_softmax", "as Softmax"},
      {"Add", "add / scale", "numpy broadcasting; constant operands become buffers"},
      {"Sub", "sub", "numpy broadcasting"},
      {"Mul", "mul / scale", "a scalar constant factor is a linear scale node"},
      {"Div", "scale / mul / div", "by a scalar constant: scale; by a constant tensor: mul by its reciprocal; by an activation: div (numpy broadcasting)"},
      {"ReduceMean", "mean", "axes (attribute or input), keepdims"},
      {"ReduceSum", "sum", "axes (attribute or input), keepdims"},
      {"ReduceMax", "amax", "axes (attribute or input), keepdims"},
      {"Reshape", "reshape", "0 copies the input dim (allowzero=0), -1 inferred; shape folded per call"},
      {"Flatten", "reshape", "axis"},
      {"Transpose", "permute", "perm"},
      {"Squeeze", "reshape", "axes attribute or input"},
      {"Unsqueeze", "reshape", "axes attribute or input"},
      {"Concat", "concat", "constant parts become buffers"},
      {"Slice", "slice", "constant starts/ends/axes, positive steps"},
      {"Pad", "pad", "mode=constant, non-negative pads"},
      {"Gather", "embedding / slice", "constant 2-D table with activation indices: embedding; constant indices into an activation: slice"},
      {"Identity", "(none)", ""},
      {"Dropout", "dropout", "identity at inference"},
      {"Cast", "(none)", "to float on activations; any type on constants"},
      {"Shape", "folded", "per call (the batch axis stays free)"},
      {"Constant", "folded", "tensor, value_int(s), value_float"},
      {"ConstantOfShape", "folded", ""},
      {"Gather, Concat, Unsqueeze, Squeeze, Slice, Add, Sub, Mul, Div, Mod, Pow, Not, Equal, Greater, Less, GreaterOrEqual, LessOrEqual, And, Or, Xor, Where, ScatterND, Range, Expand, Floor, Ceil, Sqrt, Neg, Transpose, Reshape",
       "folded", "on constants (shape arithmetic, weight preprocessing)"},
  };
}

void check_supported(const Node& n, std::string_view source) {
  if (is_runnable(n.op_type)) return;
  std::string list;
  for (const OpSupport& o : supported_ops())
    if (o.tape_op != "folded") list += (list.empty() ? "" : ", ") + std::string(o.op);
  if (is_foldable(n.op_type))
    BL_THROW(source, ": ", n.describe(), ": op type ", n.op_type,
             " is supported on constants only (shape arithmetic), not on activations. Ops on activations: ", list);
  BL_THROW(source, ": ", n.describe(), ": op type ", n.op_type, " is not supported. Supported: ", list,
           " (docs/models.md, `backlight layers --ops`)");
}

}  // namespace backlight::onnx
