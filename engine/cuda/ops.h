#pragma once
/// The engine's ops on a CUDA device, on raw device pointers (C++17, no CUDA headers: the C++20
/// engine includes this; the Tensor-level wrappers are engine/functional/cuda_ops.h).
///
/// Every function enqueues work on the context's stream and returns without waiting (unless it
/// says "syncs"); outputs are written in full. Shapes arrive validated by the engine's CPU-side
/// checks, which are shared with the CPU path. Row-major layouts throughout, NCHW for images.
/// Dense products run on cuBLAS (FP32, no TF32), convolutions on cuDNN; everything else is a
/// kernel of our own whose per-element math is the BL_HD code the CPU path runs.
#include <cstdint>

#include "engine/cuda/context.h"
#include "engine/functional/binary_math.h"
#include "engine/functional/map_math.h"

namespace backlight::cuda {

inline constexpr int kMaxRank = 8;

// --- element-wise (elementwise.cu) --------------------------------------------------------------

/// y[i] = f(x[i]; p, q).
void map_unary(Context& ctx, maps::Unary op, float p, float q, const float* x, float* y, int64_t n);
/// y[i] = g[i] * f'(v[i]; p, q).
void map_grad(Context& ctx, maps::Grad op, float p, float q, const float* g, const float* v, float* y, int64_t n);
/// out[i] = a * x[i] + b * y[i] (y may be null when b == 0; out may alias x or y).
void axpby(Context& ctx, float a, const float* x, float b, const float* y, float* out, int64_t n);

using Binary = maps::Binary;  ///< engine/functional/binary_math.h
/// out[idx] = a[idx . sa] (op) b[idx . sb] over the multi-index idx of `dims` (rank <= 8);
/// broadcast dims have stride 0.
void binary(Context& ctx, Binary op, const float* a, const int64_t* sa, const float* b, const int64_t* sb,
            const int64_t* dims, int rank, float* out);

/// A strided copy region: for every multi-index idx of dims (rank <= 8)
///   dst[dst_offset + idx . dst_stride] = scale * src[src_offset + idx . src_stride].
/// Permute, concat, slice, pad and the broadcast that is the reduction gradient are all this one
/// kernel with different strides (src stride 0 repeats; dst regions of distinct idx never overlap).
struct StridedCopy {
  int rank = 0;
  int64_t dims[kMaxRank] = {};
  int64_t src_stride[kMaxRank] = {};
  int64_t dst_stride[kMaxRank] = {};
  int64_t src_offset = 0;
  int64_t dst_offset = 0;
  float scale = 1.0f;
};
void strided_copy(Context& ctx, const StridedCopy& c, const float* src, float* dst);

/// y[out] = scale * sum of x over the dims set in `mask` (x of shape dims, rank <= 8); y is
/// contiguous in the reduced shape (keepdim or not: same layout). Accumulates in double.
void reduce_sum(Context& ctx, const float* x, const int64_t* dims, int rank, uint32_t mask, float scale, float* y);

/// Syncs: whether any of the n floats is non-zero.
bool any_nonzero(Context& ctx, const float* x, int64_t n);
/// Syncs: the index of the first NaN or infinite value among the n floats, or -1 (only that
/// index comes back to the host).
int64_t first_nonfinite(Context& ctx, const float* x, int64_t n);

// --- dense products (blas.cu) --------------------------------------------------------------------

/// Row-major C[m,n] = alpha * op(A) op(B) + beta * C, op = transpose when ta / tb (A stored
/// [k,m] / B stored [n,k] then), leading dimensions in elements.
void gemm(Context& ctx, bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
          const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
/// `batch` independent products; stride 0 repeats an operand across the batch.
void gemm_batched(Context& ctx, bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                  int64_t stride_a, const float* b, int64_t ldb, int64_t stride_b, float* c, int64_t ldc,
                  int64_t stride_c, int64_t batch);
/// y[r, j] += bias[j] for r < rows, j < cols.
void add_row_bias(Context& ctx, float* y, const float* bias, int64_t rows, int64_t cols);

// --- convolution (dnn.cu, cuDNN) ----------------------------------------------------------------

struct ConvShape {
  int64_t n, c, h, w;  ///< input
  int64_t o, kh, kw;   ///< weight [o, c/groups, kh, kw]
  int64_t oh, ow;      ///< output
  int stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w, groups;
};
/// y[n,o,oh,ow] = conv(x, w) (+ bias[o] when bias is not null).
void conv2d_forward(Context& ctx, const ConvShape& s, const float* x, const float* w, const float* bias, float* y);
/// dx[n,c,h,w] for upstream gy (cuDNN backward data).
void conv2d_backward_input(Context& ctx, const ConvShape& s, const float* gy, const float* w, float* dx);
/// dw[o,c/groups,kh,kw] (cuDNN backward filter).
void conv2d_backward_weight(Context& ctx, const ConvShape& s, const float* gy, const float* x, float* dw);

// --- pooling (pool.cu) ---------------------------------------------------------------------------

/// One output index's input range along one axis, as fn::pool2d_geometry computes it (host
/// arrays; the launchers upload them).
struct Window {
  int64_t begin, end, padded_extent;
};
struct PoolShape {
  int64_t planes, h, w, oh, ow;  ///< planes = N*C
  int dilation_h, dilation_w;
  bool count_include_pad;
};
/// Max over each window (first maximum, NaN wins, as the CPU path); argmax (flat iy*W+ix as a
/// float) written when not null.
void maxpool_forward(Context& ctx, const PoolShape& s, const Window* rows, const Window* cols, const float* x,
                     float* y, float* argmax);
/// dx (zeroed here) += g at each window's argmax.
void maxpool_backward(Context& ctx, const PoolShape& s, const float* g, const float* argmax, float* dx);
/// Mean over each window (divisor as fn::avgpool2d / adaptive_avgpool2d), and its transpose.
void meanpool_forward(Context& ctx, const PoolShape& s, const Window* rows, const Window* cols, const float* x,
                      float* y);
void meanpool_backward(Context& ctx, const PoolShape& s, const Window* rows, const Window* cols, const float* g,
                       float* dx);

// --- softmax and normalisation (norm.cu) --------------------------------------------------------

/// Along the middle axis of [outer, len, inner]; log selects log-softmax.
void softmax_forward(Context& ctx, bool log, const float* x, float* y, int64_t outer, int64_t len, int64_t inner);
void softmax_backward(Context& ctx, bool log, const float* g, const float* y, float* dx, int64_t outer, int64_t len,
                      int64_t inner);
/// Rows [m, d]; weight/bias may be null.
void layernorm_forward(Context& ctx, const float* x, const float* weight, const float* bias, float eps, int64_t m,
                       int64_t d, float* y, float* mean, float* rstd);
void layernorm_backward_input(Context& ctx, const float* g, const float* x, const float* weight, const float* mean,
                              const float* rstd, int64_t m, int64_t d, float* dx);
void layernorm_backward_params(Context& ctx, const float* g, const float* x, const float* mean, const float* rstd,
                               int64_t m, int64_t d, float* dweight, float* dbias);
/// scale[c] = w / sqrt(var + eps), shift[c] = b - mean * scale.
void batchnorm_affine(Context& ctx, const float* w, const float* b, const float* mean, const float* var, float eps,
                      int64_t c, float* scale, float* shift);
/// y = x * scale[ch] + shift[ch] over x [n, c, hw] (shift may be null).
void channel_affine(Context& ctx, const float* x, const float* scale, const float* shift, int64_t n, int64_t c,
                    int64_t hw, float* y);
/// Per-channel sums for the batch-norm parameter gradients (see fn::batchnorm_backward_params).
void batchnorm_param_grads(Context& ctx, const float* g, const float* x, const float* weight, const float* mean,
                           const float* var, float eps, int64_t n, int64_t c, int64_t hw, float* dweight,
                           float* dbias, float* dmean, float* dvar);

// --- lookup (rules.cu) ---------------------------------------------------------------------------

/// y[i, :] = weight[idx[i], :] (indices validated by the caller, exact integers as floats).
void embedding_forward(Context& ctx, const float* idx, int64_t count, const float* weight, int64_t dim, float* y);
/// dw[num, dim] = 0, then dw[idx[i], :] += g[i, :] (atomics).
void embedding_backward(Context& ctx, const float* g, const float* idx, int64_t count, int64_t dim, int64_t num,
                        float* dw);

// --- rule maps (rules.cu; math in engine/rules/rule_math.h) -----------------------------------

/// DeepLIFT Rescale on a paired batch of 2*half elements (first half inputs, second references).
void deeplift_rescale(Context& ctx, const float* x, const float* y, const float* g, const float* plain, float* out,
                      int64_t half, float eps);
/// Subtracts, per item, the mean over both halves (n items per half, per_item floats each).
void center_pairs(Context& ctx, float* out, int64_t n, int64_t per_item);
/// Max-pool DeepLIFT weights: m = max(y, y_ref); w = g * (m - y_ref), w_ref = g_ref * (y - m).
void deeplift_maxpool_weights(Context& ctx, const float* y, const float* g, float* w, int64_t half_out);
/// out = small dx ? plain : (u + u_ref) / dx, for both halves.
void deeplift_from_unpooled(Context& ctx, const float* x, const float* u, const float* plain, float* out,
                            int64_t half, float eps);
/// s = selected ? rel / stabilize(z, eps) : 0; where: 0 all, 1 out > 0, 2 out < 0.
void lrp_ratio(Context& ctx, const float* rel, const float* z, const float* out, int where, float eps, float* s,
               int64_t n);
/// acc += coef * in * c (in null: ones).
void lrp_accumulate(Context& ctx, float* acc, float coef, const float* in, const float* c, int64_t n);

}  // namespace backlight::cuda
