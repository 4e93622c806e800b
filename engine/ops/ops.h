#pragma once
/// Forward ops on the tape. Every op is one atomic tape node (so a rule can attach to every
/// ReLU, conv, softmax), runs on all cores, and allocates its output from the tape's workspace.
/// `name` is the module path recorded on the node ("layer1.0.conv1"); modules pass their own.
/// Input order on the node: activations first, then parameters/buffers, as listed here.
/// Shapes follow PyTorch; a bad shape throws ShapeError naming the op, expected and actual.
#include <span>
#include <string_view>
#include <vector>

#include "engine/tape.h"

namespace backlight {

// --- linear-kind ops (LRP z-rules apply) ------------------------------------------------------

/// y[..., out] = x[..., in] W^T + b. Node inputs: x, weight[out,in], bias[out] (optional).
Var linear(const Var& x, const Var& weight, const Var& bias = {}, std::string_view name = {});
/// x[N,C,H,W], weight[O,C/groups,kH,kW], bias[O] (optional) -> [N,O,OH,OW].
Var conv2d(const Var& x, const Var& weight, const Var& bias, const Conv2dAttrs& attrs, std::string_view name = {});
/// Transposed convolution (PyTorch ConvTranspose2d): x[N,C,H,W], weight[C,O/groups,kH,kW],
/// bias[O] (optional) -> [N,O,(H-1)s-2p+d(k-1)+output_pad+1, ...]; the adjoint of conv2d.
Var conv_transpose2d(const Var& x, const Var& weight, const Var& bias, const ConvTranspose2dAttrs& attrs,
                     std::string_view name = {});
/// [N,C,H,W] -> [N,C,out_h,out_w] nearest or bilinear resize (ResizeAttrs; torch F.interpolate).
/// CPU only (a CUDA tensor throws).
Var resize(const Var& x, const ResizeAttrs& attrs, std::string_view name = {});
/// Inference batch norm over axis 1 of [N,C], [N,C,L] or [N,C,H,W]:
/// y = (x - mean) / sqrt(var + eps) * weight + bias. Node inputs: x, weight, bias, mean, var.
Var batchnorm(const Var& x, const Var& weight, const Var& bias, const Var& running_mean, const Var& running_var,
              float eps = 1e-5f, std::string_view name = {});
/// [N,C,H,W] average pooling (kernel, stride, padding, ceil_mode, count_include_pad).
Var avgpool2d(const Var& x, const Pool2dAttrs& attrs, std::string_view name = {});
/// [N,C,H,W] -> [N,C,out_h,out_w], PyTorch's adaptive bins (start=floor(i*H/out), end=ceil((i+1)*H/out)).
Var adaptive_avgpool2d(const Var& x, int64_t out_h, int64_t out_w, std::string_view name = {});
/// y = factor * x (attention score scaling).
Var scale(const Var& x, float factor, std::string_view name = {});
/// Sum / mean over `axes` (negative counts from the end).
Var sum(const Var& x, std::span<const int> axes, bool keepdim = false, std::string_view name = {});
Var mean(const Var& x, std::span<const int> axes, bool keepdim = false, std::string_view name = {});

// --- pooling ----------------------------------------------------------------------------------

/// [N,C,H,W] max pooling (kernel, stride, padding (-inf), dilation, ceil_mode). Gradient goes to
/// the first maximum of each window (PyTorch's choice on ties).
Var maxpool2d(const Var& x, const Pool2dAttrs& attrs, std::string_view name = {});
/// Maximum over `axes` (torch.amax): NaN propagates; the gradient is shared evenly by the tied
/// maxima. CPU only (a CUDA tensor throws).
Var amax(const Var& x, std::span<const int> axes, bool keepdim = false, std::string_view name = {});

// --- element-wise activations -----------------------------------------------------------------
// Kinks: the gradient at exactly 0 (relu, relu6 at 0 and 6, leaky_relu) is 0 for relu/relu6 at
// the lower kink, as PyTorch (x > 0), and 0 at relu6's upper kink (x < 6).

Var relu(const Var& x, std::string_view name = {});
Var relu6(const Var& x, std::string_view name = {});
Var leaky_relu(const Var& x, float negative_slope = 0.01f, std::string_view name = {});
Var sigmoid(const Var& x, std::string_view name = {});
Var tanh(const Var& x, std::string_view name = {});
/// Exact GELU x*Phi(x), or PyTorch's approximate="tanh" form.
Var gelu(const Var& x, bool tanh_approximation = false, std::string_view name = {});
/// Identity at inference (kept as a node so module names line up with PyTorch's).
Var dropout(const Var& x, float p = 0.5f, std::string_view name = {});
/// SiLU x * sigmoid(x) as one node (EfficientNet's activation; torch exports Sigmoid -> Mul).
Var silu(const Var& x, std::string_view name = {});
/// clamp(alpha x + beta, 0, 1) (torch: alpha 1/6, beta 1/2; gradient alpha strictly inside).
Var hardsigmoid(const Var& x, float alpha = 1.0f / 6.0f, float beta = 0.5f, std::string_view name = {});
/// x * relu6(x + 3) / 6 with torch's backward (x/3 + 1/2 on [-3, 3), 1 from 3 on).
Var hardswish(const Var& x, std::string_view name = {});
/// clamp(x, min, max) (+-infinity: unbounded); gradient where min <= x <= max, as torch.clamp.
Var clip(const Var& x, float min, float max, std::string_view name = {});

// --- element-wise math (ONNX import; PyTorch's formulas, NaN/Inf as torch) ---------------------

Var exp(const Var& x, std::string_view name = {});
Var log(const Var& x, std::string_view name = {});
Var sqrt(const Var& x, std::string_view name = {});
Var erf(const Var& x, std::string_view name = {});
/// |x|, gradient sgn(x) (0 at 0 and NaN).
Var abs(const Var& x, std::string_view name = {});
/// x^exponent for a constant exponent (gradient 0 for exponent 0, as torch).
Var pow(const Var& x, float exponent, std::string_view name = {});
/// a^b element-wise with numpy broadcasting, both operands signals (torch.pow(tensor, tensor)):
/// one `pow_tensor` node; gradients b a^(b-1) (0 where b == 0) and a^b log(a) (0 where a == 0, b >= 0).
Var pow(const Var& a, const Var& b, std::string_view name = {});

// --- normalisation and attention pieces -------------------------------------------------------

Var softmax(const Var& x, int axis = -1, std::string_view name = {});
Var log_softmax(const Var& x, int axis = -1, std::string_view name = {});
/// Normalises the trailing `normalized_dims` dims; weight/bias (optional) of that trailing shape.
Var layernorm(const Var& x, const Var& weight, const Var& bias, int normalized_dims = 1, float eps = 1e-5f,
              std::string_view name = {});
/// torch.nn.GroupNorm on x [N, C, ...]: `groups` groups of C / groups channels, each normalised
/// per image over its channels and positions, then weight/bias ([C] each, optional) per channel.
/// One `group_norm` node (the ONNX importer fuses torch's Reshape/InstanceNormalization/Reshape/
/// Mul/Add export into it), so rules see the normaliser as a whole.
Var group_norm(const Var& x, int64_t groups, const Var& weight, const Var& bias, float eps = 1e-5f,
               std::string_view name = {});
/// Batched matmul a[..., m, k] b[..., k, n] with broadcast batch dims (both inputs are signals).
Var matmul(const Var& a, const Var& b, std::string_view name = {});

// --- element-wise binary (numpy broadcasting) ---------------------------------------------------

Var add(const Var& a, const Var& b, std::string_view name = {});
Var sub(const Var& a, const Var& b, std::string_view name = {});
Var mul(const Var& a, const Var& b, std::string_view name = {});
/// a / b (torch's gradients: g / b and -g a / b^2).
Var div(const Var& a, const Var& b, std::string_view name = {});
/// torch.maximum / torch.minimum: NaN if either side is NaN; ties split the gradient in halves.
Var maximum(const Var& a, const Var& b, std::string_view name = {});
Var minimum(const Var& a, const Var& b, std::string_view name = {});
/// condition ? a : b with a constant condition (non-zero = true; saved on the node) broadcast
/// against a and b. Node inputs: a, b.
Var where(const Tensor& condition, const Var& a, const Var& b, std::string_view name = {});

// --- shape ops --------------------------------------------------------------------------------

/// View with new dims (one may be -1).
Var reshape(const Var& x, std::span<const int64_t> dims, std::string_view name = {});
/// Merges dims [start_dim, end_dim] (PyTorch torch.flatten).
Var flatten(const Var& x, int start_dim = 1, int end_dim = -1, std::string_view name = {});
Var permute(const Var& x, std::span<const int> perm, std::string_view name = {});
Var transpose(const Var& x, int dim0, int dim1, std::string_view name = {});
Var concat(std::span<const Var> xs, int axis, std::string_view name = {});
/// Elements start, start+step, ... < end along `axis` (negative start/end count from the end).
Var slice(const Var& x, int axis, int64_t start, int64_t end, int64_t step = 1, std::string_view name = {});
/// Constant padding in PyTorch F.pad order: (last_before, last_after, 2nd_last_before, ...).
Var pad(const Var& x, std::span<const int64_t> pads, float value = 0.0f, std::string_view name = {});

// --- lookup -----------------------------------------------------------------------------------

/// Rows of weight[num, dim] at integer `indices` (float tensor holding exact integers, any
/// shape) -> [..., dim]. Node inputs: weight; the indices are saved on the node.
Var embedding(const Tensor& indices, const Var& weight, std::string_view name = {});

}  // namespace backlight
