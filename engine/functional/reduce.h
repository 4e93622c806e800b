#pragma once
/// Sum and mean over a set of axes (no tape), and the broadcast that is their gradient.
///
/// Axes are a bit mask (bit d set = reduce dimension d), as stored in ReduceAttrs. Accumulation is
/// in double, so a sum over 10^6 floats keeps float precision. Runs on all cores: over output
/// elements when the innermost dim is reduced (rows), over output columns otherwise.
#include <cstdint>
#include <span>

#include "engine/tensor.h"

namespace backlight::fn {

/// The mask of `axes` (negative count from the end) for a tensor of shape `s`; an empty list
/// means every dim. Throws ShapeError naming `op` on an axis out of range or given twice.
uint32_t reduce_mask(const Shape& s, std::span<const int> axes, const char* op);
/// `s` with the masked dims removed (keepdim=false; all removed gives the scalar shape []) or
/// set to 1 (keepdim=true).
Shape reduced_shape(const Shape& s, uint32_t mask, bool keepdim);
/// How many input elements reduce into each output element (product of the masked dims).
int64_t reduce_count(const Shape& s, uint32_t mask);

/// Sum of x over the masked dims -> reduced_shape(x.shape(), mask, keepdim).
Tensor sum(const Tensor& x, uint32_t mask, bool keepdim, const Workspace* ws);
/// Mean of x over the masked dims (sum / reduce_count; NaN over zero elements, as PyTorch).
Tensor mean(const Tensor& x, uint32_t mask, bool keepdim, const Workspace* ws);

/// The gradient of sum (scale = 1) and mean (scale = 1/count): every element of `x_shape` gets
/// scale * g at its reduced position. g has reduced_shape(x_shape, mask, keepdim) for either
/// keepdim (only its element count is checked).
Tensor reduce_backward(const Tensor& g, const Shape& x_shape, uint32_t mask, float scale, const Workspace* ws);

/// Maximum of x over the masked dims (torch.amax: NaN wins). CPU only.
Tensor amax(const Tensor& x, uint32_t mask, bool keepdim, const Workspace* ws);
/// torch.amax's gradient: g / (number of elements equal to the maximum) at those elements, 0
/// elsewhere (NaN maxima: no element equals, g / 0 * 0 = NaN, as torch). CPU only.
Tensor amax_backward(const Tensor& g, const Tensor& x, const Tensor& y, uint32_t mask, const Workspace* ws);

}  // namespace backlight::fn
