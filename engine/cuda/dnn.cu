// Convolution on cuDNN (legacy convolution API, present in cuDNN 8 and 9): forward, backward
// data, backward filter. FP32 math (CUDNN_DEFAULT_MATH: no tensor-core down-conversion), so
// results are comparable with the CPU path. The algorithm is chosen once per geometry and
// direction with cuDNN's heuristics and cached in the context; the algorithm workspace comes
// from the context's caching allocator.
#include <cstring>

#include "engine/cuda/context_impl.cuh"
#include "engine/cuda/ops.h"

namespace backlight::cuda {

namespace {

enum Direction { kForward = 0, kBackwardData = 1, kBackwardFilter = 2 };

int to_int(int64_t v) {
  BL_CHECK(v >= 0 && v <= (int64_t{1} << 31) - 1, "cuda::conv2d: dimension ", v, " exceeds cuDNN's 32-bit sizes");
  return static_cast<int>(v);
}

// The four descriptors of one convolution, destroyed with the object.
struct Descriptors {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;

  explicit Descriptors(const ConvShape& s) {
    try {
      BL_CUDNN_CHECK(cudnnCreateTensorDescriptor(&x));
      BL_CUDNN_CHECK(cudnnCreateTensorDescriptor(&y));
      BL_CUDNN_CHECK(cudnnCreateFilterDescriptor(&w));
      BL_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&conv));
      BL_CUDNN_CHECK(cudnnSetTensor4dDescriptor(x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, to_int(s.n), to_int(s.c),
                                                to_int(s.h), to_int(s.w)));
      BL_CUDNN_CHECK(cudnnSetTensor4dDescriptor(y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, to_int(s.n), to_int(s.o),
                                                to_int(s.oh), to_int(s.ow)));
      BL_CUDNN_CHECK(cudnnSetFilter4dDescriptor(w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, to_int(s.o),
                                                to_int(s.c / s.groups), to_int(s.kh), to_int(s.kw)));
      BL_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(conv, s.pad_h, s.pad_w, s.stride_h, s.stride_w, s.dilation_h,
                                                     s.dilation_w, CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
      BL_CUDNN_CHECK(cudnnSetConvolutionGroupCount(conv, s.groups));
      BL_CUDNN_CHECK(cudnnSetConvolutionMathType(conv, CUDNN_DEFAULT_MATH));
    } catch (...) {
      release();
      throw;
    }
  }
  ~Descriptors() { release(); }
  Descriptors(const Descriptors&) = delete;
  Descriptors& operator=(const Descriptors&) = delete;

  void release() {
    if (conv) cudnnDestroyConvolutionDescriptor(conv);
    if (w) cudnnDestroyFilterDescriptor(w);
    if (y) cudnnDestroyTensorDescriptor(y);
    if (x) cudnnDestroyTensorDescriptor(x);
    conv = nullptr;
    w = nullptr;
    y = nullptr;
    x = nullptr;
  }
};

Context::ConvKey key_of(const ConvShape& s, Direction d) {
  return Context::ConvKey{d, s.n, s.c, s.h, s.w, s.o, s.kh, s.kw, s.stride_h, s.stride_w, s.pad_h, s.pad_w,
                          s.dilation_h, s.dilation_w, s.groups};
}

// The first algorithm cuDNN's heuristics rank as usable, cached per geometry and direction.
int choose_algo(Context& ctx, const ConvShape& s, Direction d, const Descriptors& desc) {
  const Context::ConvKey key = key_of(s, d);
  {
    std::lock_guard<std::mutex> lock(ctx.algo_mutex);
    auto it = ctx.conv_algos.find(key);
    if (it != ctx.conv_algos.end()) return it->second;
  }
  int algo = -1, returned = 0;
  if (d == kForward) {
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    BL_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(ctx.cudnn, desc.x, desc.w, desc.conv, desc.y,
                                                          CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &returned, perf));
    for (int i = 0; i < returned && algo < 0; ++i)
      if (perf[i].status == CUDNN_STATUS_SUCCESS) algo = static_cast<int>(perf[i].algo);
  } else if (d == kBackwardData) {
    cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    BL_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(ctx.cudnn, desc.w, desc.y, desc.conv, desc.x,
                                                               CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &returned,
                                                               perf));
    for (int i = 0; i < returned && algo < 0; ++i)
      if (perf[i].status == CUDNN_STATUS_SUCCESS) algo = static_cast<int>(perf[i].algo);
  } else {
    cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    BL_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(ctx.cudnn, desc.x, desc.y, desc.conv, desc.w,
                                                                 CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &returned,
                                                                 perf));
    for (int i = 0; i < returned && algo < 0; ++i)
      if (perf[i].status == CUDNN_STATUS_SUCCESS) algo = static_cast<int>(perf[i].algo);
  }
  BL_CHECK(algo >= 0, "cuda::conv2d: cuDNN offers no algorithm for this convolution (direction ", d, ", input [",
           s.n, ",", s.c, ",", s.h, ",", s.w, "], weight [", s.o, ",", s.c / s.groups, ",", s.kh, ",", s.kw, "])");
  std::lock_guard<std::mutex> lock(ctx.algo_mutex);
  ctx.conv_algos.emplace(key, algo);
  return algo;
}

__global__ void add_channel_bias_kernel(float* y, const float* bias, int64_t c, int64_t hw, int64_t n) {
  BL_GRID_LOOP(i, n) y[i] += bias[(i / hw) % c];
}

}  // namespace

void conv2d_forward(Context& ctx, const ConvShape& s, const float* x, const float* w, const float* bias, float* y) {
  use_device(ctx);
  const Descriptors d(s);
  const auto algo = static_cast<cudnnConvolutionFwdAlgo_t>(choose_algo(ctx, s, kForward, d));
  size_t bytes = 0;
  BL_CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(ctx.cudnn, d.x, d.w, d.conv, d.y, algo, &bytes));
  auto workspace = scratch(ctx, bytes);
  const float one = 1.0f, zero = 0.0f;
  BL_CUDNN_CHECK(cudnnConvolutionForward(ctx.cudnn, &one, d.x, x, d.w, w, d.conv, algo, workspace.get(), bytes, &zero,
                                         d.y, y));
  if (bias) {
    const int64_t n = s.n * s.o * s.oh * s.ow;
    BL_LAUNCH(ctx, n, add_channel_bias_kernel, y, bias, s.o, s.oh * s.ow, n);
  }
}

void conv2d_backward_input(Context& ctx, const ConvShape& s, const float* gy, const float* w, float* dx) {
  use_device(ctx);
  const Descriptors d(s);
  const auto algo = static_cast<cudnnConvolutionBwdDataAlgo_t>(choose_algo(ctx, s, kBackwardData, d));
  size_t bytes = 0;
  BL_CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(ctx.cudnn, d.w, d.y, d.conv, d.x, algo, &bytes));
  auto workspace = scratch(ctx, bytes);
  const float one = 1.0f, zero = 0.0f;
  BL_CUDNN_CHECK(cudnnConvolutionBackwardData(ctx.cudnn, &one, d.w, w, d.y, gy, d.conv, algo, workspace.get(), bytes,
                                              &zero, d.x, dx));
}

void conv2d_backward_weight(Context& ctx, const ConvShape& s, const float* gy, const float* x, float* dw) {
  use_device(ctx);
  const Descriptors d(s);
  const auto algo = static_cast<cudnnConvolutionBwdFilterAlgo_t>(choose_algo(ctx, s, kBackwardFilter, d));
  size_t bytes = 0;
  BL_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(ctx.cudnn, d.x, d.y, d.conv, d.w, algo, &bytes));
  auto workspace = scratch(ctx, bytes);
  const float one = 1.0f, zero = 0.0f;
  BL_CUDNN_CHECK(cudnnConvolutionBackwardFilter(ctx.cudnn, &one, d.x, x, d.y, gy, d.conv, algo, workspace.get(),
                                                bytes, &zero, d.w, dw));
}

}  // namespace backlight::cuda
