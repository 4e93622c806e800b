// GEMM-based convolution paths (see conv_paths.h for what each does).
//
// Why tiles: a whole-image im2col matrix is K x OH*OW floats (VGG features.2: 576 x 50176 =
// 115 MB at batch 1), written once and read back from DRAM by the GEMM. A tile's im2col rows are
// produced 256 at a time into the GEMM's packing buffers while they are still in L2, every
// thread builds its own tiles (im2col is parallel for free), and there is one parallel region
// per convolution instead of an im2col region plus a GEMM region per image.
#include <algorithm>
#include <cstring>
#include <functional>

#include "engine/error.h"
#include "engine/functional/conv_paths.h"
#include "engine/functional/gemm.h"
#include "engine/parallel.h"

namespace backlight::fn::conv_paths {

namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
// ceil(a / b) for any sign of a (b > 0): window offsets may be negative.
int64_t ceil_div_signed(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }
// Scratch sections start on 64-byte boundaries (the GEMM's packed panels use aligned loads).
int64_t align16(int64_t floats) { return (floats + 15) / 16 * 16; }

// Column tiles: one K block of a tile's im2col rows (at most 256 deep in the GEMM) holds about
// this many floats (256 KiB; with the staging copy that is a core's 512 KiB L2 on the bench VM).
// Measured against 2^15: equal or up to 8% faster on the ResNet-18 / VGG-16 layers.
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
  return !is_depthwise(g) && g.a.stride_h == 1 && g.a.stride_w == 1;
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
    const int64_t ox_lo = std::min<int64_t>(g.ow, std::max<int64_t>(0, ceil_div_signed(-off_x, a.stride_w)));
    const int64_t ox_hi = std::max<int64_t>(ox_lo, std::min<int64_t>(g.ow, ceil_div_signed(g.w - off_x, a.stride_w)));
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
    const int64_t ox_lo = std::min<int64_t>(g.ow, std::max<int64_t>(0, ceil_div_signed(-off_x, a.stride_w)));
    const int64_t ox_hi = std::max<int64_t>(ox_lo, std::min<int64_t>(g.ow, ceil_div_signed(g.w - off_x, a.stride_w)));
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

namespace {

// The weight operand of group gi from output row m0 on (row-major W, or W read transposed by
// blocks for the backward-input product).
using WeightOperand = std::function<gemm::MatrixA(int64_t gi, int64_t m0)>;

void forward_gemm_impl(const float* x, const WeightOperand& weight, const float* bias, const ConvGeometry& g,
                       float* y, const Workspace* ws, GemmTiling tiling) {
  const int64_t ohw = g.oh * g.ow, hw = g.h * g.w, K = g.k(), og = g.og(), cg = g.cg(), G = g.a.groups;
  const bool pointwise = is_pointwise(g);
  const int threads = usable_threads();

  // Tile plan. Large images: tpi tiles per image, each a run of whole 16-column panels (the
  // GEMM's width). Small images: ngroups tiles of whole images (a tile's product is then as wide
  // as several images). Tile counts are rounded up to a multiple of the thread count while they
  // are few, so that no thread idles while another finishes a last tile.
  const int64_t target = tiling.target_cols > 0
                             ? tiling.target_cols
                             : std::clamp<int64_t>(kTileFloats / std::min<int64_t>(K, 256), kMinTileCols, kMaxTileCols);
  const int64_t panels = ceil_div(ohw, 16);
  auto balanced = [&](int64_t count, int64_t per, int64_t limit) {
    // Smallest c >= count with (c * per) % threads == 0, if that stays within 1.5x and <= limit.
    for (int64_t c = count; c <= std::min(limit, count + count / 2 + 1); ++c)
      if ((c * per) % threads == 0) return c;
    return count;
  };
  int64_t tpi = 1, ngroups = g.n;
  if (ohw > target) {
    tpi = std::clamp<int64_t>((ohw + target / 2) / target, 1, panels);
    if (g.n * G * tpi < 8 * threads) tpi = balanced(tpi, g.n * G, panels);
  } else {
    int64_t ipt = std::clamp<int64_t>(target / std::max<int64_t>(ohw, 1), 1, g.n);
    if (tiling.max_images_per_tile > 0) ipt = std::min(ipt, tiling.max_images_per_tile);
    ngroups = ceil_div(g.n, ipt);
    if (ngroups * G < 8 * threads) ngroups = balanced(ngroups, G, g.n);
  }
  const int64_t max_imgs = ceil_div(g.n, ngroups);
  const int64_t max_cols = tpi > 1 ? std::min(ohw, 16 * ceil_div(panels, tpi)) : ohw;
  const int64_t tiles = ngroups * G * tpi;

  // B of the tile covering images [n0, n0+ni), group gi, columns [p0, p1) of each image.
  auto make_fill = [&](int64_t n0, int64_t ni, int64_t gi, int64_t p0, int64_t p1) -> gemm::FillRows {
    if (pointwise && ni == 1) return gemm::rows_of(x + (n0 * g.c + gi * cg) * hw + p0, hw, p1 - p0);
    return [=, &g](int64_t k0, int64_t k1, float* dst, int64_t ld) {
      for (int64_t k = 0; k < ni; ++k)
        im2col_tile(x + ((n0 + k) * g.c + gi * cg) * hw, g, k0, k1, p0, p1, dst + k * (p1 - p0), ld);
    };
  };

  if (tiles == 1 && threads > 1 && og >= 12) {
    // One image, one tile (a 14x14 or 7x7 layer at batch 1): the threads pack the tile's B
    // together (K blocks round-robin), then each multiplies its share of the output channels.
    const gemm::FillRows fill = make_fill(0, 1, 0, 0, ohw);
    Tensor packed = Tensor::empty(Shape{gemm::packed_floats(ohw, K)}, ws);
    const int64_t per_thread = align16(gemm::pack_scratch_floats(ohw, K)) + align16(gemm::scratch_floats(ohw, K));
    Tensor scratch = Tensor::empty(Shape{threads, per_thread}, ws);
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
    {
      const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
      float* staging = scratch.data() + t * per_thread;
      for (int64_t b = t; b < gemm::num_blocks(K); b += nt) gemm::pack_block(fill, b, ohw, K, packed.data(), staging);
#pragma omp barrier
      const int64_t m0 = std::min(og, 6 * (ceil_div(og, 6) * t / nt)), m1 = std::min(og, 6 * (ceil_div(og, 6) * (t + 1) / nt));
      if (m1 > m0)
        gemm::gemm_packed(m1 - m0, ohw, K, weight(0, m0), packed.data(), y + m0 * ohw, ohw, bias ? bias + m0 : nullptr,
                          false, staging + align16(gemm::pack_scratch_floats(ohw, K)));
    }
    return;
#endif
  }
  // A weight that many column tiles use is packed once (into the GEMM's 6-row panels) instead
  // of once per tile; the tiles then read the packed copy.
  Tensor packed_w;
  WeightOperand wop = weight;
  if (tiles / G >= 2 && max_imgs * max_cols > 64 && !gemm::packed_a_pays()) {
    // The Eigen fallback reads row-major and transposed weights in place but rebuilds a packed or
    // blocked one on every call: a blocked weight (the flipped backward of a k x k conv) is copied
    // row-major once here instead of once per tile.
    if (weight(0, 0).block > 1) {
      packed_w = Tensor::empty(Shape{G * og * K}, ws);
      float* pw = packed_w.data();
      parallel_for(G * og, 16, [&](int64_t lo, int64_t hi) {
        for (int64_t u = lo; u < hi; ++u) {
          const gemm::MatrixA a = weight(u / og, 0);
          const int64_t i = u % og;
          for (int64_t p = 0; p < K; ++p) pw[u * K + p] = a.data[(p / a.block) * a.ld + i * a.block + p % a.block];
        }
      });
      wop = [pw, og, K](int64_t gi, int64_t m0) { return gemm::MatrixA{pw + (gi * og + m0) * K, K}; };
    }
  } else if (tiles / G >= 2 && max_imgs * max_cols > 64) {
    const int64_t per_group = gemm::packed_a_floats(og, K), panels_g = ceil_div(og, 6);
    packed_w = Tensor::empty(Shape{G * per_group}, ws);
    float* pw = packed_w.data();
    parallel_for(G * panels_g, 4, [&](int64_t lo, int64_t hi) {
      for (int64_t u = lo; u < hi; ++u)
        gemm::pack_a_panels(weight(u / panels_g, 0), og, K, u % panels_g, u % panels_g + 1,
                            pw + (u / panels_g) * per_group);
    });
    wop = [pw, per_group, K](int64_t gi, int64_t m0) {
      return gemm::MatrixA{pw + gi * per_group + (m0 / 6) * K * 6, K, false, 0, true};
    };
  }
  const int64_t units = tiles;
  const int slots = static_cast<int>(std::min<int64_t>(threads, units));
  const int64_t cols_max = max_imgs * max_cols;
  const int64_t gemm_floats = align16(gemm::scratch_floats(cols_max, K));
  const int64_t per_slot = gemm_floats + (max_imgs > 1 ? align16(og * cols_max) : 0);
  Tensor scratch = Tensor::empty(Shape{slots, per_slot}, ws);

  auto unit = [&](int64_t tile, int slot) {
    const int64_t t = tile % tpi, gi = (tile / tpi) % G, grp = tile / (tpi * G);
    const int64_t n0 = g.n * grp / ngroups, ni = g.n * (grp + 1) / ngroups - n0;
    const int64_t p0 = std::min(ohw, 16 * (panels * t / tpi)), p1 = std::min(ohw, 16 * (panels * (t + 1) / tpi));
    const int64_t tc = p1 - p0, cols = ni * tc;
    if (cols == 0) return;
    float* gemm_scratch = scratch.data() + slot * per_slot;
    const gemm::FillRows fill = make_fill(n0, ni, gi, p0, p1);
    const gemm::MatrixA A = wop(gi, 0);
    const float* b = bias ? bias + gi * og : nullptr;
    if (ni == 1) {
      gemm::gemm(og, tc, K, A, fill, y + (n0 * g.o + gi * og) * ohw + p0, ohw, b, false, gemm_scratch);
    } else {
      // Several whole images per tile: product into a [og, ni*ohw] block, then one copy per image.
      float* tmp = gemm_scratch + gemm_floats;
      gemm::gemm(og, cols, K, A, fill, tmp, cols, b, false, gemm_scratch);
      for (int64_t k = 0; k < ni; ++k)
        for (int64_t o = 0; o < og; ++o)
          std::memcpy(y + ((n0 + k) * g.o + gi * og + o) * ohw, tmp + o * cols + k * ohw, sizeof(float) * ohw);
    }
  };
  parallel_units(units, threads, unit);
}

}  // namespace

void forward_gemm(const float* x, const float* w, const float* bias, const ConvGeometry& g, float* y,
                  const Workspace* ws, GemmTiling tiling) {
  const int64_t og = g.og(), K = g.k();
  forward_gemm_impl(
      x, [&](int64_t gi, int64_t m0) { return gemm::MatrixA{w + (gi * og + m0) * K, K}; }, bias, g, y, ws, tiling);
}

// --- backward input -----------------------------------------------------------------------------

void backward_input_flipped(const float* gy, const float* w, const ConvGeometry& g, float* dx, const Workspace* ws,
                            GemmTiling tiling) {
  BL_CHECK(flipped_backward_applies(g), "conv2d backward: flipped-kernel path needs stride 1 (and not depthwise)");
  // With stride 1, dx[c, y, x] = sum_{o,i,j} W[o, c, i, j] g[o, y + ph - i*dh, x + pw - j*dw]: a
  // forward convolution over g whose im2col rows (o, i, j) use padding -ph and dilation -dh
  // (im2col_tile takes the signed offsets as they are), and whose weight A[c, (o, i, j)] =
  // W[o, c, i, j] is W read in blocks of kh*kw (gemm::MatrixA::block): no flipped copy of W.
  ConvGeometry f = g;
  f.c = g.o;
  f.h = g.oh;
  f.w = g.ow;
  f.o = g.c;
  f.oh = g.h;
  f.ow = g.w;
  f.a.pad_h = -g.a.pad_h;
  f.a.pad_w = -g.a.pad_w;
  f.a.dilation_h = -g.a.dilation_h;
  f.a.dilation_w = -g.a.dilation_w;
  const int64_t og = g.og(), K = g.k(), khw = g.kh * g.kw;
  forward_gemm_impl(
      gy, [&](int64_t gi, int64_t m0) { return gemm::MatrixA{w + gi * og * K + m0 * khw, K, false, khw}; }, nullptr,
      f, dx, ws, tiling);
}

void backward_input_col2im(const float* gy, const float* w, const ConvGeometry& g, float* dx, const Workspace* ws) {
  const int64_t ohw = g.oh * g.ow, hw = g.h * g.w, K = g.k(), og = g.og(), cg = g.cg(), G = g.a.groups;
  const int64_t khw = g.kh * g.kw;
  const int threads = usable_threads();
  // Units own disjoint dx channels (image, group, block of input channels), so the scatter needs
  // no atomics. Batch invariance: a dx element sums its col2im contributions in an order fixed by
  // the column tiles, so the tile width follows the geometry alone (all cg channels' rows), never
  // the channel blocks; and one image is not split by columns with per-thread copies of dx summed
  // at the end (that earlier path for a stem conv at batch 1 changed the sums with the thread
  // count). tests/engine/test_conv_batch_invariance.cpp.
  int64_t cblocks = 1;
  if (g.n * G < threads) cblocks = std::min<int64_t>(cg, ceil_div(threads, g.n * G));
  const int64_t units = g.n * G * cblocks;
  const int64_t max_rows = ceil_div(cg, cblocks) * khw;
  const int64_t tile = std::min(ohw, std::clamp<int64_t>(kTileFloats / (cg * khw), kMinTileCols, kMaxTileCols));
  const int slots = static_cast<int>(std::min<int64_t>(threads, units));
  const int64_t dcol_floats = align16(max_rows * tile);
  const int64_t per_slot = dcol_floats + align16(gemm::scratch_floats(tile, og));
  Tensor scratch = Tensor::empty(Shape{slots, per_slot}, ws);

  auto unit = [&](int64_t u, int slot) {
    const int64_t cb = u % cblocks, gi = (u / cblocks) % G, n = u / (cblocks * G);
    const int64_t c0 = cg * cb / cblocks, c1 = cg * (cb + 1) / cblocks, r0 = c0 * khw, r1 = c1 * khw;
    float* dcol = scratch.data() + slot * per_slot;
    float* gemm_scratch = dcol + dcol_floats;
    float* dxg = dx + (n * g.c + gi * cg) * hw;  // channel 0 of the group
    std::memset(dxg + c0 * hw, 0, sizeof(float) * (c1 - c0) * hw);
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
