#pragma once
/// Shape functions (no tape): permute, concat, strided slice, constant pad, and the inverse
/// copies their gradients need. Every result is a new contiguous tensor from `ws` (reshape and
/// flatten need no function here: they are free views, Tensor::reshape).
///
/// Arguments arrive already validated and normalised by the *_attrs / normalize_* helpers below,
/// which throw ShapeError naming the op, what it expected and what arrived. All copies run on all
/// cores (OpenMP) over outer rows; contiguous inner runs are memcpy'd.
#include <span>
#include <vector>

#include "engine/attrs.h"
#include "engine/tensor.h"

namespace backlight::fn {

// --- permute ----------------------------------------------------------------------------------

/// Checks that `perm` is a permutation of the dims of a rank-`rank` tensor (negative entries
/// count from the end) and returns it with every entry in [0, rank).
std::vector<int> normalize_permutation(std::span<const int> perm, int rank, const char* op);
/// y with y.shape[i] = x.shape[perm[i]] (perm normalised). Adjacent dims that stay adjacent are
/// merged first; a permutation that keeps the innermost dim copies whole rows (attention heads,
/// [N,L,H,D] -> [N,H,L,D]); any other one is a cache-blocked transpose.
Tensor permute(const Tensor& x, std::span<const int> perm, const Workspace* ws);
/// dst[c * ld_dst + r] = src[r * ld_src + c] for r < rows, c < cols: the 2-D transpose behind
/// permute (cache-blocked tiles, 8x8 SIMD blocks with AVX), on the calling thread only. For
/// callers that transpose a matrix into a buffer of their own (linear's packed W^T).
void transpose_2d(const float* src, int64_t rows, int64_t cols, int64_t ld_src, float* dst, int64_t ld_dst);
/// The permutation q with q[perm[i]] = i (undoes `perm`, for the gradient).
std::vector<int> inverse_permutation(std::span<const int> perm);

// --- concat -----------------------------------------------------------------------------------

/// xs (at least one) concatenated along `axis` (negative counts from the end). Every input must
/// have the rank of xs[0] and its dims except along `axis`.
Tensor concat(std::span<const Tensor> xs, int axis, const Workspace* ws);

// --- slice ------------------------------------------------------------------------------------

/// Normalises a Python-style slice of dimension `axis` of `s`: axis into [0, rank), negative
/// start/end counted from the end, then both clamped to [0, s[axis]] (so an empty range is
/// valid). step must be > 0.
SliceAttrs normalize_slice(const Shape& s, int axis, int64_t start, int64_t end, int64_t step);
/// How many elements a normalised slice selects: ceil((end - start) / step), at least 0.
int64_t slice_length(const SliceAttrs& a);
/// x[..., start:end:step, ...] along a.axis (a normalised).
Tensor slice(const Tensor& x, const SliceAttrs& a, const Workspace* ws);
/// The gradient of slice: g scattered into zeros of `x_shape` at the sliced positions.
Tensor slice_backward(const Tensor& g, const Shape& x_shape, const SliceAttrs& a, const Workspace* ws);

// --- pad --------------------------------------------------------------------------------------

/// Converts PyTorch F.pad order (last_before, last_after, 2nd_last_before, ...) into PadAttrs
/// (per dimension d: pads[2d] before, pads[2d+1] after). Throws on an odd count, more pairs
/// than dims, or a negative pad (cropping is not supported).
PadAttrs pad_attrs(const Shape& s, std::span<const int64_t> torch_pads, float value);
/// Shape of `s` padded by `a`.
Shape padded_shape(const Shape& s, const PadAttrs& a);
/// x surrounded by a.value.
Tensor pad(const Tensor& x, const PadAttrs& a, const Workspace* ws);
/// The gradient of pad: the interior of g (of the padded shape) cropped back to `x_shape`.
Tensor pad_backward(const Tensor& g, const Shape& x_shape, const PadAttrs& a, const Workspace* ws);

// --- reshape helpers --------------------------------------------------------------------------

/// torch.flatten's result shape: dims [start_dim, end_dim] (negative count from the end) merged
/// into one. A rank-0 shape flattens to [1].
Shape flatten_shape(const Shape& s, int start_dim, int end_dim);

}  // namespace backlight::fn
