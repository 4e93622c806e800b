// FLOP counter: counts on small nets against the hand formulas of engine/flops.h.
#include "engine/flops.h"
#include "models/zoo.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

TEST_SUITE("engine") {

TEST_CASE("flops: a tiny conv net matches the hand formula per node") {
  // x [2,3,9,9] -> conv 3->4 k3 s2 p1 -> [2,4,5,5] -> relu -> conv 4->6 k1 groups 2 -> [2,6,5,5]
  // -> flatten -> linear 150->7 -> [2,7]
  Tape t;
  Var x = t.input(Tensor::zeros({2, 3, 9, 9}));
  Var w1 = t.param(Tensor::zeros({4, 3, 3, 3}), "c1.weight");
  Var w2 = t.param(Tensor::zeros({6, 2, 1, 1}), "c2.weight");
  Var w3 = t.param(Tensor::zeros({7, 150}), "fc.weight");
  Var y = conv2d(x, w1, {}, {.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1}, "c1");
  y = relu(y, "act");
  y = conv2d(y, w2, {}, {.groups = 2}, "c2");
  y = linear(flatten(y, 1, -1, "flat"), w3, {}, "fc");
  REQUIRE(y.shape() == Shape{2, 7});

  const FlopCount c = forward_flops(t);
  const double c1 = 2.0 * 2 * 4 * 5 * 5 * 3 * 3 * 3;  // 2 N O OH OW C kH kW
  const double c2 = 2.0 * 2 * 6 * 5 * 5 * (4 / 2);    // groups: C/g input channels per output
  const double fc = 2.0 * 2 * 150 * 7;                // 2 rows in out
  REQUIRE(c.nodes.size() == 3);
  CHECK(c.nodes[0].name == "c1");
  CHECK(c.nodes[0].flops == c1);
  CHECK(c.nodes[1].flops == c2);
  CHECK(c.nodes[2].kind == OpKind::Linear);
  CHECK(c.nodes[2].flops == fc);
  CHECK(c.conv == c1 + c2);
  CHECK(c.linear == fc);
  CHECK(c.matmul == 0.0);
  CHECK(c.total == c1 + c2 + fc);
}

TEST_CASE("flops: batched matmul counts 2 M K N per batch entry") {
  Tape t;
  Var a = t.input(Tensor::zeros({3, 4, 5}));
  Var b = t.input(Tensor::zeros({5, 6}));
  matmul(a, b);
  const FlopCount c = forward_flops(t);
  CHECK(c.matmul == 2.0 * 3 * 4 * 5 * 6);
  CHECK(c.total == c.matmul);
}

TEST_CASE("flops: zoo models match their architectures' hand counts") {
  SUBCASE("mnist_cnn") {
    // conv 1->32 at 28x28, 32->64 at 14x14, 64->128 at 7x7 (k3 p1), then 1152->256->10.
    const double expect = 2.0 * (32 * 784 * 9 + 64 * 196 * 32 * 9 + 128 * 49 * 64 * 9 + 1152 * 256 + 256 * 10);
    const FlopCount c = model_forward_flops(*make_model("mnist_cnn"), Shape{3, 1, 28, 28});
    CHECK(c.total == 3 * expect);
    CHECK(c.nodes.size() == 5);
  }
  SUBCASE("resnet18") {
    // torchvision resnet18: 1,814,073,344 multiply-adds per 224x224 image (conv 1,813,561,344 +
    // fc 512,000), counted in PyTorch with forward hooks on every Conv2d / Linear.
    const FlopCount c = model_forward_flops(*make_model("resnet18"), Shape{1, 3, 224, 224});
    CHECK(c.nodes.size() == 21);  // 20 convs (17 3x3/7x7 + 3 downsample) and fc
    CHECK(c.linear == 2.0 * 512 * 1000);
    CHECK(c.total == 2.0 * 1814073344.0);
  }
}

TEST_CASE("flops: an inference tape is rejected with a message") {
  Tape t(TapeOptions{.record = false});
  CHECK_THROWS_WITH_AS(forward_flops(t), doctest::Contains("records no nodes"), Error);
}

}  // TEST_SUITE
