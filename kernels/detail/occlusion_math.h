#pragma once
/// Window arithmetic of the occlusion sweep, written once for host and device (BL_HD).
/// All functions are pure; geometry as in kernels/occlusion.h.
#include <cstdint>

#include "engine/hd.h"
#include "kernels/occlusion.h"

namespace backlight::occlusion_math {

/// Origin (first covered index) of window position `pos` along every dimension: Captum's base
/// conversion with dimension 0 fastest.
BL_HD inline void window_origin(const OcclusionGeometry& g, int64_t pos, int64_t* origin) {
  for (int d = 0; d < g.rank; ++d) {
    origin[d] = (pos % g.counts[d]) * g.stride[d];
    pos /= g.counts[d];
  }
}

/// Whether window [origin, origin + window) covers coordinate x along one dimension. The window
/// may overhang the end of the dimension; coordinates past the end do not exist, so the overhang
/// is clipped by construction.
BL_HD inline bool covers(int64_t origin, int64_t window, int64_t x) { return x >= origin && x < origin + window; }

/// Whether the window of position `pos` covers flat element `e` of an item.
BL_HD inline bool window_covers(const OcclusionGeometry& g, int64_t pos, int64_t e) {
  for (int d = g.rank - 1; d >= 0; --d) {
    const int64_t x = e % g.dims[d];
    e /= g.dims[d];
    int64_t p = pos;
    for (int q = 0; q < d; ++q) p /= g.counts[q];
    if (!covers((p % g.counts[d]) * g.stride[d], g.window[d], x)) return false;
  }
  return true;
}

/// Window indices k along one dimension whose window covers coordinate x: k*stride <= x <
/// k*stride + window, i.e. k in [ceil((x - window + 1) / stride), floor(x / stride)], clipped to
/// [0, count). Returns the half-open range [lo, hi) (empty when lo >= hi).
BL_HD inline void covering_range(int64_t x, int64_t window, int64_t stride, int64_t count, int64_t& lo, int64_t& hi) {
  const int64_t first = x - window + 1;  // may be negative
  lo = first <= 0 ? 0 : (first + stride - 1) / stride;
  hi = x / stride + 1;
  if (hi > count) hi = count;
}

/// Unravels flat element e of an item into coordinates.
BL_HD inline void unravel(const OcclusionGeometry& g, int64_t e, int64_t* coord) {
  for (int d = g.rank - 1; d >= 0; --d) {
    coord[d] = e % g.dims[d];
    e /= g.dims[d];
  }
}

/// Calls f(position) for every window position that covers flat element e (the gather side of
/// occlusion_scatter): an odometer over the per-dimension covering ranges.
template <class F>
BL_HD inline void for_each_covering_window(const OcclusionGeometry& g, int64_t e, F&& f) {
  int64_t coord[kOcclusionMaxRank], lo[kOcclusionMaxRank], hi[kOcclusionMaxRank], k[kOcclusionMaxRank];
  unravel(g, e, coord);
  for (int d = 0; d < g.rank; ++d) {
    covering_range(coord[d], g.window[d], g.stride[d], g.counts[d], lo[d], hi[d]);
    if (lo[d] >= hi[d]) return;
    k[d] = lo[d];
  }
  for (;;) {
    int64_t pos = 0;
    for (int d = g.rank - 1; d >= 0; --d) pos = pos * g.counts[d] + k[d];
    f(pos);
    int d = 0;
    while (d < g.rank && ++k[d] == hi[d]) {
      k[d] = lo[d];
      ++d;
    }
    if (d == g.rank) return;
  }
}

/// The baseline value for element e of item n.
BL_HD inline float baseline_at(const BaselineRef& b, int64_t n, int64_t e) {
  return b.data ? b.data[n * b.item_stride + e] : b.value;
}

/// The feature id of element e of item n.
BL_HD inline int32_t mask_id(const MaskRef& m, int64_t n, int64_t e, int64_t numel) {
  return m.ids[(m.mask_items == 1 ? 0 : n) * numel + e];
}

}  // namespace backlight::occlusion_math
