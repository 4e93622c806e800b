// Limits on sizes that come from untrusted data: Resize refuses absurd output sizes before
// allocating (a fuzzed ONNX Resize scale once asked for terabytes), and a Workspace made with a
// tensor limit (the ONNX importer's validating pass) refuses larger tensors.
#include <doctest/doctest.h>

#include "engine/functional/resize.h"
#include "engine/tape.h"
#include "engine/workspace.h"
#include "tests/helpers.h"

using namespace backlight;

TEST_SUITE("engine") {

TEST_CASE("resize: outputs above 65536 per side are refused with the size and the limit") {
  const Tensor x = Tensor::zeros({1, 1, 2, 2});
  ResizeAttrs a;
  a.out_h = 70000;
  a.out_w = 4;
  a.inv_scale_h = 2.0f / 70000.0f;
  a.inv_scale_w = 0.5f;
  CHECK_THROWS_WITH_AS(fn::resize_forward(x, a, nullptr), doctest::Contains("70000x4 exceeds 65536 per side"),
                       Error);
  a.out_h = 4;
  a.out_w = int64_t{1} << 40;  // would be 4 TiB of floats
  CHECK_THROWS_WITH_AS(fn::resize_forward(x, a, nullptr), doctest::Contains("exceeds 65536"), Error);
  CHECK_THROWS_WITH_AS(fn::resize_backward(Tensor::zeros({1, 1, 4, 4}), x.shape(), a, nullptr),
                       doctest::Contains("exceeds 65536"), Error);
  a.out_w = 65536;  // the limit itself is allowed
  a.inv_scale_w = 2.0f / 65536.0f;
  const Tensor y = fn::resize_forward(x, a, nullptr);
  CHECK(y.shape() == Shape{1, 1, 4, 65536});
}

}  // TEST_SUITE

TEST_SUITE("engine") {

TEST_CASE("workspace with a tensor limit: larger tensors throw naming shape and limit, smaller ones allocate") {
  const Workspace ws = Workspace::with_tensor_limit(4096);
  CHECK(ws.max_tensor_bytes() == 4096);
  CHECK(Workspace().max_tensor_bytes() == SIZE_MAX);
  CHECK(Tensor::zeros({1024}, &ws).numel() == 1024);  // exactly the limit
  CHECK_THROWS_WITH_AS(Tensor::empty({1025}, &ws), doctest::Contains("[1025] (4100 bytes) exceeds this run's limit of 4096"),
                       Error);
  Tape tape(TapeOptions{}, ws);
  CHECK_THROWS_AS(tape.alloc({2, 1024}), Error);
}

}  // TEST_SUITE
