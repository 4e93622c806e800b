// GEMM-based convolution paths (see conv_paths.h for what each does).
//
// Why tiles: a whole-image im2col matrix is K x OH*OW floats (VGG features.2: 576 x 50176 =
// 115 MB at batch 1), written once and read back from DRAM by the GEMM. A tile of a few hundred
// columns is written and read back while it is still in L2, every thread builds its own tiles
// (im2col is parallel for free), and there is one parallel region per convolution instead of an
// im2col region plus a GEMM region per image.
#include <algorithm>
#include <cstring>

#include "engine/eigen.h"
#include "engine/error.h"
#include "engine/functional/conv_paths.h"
#include "engine/parallel.h"

namespace backlight::fn::conv_paths {

namespace {

using StridedMap = Eigen::Map<RowMatrix, Eigen::Unaligned, Eigen::OuterStride<>>;
using ConstStridedMap = Eigen::Map<const RowMatrix, Eigen::Unaligned, Eigen::OuterStride<>>;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Column tiles hold about this many floats of im2col data (~1 MiB: one Zen L2).
constexpr int64_t kTileFloats = int64_t{1} << 18;
constexpr int64_t kMinTileCols = 128, kMaxTileCols = 4096;

/// f(unit, thread) over [0, units) on all threads, contiguous static ranges (neighbouring tiles
/// of one image stay on one thread). Runs inline when there is one thread or we are nested.
template <class F>
void parallel_units(int64_t units, int threads, F&& f) {
  if (threads <= 1 || units <= 1) {
    for (int64_t u = 0; u < units; ++u) f(u, 0);
    return;
  }
#ifdef _OPENMP
#pragma omp parallel num_threads(static_cast<int>(std::min<int64_t>(threads, units)))
  {
    const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    for (int64_t u = units * t / nt; u < units * (t + 1) / nt; ++u) f(u, static_cast<int>(t));
  }
#else
  for (int64_t u = 0; u < units; ++u) f(u, 0);
#endif
}

int usable_threads() { return in_parallel_region() ? 1 : num_threads(); }

}  // namespace

bool is_pointwise(const ConvGeometry& g) {
  const auto& a = g.a;
  return g.kh == 1 && g.kw == 1 && a.stride_h == 1 && a.stride_w == 1 && a.pad_h == 0 && a.pad_w == 0;
}

bool is_depthwise(const ConvGeometry& g) { return g.a.groups > 1 && g.cg() == 1; }

bool flipped_backward_applies(const ConvGeometry& g) {
  const auto& a = g.a;
  return !is_depthwise(g) && a.stride_h == 1 && a.stride_w == 1 && a.pad_h <= a.dilation_h * (g.kh - 1) &&
         a.pad_w <= a.dilation_w * (g.kw - 1);
}

// --- im2col / col2im on tiles -------------------------------------------------------------------

void im2col_tile(const float* x, const ConvGeometry& g, int64_t r0, int64_t r1, int64_t p0, int64_t p1, float* col,
                 int64_t ld) {
  const auto& a = g.a;
  const int64_t khw = g.kh * g.kw;
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t c = r / khw, i = (r / g.kw) % g.kh, j = r % g.kw;
    const float* xc = x + c * g.h * g.w;
    float* d = col + (r - r0) * ld - p0;  // d[p] for p in [p0, p1)
    const int64_t off_x = j * a.dilation_w - a.pad_w;
    // Output columns ox with 0 <= ox*sw + off_x < w, i.e. ox in [ox_lo, ox_hi).
    const int64_t ox_lo = std::min<int64_t>(g.ow, std::max<int64_t>(0, ceil_div(-off_x, a.stride_w)));
    const int64_t ox_hi = std::max<int64_t>(ox_lo, std::min<int64_t>(g.ow, ceil_div(g.w - off_x, a.stride_w)));
    for (int64_t p = p0; p < p1;) {
      const int64_t oy = p / g.ow, ox0 = p % g.ow, ox1 = std::min<int64_t>(g.ow, ox0 + (p1 - p));
      const int64_t iy = oy * a.stride_h - a.pad_h + i * a.dilation_h;
      float* dr = d + oy * g.ow;  // dr[ox]
      if (iy < 0 || iy >= g.h) {
        for (int64_t ox = ox0; ox < ox1; ++ox) dr[ox] = 0.0f;
      } else {
        const float* src = xc + iy * g.w + off_x;  // src[ox * sw]
        const int64_t lo = std::clamp(ox_lo, ox0, ox1), hi = std::clamp(ox_hi, lo, ox1);
        for (int64_t ox = ox0; ox < lo; ++ox) dr[ox] = 0.0f;
        if (a.stride_w == 1) {
          for (int64_t ox = lo; ox < hi; ++ox) dr[ox] = src[ox];
        } else {
          for (int64_t ox = lo; ox < hi; ++ox) dr[ox] = src[ox * a.stride_w];
        }
        for (int64_t ox = hi; ox < ox1; ++ox) dr[ox] = 0.0f;
      }
      p += ox1 - ox0;
    }
  }
}

void col2im_tile(const float* col, const ConvGeometry& g, int64_t r0, int64_t r1, int64_t p0, int64_t p1,
                 int64_t ld, float* dx) {
  const auto& a = g.a;
  const int64_t khw = g.kh * g.kw;
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t c = r / khw, i = (r / g.kw) % g.kh, j = r % g.kw;
    float* xc = dx + c * g.h * g.w;
    const float* s = col + (r - r0) * ld - p0;
    const int64_t off_x = j * a.dilation_w - a.pad_w;
    const int64_t ox_lo = std::min<int64_t>(g.ow, std::max<int64_t>(0, ceil_div(-off_x, a.stride_w)));
    const int64_t ox_hi = std::max<int64_t>(ox_lo, std::min<int64_t>(g.ow, ceil_div(g.w - off_x, a.stride_w)));
    for (int64_t p = p0; p < p1;) {
      const int64_t oy = p / g.ow, ox0 = p % g.ow, ox1 = std::min<int64_t>(g.ow, ox0 + (p1 - p));
      const int64_t iy = oy * a.stride_h - a.pad_h + i * a.dilation_h;
      if (iy >= 0 && iy < g.h) {
        float* dst = xc + iy * g.w + off_x;
        const float* sr = s + oy * g.ow;
        const int64_t lo = std::clamp(ox_lo, ox0, ox1), hi = std::clamp(ox_hi, lo, ox1);
        if (a.stride_w == 1) {
          for (int64_t ox = lo; ox < hi; ++ox) dst[ox] += sr[ox];
        } else {
          for (int64_t ox = lo; ox < hi; ++ox) dst[ox * a.stride_w] += sr[ox];
        }
      }
      p += ox1 - ox0;
    }
  }
}

// --- forward ------------------------------------------------------------------------------------

void forward_gemm(const float* x, const float* w, const float* bias, const ConvGeometry& g, float* y,
                  const Workspace* ws, GemmTiling tiling) {
  const int64_t ohw = g.oh * g.ow, hw = g.h * g.w, K = g.k(), og = g.og(), cg = g.cg(), G = g.a.groups;
  const bool pointwise = is_pointwise(g);
  const int threads = usable_threads();

  // Tile plan: images per tile (ipt) x columns per tile (cpt); tpi tiles per image.
  const int64_t target = tiling.target_cols > 0 ? tiling.target_cols
                                                : std::clamp<int64_t>(kTileFloats / K, kMinTileCols, kMaxTileCols);
  int64_t ipt = 1, tpi = 1;
  if (ohw > target) {
    tpi = std::max<int64_t>(1, (ohw + target / 2) / target);
  } else {
    ipt = std::clamp<int64_t>(target / std::max<int64_t>(ohw, 1), 1, g.n);
    if (tiling.max_images_per_tile > 0) ipt = std::min(ipt, tiling.max_images_per_tile);
    // Every thread gets a tile when the batch allows it.
    while (ipt > 1 && ceil_div(g.n, ipt) * G < threads) --ipt;
  }
  const int64_t cpt = ceil_div(ohw, tpi);
  tpi = ceil_div(ohw, cpt);  // no empty trailing tile
  const int64_t units = ceil_div(g.n, ipt) * G * tpi;
  // Fewer tiles than threads: run the tiles one after another, Eigen threads each product.
  const bool parallel_tiles = units >= threads;
  const int slots = parallel_tiles ? threads : 1;
  const bool need_col = !(pointwise && ipt == 1);
  const int64_t col_floats = need_col ? K * ipt * cpt : 0;
  const int64_t out_floats = ipt > 1 ? og * ipt * ohw : 0;
  Tensor scratch;
  if (col_floats + out_floats > 0) scratch = Tensor::empty(Shape{slots, col_floats + out_floats}, ws);

  auto unit = [&](int64_t u, int slot) {
    const int64_t t = u % tpi, gi = (u / tpi) % G, nb = u / (tpi * G);
    const int64_t n0 = nb * ipt, ni = std::min(g.n, n0 + ipt) - n0;
    const int64_t p0 = t * cpt, p1 = std::min(ohw, p0 + cpt), tc = p1 - p0, cols = ni * tc;
    float* col = need_col ? scratch.data() + slot * (col_floats + out_floats) : nullptr;
    const float* rhs;
    int64_t ld;
    if (!need_col) {
      rhs = x + (n0 * g.c + gi * cg) * hw + p0;
      ld = hw;
    } else {
      for (int64_t k = 0; k < ni; ++k) {
        const float* xg = x + ((n0 + k) * g.c + gi * cg) * hw;
        if (parallel_tiles) {
          im2col_tile(xg, g, 0, K, p0, p1, col + k * tc, cols);
        } else {
          parallel_for(K, 8, [&](int64_t lo, int64_t hi) { im2col_tile(xg, g, lo, hi, p0, p1, col + lo * cols + k * tc, cols); });
        }
      }
      rhs = col;
      ld = cols;
    }
    const auto W = mat(w + gi * og * K, og, K);
    const ConstStridedMap R(rhs, K, cols, Eigen::OuterStride<>(ld));
    if (ni == 1) {
      StridedMap Y(y + (n0 * g.o + gi * og) * ohw + p0, og, tc, Eigen::OuterStride<>(ohw));
      Y.noalias() = W * R;
      if (bias)
        for (int64_t o = 0; o < og; ++o) Y.row(o).array() += bias[gi * og + o];
    } else {
      float* tmp = scratch.data() + slot * (col_floats + out_floats) + col_floats;
      auto Tm = mat(tmp, og, cols);
      Tm.noalias() = W * R;
      for (int64_t k = 0; k < ni; ++k)
        for (int64_t o = 0; o < og; ++o) {
          const float* s = tmp + o * cols + k * ohw;
          float* d = y + ((n0 + k) * g.o + gi * og + o) * ohw;
          const float b = bias ? bias[gi * og + o] : 0.0f;
          for (int64_t q = 0; q < ohw; ++q) d[q] = s[q] + b;
        }
    }
  };
  if (parallel_tiles) {
    parallel_units(units, threads, unit);
  } else {
    for (int64_t u = 0; u < units; ++u) unit(u, 0);
  }
}

// --- backward input -----------------------------------------------------------------------------

void backward_input_flipped(const float* gy, const float* w, const ConvGeometry& g, float* dx, const Workspace* ws,
                            GemmTiling tiling) {
  BL_CHECK(flipped_backward_applies(g), "conv2d backward: flipped-kernel path needs stride 1 and pad <= dilation*(k-1)");
  const auto& a = g.a;
  Conv2dAttrs fa = a;
  fa.pad_h = a.dilation_h * static_cast<int>(g.kh - 1) - a.pad_h;
  fa.pad_w = a.dilation_w * static_cast<int>(g.kw - 1) - a.pad_w;
  const ConvGeometry f = conv2d_geometry(Shape{g.n, g.o, g.oh, g.ow}, Shape{g.c, g.og(), g.kh, g.kw}, fa);
  BL_CHECK(f.oh == g.h && f.ow == g.w, "conv2d backward: flipped geometry gives ", f.oh, "x", f.ow, ", expected ",
           g.h, "x", g.w);
  // W'[gi*cg + c, o, kh-1-i, kw-1-j] = W[gi*og + o, c, i, j]
  const int64_t khw = g.kh * g.kw, og = g.og(), cg = g.cg(), K = g.k();
  Tensor wf = Tensor::empty(Shape{g.c, og, g.kh, g.kw}, ws);
  float* pf = wf.data();
  parallel_for(g.c, 16, [&](int64_t lo, int64_t hi) {
    for (int64_t cc = lo; cc < hi; ++cc) {
      const int64_t gi = cc / cg, c = cc % cg;
      for (int64_t o = 0; o < og; ++o) {
        const float* src = w + (gi * og + o) * K + c * khw;
        float* dst = pf + (cc * og + o) * khw;
        for (int64_t k = 0; k < khw; ++k) dst[khw - 1 - k] = src[k];
      }
    }
  });
  forward_gemm(gy, pf, nullptr, f, dx, ws, tiling);
}

void backward_input_col2im(const float* gy, const float* w, const ConvGeometry& g, float* dx, const Workspace* ws) {
  const int64_t ohw = g.oh * g.ow, hw = g.h * g.w, K = g.k(), og = g.og(), cg = g.cg(), G = g.a.groups;
  const int64_t khw = g.kh * g.kw;
  const int threads = usable_threads();
  // Units (image, group, block of input channels) own disjoint dx channels: no write conflicts.
  int64_t cblocks = 1;
  if (g.n * G < threads) cblocks = std::min<int64_t>(cg, ceil_div(threads, g.n * G));
  const int64_t units = g.n * G * cblocks;
  const int64_t max_rows = ceil_div(cg, cblocks) * khw;
  const int64_t tile = std::clamp<int64_t>(kTileFloats / max_rows, std::min<int64_t>(kMinTileCols, ohw), ohw);
  const bool parallel = units >= threads;
  const int slots = parallel ? threads : 1;
  Tensor scratch = Tensor::empty(Shape{slots, max_rows * tile}, ws);

  auto unit = [&](int64_t u, int slot) {
    const int64_t cb = u % cblocks, gi = (u / cblocks) % G, n = u / (cblocks * G);
    const int64_t c0 = cg * cb / cblocks, c1 = cg * (cb + 1) / cblocks, r0 = c0 * khw, r1 = c1 * khw;
    float* dxg = dx + (n * g.c + gi * cg) * hw;  // channel 0 of the group
    std::memset(dxg + c0 * hw, 0, sizeof(float) * (c1 - c0) * hw);
    float* dcol = scratch.data() + slot * max_rows * tile;
    const ConstStridedMap Wb(w + gi * og * K + r0, og, r1 - r0, Eigen::OuterStride<>(K));
    for (int64_t p0 = 0; p0 < ohw; p0 += tile) {
      const int64_t p1 = std::min(ohw, p0 + tile);
      const ConstStridedMap Gt(gy + (n * g.o + gi * og) * ohw + p0, og, p1 - p0, Eigen::OuterStride<>(ohw));
      mat(dcol, r1 - r0, p1 - p0).noalias() = Wb.transpose() * Gt;
      col2im_tile(dcol, g, r0, r1, p0, p1, p1 - p0, dxg);
    }
  };
  if (parallel) {
    parallel_units(units, threads, unit);
  } else {
    for (int64_t u = 0; u < units; ++u) unit(u, 0);
  }
}

}  // namespace backlight::fn::conv_paths
