// CUDA versions of the shape functions: every one is a strided copy (see cuda_ops.h).
#ifdef BACKLIGHT_HAVE_CUDA
#include "engine/functional/cuda/common.h"
#include "engine/functional/cuda_ops.h"
#include "engine/functional/shape.h"

namespace backlight::fn::cuda_ops {

namespace {

// The copy of the region `dims` with both sides contiguous in their own shapes.
cuda::StridedCopy region(const Shape& dims, const Shape& src_shape, const Shape& dst_shape) {
  cuda::StridedCopy c;
  c.rank = dims.rank();
  for (int d = 0; d < c.rank; ++d) c.dims[d] = dims[d];
  contiguous_strides(src_shape, c.src_stride);
  contiguous_strides(dst_shape, c.dst_stride);
  return c;
}

cuda::StridedCopy swapped(cuda::StridedCopy c) {
  for (int d = 0; d < c.rank; ++d) std::swap(c.src_stride[d], c.dst_stride[d]);
  std::swap(c.src_offset, c.dst_offset);
  return c;
}

cuda::StridedCopy slice_copy(const Shape& full, const SliceAttrs& a) {
  Shape sliced = full;
  sliced[a.axis] = slice_length(a);
  cuda::StridedCopy c = region(sliced, full, sliced);
  c.src_stride[a.axis] *= a.step;
  c.src_offset = a.start * full.stride(a.axis);
  return c;
}

cuda::StridedCopy pad_copy(const Shape& xs, const PadAttrs& a) {
  const Shape ps = padded_shape(xs, a);
  cuda::StridedCopy c = region(xs, xs, ps);
  for (int d = 0; d < xs.rank(); ++d) c.dst_offset += a.pads[2 * d] * ps.stride(d);
  return c;
}

}  // namespace

Tensor permute(const Tensor& x, std::span<const int> perm) {
  const Shape& xs = x.shape();
  Shape ys;
  for (int d : perm) ys.push_back(xs[d]);
  Tensor y = out_like(ys, x);
  cuda::StridedCopy c = region(ys, ys, ys);
  for (int d = 0; d < ys.rank(); ++d) c.src_stride[d] = xs.stride(perm[d]);
  cuda::strided_copy(ctx_of(x), c, x.device_data(), y.device_data());
  return y;
}

Tensor concat(std::span<const Tensor> xs, int axis, const Shape& out_shape) {
  Tensor y = out_like(out_shape, xs[0]);
  int64_t offset = 0;
  for (const Tensor& x : xs) {
    cuda::StridedCopy c = region(x.shape(), x.shape(), out_shape);
    c.dst_offset = offset * out_shape.stride(axis);
    cuda::strided_copy(ctx_of(x), c, x.device_data(), y.device_data());
    offset += x.size(axis);
  }
  return y;
}

Tensor slice(const Tensor& x, const SliceAttrs& a) {
  Shape ys = x.shape();
  ys[a.axis] = slice_length(a);
  Tensor y = out_like(ys, x);
  cuda::strided_copy(ctx_of(x), slice_copy(x.shape(), a), x.device_data(), y.device_data());
  return y;
}

Tensor slice_backward(const Tensor& g, const Shape& x_shape, const SliceAttrs& a) {
  Tensor dx = out_like(x_shape, g);
  dx.fill(0.0f);
  cuda::strided_copy(ctx_of(g), swapped(slice_copy(x_shape, a)), g.device_data(), dx.device_data());
  return dx;
}

Tensor pad(const Tensor& x, const PadAttrs& a) {
  Tensor y = out_like(padded_shape(x.shape(), a), x);
  y.fill(a.value);
  cuda::strided_copy(ctx_of(x), pad_copy(x.shape(), a), x.device_data(), y.device_data());
  return y;
}

Tensor pad_backward(const Tensor& g, const Shape& x_shape, const PadAttrs& a) {
  Tensor dx = out_like(x_shape, g);
  cuda::strided_copy(ctx_of(g), swapped(pad_copy(x_shape, a)), g.device_data(), dx.device_data());
  return dx;
}

}  // namespace backlight::fn::cuda_ops
#endif  // BACKLIGHT_HAVE_CUDA
