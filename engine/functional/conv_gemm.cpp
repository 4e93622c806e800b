// GEMM-based convolution paths (see conv_paths.h for what each does).
//
// Why tiles: a whole-image im2col matrix is K x OH*OW floats (VGG features.2: 576 x 50176 =
// 115 MB at batch 1), written once and read back from DRAM by the GEMM. A tile of a few hundred
// columns is written and read back while it is still in L2, every thread builds its own tiles
// (im2col is parallel for free), and there is one parallel region per convolution instead of an
// im2col region plus a GEMM region per image.
#include <algorithm>
#include <cstring>

#include "engine/error.h"
#include "engine/functional/conv_paths.h"
#include "engine/functional/gemm.h"
#include "engine/parallel.h"

namespace backlight::fn::conv_paths {

namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
// Scratch sections start on 64-byte boundaries (the GEMM's packed panels use aligned loads).
int64_t align16(int64_t floats) { return (floats + 15) / 16 * 16; }

// Column tiles: one K block of a tile's im2col rows (at most 256 deep in the GEMM) holds about
// this many floats (256 KiB, with its packed copy half of a Zen L2).
constexpr int64_t kTileFloats = int64_t{1} << 16;
constexpr int64_t kMinTileCols = 128, kMaxTileCols = 2048;

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
  const int64_t target = tiling.target_cols > 0
                             ? tiling.target_cols
                             : std::clamp<int64_t>(kTileFloats / std::min<int64_t>(K, 256), kMinTileCols, kMaxTileCols);
  int64_t ipt = 1, tpi = 1;
  if (ohw > target) {
    tpi = std::max<int64_t>(1, (ohw + target / 2) / target);
  } else {
    ipt = std::clamp<int64_t>(target / std::max<int64_t>(ohw, 1), 1, g.n);
    if (tiling.max_images_per_tile > 0) ipt = std::min(ipt, tiling.max_images_per_tile);
    // Every thread gets a tile when the batch allows it.
    while (ipt > 1 && ceil_div(g.n, ipt) * G < threads) --ipt;
  }
  int64_t cpt = ceil_div(ohw, tpi);
  if (tpi > 1) cpt = std::min(ohw, (cpt + 15) / 16 * 16);  // whole 16-column panels
  tpi = ceil_div(ohw, cpt);                                 // no empty trailing tile
  const int64_t tiles = ceil_div(g.n, ipt) * G * tpi;
  // Fewer tiles than threads (one small image): split the output channels of each tile too.
  const int64_t mblocks = tiles >= threads ? 1 : std::min(ceil_div(threads, tiles), ceil_div(og, 6));
  const int64_t units = tiles * mblocks;
  const int slots = static_cast<int>(std::min<int64_t>(threads, units));
  const int64_t cols_max = ipt * cpt;
  const int64_t gemm_floats = align16(gemm::scratch_floats(cols_max, K));
  const int64_t per_slot = gemm_floats + (ipt > 1 ? align16(og * cols_max) : 0);
  Tensor scratch = Tensor::empty(Shape{slots, per_slot}, ws);

  auto unit = [&](int64_t u, int slot) {
    const int64_t mb = u % mblocks, tile = u / mblocks;
    const int64_t t = tile % tpi, gi = (tile / tpi) % G, nb = tile / (tpi * G);
    const int64_t n0 = nb * ipt, ni = std::min(g.n, n0 + ipt) - n0;
    const int64_t p0 = t * cpt, p1 = std::min(ohw, p0 + cpt), tc = p1 - p0, cols = ni * tc;
    // Output channels [m0, m1) of the group, split on 6-row micro-panel boundaries.
    const int64_t m0 = std::min(og, ceil_div(og * mb / mblocks, 6) * 6);
    const int64_t m1 = mb + 1 == mblocks ? og : std::min(og, ceil_div(og * (mb + 1) / mblocks, 6) * 6);
    if (m1 <= m0) return;
    float* gemm_scratch = scratch.data() + slot * per_slot;
    gemm::FillRows fill;
    if (pointwise && ni == 1) {
      fill = gemm::rows_of(x + (n0 * g.c + gi * cg) * hw + p0, hw, tc);
    } else {
      fill = [&](int64_t k0, int64_t k1, float* dst, int64_t ld) {
        for (int64_t k = 0; k < ni; ++k)
          im2col_tile(x + ((n0 + k) * g.c + gi * cg) * hw, g, k0, k1, p0, p1, dst + k * tc, ld);
      };
    }
    const gemm::MatrixA A{w + (gi * og + m0) * K, K};
    const float* b = bias ? bias + gi * og + m0 : nullptr;
    if (ni == 1) {
      float* c = y + (n0 * g.o + gi * og + m0) * ohw + p0;
      gemm::gemm(m1 - m0, tc, K, A, fill, c, ohw, b, false, gemm_scratch);
    } else {
      // Several whole images per tile: product into a [og, ni*ohw] block, then one copy per image.
      float* tmp = gemm_scratch + gemm_floats;
      gemm::gemm(m1 - m0, cols, K, A, fill, tmp, cols, b, false, gemm_scratch);
      for (int64_t k = 0; k < ni; ++k)
        for (int64_t o = m0; o < m1; ++o)
          std::memcpy(y + ((n0 + k) * g.o + gi * og + o) * ohw, tmp + (o - m0) * cols + k * ohw,
                      sizeof(float) * ohw);
    }
  };
  parallel_units(units, threads, unit);
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
  const int64_t tile = std::min(ohw, std::clamp<int64_t>(kTileFloats / max_rows, kMinTileCols, kMaxTileCols));
  const int slots = static_cast<int>(std::min<int64_t>(threads, units));
  const int64_t dcol_floats = align16(max_rows * tile);
  const int64_t per_slot = dcol_floats + align16(gemm::scratch_floats(tile, og));
  Tensor scratch = Tensor::empty(Shape{slots, per_slot}, ws);

  auto unit = [&](int64_t u, int slot) {
    const int64_t cb = u % cblocks, gi = (u / cblocks) % G, n = u / (cblocks * G);
    const int64_t c0 = cg * cb / cblocks, c1 = cg * (cb + 1) / cblocks, r0 = c0 * khw, r1 = c1 * khw;
    float* dxg = dx + (n * g.c + gi * cg) * hw;  // channel 0 of the group
    std::memset(dxg + c0 * hw, 0, sizeof(float) * (c1 - c0) * hw);
    float* dcol = scratch.data() + slot * per_slot;
    float* gemm_scratch = dcol + dcol_floats;
    // dcol[r, p] = sum_o W[o, r] g[o, p]: A = W_g^T, read in place.
    const gemm::MatrixA At{w + gi * og * K + r0, K, true};
    for (int64_t p0 = 0; p0 < ohw; p0 += tile) {
      const int64_t p1 = std::min(ohw, p0 + tile);
      gemm::gemm(r1 - r0, p1 - p0, og, At, gemm::rows_of(gy + (n * g.o + gi * og) * ohw + p0, ohw, p1 - p0), dcol,
                 p1 - p0, nullptr, false, gemm_scratch);
      col2im_tile(dcol, g, r0, r1, p0, p1, p1 - p0, dxg);
    }
  };
  parallel_units(units, threads, unit);
}

}  // namespace backlight::fn::conv_paths
