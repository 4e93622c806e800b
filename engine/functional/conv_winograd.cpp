// Winograd F(2x2, 3x3) convolution paths (see conv_paths.h; the transforms are in
// winograd_math.h). Per 2x2 block of outputs (a tile) and channel pair: 16 multiplies instead of
// 36. With T = N * ceil(OH/2) * ceil(OW/2) tiles over all images:
//   weight transform  U[xi][out][in] = (G g G^T)[xi]               (8 kernels per vector)
//   input transform   V[xi][in][t]   = (B^T d_t B)[xi]             (8 tiles per vector, zero padding)
//   16 products       M[xi][out][t]  = U[xi] V[xi]                  (fn::gemm, depth = in channels)
//   output transform  y[out, tile t] = A^T M[:, out, t] A (+ bias)  (only the outputs inside the map)
// Two schedules (make_plan picks one):
// - tile blocks (many tiles: early layers, batches): U is transformed once per call and kept
//   whole; the tiles are cut into blocks of ~64 and every thread runs whole blocks (input
//   transform, 16 products, output transform), its V and M staying in cache.
// - weight chunks (few tiles: 14x14 and 7x7 maps at small batch): U would be as large as the
//   weights x 16/9 and used for few tiles, so it is never stored whole. All threads transform
//   the input of all tiles and pack it once for the products; then each thread takes chunks of
//   ~48 output channels: transforms their weights (in cache), 16 products against the packed V,
//   output transform.
// Input rows are copied per tile row into even/odd column buffers (with the zero padding), so
// the four columns of 8 consecutive tiles (stride 2 in the image) are four unit-stride loads.
#include <algorithm>
#include <cstring>

#include "engine/error.h"
#include "engine/functional/conv_paths.h"
#include "engine/functional/gemm.h"
#include "engine/functional/winograd_math.h"
#include "engine/parallel.h"

#if defined(__AVX__)
#include <immintrin.h>
#endif

namespace backlight::fn::conv_paths {

namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
// floor(a / b) for any sign of a (b > 0).
int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }
// Scratch sections start on 64-byte boundaries.
int64_t align16(int64_t floats) { return round_up(floats, 16); }

// 8 tiles side by side (GCC/Clang vector extension: + and - per lane, AVX when compiled for it).
typedef float v8 __attribute__((vector_size(32)));
typedef float v8u __attribute__((vector_size(32), aligned(4), may_alias));  // unaligned access
inline void load8(v8& v, const float* p) { v = *reinterpret_cast<const v8u*>(p); }
inline void store8(float* p, const v8& v) { *reinterpret_cast<v8u*>(p) = v; }

// dst[2k] = a[k], dst[2k+1] = b[k] for k < 8 (one output row of 8 tiles).
inline void store_interleaved(float* dst, const v8& a, const v8& b) {
#if defined(__AVX__)
  const __m256 lo = _mm256_unpacklo_ps((__m256)a, (__m256)b), hi = _mm256_unpackhi_ps((__m256)a, (__m256)b);
  _mm256_storeu_ps(dst, _mm256_permute2f128_ps(lo, hi, 0x20));
  _mm256_storeu_ps(dst + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
#else
  for (int k = 0; k < 8; ++k) {
    dst[2 * k] = a[k];
    dst[2 * k + 1] = b[k];
  }
#endif
}


// The convolution one call computes: 3x3, stride 1, cross-correlation of x [n, cin, h, w] with
// kernels read from W, into y [n, cout, oh, ow] (oh = h + 2*pad_h - 2). The padding may be
// negative (the input-gradient of a layer padded by more than 2 crops).
struct Problem {
  const float* x;
  int64_t n, cin, h, w;
  int64_t cout, oh, ow;
  int64_t pad_h, pad_w;
  // The layer's weight. Forward: kernel (out, in) = W[out, in] (W [cout, cin, 3, 3]); backward-
  // input (`backward`): kernel (out, in) = W[in, out] flipped (W [cin, cout, 3, 3], tap 8 - k).
  const float* wt;
  bool backward;
  const float* bias;  // may be null
  float* y;
};

// Weight chunks: the most tiles (times min(C, 256), one packed depth block of V per product:
// 256 KiB) that the schedule takes (beyond, tile blocks were faster), and output channels per
// chunk: up to 48, fewer where the chunk's U (16 x rows x C) would outgrow 512 KiB (C = 512 at
// 28x28: 12 rows measured as fast as 24 forward and faster backward; elsewhere 6-48 all equal).
// Tile blocks: tiles per block, 64 while V and M of a block fit a core's 512 KiB L2 together
// (C + O <= 256), else 128 (fewer passes over U). Measured on the ResNet-18 / VGG-16 layers.
constexpr int64_t kChunkMaxFloats = int64_t{1} << 16;
int64_t chunk_rows(const Problem& p) { return std::clamp<int64_t>((int64_t{1} << 13) / p.cin / 6 * 6, 6, 48); }
int64_t block_tiles(const Problem& p) { return p.cin + p.cout <= 256 ? 64 : 128; }

struct Plan {
  int64_t th, tw, tiles;  // tile rows and columns per image, tiles over all images
  bool chunks;            // weight-chunk schedule (else tile blocks)
  int64_t blocks, tb;     // tile ranges [tb*b, min(tiles, tb*(b+1)))
  int64_t nchunks;        // weight chunks: 6-row panels [panels*k/nchunks, panels*(k+1)/nchunks)
  int64_t chunk_rows;     // most rows of one chunk
  int64_t ldv, ldm;       // row strides of V and M (a vector of 8 may run 7 tiles past the end)
  int64_t rl;             // length of one even/odd row buffer
};

Plan make_plan(const Problem& p, int threads, const WinogradTiling& tiling) {
  using Schedule = WinogradTiling::Schedule;
  Plan pl{};
  pl.th = ceil_div(p.oh, 2);
  pl.tw = ceil_div(p.ow, 2);
  pl.tiles = p.n * pl.th * pl.tw;
  pl.chunks = tiling.schedule == Schedule::WeightChunks ||
              (tiling.schedule == Schedule::Auto && pl.tiles * std::min<int64_t>(p.cin, 256) <= kChunkMaxFloats);
  const int64_t panels = ceil_div(p.cout, 6);
  if (pl.chunks) {
    pl.blocks = 1;
    pl.tb = pl.tiles;
    const int64_t rows = tiling.chunk_rows > 0 ? tiling.chunk_rows : chunk_rows(p);
    // A multiple of the thread count, so that every thread gets the same share of rows.
    pl.nchunks = round_up(std::max<int64_t>(ceil_div(panels, ceil_div(rows, 6)), 1), threads);
    pl.chunk_rows = 6 * ceil_div(panels, pl.nchunks);
  } else if (tiling.tiles_per_block > 0) {
    pl.tb = std::min(pl.tiles, tiling.tiles_per_block);
  } else {
    // Whole 16-column panels of the products (a narrower last panel costs as much as a full
    // one): the block size from the target down to 32 in steps of 16 that finishes soonest
    // when the threads share the blocks (ties: the larger block).
    pl.tb = std::min(pl.tiles, round_up(block_tiles(p), 16));
    int64_t best = ceil_div(ceil_div(pl.tiles, pl.tb), threads) * pl.tb;
    for (int64_t tb = pl.tb - 16; tb >= 32; tb -= 16) {
      const int64_t finish = ceil_div(ceil_div(pl.tiles, tb), threads) * tb;
      if (finish < best) best = finish, pl.tb = tb;
    }
  }
  if (!pl.chunks) pl.blocks = ceil_div(pl.tiles, pl.tb);
  pl.ldv = pl.ldm = round_up(pl.tb, 8) + 8;
  pl.rl = round_up(std::min(pl.tw, pl.tb) + 9, 8);
  return pl;
}

// --- transforms ---------------------------------------------------------------------------------

// g[r / 3][r % 3] lane l = tap r of the kernel at k + l * s_in (tap 8 - r when flipped), for 8
// kernels of 9 consecutive taps each.
inline void gather_kernels8(const float* k, int64_t s_in, bool flip, v8 (&g)[3][3]) {
  v8 taps[9];
#if defined(__AVX2__)
  // Taps 0-7 of the 8 kernels as rows of an 8x8 block, transposed in registers; tap 8 gathered.
  __m256 r[8], t[8];
  for (int l = 0; l < 8; ++l) r[l] = _mm256_loadu_ps(k + l * s_in);
  for (int l = 0; l < 8; l += 2) {
    t[l] = _mm256_unpacklo_ps(r[l], r[l + 1]);
    t[l + 1] = _mm256_unpackhi_ps(r[l], r[l + 1]);
  }
  for (int h = 0; h < 8; h += 4) {
    r[h] = _mm256_shuffle_ps(t[h], t[h + 2], 0x44);
    r[h + 1] = _mm256_shuffle_ps(t[h], t[h + 2], 0xEE);
    r[h + 2] = _mm256_shuffle_ps(t[h + 1], t[h + 3], 0x44);
    r[h + 3] = _mm256_shuffle_ps(t[h + 1], t[h + 3], 0xEE);
  }
  for (int j = 0; j < 4; ++j) {
    taps[j] = (v8)_mm256_permute2f128_ps(r[j], r[j + 4], 0x20);
    taps[j + 4] = (v8)_mm256_permute2f128_ps(r[j], r[j + 4], 0x31);
  }
  const __m256i idx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                         _mm256_set1_epi32(static_cast<int>(s_in)));
  taps[8] = (v8)_mm256_i32gather_ps(k + 8, idx, 4);
#else
  for (int r = 0; r < 9; ++r)
    for (int l = 0; l < 8; ++l) taps[r][l] = k[l * s_in + r];
#endif
  for (int r = 0; r < 9; ++r) g[r / 3][r % 3] = taps[flip ? 8 - r : r];
}

// U rows [r0, r1): u[xi * xi_stride + (out - r0) * cin + in] = (G k(out, in) G^T)[xi], 8 input
// channels per vector.
void transform_weights(const Problem& p, int64_t r0, int64_t r1, float* u, int64_t xi_stride) {
  // Kernel (out, in) at wt + out * s_out + in * s_in (9 consecutive taps).
  const int64_t s_out = p.backward ? 9 : 9 * p.cin, s_in = p.backward ? 9 * p.cout : 9;
  auto one = [&](int64_t o, int64_t c) {
    const int64_t cnt = std::min<int64_t>(8, p.cin - c);
    const float* k = p.wt + o * s_out + c * s_in;
    v8 g[3][3], t[4][4];
    if (cnt == 8) {
      gather_kernels8(k, s_in, p.backward, g);
    } else {
      for (int r = 0; r < 9; ++r)
        for (int l = 0; l < 8; ++l) g[r / 3][r % 3][l] = l < cnt ? k[l * s_in + (p.backward ? 8 - r : r)] : 0.0f;
    }
    winograd::weight_transform(g, t);
    float* dst = u + (o - r0) * p.cin + c;
    if (cnt == 8) {
#pragma GCC unroll 16
      for (int xi = 0; xi < 16; ++xi) store8(dst + xi * xi_stride, t[xi / 4][xi % 4]);
    } else {
      for (int xi = 0; xi < 16; ++xi)
        for (int64_t l = 0; l < cnt; ++l) dst[xi * xi_stride + l] = t[xi / 4][xi % 4][l];
    }
  };
  // W is read in its own order: forward row by row; backward, whose 8 kernels of a vector lie in
  // 8 rows of W, walks those 8 rows side by side (8 sequential streams instead of 8 pages per
  // vector).
  if (p.backward) {
    for (int64_t c = 0; c < p.cin; c += 8)
      for (int64_t o = r0; o < r1; ++o) one(o, c);
  } else {
    for (int64_t o = r0; o < r1; ++o)
      for (int64_t c = 0; c < p.cin; c += 8) one(o, c);
  }
}

// Even and odd columns of input row iy from column ix0 on: e[k] = x[iy, ix0 + 2k],
// o[k] = x[iy, ix0 + 2k + 1] for k <= s (zero outside the image), zero up to k = s + 7.
void load_row_pair(const float* xc, const Problem& p, int64_t iy, int64_t ix0, int64_t s, float* e, float* o) {
  int64_t k = 0;
  if (iy >= 0 && iy < p.h) {
    const float* row = xc + iy * p.w;
    // k with both columns inside the row (0 <= ix0 + 2k, ix0 + 2k + 1 < w): [k_lo, k_hi).
    const int64_t k_lo = std::clamp<int64_t>(ceil_div(std::max<int64_t>(-ix0, 0), 2), 0, s + 1);
    const int64_t k_hi = std::clamp<int64_t>(floor_div(p.w - 2 - ix0, 2) + 1, k_lo, s + 1);
    for (; k < k_lo; ++k) {
      const int64_t ix = ix0 + 2 * k;
      e[k] = ix >= 0 && ix < p.w ? row[ix] : 0.0f;
      o[k] = ix + 1 >= 0 && ix + 1 < p.w ? row[ix + 1] : 0.0f;
    }
    const float* src = row + ix0;
#if defined(__AVX2__)
    for (; k + 8 <= k_hi; k += 8) {  // deinterleave 16 floats
      const __m256 a = _mm256_loadu_ps(src + 2 * k), b = _mm256_loadu_ps(src + 2 * k + 8);
      _mm256_storeu_ps(e + k, _mm256_castpd_ps(_mm256_permute4x64_pd(
                                  _mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8)));
      _mm256_storeu_ps(o + k, _mm256_castpd_ps(_mm256_permute4x64_pd(
                                  _mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xDD)), 0xD8)));
    }
#endif
    for (; k < k_hi; ++k) {
      e[k] = src[2 * k];
      o[k] = src[2 * k + 1];
    }
    for (; k <= s; ++k) {
      const int64_t ix = ix0 + 2 * k;
      e[k] = ix >= 0 && ix < p.w ? row[ix] : 0.0f;
      o[k] = ix + 1 >= 0 && ix + 1 < p.w ? row[ix + 1] : 0.0f;
    }
  }
  for (; k < s + 8; ++k) e[k] = o[k] = 0.0f;
}

// V columns [0, s) at v (row stride of one xi: xi_stride) for tiles (ty, tx0 .. tx0+s) of one
// input channel plane xc. May write up to 7 columns past s (the caller's next tiles or slack).
void input_tiles(const float* xc, const Problem& p, int64_t ty, int64_t tx0, int64_t s, float* rows, int64_t rl,
                 float* v, int64_t xi_stride) {
  const int64_t iy0 = 2 * ty - p.pad_h, ix0 = 2 * tx0 - p.pad_w;
  for (int r = 0; r < 4; ++r) load_row_pair(xc, p, iy0 + r, ix0, s, rows + 2 * r * rl, rows + (2 * r + 1) * rl);
  for (int64_t k = 0; k < s; k += 8) {
    v8 d[4][4], t[4][4];
    for (int r = 0; r < 4; ++r) {
      const float* e = rows + 2 * r * rl + k;
      const float* o = rows + (2 * r + 1) * rl + k;
      load8(d[r][0], e);
      load8(d[r][1], o);
      load8(d[r][2], e + 1);
      load8(d[r][3], o + 1);
    }
    winograd::input_transform(d, t);
    for (int xi = 0; xi < 16; ++xi) store8(v + xi * xi_stride + k, t[xi / 4][xi % 4]);
  }
}

// Outputs of tiles (ty, tx0 .. tx0+s) of one output channel plane yo from M columns [0, s) at m.
void output_tiles(const float* m, int64_t xi_stride, float bias, const Problem& p, int64_t ty, int64_t tx0,
                  int64_t s, float* yo) {
  const int64_t oy = 2 * ty;
  const bool two_rows = oy + 1 < p.oh;
  for (int64_t k = 0; k < s; k += 8) {
    v8 mm[4][4], yy[2][2];
    for (int xi = 0; xi < 16; ++xi) load8(mm[xi / 4][xi % 4], m + xi * xi_stride + k);
    winograd::output_transform(mm, yy);
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j) yy[i][j] += bias;
    const int64_t cnt = std::min<int64_t>(8, s - k), ox = 2 * (tx0 + k);
    float* y0 = yo + oy * p.ow + ox;
    if (cnt == 8 && ox + 16 <= p.ow) {
      store_interleaved(y0, yy[0][0], yy[0][1]);
      if (two_rows) store_interleaved(y0 + p.ow, yy[1][0], yy[1][1]);
    } else {
      for (int64_t l = 0; l < cnt; ++l)
        for (int i = 0; i < (two_rows ? 2 : 1); ++i) {
          y0[i * p.ow + 2 * l] = yy[i][0][l];
          if (ox + 2 * l + 1 < p.ow) y0[i * p.ow + 2 * l + 1] = yy[i][1][l];
        }
    }
  }
}

// f(n, ty, tx0, count, offset) for the runs of tiles [t0, t1) that lie in one tile row;
// `offset` is the first tile's position counted from t0.
template <class F>
void for_each_run(const Plan& pl, int64_t t0, int64_t t1, F&& f) {
  for (int64_t t = t0; t < t1;) {
    const int64_t tx = t % pl.tw, ty = (t / pl.tw) % pl.th, n = t / (pl.tw * pl.th);
    const int64_t s = std::min(t1 - t, pl.tw - tx);
    f(n, ty, tx, s, t - t0);
    t += s;
  }
}

// --- the convolution ----------------------------------------------------------------------------

// B operand of one product: V_xi [cin, count] with row stride ld (captured by reference, so the
// std::function holds it without allocating).
struct VRows {
  const float* v;
  int64_t ld, count;
};

// Scratch: consecutive sections of one Workspace tensor, each 64-byte aligned.
struct Carver {
  float* at;
  float* take(int64_t floats) {
    float* p = at;
    at += align16(floats);
    return p;
  }
};

void run(const Problem& p, const Workspace* ws, const WinogradTiling& tiling) {
  const int threads = in_parallel_region() ? 1 : num_threads();
  const Plan pl = make_plan(p, threads, tiling);
  const int64_t hw = p.h * p.w, ohw = p.oh * p.ow, panels = ceil_div(p.cout, 6);
  // U, V and M hold 16 matrices each; at a multiple of 4 KiB apart they would put 16 streams on
  // the same L1 sets, so every matrix gets one cache line of padding.
  // U: per thread a chunk's rows (weight chunks); or shared, whole and packed in the GEMM's 6-row
  // panels (tile blocks: every block's products read it, so it is packed once, through a
  // per-thread panel of 6 transformed rows).
  const int64_t u_stride = pl.chunks ? pl.chunk_rows * p.cin + 16 : gemm::packed_a_floats(p.cout, p.cin) + 16;
  const int64_t panel_stride = 6 * p.cin + 16, v_stride = p.cin * pl.ldv + 16;
  const int64_t m_stride = (pl.chunks ? pl.chunk_rows : p.cout) * pl.ldm + 16;
  const int64_t vp_stride = gemm::packed_floats(pl.tiles, p.cin) + 16;  // weight chunks: packed V
  const int64_t gemm_floats = gemm::scratch_floats(pl.tb, p.cin), row_floats = 8 * pl.rl;
  const int64_t stage_floats = pl.chunks ? gemm::pack_scratch_floats(pl.tiles, p.cin) : 0;
  // Shared: U (tile blocks) or V and packed V (weight chunks). Per thread: row buffers, GEMM
  // scratch, and V + M (tile blocks) or U + M + packing stage (weight chunks).
  const int64_t shared_floats = pl.chunks ? align16(16 * v_stride) + align16(16 * vp_stride) : align16(16 * u_stride);
  const int64_t per_slot = align16(row_floats) + align16(gemm_floats) + align16(16 * m_stride) +
                           (pl.chunks ? align16(16 * u_stride) + align16(stage_floats)
                                      : align16(16 * v_stride) + align16(16 * panel_stride));
  const int slots = static_cast<int>(pl.chunks ? threads : std::min<int64_t>(threads, pl.blocks));
  Tensor scratch = Tensor::empty(Shape{shared_floats + slots * per_slot}, ws);
  Carver shared_carver{scratch.data()};
  float *u_all = nullptr, *v_all = nullptr, *vp = nullptr;
  if (pl.chunks) {
    v_all = shared_carver.take(16 * v_stride);
    vp = shared_carver.take(16 * vp_stride);
  } else {
    u_all = shared_carver.take(16 * u_stride);
  }
  float* const slot0 = scratch.data() + shared_floats;

  // Input transform of tiles [t0, t1), channels [c0, c1) into v (column 0 = tile t0).
  auto transform_in = [&](int64_t t0, int64_t t1, int64_t c0, int64_t c1, float* v, float* rows) {
    for (int64_t c = c0; c < c1; ++c)
      for_each_run(pl, t0, t1, [&](int64_t n, int64_t ty, int64_t tx, int64_t s, int64_t off) {
        input_tiles(p.x + (n * p.cin + c) * hw, p, ty, tx, s, rows, pl.rl, v + c * pl.ldv + off, v_stride);
      });
  };
  // Output transform of tiles [t0, t1), output channels [m0, m1) from m (row 0 = channel m0).
  auto transform_out = [&](int64_t t0, int64_t t1, int64_t m0, int64_t m1, const float* m) {
    for (int64_t o = m0; o < m1; ++o)
      for_each_run(pl, t0, t1, [&](int64_t n, int64_t ty, int64_t tx, int64_t s, int64_t off) {
        output_tiles(m + (o - m0) * pl.ldm + off, m_stride, p.bias ? p.bias[o] : 0.0f, p, ty, tx, s,
                     p.y + (n * p.cout + o) * ohw);
      });
  };
  // Columns of M past the shortest block are read (and discarded) by the 8-wide output
  // transform: give them defined values once.
  auto clear_m_tail = [&](float* m, int64_t rows) {
    const int64_t from = pl.tiles - (pl.blocks - 1) * pl.tb;  // the last block is the shortest
    for (int xi = 0; xi < 16; ++xi)
      for (int64_t r = 0; r < rows; ++r)
        std::fill(m + xi * m_stride + r * pl.ldm + from, m + xi * m_stride + (r + 1) * pl.ldm, 0.0f);
  };

  // Tile blocks: U shared; thread t runs blocks [blocks*t/nt, blocks*(t+1)/nt).
  auto tile_blocks = [&](int t, int nt, Carver mine) {
    float* rows = mine.take(row_floats);
    float* gscratch = mine.take(gemm_floats);
    float* m = mine.take(16 * m_stride);
    float* v = mine.take(16 * v_stride);
    clear_m_tail(m, p.cout);
    for (int64_t b = pl.blocks * t / nt; b < pl.blocks * (t + 1) / nt; ++b) {
      const int64_t t0 = pl.tb * b, t1 = std::min(pl.tiles, t0 + pl.tb);
      transform_in(t0, t1, 0, p.cin, v, rows);
      for (int xi = 0; xi < 16; ++xi) {
        const VRows vr{v + xi * v_stride, pl.ldv, t1 - t0};
        const gemm::FillRows fill = [&vr](int64_t k0, int64_t k1, float* dst, int64_t ld) {
          for (int64_t r = k0; r < k1; ++r)
            std::memcpy(dst + (r - k0) * ld, vr.v + r * vr.ld, sizeof(float) * vr.count);
        };
        gemm::gemm(p.cout, t1 - t0, p.cin, gemm::MatrixA{u_all + xi * u_stride, p.cin, false, 0, true}, fill,
                   m + xi * m_stride, pl.ldm, nullptr, false, gscratch);
      }
      transform_out(t0, t1, 0, p.cout, m);
    }
  };

  // Weight chunks, after V is packed: thread t runs chunks [nchunks*t/nt, nchunks*(t+1)/nt).
  auto weight_chunks = [&](int t, int nt, Carver mine) {
    float* gscratch = mine.take(gemm_floats);
    float* m = mine.take(16 * m_stride);
    float* u = mine.take(16 * u_stride);
    clear_m_tail(m, pl.chunk_rows);
    for (int64_t k = pl.nchunks * t / nt; k < pl.nchunks * (t + 1) / nt; ++k) {
      const int64_t r0 = std::min(p.cout, 6 * (panels * k / pl.nchunks));
      const int64_t r1 = std::min(p.cout, 6 * (panels * (k + 1) / pl.nchunks));
      if (r1 <= r0) continue;
      transform_weights(p, r0, r1, u, u_stride);
      for (int xi = 0; xi < 16; ++xi)
        gemm::gemm_packed(r1 - r0, pl.tiles, p.cin, gemm::MatrixA{u + xi * u_stride, p.cin}, vp + xi * vp_stride,
                          m + xi * m_stride, pl.ldm, nullptr, false, gscratch);
      transform_out(0, pl.tiles, r0, r1, m);
    }
  };

  // Barriers only inside this call's own team (a serial call may run inside someone else's
  // parallel region, where an orphaned barrier would bind to that team).
  auto sync = [](int nt) {
    if (nt > 1) {
#pragma omp barrier
    }
  };
  auto body = [&](int t, int nt) {
    Carver mine{slot0 + t * per_slot};
    if (!pl.chunks) {
      float* panel = mine.take(16 * panel_stride);
      for (int64_t pi = panels * t / nt; pi < panels * (t + 1) / nt; ++pi) {
        const int64_t r0 = 6 * pi, r1 = std::min(p.cout, r0 + 6);
        transform_weights(p, r0, r1, panel, panel_stride);
        for (int xi = 0; xi < 16; ++xi)
          gemm::pack_a_panels(gemm::MatrixA{panel + xi * panel_stride, p.cin}, r1 - r0, p.cin, 0, 1,
                              u_all + xi * u_stride + pi * 6 * p.cin);
      }
      sync(nt);
      tile_blocks(t, nt, mine);
      return;
    }
    float* rows = mine.take(row_floats);
    float* stage = mine.take(stage_floats);
    transform_in(0, pl.tiles, p.cin * t / nt, p.cin * (t + 1) / nt, v_all, rows);
    sync(nt);
    // Pack V_xi once for all chunks: units (xi, depth block) over the threads.
    const int64_t kblocks = gemm::num_blocks(p.cin);
    for (int64_t u = 16 * kblocks * t / nt; u < 16 * kblocks * (t + 1) / nt; ++u) {
      const VRows vr{v_all + (u / kblocks) * v_stride, pl.ldv, pl.tiles};
      const gemm::FillRows fill = [&vr](int64_t k0, int64_t k1, float* dst, int64_t ld) {
        for (int64_t r = k0; r < k1; ++r) std::memcpy(dst + (r - k0) * ld, vr.v + r * vr.ld, sizeof(float) * vr.count);
      };
      gemm::pack_block(fill, u % kblocks, pl.tiles, p.cin, vp + (u / kblocks) * vp_stride, stage);
    }
    sync(nt);
    weight_chunks(t, nt, mine);
  };
#ifdef _OPENMP
  if (slots > 1) {
#pragma omp parallel num_threads(slots)
    body(omp_get_thread_num(), omp_get_num_threads());
    return;
  }
#endif
  body(0, 1);
}

}  // namespace

bool winograd_applies(const ConvGeometry& g) {
  const auto& a = g.a;
  return g.n > 0 && g.c > 0 && g.o > 0 && g.kh == 3 && g.kw == 3 && a.stride_h == 1 && a.stride_w == 1 &&
         a.dilation_h == 1 && a.dilation_w == 1 && a.groups == 1;
}

void forward_winograd(const float* x, const float* w, const float* bias, const ConvGeometry& g, float* y,
                      const Workspace* ws, WinogradTiling tiling) {
  BL_CHECK(winograd_applies(g), "conv2d: the Winograd path needs a 3x3 kernel, stride 1, dilation 1 and groups 1");
  const Problem p{x, g.n, g.c, g.h, g.w, g.o, g.oh, g.ow, g.a.pad_h, g.a.pad_w, w, false, bias, y};
  run(p, ws, tiling);
}

void backward_input_winograd(const float* gy, const float* w, const ConvGeometry& g, float* dx, const Workspace* ws,
                             WinogradTiling tiling) {
  BL_CHECK(winograd_applies(g), "conv2d backward: the Winograd path needs a 3x3 kernel, stride 1, dilation 1 and "
                                "groups 1");
  // dx = the cross-correlation of gy with W'[c, o, i, j] = W[o, c, 2-i, 2-j], padded by 2 - p.
  const Problem p{gy, g.n, g.o, g.oh, g.ow, g.c, g.h, g.w, 2 - g.a.pad_h, 2 - g.a.pad_w, w, true, nullptr, dx};
  run(p, ws, tiling);
}

}  // namespace backlight::fn::conv_paths
