// Shape ops (reshape, flatten, permute, transpose, concat, slice, pad): forward on the tape and
// plain VJPs. Compute lives in functional/shape.h.
#include <algorithm>

#include "engine/functional/shape.h"
#include "engine/ops/ops.h"
#include "engine/vjp.h"

namespace backlight {

namespace {

Var record_permute(const Var& x, const std::vector<int>& perm, std::string_view name) {
  Tape& t = x.tape();
  PermuteAttrs a;
  a.rank = static_cast<int>(perm.size());
  std::copy(perm.begin(), perm.end(), a.perm.begin());
  return t.record(OpKind::Permute, name, {x}, fn::permute(x.value(), perm, &t.workspace()), a);
}

}  // namespace

Var reshape(const Var& x, std::span<const int64_t> dims, std::string_view name) {
  // A free view: reshape never copies, and nothing writes to tape values.
  return x.tape().record(OpKind::Reshape, name, {x}, x.value().reshape(dims));
}

Var flatten(const Var& x, int start_dim, int end_dim, std::string_view name) {
  return x.tape().record(OpKind::Reshape, name, {x},
                         x.value().reshape(fn::flatten_shape(x.shape(), start_dim, end_dim)));
}

Var permute(const Var& x, std::span<const int> perm, std::string_view name) {
  return record_permute(x, fn::normalize_permutation(perm, x.shape().rank(), "permute"), name);
}

Var transpose(const Var& x, int dim0, int dim1, std::string_view name) {
  const int r = x.shape().rank();
  const int a = dim0 < 0 ? dim0 + r : dim0, b = dim1 < 0 ? dim1 + r : dim1;
  BL_CHECK_SHAPE(a >= 0 && a < r && b >= 0 && b < r, "transpose: dims (", dim0, ", ", dim1,
                 ") out of range for shape ", x.shape(), " (rank ", r, ")");
  std::vector<int> perm(r);
  for (int d = 0; d < r; ++d) perm[d] = d;
  std::swap(perm[a], perm[b]);
  return record_permute(x, perm, name);
}

Var concat(std::span<const Var> xs, int axis, std::string_view name) {
  BL_CHECK_SHAPE(!xs.empty(), "concat: expected at least one input, got none");
  std::vector<Tensor> values;
  values.reserve(xs.size());
  for (size_t i = 0; i < xs.size(); ++i) {
    // The tape drops undefined inputs (optional bias), which would shift the input indices.
    BL_CHECK(xs[i].defined(), "concat: input ", i, " is undefined");
    values.push_back(xs[i].value());
  }
  Tape& t = xs[0].tape();
  Tensor y = fn::concat(values, axis, &t.workspace());
  const int a = axis < 0 ? axis + y.dim() : axis;
  return t.record(OpKind::Concat, name, xs, std::move(y), AxisAttrs{a});
}

Var slice(const Var& x, int axis, int64_t start, int64_t end, int64_t step, std::string_view name) {
  Tape& t = x.tape();
  const SliceAttrs a = fn::normalize_slice(x.shape(), axis, start, end, step);
  return t.record(OpKind::Slice, name, {x}, fn::slice(x.value(), a, &t.workspace()), a);
}

Var pad(const Var& x, std::span<const int64_t> pads, float value, std::string_view name) {
  Tape& t = x.tape();
  const PadAttrs a = fn::pad_attrs(x.shape(), pads, value);
  return t.record(OpKind::Pad, name, {x}, fn::pad(x.value(), a, &t.workspace()), a);
}

std::vector<Tensor> vjp_Reshape(const RuleContext& ctx, const Tensor& g) {
  return {g.reshape(ctx.input(0).shape())};
}

std::vector<Tensor> vjp_Permute(const RuleContext& ctx, const Tensor& g) {
  const PermuteAttrs& a = ctx.attrs<PermuteAttrs>();
  const std::vector<int> inv = fn::inverse_permutation(std::span<const int>(a.perm.data(), a.rank));
  return {fn::permute(g, inv, &ctx.workspace())};
}

std::vector<Tensor> vjp_Concat(const RuleContext& ctx, const Tensor& g) {
  const int axis = ctx.attrs<AxisAttrs>().axis;
  std::vector<Tensor> out(ctx.num_inputs());
  int64_t offset = 0;
  for (int i = 0; i < ctx.num_inputs(); ++i) {
    const int64_t len = ctx.input(i).size(axis);
    if (ctx.needs_grad(i)) out[i] = fn::slice(g, SliceAttrs{axis, offset, offset + len, 1}, &ctx.workspace());
    offset += len;
  }
  return out;
}

std::vector<Tensor> vjp_Slice(const RuleContext& ctx, const Tensor& g) {
  return {fn::slice_backward(g, ctx.input(0).shape(), ctx.attrs<SliceAttrs>(), &ctx.workspace())};
}

std::vector<Tensor> vjp_Pad(const RuleContext& ctx, const Tensor& g) {
  return {fn::pad_backward(g, ctx.input(0).shape(), ctx.attrs<PadAttrs>(), &ctx.workspace())};
}

}  // namespace backlight
