#pragma once
/// The individual CPU convolution paths behind fn::conv2d_forward / conv2d_backward_input
/// (conv.h), exposed so tests can run every path against the reference (conv_ref.h) and benches
/// can compare them. Library users call conv.h; the dispatcher there picks the path.
///
/// Paths (raw NCHW pointers, geometry from conv2d_geometry, scratch from `ws`, all cores):
/// - forward_gemm: implicit GEMM by column tiles. The output columns (n, oy, ox) are cut into
///   tiles; every thread builds the im2col rows of its own tile, 256 rows at a time, straight
///   into the GEMM's packed panels (cache-resident; never the whole [K, OH*OW] matrix) and
///   multiplies them by the group's weight [O/g, K] with fn::gemm (gemm.h), single-threaded per
///   tile. Large images are cut into runs of whole 16-column panels; small images are batched,
///   so a 7x7 layer at batch 16 runs [O, K] x [K, 4*49] products instead of sixteen [K, 49]
///   ones. Tile counts are rounded to a multiple of the thread count while they are few. One
///   image that makes one tile (batch 1, 14x14 and 7x7 maps): the threads pack its B together
///   and split the output channels. Bias is added by the GEMM. Pointwise stride-1 tiles read
///   the input rows directly.
/// - backward_input_flipped: stride 1 (any kernel, padding, dilation, groups). Then
///   dx[c, y, x] = sum_{o,i,j} W[o, c, i, j] g[o, y + ph - i*dh, x + pw - j*dw], a forward
///   convolution of g (im2col rows (o, i, j) with padding -ph and dilation -dh) whose weight
///   operand A[c, (o, i, j)] = W[o, c, i, j] is W itself read in kh*kw blocks; it reuses
///   forward_gemm's tiling, so it has no scatter, no zero fill, no write conflicts and no copy of W.
/// - backward_input_col2im: any stride. dcol = W_g^T g per (image, group, block of input
///   channels, column tile), then col2im adds it into dx. Units never share a dx channel, so the
///   scatter needs no atomics; images or channel blocks run in parallel. The column tile width
///   follows the geometry alone, so each dx element sums in the same order at any batch size or
///   thread count (an image's dx is bit-identical alone or in a batch; the forward paths and
///   the flipped backward are too: tests/engine/test_conv_batch_invariance.cpp). An RGB stem at
///   batch 1 thus runs on at most 3 threads. conv2d_backward_input takes this path for strides
///   > 1 and when C/g < (O/g)/2 (then col2im moves less memory than the flipped im2col).
/// - forward_winograd / backward_input_winograd: 3x3, stride 1, dilation 1, groups 1, any padding
///   (conv_winograd.cpp, transforms in winograd_math.h). Winograd F(2x2, 3x3): every 2x2 block of
///   outputs (a tile) costs 16 multiplies per channel pair instead of 36: transforms of the
///   weights (U = G g G^T), of each tile's 4x4 input (V = B^T d B), 16 products U_xi V_xi (fn::gemm,
///   depth C), and the output transform (A^T M A). Two schedules: with many tiles (early layers,
///   batches) U is transformed once per call and threads run blocks of ~64 tiles each; with few
///   tiles (14x14 and 7x7 maps at small batch) all tiles are transformed and packed once and
///   threads take chunks of output channels, transforming their weights on the fly (U, 16/9 the
///   size of W, is never stored whole). Backward-input is the same convolution of g with
///   W'[c, o, i, j] = W[o, c, 2-i, 2-j] and padding 2 - p, read from W by the weight transform
///   (no flipped copy of W). Float32 results differ from the direct sum by rounding only (bounded
///   against conv_ref in tests/engine/test_conv_winograd.cpp).
/// - forward_depthwise / backward_input_depthwise: groups == C (with any channel multiplier); a
///   GEMM with one row per group would be slow. Two variants: *_simd copies each plane into a
///   zero-padded scratch plane split into column phases modulo the stride, then keeps one or two
///   SIMD packets of output columns in registers over all kh*kw taps (Eigen packet math: 16 lanes
///   with AVX-512, 8 with AVX2); the input gradient is the same kernel run on the upstream
///   gradient, zero-upsampled by the stride, padded by (k-1)*d - p, window flipped (4x the
///   multiply-adds at stride 2, all vectorised). *_direct loops over the window per output row and
///   tap, skipping the padding. The dispatching forms take *_simd when depthwise_simd_applies
///   (finite weights - the SIMD path multiplies padding zeros by the weights - and, backward,
///   p <= (k-1)*d), else *_direct.
///
/// Dispatch (conv.cpp): depthwise -> depthwise loops; Winograd where winograd_applies and C and
/// O are both >= 16 (reasons and measurements in conv.cpp); else forward_gemm, and for the input gradient backward_input_flipped or
/// backward_input_col2im as described above.
#include "engine/functional/conv.h"

namespace backlight::fn::conv_paths {

/// Tile shape knobs for forward_gemm; zero means "choose from the geometry" (about 2^16 / min(K,
/// 256) columns, i.e. one 256-deep block of a tile's B fills 256 KiB). Tests set them to force
/// tiles that span several images or split one image mid-row.
struct GemmTiling {
  int64_t target_cols = 0;          ///< output columns per tile
  int64_t max_images_per_tile = 0;  ///< 1 forbids multi-image tiles
};

/// Schedule knobs for the Winograd paths; zero / Auto means "choose from the geometry". Tests set
/// them to run both schedules on every shape, blocks that span rows and images, and more threads
/// than blocks or chunks.
struct WinogradTiling {
  enum class Schedule { Auto, TileBlocks, WeightChunks };
  Schedule schedule = Schedule::Auto;
  int64_t tiles_per_block = 0;  ///< TileBlocks: 2x2-output tiles per block (all images' tiles in a row)
  int64_t chunk_rows = 0;       ///< WeightChunks: output channels per chunk (rounded up to 6)
};

bool is_pointwise(const ConvGeometry& g);
bool is_depthwise(const ConvGeometry& g);
/// True when backward_input_flipped applies (stride 1, not depthwise).
bool flipped_backward_applies(const ConvGeometry& g);

/// True when the Winograd paths apply: kernel 3x3, stride 1, dilation 1, groups 1, N, C, O >= 1.
bool winograd_applies(const ConvGeometry& g);

/// y[n,o,oh,ow] (bias may be null).
void forward_gemm(const float* x, const float* w, const float* bias, const ConvGeometry& g, float* y,
                  const Workspace* ws, GemmTiling tiling = {});
void forward_depthwise(const float* x, const float* w, const float* bias, const ConvGeometry& g, float* y);
void forward_depthwise_simd(const float* x, const float* w, const float* bias, const ConvGeometry& g, float* y);
void forward_depthwise_direct(const float* x, const float* w, const float* bias, const ConvGeometry& g, float* y);
/// True when the *_simd depthwise paths apply to geometry g with weights w ([O, 1, kh, kw]).
bool depthwise_simd_applies(const ConvGeometry& g, const float* w, bool backward);

/// dx[n,c,h,w] for upstream gy[n,o,oh,ow]; dx is fully overwritten.
void backward_input_flipped(const float* gy, const float* w, const ConvGeometry& g, float* dx, const Workspace* ws,
                            GemmTiling tiling = {});
/// Winograd F(2x2, 3x3): y[n,o,oh,ow] (bias may be null) and dx[n,c,h,w] (fully overwritten).
/// Throw backlight::Error unless winograd_applies(g).
void forward_winograd(const float* x, const float* w, const float* bias, const ConvGeometry& g, float* y,
                      const Workspace* ws, WinogradTiling tiling = {});
void backward_input_winograd(const float* gy, const float* w, const ConvGeometry& g, float* dx, const Workspace* ws,
                             WinogradTiling tiling = {});
void backward_input_col2im(const float* gy, const float* w, const ConvGeometry& g, float* dx, const Workspace* ws);
void backward_input_depthwise(const float* gy, const float* w, const ConvGeometry& g, float* dx);
void backward_input_depthwise_simd(const float* gy, const float* w, const ConvGeometry& g, float* dx);
void backward_input_depthwise_direct(const float* gy, const float* w, const ConvGeometry& g, float* dx);

/// col[(r - r0) * ld + (p - p0)] = x[c, oy*sh - ph + i*dh, ox*sw - pw + j*dw] (0 outside) for the
/// im2col rows r = (c*kh + i)*kw + j in [r0, r1) and the output positions p = oy*OW + ox in
/// [p0, p1). `x` points at channel 0 of one image's group.
void im2col_tile(const float* x, const ConvGeometry& g, int64_t r0, int64_t r1, int64_t p0, int64_t p1, float* col,
                 int64_t ld);
/// The adjoint: dx[c, ...] += col[(r - r0) * ld + (p - p0)] over the same index sets.
void col2im_tile(const float* col, const ConvGeometry& g, int64_t r0, int64_t r1, int64_t p0, int64_t p1,
                 int64_t ld, float* dx);

}  // namespace backlight::fn::conv_paths
