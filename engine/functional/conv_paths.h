#pragma once
/// The individual CPU convolution paths behind fn::conv2d_forward / conv2d_backward_input
/// (conv.h), exposed so tests can run every path against the reference (conv_ref.h) and benches
/// can compare them. Library users call conv.h; the dispatcher there picks the path.
///
/// Paths (raw NCHW pointers, geometry from conv2d_geometry, scratch from `ws`, all cores):
/// - forward_gemm: implicit-GEMM by column tiles. The output columns (n, oy, ox) are cut into
///   tiles; every thread builds the im2col block of its own tile (cache-resident, never the whole
///   [K, OH*OW] matrix) and multiplies it by the group's weight [O/g, K] with a single-threaded
///   Eigen GEMM. Small images are batched: one tile may hold several whole images, so a 7x7
///   layer at batch 16 runs one [O, K] x [K, 16*49] product instead of sixteen thin ones.
///   Pointwise stride-1 tiles read the input directly (no im2col). When there are fewer tiles
///   than threads the tile runs alone and Eigen splits the GEMM across threads instead.
/// - backward_input_flipped: for stride 1 (any kernel, dilation, groups) with pad <= dil*(k-1),
///   dx is the forward convolution of g with the flipped, transposed kernel
///   W'[c, o, i, j] = W[o, c, kh-1-i, kw-1-j] and padding dil*(k-1) - pad; it reuses
///   forward_gemm, so it has no scatter, no zero fill and no write conflicts.
/// - backward_input_col2im: any stride. dcol = W_g^T g per (image, group, block of input
///   channels, column tile), then col2im adds it into dx. Units never share a dx channel, so the
///   scatter needs no atomics; images or channel blocks run in parallel.
/// - depthwise_forward / depthwise_backward_input: groups == C (with any channel multiplier),
///   direct loops over the window (a GEMM with one row per group would be slow).
#include "engine/functional/conv.h"

namespace backlight::fn::conv_paths {

/// Tile shape knobs for forward_gemm; zero means "choose from the geometry". Tests set them to
/// force tiles that span several images or split one image.
struct GemmTiling {
  int64_t target_cols = 0;        ///< output columns per tile
  int64_t max_images_per_tile = 0;  ///< 1 forbids multi-image tiles
};

bool is_pointwise(const ConvGeometry& g);
bool is_depthwise(const ConvGeometry& g);
/// True when backward_input_flipped applies (stride 1, pad <= dilation*(k-1), not depthwise).
bool flipped_backward_applies(const ConvGeometry& g);

/// y[n,o,oh,ow] (bias may be null).
void forward_gemm(const float* x, const float* w, const float* bias, const ConvGeometry& g, float* y,
                  const Workspace* ws, GemmTiling tiling = {});
void forward_depthwise(const float* x, const float* w, const float* bias, const ConvGeometry& g, float* y);

/// dx[n,c,h,w] for upstream gy[n,o,oh,ow]; dx is fully overwritten.
void backward_input_flipped(const float* gy, const float* w, const ConvGeometry& g, float* dx, const Workspace* ws,
                            GemmTiling tiling = {});
void backward_input_col2im(const float* gy, const float* w, const ConvGeometry& g, float* dx, const Workspace* ws);
void backward_input_depthwise(const float* gy, const float* w, const ConvGeometry& g, float* dx);

/// col[(r - r0) * ld + (p - p0)] = x[c, oy*sh - ph + i*dh, ox*sw - pw + j*dw] (0 outside) for the
/// im2col rows r = (c*kh + i)*kw + j in [r0, r1) and the output positions p = oy*OW + ox in
/// [p0, p1). `x` points at channel 0 of one image's group.
void im2col_tile(const float* x, const ConvGeometry& g, int64_t r0, int64_t r1, int64_t p0, int64_t p1, float* col,
                 int64_t ld);
/// The adjoint: dx[c, ...] += col[(r - r0) * ld + (p - p0)] over the same index sets.
void col2im_tile(const float* col, const ConvGeometry& g, int64_t r0, int64_t r1, int64_t p0, int64_t p1,
                 int64_t ld, float* dx);

}  // namespace backlight::fn::conv_paths
