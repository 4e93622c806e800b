// Region compute: crops gathered from region rows and cached values, the engine's ops on them.
#include "attribution/perturbation/incremental/region_ops.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "engine/error.h"
#include "engine/functional/conv.h"
#include "engine/functional/elementwise.h"
#include "engine/functional/pool.h"
#include "engine/parallel.h"
#include "kernels/detail/occlusion_math.h"

namespace backlight::incremental {

namespace {

// One output row of a crop: columns [x.lo, x.hi) of map row `base_row` (W wide), with the
// stored region row `region_row` (nullptr: none on this row) over columns [st.lo, st.hi).
void gather_row(float* dst, Interval x, const float* base_row, const float* region_row, Interval st, int64_t W,
                float fill) {
  int64_t ix = x.lo;
  auto run = [&](int64_t end, const float* src, int64_t src_lo) {  // copy [ix, end) from src
    if (end <= ix) return;
    if (src) std::memcpy(dst + (ix - x.lo), src + (ix - src_lo), static_cast<size_t>(end - ix) * sizeof(float));
    else std::fill(dst + (ix - x.lo), dst + (end - x.lo), fill);
    ix = end;
  };
  run(std::min<int64_t>(x.hi, 0), nullptr, 0);  // left of the map
  if (region_row) {
    run(std::min(x.hi, st.lo), base_row, 0);
    run(std::min(x.hi, st.hi), region_row, st.lo);
  }
  run(std::min(x.hi, W), base_row, 0);
  run(x.hi, nullptr, 0);  // right of the map
}

// Crop size: every crop of one call has the same size.
std::pair<int64_t, int64_t> crop_size(std::span<const Rect> crops) {
  BL_CHECK(!crops.empty(), "incremental occlusion: no crop rectangles");
  return {crops[0].y.size(), crops[0].x.size()};
}

std::vector<Rect> input_crops(const Tape& tape, const Node& node, std::span<const Rect> out) {
  const auto [wy, wx] = window_axes(tape, node);
  std::vector<Rect> crops(out.size());
  for (size_t p = 0; p < out.size(); ++p) crops[p] = {read_inputs(out[p].y, wy), read_inputs(out[p].x, wx)};
  return crops;
}

}  // namespace

Tensor gather(const RegionValue& v, int64_t rows, std::span<const Rect> crops, float fill, const Workspace& ws) {
  const Shape& s = v.base.shape();
  const int64_t items = s[0], C = s[1], H = s[2], W = s[3];
  const auto [ch, cw] = crop_size(crops);
  const bool whole = v.stored.empty();
  const int64_t h = v.rows.defined() ? v.rows.size(2) : 0, w = v.rows.defined() ? v.rows.size(3) : 0;
  BL_CHECK(static_cast<int64_t>(crops.size()) * items == rows, "incremental occlusion: ", crops.size(),
           " crops for ", rows, " rows of ", items, " items");
  Tensor dst = Tensor::empty(Shape{rows, C, ch, cw}, &ws);
  const float* pb = v.base.data();
  const float* pr = v.rows.defined() ? v.rows.data() : nullptr;
  float* pd = dst.data();
  parallel_for(rows * C, 4, [&](int64_t lo, int64_t hi) {
    for (int64_t plane = lo; plane < hi; ++plane) {
      const int64_t r = plane / C, c = plane % C, p = r / items, n = r % items;
      const Rect& crop = crops[p];
      const Rect st = whole ? Rect{{0, H}, {0, W}} : v.stored[p];
      const float* base_plane = pb + (n * C + c) * H * W;
      const float* region_plane = pr ? pr + plane * h * w : nullptr;
      float* out = pd + plane * ch * cw;
      for (int64_t y = 0; y < ch; ++y) {
        const int64_t iy = crop.y.lo + y;
        float* orow = out + y * cw;
        if (iy < 0 || iy >= H) {
          std::fill(orow, orow + cw, fill);
          continue;
        }
        const bool in_region = region_plane && iy >= st.y.lo && iy < st.y.hi;
        gather_row(orow, crop.x, base_plane + iy * W, in_region ? region_plane + (iy - st.y.lo) * w : nullptr, st.x,
                   W, fill);
      }
    }
  });
  return dst;
}

Tensor materialise(const RegionValue& v, int64_t rows, const Workspace& ws) {
  const Shape& s = v.base.shape();
  const std::vector<Rect> crops(static_cast<size_t>(rows / s[0]), Rect{{0, s[2]}, {0, s[3]}});
  return gather(v, rows, crops, 0.0f, ws);
}

std::pair<AxisWindow, AxisWindow> window_axes(const Tape& tape, const Node& node) {
  if (node.kind == OpKind::Conv2d) {
    const auto& a = std::get<Conv2dAttrs>(node.attrs);
    const Shape& w = tape.value(node.inputs.at(1)).tensor.shape();
    return {{w[2], a.stride_h, a.pad_h, a.dilation_h}, {w[3], a.stride_w, a.pad_w, a.dilation_w}};
  }
  const auto& a = std::get<Pool2dAttrs>(node.attrs);
  return {{a.kernel_h, a.stride_h, a.pad_h, a.dilation_h}, {a.kernel_w, a.stride_w, a.pad_w, a.dilation_w}};
}

Tensor region_conv(const Tape& tape, const Node& node, const RegionValue& x, int64_t rows, std::span<const Rect> out,
                   const Workspace& ws) {
  // The crop holds the zero padding itself, so the same convolution runs without padding.
  const Tensor crop = gather(x, rows, input_crops(tape, node, out), 0.0f, ws);
  Conv2dAttrs a = std::get<Conv2dAttrs>(node.attrs);
  a.pad_h = a.pad_w = 0;
  const Tensor& weight = tape.value(node.inputs.at(1)).tensor;
  const Tensor bias = node.inputs.size() > 2 ? tape.value(node.inputs[2]).tensor : Tensor();
  return fn::conv2d_forward(crop, weight, bias, a, &ws);
}

Tensor region_maxpool(const Tape& tape, const Node& node, const RegionValue& x, int64_t rows,
                      std::span<const Rect> out, const Workspace& ws) {
  // Padding and ceil_mode overhang count as -inf in PyTorch's max pooling: fill them so.
  const Tensor crop = gather(x, rows, input_crops(tape, node, out), -std::numeric_limits<float>::infinity(), ws);
  Pool2dAttrs a = std::get<Pool2dAttrs>(node.attrs);
  a.pad_h = a.pad_w = 0;
  a.ceil_mode = false;
  return fn::maxpool2d_forward(crop, a, &ws).y;
}

Tensor region_avgpool(const Tape& tape, const Node& node, const RegionValue& x, int64_t rows,
                      std::span<const Rect> out, const Workspace& ws) {
  // The divisors depend on where a window meets the padding, so the layer's own windows (on
  // the whole map) are walked over the crop rather than pooling the crop without padding.
  const std::vector<Rect> crops = input_crops(tape, node, out);
  const Tensor crop = gather(x, rows, crops, 0.0f, ws);
  const fn::Pool2dGeometry geo = fn::pool2d_geometry(x.base.shape(), std::get<Pool2dAttrs>(node.attrs), "avgpool2d");
  const int64_t items = x.base.size(0), C = crop.size(1), ch = crop.size(2), cw = crop.size(3);
  const int64_t h = out[0].y.size(), w = out[0].x.size();
  Tensor y = Tensor::empty(Shape{rows, C, h, w}, &ws);
  const float* pc = crop.data();
  float* py = y.data();
  parallel_for(rows * C, 4, [&](int64_t lo, int64_t hi) {
    for (int64_t plane = lo; plane < hi; ++plane) {
      const int64_t p = plane / C / items;
      const Rect& o = out[p];
      const Rect& cr = crops[p];
      const float* src = pc + plane * ch * cw;
      for (int64_t oy = o.y.lo; oy < o.y.hi; ++oy) {
        const fn::PoolRange& r = geo.rows[oy];
        for (int64_t ox = o.x.lo; ox < o.x.hi; ++ox) {
          const fn::PoolRange& c = geo.cols[ox];
          float s = 0.0f;
          for (int64_t iy = r.begin; iy < r.end; ++iy) {
            const float* row = src + (iy - cr.y.lo) * cw;
            for (int64_t ix = c.begin; ix < c.end; ++ix) s += row[ix - cr.x.lo];
          }
          // As fn::avgpool2d_forward's divisor.
          const int64_t d = geo.a.count_include_pad ? r.padded_extent * c.padded_extent
                                                    : (r.end - r.begin) * (c.end - c.begin);
          py[(plane * h + (oy - o.y.lo)) * w + (ox - o.x.lo)] = d > 0 ? s / static_cast<float>(d) : 0.0f;
        }
      }
    }
  });
  return y;
}

Tensor region_binary(const Node& node, const RegionValue& a, const RegionValue& b, int64_t rows,
                     std::span<const Rect> out, const Workspace& ws) {
  const fn::BinaryOp op = node.kind == OpKind::Add   ? fn::BinaryOp::Add
                          : node.kind == OpKind::Sub ? fn::BinaryOp::Sub
                                                     : fn::BinaryOp::Mul;
  return fn::binary(op, gather(a, rows, out, 0.0f, ws), gather(b, rows, out, 0.0f, ws), &ws);
}

Tensor occluded_region(const Tensor& inputs, const OcclusionGeometry& g, BaselineRef baseline, int64_t first,
                       int64_t count, std::span<const Rect> stored, const Workspace& ws) {
  const int64_t items = inputs.size(0), C = inputs.size(1), H = inputs.size(2), W = inputs.size(3);
  const int64_t rows = count * items;
  Tensor region = gather(RegionValue{inputs, Tensor(), {}}, rows, stored, 0.0f, ws);
  const int64_t h = region.size(2), w = region.size(3);
  float* pr = region.data();
  parallel_for(rows, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const int64_t p = r / items, n = r % items;
      int64_t origin[kOcclusionMaxRank];
      occlusion_math::window_origin(g, first + p, origin);
      const Rect& st = stored[p];
      // The window clipped to the map (it lies inside the stored rectangle by construction).
      const Interval cs = clamp({origin[0], origin[0] + g.window[0]}, C);
      const Interval ys = clamp({origin[1], origin[1] + g.window[1]}, H);
      const Interval xs = clamp({origin[2], origin[2] + g.window[2]}, W);
      const float* bl = baseline.data ? baseline.data + n * baseline.item_stride : nullptr;
      for (int64_t c = cs.lo; c < cs.hi; ++c)
        for (int64_t iy = ys.lo; iy < ys.hi; ++iy)
          for (int64_t ix = xs.lo; ix < xs.hi; ++ix)
            pr[((r * C + c) * h + (iy - st.y.lo)) * w + (ix - st.x.lo)] =
                bl ? bl[(c * H + iy) * W + ix] : baseline.value;
    }
  });
  return region;
}

}  // namespace backlight::incremental
