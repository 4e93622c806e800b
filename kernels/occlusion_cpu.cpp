// Occlusion kernels, threaded CPU implementation (production). See kernels/occlusion.h.
//
// occlude_batch copies each item row with memcpy and then overwrites only the window's box, one
// contiguous run of the last dimension at a time, so a row costs one streaming copy plus the
// window. occlusion_scatter is a gather: every element visits just the windows covering it
// (covering_range per dimension), so the cost is numel * windows-per-element, not
// numel * positions, and no two threads write the same element.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/parallel.h"
#include "kernels/detail/occlusion_math.h"
#include "kernels/occlusion.h"

namespace backlight {

using namespace occlusion_math;

// --- geometry -------------------------------------------------------------------------------------

namespace {
std::string list(const std::vector<int64_t>& v) {
  std::string s = "(";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + ")";
}
}  // namespace

OcclusionGeometry occlusion_geometry(const std::vector<int64_t>& item_dims, const std::vector<int64_t>& window,
                                     const std::vector<int64_t>& stride) {
  const int rank = static_cast<int>(item_dims.size());
  BL_CHECK(rank >= 1 && rank <= kOcclusionMaxRank, "occlusion: expected items of rank 1..", kOcclusionMaxRank,
           " (inputs [N, ...] without the batch axis), got rank ", rank);
  BL_CHECK(static_cast<int>(window.size()) == rank, "occlusion: expected a sliding window with ", rank,
           " dimensions (one per input dimension without the batch axis, input item shape ", list(item_dims), "), got ",
           list(window));
  BL_CHECK(stride.empty() || stride.size() == 1 || static_cast<int>(stride.size()) == rank,
           "occlusion: expected no stride, one stride or ", rank, " strides, got ", list(stride));
  OcclusionGeometry g;
  g.rank = rank;
  g.positions = 1;
  g.numel = 1;
  for (int d = 0; d < rank; ++d) {
    const int64_t s = stride.empty() ? 1 : stride.size() == 1 ? stride[0] : stride[d];
    BL_CHECK(window[d] >= 1 && window[d] <= item_dims[d], "occlusion: sliding window ", list(window),
             " does not fit the input item shape ", list(item_dims), " (dimension ", d, ")");
    BL_CHECK(s >= 1, "occlusion: strides must be >= 1, got ", list(stride));
    BL_CHECK(window[d] == item_dims[d] || s <= window[d], "occlusion: stride ", s, " is larger than the window (",
             window[d], ") in dimension ", d,
             "; elements between windows would never be occluded (Captum rejects this too)");
    g.dims[d] = item_dims[d];
    g.window[d] = window[d];
    g.stride[d] = s;
    g.counts[d] = (item_dims[d] - window[d] + s - 1) / s + 1;  // ceil((D - w) / s) + 1
    g.positions *= g.counts[d];
    g.numel *= item_dims[d];
  }
  return g;
}

// --- kernels --------------------------------------------------------------------------------------

namespace {

// Writes the baseline into the window box of position `pos` of one row (item n).
void fill_window(float* row, int64_t n, BaselineRef b, const OcclusionGeometry& g, int64_t pos) {
  int64_t lo[kOcclusionMaxRank], hi[kOcclusionMaxRank], k[kOcclusionMaxRank];
  window_origin(g, pos, lo);
  for (int d = 0; d < g.rank; ++d) {
    hi[d] = std::min(lo[d] + g.window[d], g.dims[d]);  // clip the overhang
    k[d] = lo[d];
  }
  const int last = g.rank - 1;
  const int64_t run = hi[last] - lo[last];
  for (;;) {
    int64_t off = 0;
    for (int d = 0; d < g.rank; ++d) off = off * g.dims[d] + k[d];
    if (b.data)
      std::memcpy(row + off, b.data + n * b.item_stride + off, static_cast<size_t>(run) * sizeof(float));
    else
      std::fill(row + off, row + off + run, b.value);
    int d = last - 1;
    while (d >= 0 && ++k[d] == hi[d]) {
      k[d] = lo[d];
      --d;
    }
    if (d < 0) return;
  }
}

}  // namespace

void occlude_batch_cpu(const float* input, int64_t items, BaselineRef baseline, const OcclusionGeometry& g,
                       int64_t first, int64_t count, float* out) {
  parallel_for(count * items, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const int64_t p = r / items, n = r % items;
      float* row = out + r * g.numel;
      std::memcpy(row, input + n * g.numel, static_cast<size_t>(g.numel) * sizeof(float));
      fill_window(row, n, baseline, g, first + p);
    }
  });
}

void occlusion_scatter_cpu(const float* diffs, int64_t items, const OcclusionGeometry& g, float* attr, float* counts) {
  parallel_for(g.numel, 256, [&](int64_t lo, int64_t hi) {
    std::vector<double> sum(static_cast<size_t>(items));
    for (int64_t e = lo; e < hi; ++e) {
      std::fill(sum.begin(), sum.end(), 0.0);
      int64_t cnt = 0;
      for_each_covering_window(g, e, [&](int64_t j) {
        ++cnt;
        const float* d = diffs + j * items;
        for (int64_t n = 0; n < items; ++n) sum[n] += d[n];
      });
      for (int64_t n = 0; n < items; ++n) attr[n * g.numel + e] += static_cast<float>(sum[n]);
      counts[e] += static_cast<float>(cnt);
    }
  });
}

void occlusion_divide_cpu(float* attr, int64_t items, int64_t numel, const float* counts) {
  parallel_for(items * numel, 1 << 14, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) attr[i] /= counts[i % numel];
  });
}

void mask_ablate_cpu(const float* input, int64_t items, int64_t numel, BaselineRef baseline, MaskRef mask,
                     int32_t first_id, int64_t count, float* out) {
  parallel_for(count * items, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const int64_t f = r / items, n = r % items;
      const int32_t id = static_cast<int32_t>(first_id + f);
      const float* x = input + n * numel;
      const int32_t* m = mask.ids + (mask.mask_items == 1 ? 0 : n) * numel;
      float* row = out + r * numel;
      if (baseline.data) {
        const float* b = baseline.data + n * baseline.item_stride;
        for (int64_t e = 0; e < numel; ++e) row[e] = m[e] == id ? b[e] : x[e];
      } else {
        for (int64_t e = 0; e < numel; ++e) row[e] = m[e] == id ? baseline.value : x[e];
      }
    }
  });
}

void mask_scatter_cpu(const float* values, int64_t features, int64_t items, int64_t numel, MaskRef mask,
                      int32_t first_id, float* attr) {
  parallel_for(items * numel, 1 << 12, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const int64_t n = i / numel, e = i % numel;
      const int64_t f = static_cast<int64_t>(mask_id(mask, n, e, numel)) - first_id;
      if (f >= 0 && f < features) attr[i] += values[f * items + n];
    }
  });
}

}  // namespace backlight
