// Host-side pieces of the CUDA backend, run on the CPU: error texts, and the BL_HD math the
// device kernels compile (named maps, rule maps) against the CPU engine's own functions.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "engine/functional/elementwise.h"
#include "engine/functional/map.h"
#include "engine/cuda/check.h"
#include "engine/functional/map_math.h"
#include "engine/rules/rule_math.h"
#include "tests/helpers.h"

using namespace backlight;

namespace {
// Equal up to a rounding difference (FMA contraction may differ between call sites).
doctest::Approx near(float v) { return doctest::Approx(v).epsilon(1e-6); }
const std::vector<float> kProbe = {-7.0f, -6.0f, -2.5f, -1.0f, -1e-3f, 0.0f, 1e-3f, 0.5f, 1.0f, 3.0f, 6.0f, 8.0f};
}

TEST_SUITE("engine") {

TEST_CASE("cuda/check: failure messages name the call, the status and the place") {
  CHECK(cuda::failure_message("cudaMalloc(&ptr, bytes)", "out of memory", "cudaErrorMemoryAllocation",
                              "engine/cuda/context.cu", 40) ==
        "cudaMalloc(&ptr, bytes) failed: out of memory (cudaErrorMemoryAllocation) at engine/cuda/context.cu:40");
  CHECK(std::string(cuda::cublas_status_text(3).name) == "CUBLAS_STATUS_ALLOC_FAILED");
  CHECK(std::string(cuda::cublas_status_text(7).name) == "CUBLAS_STATUS_INVALID_VALUE");
  CHECK(std::string(cuda::cublas_status_text(13).description) == "GPU program failed to execute");
  CHECK(std::string(cuda::cublas_status_text(15).name) == "CUBLAS_STATUS_NOT_SUPPORTED");
  CHECK(std::string(cuda::cublas_status_text(12345).name) == "CUBLAS_STATUS_UNKNOWN");
}

TEST_CASE("cuda/map_math: the device maps equal the CPU activation math") {
  for (float x : kProbe) {
    CAPTURE(x);
    CHECK(maps::apply_unary(maps::Unary::Relu, x, 0) == near(math::relu(x)));
    CHECK(maps::apply_unary(maps::Unary::Relu6, x, 0) == near(math::relu6(x)));
    CHECK(maps::apply_unary(maps::Unary::LeakyRelu, x, 0.2f) == near(math::leaky_relu(x, 0.2f)));
    CHECK(maps::apply_unary(maps::Unary::Sigmoid, x, 0) == near(math::sigmoid(x)));
    CHECK(maps::apply_unary(maps::Unary::Tanh, x, 0) == near(std::tanh(x)));
    CHECK(maps::apply_unary(maps::Unary::Gelu, x, 0) == near(math::gelu(x)));
    CHECK(maps::apply_unary(maps::Unary::GeluTanh, x, 0) == near(math::gelu_tanh(x)));
    CHECK(maps::apply_unary(maps::Unary::PositivePart, x, 0) == near((x > 0 ? x : 0.0f)));
    CHECK(maps::apply_unary(maps::Unary::NegativePart, x, 0) == near((x < 0 ? x : 0.0f)));
    CHECK(maps::apply_unary(maps::Unary::Square, x, 0) == near(x * x));
    CHECK(maps::apply_unary(maps::Unary::Abs, x, 0) == near(std::fabs(x)));
    CHECK(maps::apply_unary(maps::Unary::GammaPositive, x, 0.25f) == near(x + 0.25f * (x > 0 ? x : 0.0f)));
    CHECK(maps::apply_unary(maps::Unary::GammaNegative, x, 0.25f) == near(x + 0.25f * (x < 0 ? x : 0.0f)));
    CHECK(maps::apply_unary(maps::Unary::Scale, x, -2.0f) == near(-2.0f * x));
    const float g = 1.5f;
    CHECK(maps::apply_grad(maps::Grad::Relu, g, x, 0) == near(math::relu_vjp(g, x)));
    CHECK(maps::apply_grad(maps::Grad::Relu6, g, x, 0) == near(math::relu6_vjp(g, x)));
    CHECK(maps::apply_grad(maps::Grad::LeakyRelu, g, x, 0.2f) == near(math::leaky_relu_vjp(g, x, 0.2f)));
    CHECK(maps::apply_grad(maps::Grad::Sigmoid, g, x, 0) == near(g * math::sigmoid_grad_from_y(x)));
    CHECK(maps::apply_grad(maps::Grad::Tanh, g, x, 0) == near(g * math::tanh_grad_from_y(x)));
    CHECK(maps::apply_grad(maps::Grad::Gelu, g, x, 0) == near(g * math::gelu_grad(x)));
    CHECK(maps::apply_grad(maps::Grad::GeluTanh, g, x, 0) == near(g * math::gelu_tanh_grad(x)));
  }
  // Kinks follow PyTorch: relu'(0) = 0, relu6'(6) = 0.
  CHECK(maps::apply_grad(maps::Grad::Relu, 1.0f, 0.0f, 0) == 0.0f);
  CHECK(maps::apply_grad(maps::Grad::Relu6, 1.0f, 6.0f, 0) == 0.0f);
}

TEST_CASE("cuda/map_math: fn::map_named on the CPU equals the per-element device formula") {
  const Tensor x = Tensor::from(Shape{static_cast<int64_t>(kProbe.size())}, kProbe);
  const Tensor g = Tensor::full(x.shape(), 0.75f);
  for (int op = 0; op <= static_cast<int>(maps::Unary::Abs); ++op) {
    const auto u = static_cast<maps::Unary>(op);
    CAPTURE(op);
    const Tensor y = fn::map_named(x, nullptr, u, 0.3f);
    for (int64_t i = 0; i < x.numel(); ++i) CHECK(y.data()[i] == near(maps::apply_unary(u, x.data()[i], 0.3f)));
  }
  for (int op = 0; op <= static_cast<int>(maps::Grad::GeluTanh); ++op) {
    const auto d = static_cast<maps::Grad>(op);
    CAPTURE(op);
    const Tensor y = fn::map_grad_named(g, x, nullptr, d, 0.3f);
    for (int64_t i = 0; i < x.numel(); ++i) CHECK(y.data()[i] == near(maps::apply_grad(d, 0.75f, x.data()[i], 0.3f)));
  }
}

TEST_CASE("cuda/map_math: the ONNX import maps (exp ... hardswish) on the CPU equal the device formula") {
  const Tensor x = Tensor::from(Shape{static_cast<int64_t>(kProbe.size())}, kProbe);
  const Tensor g = Tensor::full(x.shape(), 0.75f);
  auto same = [](float a, float b) { return (std::isnan(a) && std::isnan(b)) || a == b || a == near(b); };
  for (int op = static_cast<int>(maps::Unary::Exp); op <= static_cast<int>(maps::Unary::HardSwish); ++op) {
    const auto u = static_cast<maps::Unary>(op);
    CAPTURE(op);
    const Tensor y = fn::map_named(x, nullptr, u, -0.5f, 0.7f);
    for (int64_t i = 0; i < x.numel(); ++i) CHECK(same(y.data()[i], maps::apply_unary(u, x.data()[i], -0.5f, 0.7f)));
  }
  for (int op = static_cast<int>(maps::Grad::Exp); op <= static_cast<int>(maps::Grad::HardSwish); ++op) {
    const auto d = static_cast<maps::Grad>(op);
    CAPTURE(op);
    const Tensor y = fn::map_grad_named(g, x, nullptr, d, -0.5f, 0.7f);
    for (int64_t i = 0; i < x.numel(); ++i)
      CHECK(same(y.data()[i], maps::apply_grad(d, 0.75f, x.data()[i], -0.5f, 0.7f)));
  }
  for (int op = 0; op <= static_cast<int>(maps::Binary::MaxWeight); ++op) {
    const auto b = static_cast<maps::Binary>(op);
    CAPTURE(op);
    const Tensor y = fn::binary(b, x, g, nullptr);
    for (int64_t i = 0; i < x.numel(); ++i) CHECK(same(y.data()[i], maps::apply_binary(b, x.data()[i], 0.75f)));
  }
}

TEST_CASE("cuda/rule_math: DeepLIFT rescale and LRP stabilised division") {
  CHECK(rule_math::rescale(2.0f, 9.0f, 0.5f, 1.5f, 1e-6f) == doctest::Approx(6.0f));  // g * dy / dx
  CHECK(rule_math::rescale(2.0f, 9.0f, 1e-9f, 1.5f, 1e-6f) == 9.0f);                  // |dx| < eps: plain
  CHECK(rule_math::lrp_ratio(1.0f, 0.0f, 1.0f, rule_math::kAll, 0.25f) == 4.0f);      // sign(0) = +1
  CHECK(rule_math::lrp_ratio(1.0f, -1.0f, 1.0f, rule_math::kAll, 0.25f) == doctest::Approx(-0.8f));
  CHECK(rule_math::lrp_ratio(1.0f, 2.0f, -1.0f, rule_math::kPositiveOutput, 0.0f) == 0.0f);
  CHECK(rule_math::lrp_ratio(1.0f, 2.0f, -1.0f, rule_math::kNegativeOutput, 0.0f) == 0.5f);
}

}  // TEST_SUITE
