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

// --- normalisation and attention pieces -------------------------------------------------------

Var softmax(const Var& x, int axis = -1, std::string_view name = {});
Var log_softmax(const Var& x, int axis = -1, std::string_view name = {});
/// Normalises the trailing `normalized_dims` dims; weight/bias (optional) of that trailing shape.
Var layernorm(const Var& x, const Var& weight, const Var& bias, int normalized_dims = 1, float eps = 1e-5f,
              std::string_view name = {});
/// Batched matmul a[..., m, k] b[..., k, n] with broadcast batch dims (both inputs are signals).
Var matmul(const Var& a, const Var& b, std::string_view name = {});

// --- element-wise binary (numpy broadcasting) ---------------------------------------------------

Var add(const Var& a, const Var& b, std::string_view name = {});
Var sub(const Var& a, const Var& b, std::string_view name = {});
Var mul(const Var& a, const Var& b, std::string_view name = {});

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
