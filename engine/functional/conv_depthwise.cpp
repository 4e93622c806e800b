// Depthwise convolution (groups == C, any channel multiplier): a SIMD path (below) and the direct
// loops over the window (kept as the fallback for non-finite weights and negative backward pads).
// A GEMM per group would have one output row per product, far below the GEMM's efficiency.
// Per output row and tap, the range of output columns whose input column is inside the image is
// computed once, so the innermost loop has no bounds test: a contiguous multiply-add the compiler
// vectorises at stride 1 (strided loads otherwise). Memory-bound: each input plane is read kh*kw
// times from L1/L2 (planes are at most 112x112x4 = 49 KiB).
#include <Eigen/Core>
#include <algorithm>
#include <cstring>
#include <vector>

#include "engine/error.h"
#include "engine/finite.h"
#include "engine/functional/conv_paths.h"
#include "engine/parallel.h"

namespace backlight::fn::conv_paths {

namespace {

// Output columns [lo, hi) whose input column ox*stride - pad + j*dil lies in [0, w).
void column_range(int64_t j, const ConvGeometry& g, int64_t& lo, int64_t& hi) {
  const int64_t s = g.a.stride_w, off = j * g.a.dilation_w - g.a.pad_w;  // ix = ox*s + off
  lo = off >= 0 ? 0 : (-off + s - 1) / s;
  hi = g.w - off <= 0 ? 0 : std::min<int64_t>(g.ow, (g.w - off + s - 1) / s);
  if (hi < lo) hi = lo;
}

}  // namespace

void forward_depthwise_direct(const float* x, const float* w, const float* b, const ConvGeometry& g, float* y) {
  const auto& a = g.a;
  const int64_t mult = g.og();  // outputs per input channel
  const int64_t sw = a.stride_w;
  parallel_for(g.n * g.o, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t no = lo; no < hi; ++no) {
      const int64_t n = no / g.o, o = no % g.o, c = o / mult;
      const float* xc = x + (n * g.c + c) * g.h * g.w;
      const float* wo = w + o * g.kh * g.kw;
      float* yo = y + no * g.oh * g.ow;
      const float bias = b ? b[o] : 0.0f;
      for (int64_t oy = 0; oy < g.oh; ++oy) {
        float* yr = yo + oy * g.ow;
        std::fill(yr, yr + g.ow, bias);
        for (int64_t i = 0; i < g.kh; ++i) {
          const int64_t iy = oy * a.stride_h - a.pad_h + i * a.dilation_h;
          if (iy < 0 || iy >= g.h) continue;
          const float* xr = xc + iy * g.w;
          for (int64_t j = 0; j < g.kw; ++j) {
            int64_t c0, c1;
            column_range(j, g, c0, c1);
            const float wv = wo[i * g.kw + j];
            const int64_t off = j * a.dilation_w - a.pad_w;  // input column ox * sw + off
            if (sw == 1) {
              const float* xs = xr + (c0 + off);
              float* ys = yr + c0;
              for (int64_t k = 0; k < c1 - c0; ++k) ys[k] += wv * xs[k];
            } else {
              for (int64_t ox = c0; ox < c1; ++ox) yr[ox] += wv * xr[ox * sw + off];
            }
          }
        }
      }
    }
  });
}

void backward_input_depthwise_direct(const float* gy, const float* w, const ConvGeometry& g, float* dx) {
  const auto& a = g.a;
  const int64_t mult = g.og();
  const int64_t sw = a.stride_w;
  parallel_for(g.n * g.c, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t nc = lo; nc < hi; ++nc) {
      const int64_t n = nc / g.c, c = nc % g.c;
      float* dxc = dx + nc * g.h * g.w;
      std::memset(dxc, 0, g.h * g.w * sizeof(float));
      for (int64_t m = 0; m < mult; ++m) {
        const int64_t o = c * mult + m;
        const float* go = gy + (n * g.o + o) * g.oh * g.ow;
        const float* wo = w + o * g.kh * g.kw;
        for (int64_t oy = 0; oy < g.oh; ++oy) {
          const float* gr = go + oy * g.ow;
          for (int64_t i = 0; i < g.kh; ++i) {
            const int64_t iy = oy * a.stride_h - a.pad_h + i * a.dilation_h;
            if (iy < 0 || iy >= g.h) continue;
            float* dr = dxc + iy * g.w;
            for (int64_t j = 0; j < g.kw; ++j) {
              int64_t c0, c1;
              column_range(j, g, c0, c1);
              const float wv = wo[i * g.kw + j];
              const int64_t off = j * a.dilation_w - a.pad_w;
              if (sw == 1) {
                float* ds = dr + (c0 + off);
                const float* gs = gr + c0;
                for (int64_t k = 0; k < c1 - c0; ++k) ds[k] += wv * gs[k];
              } else {
                for (int64_t ox = c0; ox < c1; ++ox) dr[ox * sw + off] += wv * gr[ox];
              }
            }
          }
        }
      }
    }
  });
}

// --- SIMD path ------------------------------------------------------------------------------
// Per plane: copy the input (forward) or the upstream gradient (backward) into a zero-padded
// scratch plane, its columns split by phase modulo the stride, so that every tap (i, j) reads
// the output columns ox..ox+B-1 from B contiguous floats. Accumulators for B = 1 or 2 packets of
// output columns stay in registers over all kh*kw taps and are stored once (the direct loops
// above read and write the output row once per tap). The backward pass is the same kernel: dx is
// the stride-1 correlation of g, zero-upsampled by the stride and padded by (k-1)*d - p, with
// the window flipped. Zero padding is multiplied by the weights here (the direct loops skip it),
// so 0 x Inf would give NaN where PyTorch gives a finite border: non-finite weights take the
// direct loops.

// Eigen's packet types are vector types with attributes (__m512, __m256); naming them as template
// arguments (pset1<Packet>) makes GCC warn that the attributes are ignored, which is harmless.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wignored-attributes"
#endif

namespace {

using Packet = Eigen::internal::packet_traits<float>::type;
constexpr int64_t kLanes = static_cast<int64_t>(sizeof(Packet) / sizeof(float));
// Narrow maps (7x7 at ConvNeXt's last stage) take half-width packets: 7 of 8 lanes busy, not 7 of 16.
using HalfPacket = Eigen::internal::unpacket_traits<Packet>::half;
constexpr int64_t kHalfLanes = static_cast<int64_t>(sizeof(HalfPacket) / sizeof(float));

struct PlanePlan {
  int64_t sh = 0, sw = 0;        // source plane
  int64_t up_h = 1, up_w = 1;    // zero insertion between source pixels (backward: the stride)
  int64_t pad_t = 0, pad_l = 0;  // zeros before the first source pixel
  int64_t kh = 0, kw = 0, dh = 1, dw = 1, st_h = 1, st_w = 1;
  int64_t oh = 0, ow = 0;
  int64_t block = 0;    // output columns per accumulator block (half, 1 or 2 packets)
  int64_t rows = 0;     // scratch rows
  int64_t row_len = 0;  // floats per phase row
  std::vector<int64_t> tap;  // scratch offset of tap (i, j) for output (0, 0)

  PlanePlan(int64_t sh_, int64_t sw_, int64_t up_h_, int64_t up_w_, int64_t pad_t_, int64_t pad_l_, int64_t kh_,
            int64_t kw_, int64_t dh_, int64_t dw_, int64_t st_h_, int64_t st_w_, int64_t oh_, int64_t ow_)
      : sh(sh_), sw(sw_), up_h(up_h_), up_w(up_w_), pad_t(pad_t_), pad_l(pad_l_), kh(kh_), kw(kw_), dh(dh_),
        dw(dw_), st_h(st_h_), st_w(st_w_), oh(oh_), ow(ow_) {
    block = ow > kLanes ? 2 * kLanes : (ow > kHalfLanes ? kLanes : kHalfLanes);
    rows = (oh - 1) * st_h + (kh - 1) * dh + 1;
    row_len = (ow + block - 1) / block * block + (kw - 1) * dw / st_w + 1;
    tap.resize(kh * kw);
    for (int64_t i = 0; i < kh; ++i)
      for (int64_t j = 0; j < kw; ++j)
        tap[i * kw + j] = i * dh * st_w * row_len + (j * dw % st_w) * row_len + j * dw / st_w;
  }
  size_t scratch_floats() const { return static_cast<size_t>(rows * st_w * row_len); }
};

// Scratch <- the source plane, padded, zero-upsampled (up) or phase-split (st_w), never both.
void fill_plane(const PlanePlan& p, const float* src, float* s) {
  std::fill(s, s + p.scratch_floats(), 0.0f);
  const int64_t pitch = p.st_w * p.row_len;
  for (int64_t y = 0; y < p.sh; ++y) {
    const int64_t r = y * p.up_h + p.pad_t;
    if (r >= p.rows) break;
    float* row = s + r * pitch;
    const float* sr = src + y * p.sw;
    if (p.st_w == 1) {
      const int64_t n = std::min(p.sw, (p.row_len - p.pad_l + p.up_w - 1) / p.up_w);
      if (p.up_w == 1) std::memcpy(row + p.pad_l, sr, std::max<int64_t>(n, 0) * sizeof(float));
      else
        for (int64_t x = 0; x < n; ++x) row[p.pad_l + x * p.up_w] = sr[x];
    } else {
      int64_t phase = p.pad_l % p.st_w, idx = p.pad_l / p.st_w;
      for (int64_t x = 0; x < p.sw && idx < p.row_len; ++x) {
        row[phase * p.row_len + idx] = sr[x];
        if (++phase == p.st_w) phase = 0, ++idx;
      }
    }
  }
}

// Output rows oy0 .. oy0+R-1, NP packets of type P per row and column block: R*NP independent
// accumulators. One row at a time (the previous kernel) gave narrow maps one accumulator, bound by
// the FMA latency (ConvNeXt's 7x7 layers averaged ~27 GFLOP/s, 5x5 on 7x7 maps ~11); the rows
// also share each tap's broadcast weight. Wide maps gain less (~45 GFLOP/s: unaligned loads). Every output element is still bias + w[0] x[0] + w[1] x[1] + ... as one FMA
// chain in tap order, so the result does not depend on R or on the packet width.
template <class P, int NP, int R>
void correlate_rows(const PlanePlan& p, const float* s, const float* w, float bias, bool accumulate, float* dst,
                    int64_t oy0) {
  using namespace Eigen::internal;
  constexpr int64_t L = static_cast<int64_t>(sizeof(P) / sizeof(float)), B = NP * L;
  const int64_t taps = p.kh * p.kw, pitch = p.st_h * p.st_w * p.row_len;
  const float* base = s + oy0 * pitch;
  alignas(64) float tmp[B];
  for (int64_t ox = 0; ox < p.ow; ox += B) {
    P acc[R][NP];
    for (int r = 0; r < R; ++r)
      for (int q = 0; q < NP; ++q) acc[r][q] = pset1<P>(bias);
    for (int64_t t = 0; t < taps; ++t) {
      const P wv = pset1<P>(w[t]);
      const float* src = base + p.tap[t] + ox;
      for (int r = 0; r < R; ++r)
        for (int q = 0; q < NP; ++q) acc[r][q] = pmadd(wv, ploadu<P>(src + r * pitch + q * L), acc[r][q]);
    }
    for (int r = 0; r < R; ++r) {
      float* drow = dst + (oy0 + r) * p.ow;
      if (ox + B <= p.ow) {
        for (int q = 0; q < NP; ++q) {
          float* d = drow + ox + q * L;
          pstoreu(d, accumulate ? padd(ploadu<P>(d), acc[r][q]) : acc[r][q]);
        }
      } else {
        for (int q = 0; q < NP; ++q) pstoreu(tmp + q * L, acc[r][q]);
        for (int64_t k = 0; k < p.ow - ox; ++k) drow[ox + k] = accumulate ? drow[ox + k] + tmp[k] : tmp[k];
      }
    }
  }
}

// Rows from oy0 on in groups of R, the last few in one smaller group.
template <class P, int NP, int R>
void correlate_plane(const PlanePlan& p, const float* s, const float* w, float bias, bool accumulate, float* dst,
                     int64_t oy0 = 0) {
  int64_t oy = oy0;
  for (; oy + R <= p.oh; oy += R) correlate_rows<P, NP, R>(p, s, w, bias, accumulate, dst, oy);
  if constexpr (R > 1)
    if (oy < p.oh) correlate_plane<P, NP, R - 1>(p, s, w, bias, accumulate, dst, oy);
}

void correlate(const PlanePlan& p, const float* s, const float* w, float bias, bool accumulate, float* dst) {
  if (p.block == kHalfLanes) correlate_plane<HalfPacket, 1, 8>(p, s, w, bias, accumulate, dst);
  else if (p.block == kLanes) correlate_plane<Packet, 1, 8>(p, s, w, bias, accumulate, dst);
  else correlate_plane<Packet, 2, 4>(p, s, w, bias, accumulate, dst);
}

}  // namespace

bool depthwise_simd_applies(const ConvGeometry& g, const float* w, bool backward) {
  if (!is_depthwise(g) || !all_finite({w, static_cast<size_t>(g.o * g.kh * g.kw)})) return false;
  if (!backward) return true;
  // The backward padding (k-1)*d - p must not be negative.
  return g.a.pad_h <= (g.kh - 1) * g.a.dilation_h && g.a.pad_w <= (g.kw - 1) * g.a.dilation_w;
}

void forward_depthwise_simd(const float* x, const float* w, const float* b, const ConvGeometry& g, float* y) {
  BL_CHECK(depthwise_simd_applies(g, w, false), "forward_depthwise_simd: needs a depthwise convolution with finite "
           "weights, got groups=", g.a.groups, " for ", g.c, " channels");
  const auto& a = g.a;
  const int64_t mult = g.og();
  const PlanePlan plan(g.h, g.w, 1, 1, a.pad_h, a.pad_w, g.kh, g.kw, a.dilation_h, a.dilation_w, a.stride_h,
                       a.stride_w, g.oh, g.ow);
  parallel_for(g.n * g.o, 1, [&](int64_t lo, int64_t hi) {
    std::vector<float> scratch(plan.scratch_floats());
    int64_t filled = -1;  // the (n, c) plane in scratch: channel multipliers reuse it
    for (int64_t no = lo; no < hi; ++no) {
      const int64_t n = no / g.o, o = no % g.o, nc = n * g.c + o / mult;
      if (nc != filled) fill_plane(plan, x + nc * g.h * g.w, scratch.data()), filled = nc;
      correlate(plan, scratch.data(), w + o * g.kh * g.kw, b ? b[o] : 0.0f, false, y + no * g.oh * g.ow);
    }
  });
}

void backward_input_depthwise_simd(const float* gy, const float* w, const ConvGeometry& g, float* dx) {
  BL_CHECK(depthwise_simd_applies(g, w, true), "backward_input_depthwise_simd: needs a depthwise convolution with "
           "finite weights and padding <= (kernel-1)*dilation, got pads ", g.a.pad_h, "x", g.a.pad_w, " for kernel ",
           g.kh, "x", g.kw);
  const auto& a = g.a;
  const int64_t mult = g.og(), taps = g.kh * g.kw;
  const PlanePlan plan(g.oh, g.ow, a.stride_h, a.stride_w, (g.kh - 1) * a.dilation_h - a.pad_h,
                       (g.kw - 1) * a.dilation_w - a.pad_w, g.kh, g.kw, a.dilation_h, a.dilation_w, 1, 1, g.h, g.w);
  // The flipped window of every output channel, once per call (O * kh * kw floats).
  std::vector<float> flipped(static_cast<size_t>(g.o * taps));
  for (int64_t o = 0; o < g.o; ++o)
    for (int64_t t = 0; t < taps; ++t) flipped[o * taps + t] = w[o * taps + (taps - 1 - t)];
  parallel_for(g.n * g.c, 1, [&](int64_t lo, int64_t hi) {
    std::vector<float> scratch(plan.scratch_floats());
    for (int64_t nc = lo; nc < hi; ++nc) {
      const int64_t n = nc / g.c, c = nc % g.c;
      for (int64_t m = 0; m < mult; ++m) {
        const int64_t o = c * mult + m;
        fill_plane(plan, gy + (n * g.o + o) * g.oh * g.ow, scratch.data());
        correlate(plan, scratch.data(), flipped.data() + o * taps, 0.0f, m > 0, dx + nc * g.h * g.w);
      }
    }
  });
}

void forward_depthwise(const float* x, const float* w, const float* b, const ConvGeometry& g, float* y) {
  if (depthwise_simd_applies(g, w, false)) forward_depthwise_simd(x, w, b, g, y);
  else forward_depthwise_direct(x, w, b, g, y);
}

void backward_input_depthwise(const float* gy, const float* w, const ConvGeometry& g, float* dx) {
  if (depthwise_simd_applies(g, w, true)) backward_input_depthwise_simd(gy, w, g, dx);
  else backward_input_depthwise_direct(gy, w, g, dx);
}

}  // namespace backlight::fn::conv_paths
