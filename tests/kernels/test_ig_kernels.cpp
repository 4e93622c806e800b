// Batched IG kernels: CPU vs the naive reference; CUDA vs CPU when a device exists.
#ifdef BACKLIGHT_HAVE_CUDA
#include <cuda_runtime.h>
#endif

#include "engine/cuda/device.h"
#include "kernels/ig.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

TEST_SUITE("kernels") {

TEST_CASE("ig kernels: cpu equals ref on odd sizes and chunks") {
  std::mt19937_64 rng(kSeed);
  for (const auto& [items, per] : std::vector<std::pair<int64_t, int64_t>>{{1, 7}, {3, 1000}, {2, 70001}}) {
    CAPTURE(items);
    CAPTURE(per);
    const Tensor x = randn({items, per}, rng), b = randn({items, per}, rng);
    const std::vector<float> alphas = {0.0f, 0.25f, 0.9f}, weights = {0.5f, 0.125f, 0.375f};
    const IgChunk c{x.data(), b.data(), items, per, alphas.data(), weights.data(), 3};
    Tensor ref = Tensor::empty({3 * items, per}), cpu = Tensor::empty({3 * items, per});
    ig_interpolate_ref(c, ref.data());
    ig_interpolate_cpu(c, cpu.data());
    BL_CHECK_CLOSE(cpu, ref, 0, 0);
    CHECK(ref.at({items, 0}) == doctest::Approx(b.data()[0] + 0.25f * (x.data()[0] - b.data()[0])));
    const Tensor grads = randn({3 * items, per}, rng);
    Tensor acc_ref = randn({items, per}, rng);
    Tensor acc_cpu = acc_ref.clone();
    ig_accumulate_ref(c, grads.data(), acc_ref.data());
    ig_accumulate_cpu(c, grads.data(), acc_cpu.data());
    BL_CHECK_CLOSE(acc_cpu, acc_ref, 1e-6, 1e-5);
  }
}

TEST_CASE("ig kernels: finish adds (x - b) * acc / divisor (or acc) and leaves the attribution in acc") {
  std::mt19937_64 rng(kSeed + 2);
  const int64_t items = 2, per = 40001;
  const Tensor x = randn({items, per}, rng), b = randn({items, per}, rng), g = randn({items, per}, rng);
  const IgChunk c{x.data(), b.data(), items, per, nullptr, nullptr, 0};
  for (bool multiply : {true, false}) {
    CAPTURE(multiply);
    Tensor acc_ref = g.clone(), acc_cpu = g.clone();
    Tensor attr_ref = randn({items, per}, rng);
    Tensor attr_cpu = attr_ref.clone();
    const Tensor attr0 = attr_ref.clone();
    ig_finish_ref(c, acc_ref.data(), multiply, 3.0f, attr_ref.data());
    ig_finish_cpu(c, acc_cpu.data(), multiply, 3.0f, attr_cpu.data());
    BL_CHECK_CLOSE(acc_cpu, acc_ref, 0, 0);
    BL_CHECK_CLOSE(attr_cpu, attr_ref, 0, 0);
    for (int64_t i : {int64_t{0}, int64_t{12345}, items * per - 1}) {
      const float a = multiply ? (x.data()[i] - b.data()[i]) * g.data()[i] : g.data()[i];
      CHECK(acc_cpu.data()[i] == a);
      CHECK(attr_cpu.data()[i] == doctest::Approx(attr0.data()[i] + a / 3.0f));
    }
  }
}

}  // TEST_SUITE

TEST_SUITE("cuda") {

TEST_CASE("ig kernels: cuda equals cpu") {
  if (cuda_device_count() == 0) {
    MESSAGE("skipped: no CUDA device (", cuda_device_summary(), ")");
    return;
  }
#ifdef BACKLIGHT_HAVE_CUDA
  std::mt19937_64 rng(kSeed);
  const int64_t items = 3, per = 5001;
  const Tensor x = randn({items, per}, rng), b = randn({items, per}, rng), grads = randn({2 * items, per}, rng);
  const std::vector<float> alphas = {0.1f, 0.7f}, weights = {0.4f, 0.6f};
  const size_t n = static_cast<size_t>(items * per);
  float *dx, *db, *dout, *dgrads, *dacc;
  REQUIRE(cudaMalloc(&dx, n * 4) == cudaSuccess);
  REQUIRE(cudaMalloc(&db, n * 4) == cudaSuccess);
  REQUIRE(cudaMalloc(&dout, 2 * n * 4) == cudaSuccess);
  REQUIRE(cudaMalloc(&dgrads, 2 * n * 4) == cudaSuccess);
  REQUIRE(cudaMalloc(&dacc, n * 4) == cudaSuccess);
  cudaMemcpy(dx, x.data(), n * 4, cudaMemcpyHostToDevice);
  cudaMemcpy(db, b.data(), n * 4, cudaMemcpyHostToDevice);
  cudaMemcpy(dgrads, grads.data(), 2 * n * 4, cudaMemcpyHostToDevice);
  cudaMemset(dacc, 0, n * 4);
  const IgChunk dev{dx, db, items, per, alphas.data(), weights.data(), 2};
  ig_interpolate_cuda(dev, dout, nullptr);
  ig_accumulate_cuda(dev, dgrads, dacc, nullptr);
  Tensor out = Tensor::empty({2 * items, per}), acc = Tensor::empty({items, per});
  cudaMemcpy(out.data(), dout, 2 * n * 4, cudaMemcpyDeviceToHost);
  cudaMemcpy(acc.data(), dacc, n * 4, cudaMemcpyDeviceToHost);
  for (float* p : {dx, db, dout, dgrads, dacc}) cudaFree(p);
  const IgChunk host{x.data(), b.data(), items, per, alphas.data(), weights.data(), 2};
  Tensor out_cpu = Tensor::empty({2 * items, per}), acc_cpu = Tensor::zeros({items, per});
  ig_interpolate_cpu(host, out_cpu.data());
  ig_accumulate_cpu(host, grads.data(), acc_cpu.data());
  BL_CHECK_CLOSE(out, out_cpu, 1e-6, 1e-6);
  BL_CHECK_CLOSE(acc, acc_cpu, 1e-6, 1e-5);
#endif
}

}  // TEST_SUITE
