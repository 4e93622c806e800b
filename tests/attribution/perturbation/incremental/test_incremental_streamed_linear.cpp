// The streamed linear layer of incremental occlusion against the engine's linear layer.
#include <cstring>

#include "attribution/perturbation/incremental/streamed_linear.h"
#include "engine/functional/gemm.h"
#include "engine/functional/linear.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

TEST_SUITE("attribution") {
  TEST_CASE("incremental streamed_linear: equals fn::linear_forward") {
    std::mt19937_64 rng(kSeed);
    Workspace ws;
    // Output features not a multiple of the 6-row panels, depth over one 256 block, leading dims;
    // 15 rows (linear's row-blocked path) and 2 (its few-rows path).
    const Tensor x = uniform({5, 3, 300}, rng), w = uniform({13, 300}, rng), b = uniform({13}, rng);
    const Tensor x2 = x.reshape({15, 300}).slice_batch(0, 2).clone();
    for (const Tensor& xi : {x, x2})
      for (const Tensor& bias : {b, Tensor()}) {
        const Tensor want = fn::linear_forward(xi, w, bias, &ws);
        const Tensor got = incremental::streamed_linear(xi, w, bias, ws);
        REQUIRE(got.shape() == want.shape());
        BL_CHECK_CLOSE(got, want, 1e-5, 1e-5);
        // The AVX2 kernel: the same bits (an unoccluded row's difference is exactly 0).
        if (std::strcmp(fn::gemm::kernel_name(), "avx2-6x16") == 0)
          CHECK(std::memcmp(got.data(), want.data(), sizeof(float) * static_cast<size_t>(want.numel())) == 0);
      }
    CHECK(incremental::streamed_linear(x, w, b, ws).shape() == Shape({5, 3, 13}));
    CHECK_THROWS_WITH_AS(incremental::streamed_linear(x, uniform({13, 299}, rng), Tensor(), ws),
                         doctest::Contains("expected x [..., 299]"), backlight::Error);
  }
}
