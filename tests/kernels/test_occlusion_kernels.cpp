// Occlusion-sweep kernels: cpu vs ref on odd shapes, border windows, strides that do not divide,
// Captum's window order; cuda vs cpu when a device exists.
#include <numeric>
#include <random>
#include <vector>

#include "engine/error.h"
#include "engine/cuda/device.h"
#include "kernels/occlusion.h"
#include "tests/helpers.h"

#ifdef BACKLIGHT_HAVE_CUDA
#include <cuda_runtime.h>
#endif

using namespace backlight;
using namespace backlight::test;

namespace {

struct SweepCase {
  std::vector<int64_t> dims, window, stride;
};

// Odd shapes, windows overhanging the border, strides that do not divide, ranks 1..4.
std::vector<SweepCase> sweep_cases() {
  return {
      {{11}, {4}, {3}},                   // counts ceil(7/3)+1 = 4, last window clipped to 2
      {{3, 7, 5}, {3, 2, 3}, {1, 2, 2}},  // channel-wide windows, overhang in both spatial dims
      {{1, 9, 9}, {1, 4, 4}, {1, 3, 3}},
      {{2, 6, 7}, {1, 3, 3}, {1, 3, 2}},
      {{2, 3, 4, 5}, {1, 2, 3, 2}, {1, 1, 2, 2}},
      {{4, 5}, {4, 5}, {1, 1}},  // one window covering everything
      {{13}, {1}, {1}},
  };
}

Tensor ramp(const Shape& s, float scale = 1.0f) {
  Tensor t = Tensor::empty(s);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = scale * static_cast<float>(i % 97) - 3.0f;
  return t;
}

std::vector<int32_t> random_ids(int64_t n, int32_t lo, int32_t hi, std::mt19937_64& rng) {
  std::uniform_int_distribution<int32_t> d(lo, hi);
  std::vector<int32_t> v(static_cast<size_t>(n));
  for (int32_t& x : v) x = d(rng);
  return v;
}

}  // namespace

TEST_SUITE("kernels") {
  TEST_CASE("occlusion_geometry: Captum's window counts, stride forms and error messages") {
    const std::vector<int64_t> dims{3, 6, 7}, window{3, 3, 3};
    const OcclusionGeometry g = occlusion_geometry(dims, window, std::vector<int64_t>{2});
    CHECK(g.counts[0] == 1);  // window == dim: one position, any stride
    CHECK(g.counts[1] == 3);  // ceil(3/2)+1: origins 0, 2, 4 (the last overhangs by 1)
    CHECK(g.counts[2] == 3);  // ceil(4/2)+1: origins 0, 2, 4
    CHECK(g.positions == 9);
    CHECK(g.numel == 126);
    CHECK_THROWS_WITH_AS(occlusion_geometry(dims, std::vector<int64_t>{3, 2, 2}, std::vector<int64_t>{1, 3, 1}),
                         doctest::Contains("stride 3 is larger than the window (2)"), backlight::Error);
    CHECK_THROWS_WITH_AS(occlusion_geometry(dims, std::vector<int64_t>{3, 7, 2}, std::vector<int64_t>{}),
                         doctest::Contains("does not fit the input item shape (3, 6, 7)"), backlight::Error);
    CHECK_THROWS_WITH_AS(occlusion_geometry(dims, std::vector<int64_t>{3, 3}, std::vector<int64_t>{}),
                         doctest::Contains("expected a sliding window with 3 dimensions"), backlight::Error);
  }

  TEST_CASE("occlude_batch: window order is Captum's (dimension 0 fastest) and borders clip, never wrap") {
    // 1 x 4 x 5 item, window 2x3, stride 2: counts (1, 2, 2); position j = k1 + 2*k2 along (H, W)...
    // dimension 0 (channels) has one position, so j = k_H + 2 * k_W.
    const std::vector<int64_t> dims{1, 4, 5}, window{1, 3, 3}, stride{1, 2, 2};
    const OcclusionGeometry g = occlusion_geometry(dims, window, stride);
    REQUIRE(g.positions == 4);
    const Tensor x = Tensor::full({1, 1, 4, 5}, 1.0f);
    Tensor out = Tensor::empty({4, 1, 4, 5});
    occlude_batch_cpu(x.data(), 1, BaselineRef{.value = 0.0f}, g, 0, 4, out.data());
    auto zeros_at = [&](int64_t row) {
      std::vector<std::pair<int64_t, int64_t>> z;
      for (int64_t h = 0; h < 4; ++h)
        for (int64_t w = 0; w < 5; ++w)
          if (out.at({row, 0, h, w}) == 0.0f) z.push_back({h, w});
      return z;
    };
    // position 1: H origin 2 (rows 2..3, clipped from 2..4), W origin 0 (cols 0..2)
    const auto z1 = zeros_at(1);
    CHECK(z1.size() == 6);
    CHECK(z1.front() == std::pair<int64_t, int64_t>{2, 0});
    CHECK(z1.back() == std::pair<int64_t, int64_t>{3, 2});
    // position 3: rows 2..3, cols 2..4 (W origin 2 covers 2..4 exactly); nothing in row 0 or col 0
    const auto z3 = zeros_at(3);
    CHECK(z3.size() == 6);
    for (auto [h, w] : z3) CHECK((h >= 2 && w >= 2));
  }

  TEST_CASE("occlude_batch: cpu equals ref (scalar, shared and per-item baselines, position ranges)") {
    std::mt19937_64 rng(kSeed);
    for (const SweepCase& c : sweep_cases()) {
      const OcclusionGeometry g = occlusion_geometry(c.dims, c.window, c.stride);
      CAPTURE(g.numel);
      CAPTURE(g.positions);
      const int64_t items = 3;
      std::vector<int64_t> xd{items};
      xd.insert(xd.end(), c.dims.begin(), c.dims.end());
      const Tensor x = randn(Shape(xd), rng);
      const Tensor b = randn(Shape(xd), rng);
      const BaselineRef baselines[] = {
          {.value = -0.5f}, {.data = b.data(), .item_stride = 0}, {.data = b.data(), .item_stride = g.numel}};
      for (const BaselineRef& base : baselines) {
        for (auto [first, count] :
             {std::pair<int64_t, int64_t>{0, g.positions}, {g.positions / 2, (g.positions + 1) / 2}}) {
          if (count == 0) continue;
          Tensor ref = Tensor::empty({count * items, g.numel}), cpu = Tensor::empty({count * items, g.numel});
          occlude_batch_ref(x.data(), items, base, g, first, count, ref.data());
          occlude_batch_cpu(x.data(), items, base, g, first, count, cpu.data());
          BL_CHECK_CLOSE(cpu, ref, 0.0, 0.0);
        }
      }
    }
  }

  TEST_CASE("occlusion_scatter + divide: cpu equals ref; counts are the number of covering windows") {
    std::mt19937_64 rng(kSeed + 1);
    for (const SweepCase& c : sweep_cases()) {
      const OcclusionGeometry g = occlusion_geometry(c.dims, c.window, c.stride);
      CAPTURE(g.numel);
      const int64_t items = 2;
      const Tensor diffs = randn({g.positions, items}, rng);
      Tensor attr_ref = Tensor::zeros({items, g.numel}), attr_cpu = Tensor::zeros({items, g.numel});
      Tensor cnt_ref = Tensor::zeros({g.numel}), cnt_cpu = Tensor::zeros({g.numel});
      occlusion_scatter_ref(diffs.data(), items, g, attr_ref.data(), cnt_ref.data());
      occlusion_scatter_cpu(diffs.data(), items, g, attr_cpu.data(), cnt_cpu.data());
      BL_CHECK_CLOSE(cnt_cpu, cnt_ref, 0.0, 0.0);
      BL_CHECK_CLOSE(attr_cpu, attr_ref, 1e-6, 1e-6);
      // Counts from the occluded copies themselves: how many copies changed each element.
      const Tensor ones = Tensor::full({1, g.numel}, 1.0f);
      Tensor copies = Tensor::empty({g.positions, g.numel});
      occlude_batch_cpu(ones.data(), 1, BaselineRef{.value = 0.0f}, g, 0, g.positions, copies.data());
      Tensor expect = Tensor::zeros({g.numel});
      for (int64_t j = 0; j < g.positions; ++j)
        for (int64_t e = 0; e < g.numel; ++e) expect.data()[e] += copies.data()[j * g.numel + e] == 0.0f ? 1.0f : 0.0f;
      BL_CHECK_CLOSE(cnt_cpu, expect, 0.0, 0.0);
      for (float v : cnt_cpu.span()) CHECK(v >= 1.0f);
      occlusion_divide_ref(attr_ref.data(), items, g.numel, cnt_ref.data());
      occlusion_divide_cpu(attr_cpu.data(), items, g.numel, cnt_cpu.data());
      BL_CHECK_CLOSE(attr_cpu, attr_ref, 1e-6, 1e-6);
    }
  }

  TEST_CASE("mask_ablate + mask_scatter: cpu equals ref for shared and per-item masks") {
    std::mt19937_64 rng(kSeed + 2);
    const int64_t items = 3, numel = 37;
    const Tensor x = randn({items, numel}, rng), b = randn({items, numel}, rng);
    for (int64_t mask_items : {int64_t{1}, items}) {
      CAPTURE(mask_items);
      const std::vector<int32_t> ids = random_ids(mask_items * numel, 2, 9, rng);
      const MaskRef mask{ids.data(), mask_items};
      for (const BaselineRef& base :
           {BaselineRef{.value = 0.25f}, BaselineRef{.data = b.data(), .item_stride = numel}}) {
        const int32_t first = 3;
        const int64_t count = 5;  // ids 3..7; ids 2, 8, 9 untouched
        Tensor ref = Tensor::empty({count * items, numel}), cpu = Tensor::empty({count * items, numel});
        mask_ablate_ref(x.data(), items, numel, base, mask, first, count, ref.data());
        mask_ablate_cpu(x.data(), items, numel, base, mask, first, count, cpu.data());
        BL_CHECK_CLOSE(cpu, ref, 0.0, 0.0);
      }
      const Tensor values = randn({6, items}, rng);
      Tensor a_ref = ramp({items, numel}, 0.01f), a_cpu = ramp({items, numel}, 0.01f);
      mask_scatter_ref(values.data(), 6, items, numel, mask, 2, a_ref.data());
      mask_scatter_cpu(values.data(), 6, items, numel, mask, 2, a_cpu.data());
      BL_CHECK_CLOSE(a_cpu, a_ref, 0.0, 0.0);
    }
  }

}  // TEST_SUITE("kernels")

TEST_SUITE("cuda") {
#define BL_REQUIRE_CUDA_DEVICE_OR_SKIP()  \
  do {                                    \
    if (cuda_device_count() == 0) {       \
      MESSAGE("skipped: no CUDA device"); \
      return;                             \
    }                                     \
  } while (0)

  TEST_CASE("occlusion kernels: cuda equals cpu") {
    BL_REQUIRE_CUDA_DEVICE_OR_SKIP();
#ifdef BACKLIGHT_HAVE_CUDA
    auto to_device = [](const void* host, size_t bytes) {
      void* d = nullptr;
      REQUIRE(cudaMalloc(&d, bytes) == cudaSuccess);
      REQUIRE(cudaMemcpy(d, host, bytes, cudaMemcpyHostToDevice) == cudaSuccess);
      return d;
    };
    auto to_host = [](Tensor& t, const void* dev) {
      REQUIRE(cudaMemcpy(t.data(), dev, t.numel() * sizeof(float), cudaMemcpyDeviceToHost) == cudaSuccess);
    };
    std::mt19937_64 rng(kSeed + 3);
    for (const SweepCase& c : sweep_cases()) {
      const OcclusionGeometry g = occlusion_geometry(c.dims, c.window, c.stride);
      const int64_t items = 2;
      const Tensor x = randn({items, g.numel}, rng), b = randn({items, g.numel}, rng);
      const Tensor diffs = randn({g.positions, items}, rng);
      float* dx = static_cast<float*>(to_device(x.data(), x.numel() * sizeof(float)));
      float* db = static_cast<float*>(to_device(b.data(), b.numel() * sizeof(float)));
      float* dd = static_cast<float*>(to_device(diffs.data(), diffs.numel() * sizeof(float)));
      const BaselineRef hb{.data = b.data(), .item_stride = g.numel}, devb{.data = db, .item_stride = g.numel};

      Tensor cpu = Tensor::empty({g.positions * items, g.numel}), gpu = Tensor::empty(cpu.shape());
      float* dout = static_cast<float*>(to_device(cpu.data(), cpu.numel() * sizeof(float)));
      occlude_batch_cpu(x.data(), items, hb, g, 0, g.positions, cpu.data());
      occlude_batch_cuda(dx, items, devb, g, 0, g.positions, dout, nullptr);
      to_host(gpu, dout);
      BL_CHECK_CLOSE(gpu, cpu, 0.0, 0.0);

      Tensor attr = Tensor::zeros({items, g.numel}), cnt = Tensor::zeros({g.numel});
      Tensor gattr = Tensor::zeros(attr.shape()), gcnt = Tensor::zeros(cnt.shape());
      float* da = static_cast<float*>(to_device(gattr.data(), gattr.numel() * sizeof(float)));
      float* dc = static_cast<float*>(to_device(gcnt.data(), gcnt.numel() * sizeof(float)));
      occlusion_scatter_cpu(diffs.data(), items, g, attr.data(), cnt.data());
      occlusion_divide_cpu(attr.data(), items, g.numel, cnt.data());
      occlusion_scatter_cuda(dd, items, g, da, dc, nullptr);
      occlusion_divide_cuda(da, items, g.numel, dc, nullptr);
      to_host(gattr, da);
      to_host(gcnt, dc);
      BL_CHECK_CLOSE(gcnt, cnt, 0.0, 0.0);
      BL_CHECK_CLOSE(gattr, attr, 1e-6, 1e-6);

      const std::vector<int32_t> ids = random_ids(g.numel, 0, 4, rng);
      int32_t* dids = static_cast<int32_t*>(to_device(ids.data(), ids.size() * sizeof(int32_t)));
      Tensor mcpu = Tensor::empty({5 * items, g.numel}), mgpu = Tensor::empty(mcpu.shape());
      float* dm = static_cast<float*>(to_device(mcpu.data(), mcpu.numel() * sizeof(float)));
      mask_ablate_cpu(x.data(), items, g.numel, hb, MaskRef{ids.data(), 1}, 0, 5, mcpu.data());
      mask_ablate_cuda(dx, items, g.numel, devb, MaskRef{dids, 1}, 0, 5, dm, nullptr);
      to_host(mgpu, dm);
      BL_CHECK_CLOSE(mgpu, mcpu, 0.0, 0.0);
      const Tensor values = randn({5, items}, rng);
      float* dv = static_cast<float*>(to_device(values.data(), values.numel() * sizeof(float)));
      Tensor scpu = Tensor::zeros({items, g.numel}), sgpu = Tensor::zeros(scpu.shape());
      float* ds = static_cast<float*>(to_device(sgpu.data(), sgpu.numel() * sizeof(float)));
      mask_scatter_cpu(values.data(), 5, items, g.numel, MaskRef{ids.data(), 1}, 0, scpu.data());
      mask_scatter_cuda(dv, 5, items, g.numel, MaskRef{dids, 1}, 0, ds, nullptr);
      to_host(sgpu, ds);
      BL_CHECK_CLOSE(sgpu, scpu, 0.0, 0.0);
      for (void* p : {static_cast<void*>(dx), static_cast<void*>(db), static_cast<void*>(dd), static_cast<void*>(dout),
                      static_cast<void*>(da), static_cast<void*>(dc), static_cast<void*>(dids), static_cast<void*>(dm),
                      static_cast<void*>(dv), static_cast<void*>(ds)})
        cudaFree(p);
    }
#endif
  }

}  // TEST_SUITE("cuda")
