// Batch invariance of the CPU conv2d paths that run on fn::gemm or Winograd (engine/functional/
// conv.cpp, conv_gemm.cpp, conv_winograd.cpp): an image's output and input gradient are
// bit-identical (memcmp) whether it is computed alone or first in a batch of 2..6 images, at 1, 2
// or 3 threads. Geometries: pointwise, a 3x3 GEMM layer, a 3x3 Winograd layer (>= 16 channels),
// stride 2 (col2im backward), a 7x7 stride-2 stem on 3 channels (the backward that once split one
// image's columns across threads), grouped. Depthwise convs are not covered here.
#include <cstring>
#include <string>
#include <random>

#include "engine/functional/conv.h"
#include "engine/parallel.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

TEST_SUITE("engine") {

TEST_CASE("conv2d: an image's output and input gradient are bit-identical alone and in any batch, any thread count") {
  struct Geometry {
    const char* name;
    int64_t c, o, hw;
    int k, stride, pad, groups;
  };
  const int saved = num_threads();
  std::mt19937_64 rng(kSeed);
  for (const Geometry& ge :
       {Geometry{"pointwise", 24, 40, 9, 1, 1, 0, 1}, Geometry{"3x3 gemm", 3, 8, 11, 3, 1, 1, 1},
        Geometry{"3x3 winograd", 16, 24, 10, 3, 1, 1, 1}, Geometry{"3x3 stride 2", 20, 24, 13, 3, 2, 1, 1},
        Geometry{"7x7 stride-2 stem", 3, 16, 64, 7, 2, 3, 1}, Geometry{"grouped 3x3", 16, 16, 9, 3, 1, 1, 4}}) {
    const std::string name = ge.name;
    CAPTURE(name);
    Conv2dAttrs a;
    a.stride_h = a.stride_w = ge.stride;
    a.pad_h = a.pad_w = ge.pad;
    a.groups = ge.groups;
    const Tensor w = randn({ge.o, ge.c / ge.groups, ge.k, ge.k}, rng), b = randn({ge.o}, rng);
    constexpr int64_t kImages = 6;
    const Tensor x = randn({kImages, ge.c, ge.hw, ge.hw}, rng);
    Workspace ws;
    set_num_threads(1);
    const Tensor y1 = fn::conv2d_forward(x.slice_batch(0, 1).clone(), w, b, a, &ws);
    const Tensor gy = randn({kImages, y1.size(1), y1.size(2), y1.size(3)}, rng);
    const Tensor dx1 = fn::conv2d_backward_input(gy.slice_batch(0, 1).clone(), w, x.slice_batch(0, 1).shape(), a, &ws);
    for (const int threads : {1, 2, 3}) {
      CAPTURE(threads);
      set_num_threads(threads);
      for (int64_t n = 1; n <= kImages; ++n) {
        CAPTURE(n);
        const Tensor xn = x.slice_batch(0, n).clone();
        const Tensor y = fn::conv2d_forward(xn, w, b, a, &ws);
        const Tensor dx = fn::conv2d_backward_input(gy.slice_batch(0, n).clone(), w, xn.shape(), a, &ws);
        CHECK_MESSAGE(std::memcmp(y.data(), y1.data(), sizeof(float) * static_cast<size_t>(y1.numel())) == 0,
                      "forward of image 0 differs from the image alone");
        CHECK_MESSAGE(std::memcmp(dx.data(), dx1.data(), sizeof(float) * static_cast<size_t>(dx1.numel())) == 0,
                      "input gradient of image 0 differs from the image alone");
      }
    }
  }
  set_num_threads(saved);
}

}  // TEST_SUITE
