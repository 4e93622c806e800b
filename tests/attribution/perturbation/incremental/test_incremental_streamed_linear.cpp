// The streamed linear layer of incremental occlusion against the engine's linear layer.
#include "attribution/perturbation/incremental/streamed_linear.h"
#include "engine/functional/linear.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

TEST_SUITE("attribution") {
  TEST_CASE("incremental streamed_linear: equals fn::linear_forward") {
    std::mt19937_64 rng(kSeed);
    Workspace ws;
    // Output features not a multiple of the 6-row panels, depth over one 256 block, leading dims.
    const Tensor x = uniform({5, 3, 300}, rng), w = uniform({13, 300}, rng), b = uniform({13}, rng);
    for (const Tensor& bias : {b, Tensor()}) {
      const Tensor want = fn::linear_forward(x, w, bias, &ws);
      const Tensor got = incremental::streamed_linear(x, w, bias, ws);
      CHECK(got.shape() == Shape({5, 3, 13}));
      BL_CHECK_CLOSE(got, want, 1e-5, 1e-5);
    }
    CHECK_THROWS_WITH_AS(incremental::streamed_linear(x, uniform({13, 299}, rng), Tensor(), ws),
                         doctest::Contains("expected x [..., 299]"), backlight::Error);
  }
}
