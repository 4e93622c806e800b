// Softmax / log-softmax, layer norm and inference batch norm. One thread per lane (softmax),
// row (layer norm forward/backward-input), column (layer-norm parameter sums) or channel
// (batch-norm parameter sums): simple and correct; sums accumulate in double.
#include <cmath>

#include "engine/cuda/context_impl.cuh"
#include "engine/cuda/ops.h"

namespace backlight::cuda {

namespace {

// --- kernels
// Lane t = (o, j): elements base + l*inner, base = o*len*inner + j.
__global__ void softmax_forward_kernel(bool log_out, const float* x, float* y, int64_t outer, int64_t len,
                                       int64_t inner) {
  BL_GRID_LOOP(t, outer * inner) {
    const int64_t base = (t / inner) * len * inner + t % inner;
    float mx = -INFINITY;
    for (int64_t l = 0; l < len; ++l) mx = fmaxf(mx, x[base + l * inner]);
    double sum = 0.0;
    for (int64_t l = 0; l < len; ++l) sum += expf(x[base + l * inner] - mx);
    if (log_out) {
      const float lse = mx + logf(static_cast<float>(sum));
      for (int64_t l = 0; l < len; ++l) y[base + l * inner] = x[base + l * inner] - lse;
    } else {
      const float inv = static_cast<float>(1.0 / sum);
      for (int64_t l = 0; l < len; ++l) y[base + l * inner] = expf(x[base + l * inner] - mx) * inv;
    }
  }
}

// softmax: dx = y * (g - sum(g*y)); log-softmax: dx = g - exp(y) * sum(g).
__global__ void softmax_backward_kernel(bool log_out, const float* g, const float* y, float* dx, int64_t outer,
                                        int64_t len, int64_t inner) {
  BL_GRID_LOOP(t, outer * inner) {
    const int64_t base = (t / inner) * len * inner + t % inner;
    double s = 0.0;
    for (int64_t l = 0; l < len; ++l) {
      const int64_t i = base + l * inner;
      s += log_out ? g[i] : static_cast<double>(g[i]) * y[i];
    }
    const float sf = static_cast<float>(s);
    for (int64_t l = 0; l < len; ++l) {
      const int64_t i = base + l * inner;
      dx[i] = log_out ? g[i] - expf(y[i]) * sf : y[i] * (g[i] - sf);
    }
  }
}

__global__ void layernorm_forward_kernel(const float* x, const float* w, const float* b, float eps, int64_t m,
                                         int64_t d, float* y, float* mean, float* rstd) {
  BL_GRID_LOOP(row, m) {
    const float* xr = x + row * d;
    double s = 0.0;
    for (int64_t i = 0; i < d; ++i) s += xr[i];
    const float mu = static_cast<float>(s / d);
    double v = 0.0;  // two passes, as the CPU path
    for (int64_t i = 0; i < d; ++i) v += (xr[i] - mu) * (xr[i] - mu);
    const float rs = 1.0f / sqrtf(static_cast<float>(v / d) + eps);
    mean[row] = mu;
    rstd[row] = rs;
    for (int64_t i = 0; i < d; ++i) {
      float o = (xr[i] - mu) * rs;
      if (w) o *= w[i];
      if (b) o += b[i];
      y[row * d + i] = o;
    }
  }
}

__global__ void layernorm_backward_input_kernel(const float* g, const float* x, const float* w, const float* mean,
                                                const float* rstd, int64_t m, int64_t d, float* dx) {
  BL_GRID_LOOP(row, m) {
    const float mu = mean[row], rs = rstd[row];
    double sa = 0.0, sb = 0.0;
    for (int64_t i = 0; i < d; ++i) {
      const float gw = g[row * d + i] * (w ? w[i] : 1.0f);
      sa += gw;
      sb += static_cast<double>(gw) * ((x[row * d + i] - mu) * rs);
    }
    const float a = static_cast<float>(sa / d), b = static_cast<float>(sb / d);
    for (int64_t i = 0; i < d; ++i) {
      const float gw = g[row * d + i] * (w ? w[i] : 1.0f);
      dx[row * d + i] = rs * (gw - a - (x[row * d + i] - mu) * (rs * b));
    }
  }
}

__global__ void layernorm_backward_params_kernel(const float* g, const float* x, const float* mean, const float* rstd,
                                                 int64_t m, int64_t d, float* dw, float* db) {
  BL_GRID_LOOP(col, d) {
    double sw = 0.0, sb = 0.0;
    for (int64_t row = 0; row < m; ++row) {
      const float gi = g[row * d + col];
      sw += static_cast<double>(gi) * ((x[row * d + col] - mean[row]) * rstd[row]);
      sb += gi;
    }
    dw[col] = static_cast<float>(sw);
    db[col] = static_cast<float>(sb);
  }
}

__global__ void batchnorm_affine_kernel(const float* w, const float* b, const float* mean, const float* var,
                                        float eps, int64_t c, float* scale, float* shift) {
  BL_GRID_LOOP(i, c) {
    const float s = w[i] / sqrtf(var[i] + eps);
    scale[i] = s;
    shift[i] = b[i] - mean[i] * s;
  }
}

__global__ void channel_affine_kernel(const float* x, const float* scale, const float* shift, int64_t c, int64_t hw,
                                      float* y, int64_t n) {
  BL_GRID_LOOP(i, n) {
    const int64_t ch = (i / hw) % c;
    y[i] = shift ? x[i] * scale[ch] + shift[ch] : x[i] * scale[ch];
  }
}

__global__ void batchnorm_param_grads_kernel(const float* g, const float* x, const float* weight, const float* mean,
                                             const float* var, float eps, int64_t n, int64_t c, int64_t hw,
                                             float* dw, float* db, float* dmean, float* dvar) {
  BL_GRID_LOOP(ch, c) {
    const float mu = mean[ch];
    double sg = 0.0, sgx = 0.0;
    for (int64_t b = 0; b < n; ++b) {
      const float* gi = g + (b * c + ch) * hw;
      const float* xi = x + (b * c + ch) * hw;
      for (int64_t i = 0; i < hw; ++i) {
        sg += gi[i];
        sgx += static_cast<double>(gi[i]) * (xi[i] - mu);
      }
    }
    const double rs = 1.0 / sqrt(static_cast<double>(var[ch]) + eps);
    const double w = weight[ch];
    dw[ch] = static_cast<float>(sgx * rs);
    db[ch] = static_cast<float>(sg);
    dmean[ch] = static_cast<float>(-sg * w * rs);
    dvar[ch] = static_cast<float>(-0.5 * w * rs * rs * rs * sgx);
  }
}

}  // namespace

// --- launchers
void softmax_forward(Context& ctx, bool log, const float* x, float* y, int64_t outer, int64_t len, int64_t inner) {
  BL_LAUNCH(ctx, outer * inner, softmax_forward_kernel, log, x, y, outer, len, inner);
}

void softmax_backward(Context& ctx, bool log, const float* g, const float* y, float* dx, int64_t outer, int64_t len,
                      int64_t inner) {
  BL_LAUNCH(ctx, outer * inner, softmax_backward_kernel, log, g, y, dx, outer, len, inner);
}

void layernorm_forward(Context& ctx, const float* x, const float* weight, const float* bias, float eps, int64_t m,
                       int64_t d, float* y, float* mean, float* rstd) {
  BL_LAUNCH(ctx, m, layernorm_forward_kernel, x, weight, bias, eps, m, d, y, mean, rstd);
}

void layernorm_backward_input(Context& ctx, const float* g, const float* x, const float* weight, const float* mean,
                              const float* rstd, int64_t m, int64_t d, float* dx) {
  BL_LAUNCH(ctx, m, layernorm_backward_input_kernel, g, x, weight, mean, rstd, m, d, dx);
}

void layernorm_backward_params(Context& ctx, const float* g, const float* x, const float* mean, const float* rstd,
                               int64_t m, int64_t d, float* dweight, float* dbias) {
  BL_LAUNCH(ctx, d, layernorm_backward_params_kernel, g, x, mean, rstd, m, d, dweight, dbias);
}

void batchnorm_affine(Context& ctx, const float* w, const float* b, const float* mean, const float* var, float eps,
                      int64_t c, float* scale, float* shift) {
  BL_LAUNCH(ctx, c, batchnorm_affine_kernel, w, b, mean, var, eps, c, scale, shift);
}

void channel_affine(Context& ctx, const float* x, const float* scale, const float* shift, int64_t n, int64_t c,
                    int64_t hw, float* y) {
  const int64_t total = n * c * hw;
  BL_LAUNCH(ctx, total, channel_affine_kernel, x, scale, shift, c, hw, y, total);
}

void batchnorm_param_grads(Context& ctx, const float* g, const float* x, const float* weight, const float* mean,
                           const float* var, float eps, int64_t n, int64_t c, int64_t hw, float* dweight,
                           float* dbias, float* dmean, float* dvar) {
  BL_LAUNCH(ctx, c, batchnorm_param_grads_kernel, g, x, weight, mean, var, eps, n, c, hw, dweight, dbias, dmean, dvar);
}

}  // namespace backlight::cuda
