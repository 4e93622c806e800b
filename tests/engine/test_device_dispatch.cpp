// Device handling that the CPU can check: CUDA requests in builds or on machines without a
// device, host accessors on device tensors, mixed-device inputs. Device-tagged handles are made
// with Tensor::wrap_cuda over host memory and a stand-in context pointer that is never
// dereferenced: every check below throws before any CUDA call would use it.
#include <doctest/doctest.h>

#include <memory>

#include "attribution/on_device.h"
#include "attribution/core/target.h"
#include "engine/functional/elementwise.h"
#include "engine/functional/linear.h"
#include "engine/functional/map.h"
#include "engine/ops/ops.h"
#include "engine/cuda/device.h"
#include "tests/helpers.h"

using namespace backlight;
using doctest::Contains;

namespace {

// A device-tagged handle over host memory (see the top of the file).
Tensor fake_device_tensor(const Shape& s) {
  static int stand_in = 0;
  auto owner = std::shared_ptr<float>(new float[std::max<int64_t>(1, s.numel())](), std::default_delete<float[]>());
  return Tensor::wrap_cuda(s, owner, reinterpret_cast<cuda::Context*>(&stand_in));
}

}  // namespace

TEST_SUITE("engine") {

TEST_CASE("device: a CUDA workspace or copy needs a CUDA build and a device") {
  if (cuda_device_count() > 0) {
    MESSAGE("skipped: a CUDA device exists (the suite 'cuda' covers it)");
    return;
  }
  if constexpr (kCudaBuild) {
    CHECK_THROWS_WITH_AS(Workspace::for_cuda(0), Contains("no CUDA device is usable"), Error);
    CHECK_THROWS_WITH_AS(Tensor::zeros(Shape{2}).to(Device::CUDA), Contains("pass a CUDA workspace"), Error);
  } else {
    CHECK_THROWS_WITH_AS(Workspace::for_cuda(0), Contains("this build has no CUDA backend"), Error);
    CHECK_THROWS_WITH_AS(Tensor::zeros(Shape{2}).to(Device::CUDA), Contains("this build has no CUDA backend"), Error);
  }
  CHECK_THROWS_WITH_AS(require_cuda_device("test"), Contains("device 'cuda' requested"), Error);
}

TEST_CASE("device: host tensors report the CPU and copy to the CPU as themselves") {
  const Tensor t = Tensor::full(Shape{3}, 2.0f);
  CHECK(t.device() == Device::CPU);
  CHECK_FALSE(t.is_cuda());
  CHECK(t.to_cpu().shares_storage(t));
  CHECK(std::string(to_string(Device::CUDA)) == "cuda");
  Workspace ws;
  CHECK(ws.device() == Device::CPU);
  CHECK(Tensor::empty(Shape{4}, &ws).device() == Device::CPU);
}

TEST_CASE("device: host accessors refuse a device tensor") {
  Tensor d = fake_device_tensor(Shape{2, 2});
  CHECK(d.device() == Device::CUDA);
  CHECK_THROWS_WITH_AS(d.data(), Contains("lives on the CUDA device"), Error);
  CHECK_THROWS_WITH_AS(d.span(), Contains("lives on the CUDA device"), Error);
  CHECK_THROWS_WITH_AS(d.to_vector(), Contains("Tensor::to_vector"), Error);
  CHECK_THROWS_WITH_AS(d.at({0, 1}), Contains("Tensor::at"), Error);
  CHECK_THROWS_WITH_AS(d.reshape({4}).slice_batch(0, 1).item(), Contains("Tensor::item"), Error);  // views too
  CHECK_THROWS_WITH_AS(fn::map_unary(d, nullptr, [](float v) { return v; }), Contains("CPU only"), Error);
}

TEST_CASE("device: ops name themselves and the devices when inputs are mixed") {
  std::mt19937_64 rng(test::kSeed);
  const Tensor host = test::randn(Shape{2, 3}, rng);
  const Tensor dev = fake_device_tensor(Shape{2, 3});
  CHECK_THROWS_WITH_AS(fn::binary(fn::BinaryOp::Add, host, dev, nullptr), Contains("add: mixed devices"), Error);
  CHECK_THROWS_WITH_AS(fn::binary(fn::BinaryOp::Mul, dev, host, nullptr), Contains("is on cpu but input 0"), Error);
  CHECK_THROWS_WITH_AS(fn::linear_forward(host, fake_device_tensor(Shape{4, 3}), Tensor(), nullptr),
                       Contains("linear: mixed devices"), Error);
  // Two device handles on different contexts.
  static int other = 0;
  const Tensor dev2 = Tensor::wrap_cuda(Shape{2, 3}, std::shared_ptr<float>(new float[6](), std::default_delete<float[]>()),
                                        reinterpret_cast<cuda::Context*>(&other));
  CHECK_THROWS_WITH_AS(fn::binary(fn::BinaryOp::Sub, dev, dev2, nullptr), Contains("different CUDA contexts"), Error);
}

TEST_CASE("device: a tape refuses leaves that are not on its workspace's device") {
  Tape tape;
  CHECK_THROWS_WITH_AS(tape.input(fake_device_tensor(Shape{1, 4}), "x"),
                       Contains("leaf 'x' [1,4] is on cuda but the tape's workspace allocates on cpu"), Error);
}

TEST_CASE("device: class targets resolve from a device output's shape alone (nothing is copied)") {
  const Tensor out = fake_device_tensor(Shape{2, 5});
  CHECK(Target::index(3).resolve(out) == std::vector<int64_t>{3, 3});
  CHECK(Target::indices({1, 4}).resolve(out) == std::vector<int64_t>{1, 4});
  CHECK_THROWS_WITH_AS(Target::index(7).resolve(out), Contains("class 7 out of range for a model with 5 outputs"),
                       Error);
}

TEST_CASE("device: which attribution methods run on CUDA") {
  for (const char* m : {"saliency", "input_x_gradient", "guided_backprop", "deconvolution", "lrp",
                        "integrated_gradients", "occlusion", "feature_ablation"}) {
    CAPTURE(m);
    CHECK(runs_on_cuda(m));
    CHECK(cuda_unsupported_reason(m).empty());
  }
  for (const char* m : {"deeplift", "grad_cam", "gradient_shap", "shapley_value_sampling", "layer_lrp", "nope"}) {
    CAPTURE(m);
    CHECK_FALSE(runs_on_cuda(m));
    CHECK_FALSE(runs_on_cuda(m, "smoothgrad"));
    CHECK(cuda_unsupported_reason(m) ==
          "method '" + std::string(m) +
              "' runs on the CPU only for now (on CUDA: saliency, input_x_gradient, guided_backprop, deconvolution, "
              "lrp, integrated_gradients, occlusion, feature_ablation); run it with a host workspace / --device cpu "
              "(docs/cuda.md)");
  }
  // The noise tunnel on CUDA wraps the gradient methods only.
  for (const char* nt : {"smoothgrad", "smoothgrad_sq", "vargrad"})
    for (const char* m : {"saliency", "input_x_gradient", "guided_backprop", "deconvolution", "integrated_gradients"}) {
      CAPTURE(nt);
      CAPTURE(m);
      CHECK(runs_on_cuda(m, nt));
    }
  for (const char* m : {"lrp", "occlusion", "feature_ablation"}) {
    CAPTURE(m);
    CHECK_FALSE(runs_on_cuda(m, "vargrad"));
    CHECK(cuda_unsupported_reason(m, "vargrad") ==
          "method '" + std::string(m) +
              "' with the noise tunnel (vargrad) runs on the CPU only for now (the noise tunnel on CUDA wraps: "
              "saliency, input_x_gradient, guided_backprop, deconvolution, integrated_gradients); run it with a "
              "host workspace / --device cpu (docs/cuda.md)");
  }
}

}  // TEST_SUITE
