#include "engine/functional/shape.h"

#include <algorithm>
#include <array>
#include <cstring>

#if defined(__AVX__)
#include <immintrin.h>
#endif

#include "engine/error.h"
#include "engine/functional/cuda_ops.h"
#include "engine/functional/dispatch.h"
#include "engine/parallel.h"

namespace backlight::fn {

namespace {

constexpr int64_t kGrain = 1 << 14;  // elements per task, below which threading costs more than it saves
constexpr int64_t kTile = 32;        // transpose tile: 32 rows of 32 strided reads stay in L1

int norm_axis(const Shape& s, int axis, const char* op) {
  const int a = axis < 0 ? axis + s.rank() : axis;
  BL_CHECK_SHAPE(a >= 0 && a < s.rank(), op, ": axis ", axis, " out of range for shape ", s, " (rank ", s.rank(),
                 ")");
  return a;
}

// A box of elements copied from src to dst: element (i_0, ..., i_{r-1}) with i_d < extent[d]
// goes from src[src_offset + sum i_d*src_stride[d]] to dst[dst_offset + sum i_d*dst_stride[d]].
// Slice, pad, concat, their gradients and permute are all such copies.
struct Box {
  int rank = 0;
  std::array<int64_t, Shape::kMaxDims> extent{}, src_stride{}, dst_stride{};
  int64_t src_offset = 0, dst_offset = 0;
};

Box box_of(const Shape& extent) {
  Box b;
  b.rank = extent.rank();
  for (int d = 0; d < b.rank; ++d) b.extent[d] = extent[d];
  return b;
}

void set_contiguous(const Shape& s, std::array<int64_t, Shape::kMaxDims>& stride) {
  for (int d = 0; d < s.rank(); ++d) stride[d] = s.stride(d);
}

// Drops unit dims and merges neighbours that are contiguous in both src and dst, so the inner
// loop runs as long as possible (concat on axis 1 of [N,C,H,W] becomes N runs of C*H*W).
Box coalesce(const Box& b) {
  Box c;
  c.src_offset = b.src_offset;
  c.dst_offset = b.dst_offset;
  for (int d = 0; d < b.rank; ++d) {
    if (b.extent[d] == 1) continue;
    if (c.rank > 0) {
      const int l = c.rank - 1;
      if (c.src_stride[l] == b.src_stride[d] * b.extent[d] && c.dst_stride[l] == b.dst_stride[d] * b.extent[d]) {
        c.extent[l] *= b.extent[d];
        c.src_stride[l] = b.src_stride[d];
        c.dst_stride[l] = b.dst_stride[d];
        continue;
      }
    }
    c.extent[c.rank] = b.extent[d];
    c.src_stride[c.rank] = b.src_stride[d];
    c.dst_stride[c.rank] = b.dst_stride[d];
    ++c.rank;
  }
  return c;
}

bool box_empty(const Box& b) {
  for (int d = 0; d < b.rank; ++d)
    if (b.extent[d] == 0) return true;
  return false;
}

// Row-wise copy: parallel over all dims but the last, the last as a tight (memcpy'd) loop.
void copy_rows(const float* src, float* dst, const Box& b) {
  src += b.src_offset;
  dst += b.dst_offset;
  if (b.rank == 0) {
    *dst = *src;
    return;
  }
  const int r = b.rank;
  const int64_t inner = b.extent[r - 1], is = b.src_stride[r - 1], id = b.dst_stride[r - 1];
  int64_t rows = 1;
  for (int d = 0; d < r - 1; ++d) rows *= b.extent[d];
  parallel_for(rows, std::max<int64_t>(1, kGrain / inner), [&](int64_t lo, int64_t hi) {
    for (int64_t row = lo; row < hi; ++row) {
      int64_t rem = row, so = 0, doff = 0;
      for (int d = r - 2; d >= 0; --d) {
        const int64_t i = rem % b.extent[d];
        rem /= b.extent[d];
        so += i * b.src_stride[d];
        doff += i * b.dst_stride[d];
      }
      if (is == 1 && id == 1) {
        std::memcpy(dst + doff, src + so, inner * sizeof(float));
      } else {
        for (int64_t j = 0; j < inner; ++j) dst[doff + j * id] = src[so + j * is];
      }
    }
  });
}

void copy_box(const float* src, float* dst, const Box& box) {
  if (box_empty(box)) return;
  copy_rows(src, dst, coalesce(box));
}

// dst[pi * dp + ji] = src[ji * sj + pi] for pi in [p0, p1), ji in [j0, j1): one tile of a
// transpose. With AVX, 8x8 blocks go through registers (8 row loads, 24 shuffles, 8 row
// stores); the scalar loop read one strided float per store (NCHW <-> NHWC around ConvNeXt's
// LayerNorm/MLP: 46 permutes a forward, ~6% of an IG chunk).
#if defined(__AVX__)
inline void transpose_8x8(const float* s, int64_t ls, float* d, int64_t ld) {
  const __m256 r0 = _mm256_loadu_ps(s), r1 = _mm256_loadu_ps(s + ls), r2 = _mm256_loadu_ps(s + 2 * ls),
               r3 = _mm256_loadu_ps(s + 3 * ls), r4 = _mm256_loadu_ps(s + 4 * ls), r5 = _mm256_loadu_ps(s + 5 * ls),
               r6 = _mm256_loadu_ps(s + 6 * ls), r7 = _mm256_loadu_ps(s + 7 * ls);
  // Pairs of rows interleaved, then quads: u_k holds column k (low half) and k+4 (high half) of
  // rows 0-3 (u0..u3) or 4-7 (u4..u7).
  const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1), t2 = _mm256_unpacklo_ps(r2, r3),
               t3 = _mm256_unpackhi_ps(r2, r3), t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
               t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE),
               u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE),
               u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE),
               u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  _mm256_storeu_ps(d, _mm256_permute2f128_ps(u0, u4, 0x20));
  _mm256_storeu_ps(d + ld, _mm256_permute2f128_ps(u1, u5, 0x20));
  _mm256_storeu_ps(d + 2 * ld, _mm256_permute2f128_ps(u2, u6, 0x20));
  _mm256_storeu_ps(d + 3 * ld, _mm256_permute2f128_ps(u3, u7, 0x20));
  _mm256_storeu_ps(d + 4 * ld, _mm256_permute2f128_ps(u0, u4, 0x31));
  _mm256_storeu_ps(d + 5 * ld, _mm256_permute2f128_ps(u1, u5, 0x31));
  _mm256_storeu_ps(d + 6 * ld, _mm256_permute2f128_ps(u2, u6, 0x31));
  _mm256_storeu_ps(d + 7 * ld, _mm256_permute2f128_ps(u3, u7, 0x31));
}
#endif

void transpose_tile(const float* src, int64_t sj, float* dst, int64_t dp, int64_t p0, int64_t p1, int64_t j0,
                    int64_t j1) {
  int64_t pi = p0;
#if defined(__AVX__)
  for (; pi + 8 <= p1; pi += 8) {
    int64_t ji = j0;
    for (; ji + 8 <= j1; ji += 8) transpose_8x8(src + ji * sj + pi, sj, dst + pi * dp + ji, dp);
    for (; ji < j1; ++ji)
      for (int64_t k = pi; k < pi + 8; ++k) dst[k * dp + ji] = src[ji * sj + k];
  }
#endif
  for (; pi < p1; ++pi) {
    const float* s = src + pi;
    float* d = dst + pi * dp;
    for (int64_t ji = j0; ji < j1; ++ji) d[ji] = s[ji * sj];
  }
}

// Permute whose innermost output dim is strided in the source: tiles of [kTile x kTile] between
// the source's unit-stride dim p and the destination's unit-stride (last) dim, so both the
// strided reads and the contiguous writes of one tile stay in cache.
void transpose_tiled(const float* src, float* dst, const Box& b, int p) {
  const int r = b.rank, j = r - 1;
  const int64_t np = b.extent[p], nj = b.extent[j], sj = b.src_stride[j], dp = b.dst_stride[p];
  int64_t outer = 1;
  for (int d = 0; d < r; ++d)
    if (d != p && d != j) outer *= b.extent[d];
  const int64_t ptiles = (np + kTile - 1) / kTile;
  parallel_for(outer * ptiles, std::max<int64_t>(1, kGrain / (kTile * nj)), [&](int64_t lo, int64_t hi) {
    for (int64_t w = lo; w < hi; ++w) {
      int64_t rem = w / ptiles, so = 0, doff = 0;
      for (int d = r - 1; d >= 0; --d) {
        if (d == p || d == j) continue;
        const int64_t i = rem % b.extent[d];
        rem /= b.extent[d];
        so += i * b.src_stride[d];
        doff += i * b.dst_stride[d];
      }
      const int64_t p0 = (w % ptiles) * kTile, p1 = std::min(np, p0 + kTile);
      for (int64_t j0 = 0; j0 < nj; j0 += kTile)
        transpose_tile(src + so, sj, dst + doff, dp, p0, p1, j0, std::min(nj, j0 + kTile));
    }
  });
}

}  // namespace

// --- permute ----------------------------------------------------------------------------------

void transpose_2d(const float* src, int64_t rows, int64_t cols, int64_t ld_src, float* dst, int64_t ld_dst) {
  for (int64_t c0 = 0; c0 < cols; c0 += kTile)
    for (int64_t r0 = 0; r0 < rows; r0 += kTile)
      transpose_tile(src, ld_src, dst, ld_dst, c0, std::min(cols, c0 + kTile), r0, std::min(rows, r0 + kTile));
}

std::vector<int> normalize_permutation(std::span<const int> perm, int rank, const char* op) {
  auto show = [&] {
    std::string s = "(";
    for (size_t i = 0; i < perm.size(); ++i) s += (i ? "," : "") + std::to_string(perm[i]);
    return s + ")";
  };
  BL_CHECK_SHAPE(static_cast<int>(perm.size()) == rank, op, ": expected a permutation of ", rank,
                 " dims for a rank-", rank, " tensor, got ", perm.size(), " entries ", show());
  std::vector<int> p(perm.begin(), perm.end());
  std::array<bool, Shape::kMaxDims> seen{};
  for (int& d : p) {
    const int a = d < 0 ? d + rank : d;
    BL_CHECK_SHAPE(a >= 0 && a < rank, op, ": dim ", d, " in permutation ", show(), " out of range for rank ", rank);
    BL_CHECK_SHAPE(!seen[a], op, ": expected a permutation, dim ", d, " repeats in ", show());
    seen[a] = true;
    d = a;
  }
  return p;
}

std::vector<int> inverse_permutation(std::span<const int> perm) {
  std::vector<int> q(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) q[perm[i]] = static_cast<int>(i);
  return q;
}

Tensor permute(const Tensor& x, std::span<const int> perm, const Workspace* ws) {
  const Shape& xs = x.shape();
  const std::vector<int> p = normalize_permutation(perm, xs.rank(), "permute");
  Shape ys;
  for (int d : p) ys.push_back(xs[d]);
  BL_ON_CUDA("permute", ws, x) return cuda_ops::permute(x, p);
  Tensor y = Tensor::empty(ys, ws);
  Box b = box_of(ys);
  set_contiguous(ys, b.dst_stride);
  for (int d = 0; d < ys.rank(); ++d) b.src_stride[d] = xs.stride(p[d]);
  if (box_empty(b)) return y;
  const Box c = coalesce(b);
  if (c.rank == 0 || c.src_stride[c.rank - 1] == 1) {
    copy_rows(x.data(), y.data(), c);
    return y;
  }
  // The source's unit-stride dim survives coalescing (merging keeps the inner stride).
  int unit = 0;
  while (c.src_stride[unit] != 1) ++unit;
  transpose_tiled(x.data(), y.data(), c, unit);
  return y;
}

// --- concat -----------------------------------------------------------------------------------

Tensor concat(std::span<const Tensor> xs, int axis, const Workspace* ws) {
  BL_CHECK_SHAPE(!xs.empty(), "concat: expected at least one input, got none");
  const Shape& s0 = xs[0].shape();
  BL_CHECK_SHAPE(s0.rank() >= 1, "concat: expected inputs with at least one dim, got ", s0);
  const int a = norm_axis(s0, axis, "concat");
  Shape ys = s0;
  ys[a] = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Shape& s = xs[i].shape();
    bool same = s.rank() == s0.rank();
    for (int d = 0; same && d < s.rank(); ++d) same = d == a || s[d] == s0[d];
    BL_CHECK_SHAPE(same, "concat: expected input ", i, " to match input 0 ", s0, " in all dims but axis ", a,
                   ", got ", s);
    ys[a] += s[a];
  }
  for (const Tensor& x : xs) BL_ON_CUDA("concat", ws, x, xs[0]) return cuda_ops::concat(xs, a, ys);
  Tensor y = Tensor::empty(ys, ws);
  int64_t offset = 0;
  for (const Tensor& x : xs) {
    Box b = box_of(x.shape());
    set_contiguous(x.shape(), b.src_stride);
    set_contiguous(ys, b.dst_stride);
    b.dst_offset = offset * ys.stride(a);
    copy_box(x.data(), y.data(), b);
    offset += x.size(a);
  }
  return y;
}

// --- slice ------------------------------------------------------------------------------------

SliceAttrs normalize_slice(const Shape& s, int axis, int64_t start, int64_t end, int64_t step) {
  const int a = norm_axis(s, axis, "slice");
  BL_CHECK(step > 0, "slice: expected step > 0, got ", step);
  const int64_t n = s[a];
  auto clamp = [n](int64_t i) { return std::clamp<int64_t>(i < 0 ? i + n : i, 0, n); };
  return SliceAttrs{a, clamp(start), clamp(end), step};
}

int64_t slice_length(const SliceAttrs& a) {
  return a.end > a.start ? (a.end - a.start + a.step - 1) / a.step : 0;
}

namespace {
// The box from the sliced positions of a tensor of shape `full` to a contiguous [.., len, ..].
Box slice_box(const Shape& full, const SliceAttrs& a, Shape& sliced) {
  sliced = full;
  sliced[a.axis] = slice_length(a);
  Box b = box_of(sliced);
  set_contiguous(full, b.src_stride);
  set_contiguous(sliced, b.dst_stride);
  b.src_stride[a.axis] *= a.step;
  b.src_offset = a.start * full.stride(a.axis);
  return b;
}

Box swapped(Box b) {
  std::swap(b.src_stride, b.dst_stride);
  std::swap(b.src_offset, b.dst_offset);
  return b;
}
}  // namespace

Tensor slice(const Tensor& x, const SliceAttrs& a, const Workspace* ws) {
  Shape ys;
  const Box b = slice_box(x.shape(), a, ys);
  BL_ON_CUDA("slice", ws, x) return cuda_ops::slice(x, a);
  Tensor y = Tensor::empty(ys, ws);
  copy_box(x.data(), y.data(), b);
  return y;
}

Tensor slice_backward(const Tensor& g, const Shape& x_shape, const SliceAttrs& a, const Workspace* ws) {
  Shape ys;
  const Box b = slice_box(x_shape, a, ys);
  BL_CHECK_SHAPE(g.shape() == ys, "slice_backward: expected gradient ", ys, ", got ", g.shape());
  BL_ON_CUDA("slice backward", ws, g) return cuda_ops::slice_backward(g, x_shape, a);
  Tensor dx = Tensor::zeros(x_shape, ws);
  copy_box(g.data(), dx.data(), swapped(b));
  return dx;
}

// --- pad --------------------------------------------------------------------------------------

PadAttrs pad_attrs(const Shape& s, std::span<const int64_t> torch_pads, float value) {
  const size_t n = torch_pads.size();
  BL_CHECK_SHAPE(n % 2 == 0, "pad: expected pairs (before, after) per dim, got an odd number of pads (", n, ")");
  BL_CHECK_SHAPE(static_cast<int>(n / 2) <= s.rank(), "pad: expected at most ", s.rank(),
                 " (before, after) pairs for shape ", s, ", got ", n / 2);
  PadAttrs a;
  a.value = value;
  for (size_t k = 0; k < n / 2; ++k) {
    const int d = s.rank() - 1 - static_cast<int>(k);
    const int64_t before = torch_pads[2 * k], after = torch_pads[2 * k + 1];
    BL_CHECK_SHAPE(before >= 0 && after >= 0, "pad: expected pads >= 0, got (", before, ", ", after, ") for dim ", d,
                   " of shape ", s, " (cropping is not supported; use slice)");
    a.pads[2 * d] = before;
    a.pads[2 * d + 1] = after;
  }
  return a;
}

Shape padded_shape(const Shape& s, const PadAttrs& a) {
  Shape p = s;
  for (int d = 0; d < s.rank(); ++d) p[d] = s[d] + a.pads[2 * d] + a.pads[2 * d + 1];
  return p;
}

namespace {
// The box from x (contiguous) into the interior of the padded tensor.
Box pad_box(const Shape& xs, const PadAttrs& a) {
  const Shape ps = padded_shape(xs, a);
  Box b = box_of(xs);
  set_contiguous(xs, b.src_stride);
  set_contiguous(ps, b.dst_stride);
  for (int d = 0; d < xs.rank(); ++d) b.dst_offset += a.pads[2 * d] * ps.stride(d);
  return b;
}
}  // namespace

Tensor pad(const Tensor& x, const PadAttrs& a, const Workspace* ws) {
  BL_ON_CUDA("pad", ws, x) return cuda_ops::pad(x, a);
  Tensor y = Tensor::full(padded_shape(x.shape(), a), a.value, ws);
  copy_box(x.data(), y.data(), pad_box(x.shape(), a));
  return y;
}

Tensor pad_backward(const Tensor& g, const Shape& x_shape, const PadAttrs& a, const Workspace* ws) {
  BL_CHECK_SHAPE(g.shape() == padded_shape(x_shape, a), "pad_backward: expected gradient ",
                 padded_shape(x_shape, a), ", got ", g.shape());
  BL_ON_CUDA("pad backward", ws, g) return cuda_ops::pad_backward(g, x_shape, a);
  Tensor dx = Tensor::empty(x_shape, ws);
  copy_box(g.data(), dx.data(), swapped(pad_box(x_shape, a)));
  return dx;
}

// --- reshape helpers --------------------------------------------------------------------------

Shape flatten_shape(const Shape& s, int start_dim, int end_dim) {
  if (s.rank() == 0) return Shape{1};
  const int a = norm_axis(s, start_dim, "flatten"), e = norm_axis(s, end_dim, "flatten");
  BL_CHECK_SHAPE(a <= e, "flatten: expected start_dim <= end_dim, got start_dim ", start_dim, " and end_dim ",
                 end_dim, " for shape ", s);
  Shape out;
  for (int d = 0; d < a; ++d) out.push_back(s[d]);
  out.push_back(s.numel_range(a, e + 1));
  for (int d = e + 1; d < s.rank(); ++d) out.push_back(s[d]);
  return out;
}

}  // namespace backlight::fn
