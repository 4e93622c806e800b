// kernels/dispatch.h: a null context runs the CPU tier (bit for bit, every kernel), the host
// buffers helpers; and, with a device, every kernel on a CUDA workspace against the CPU tier.
#include <cmath>
#include <limits>
#include <vector>

#include "kernels/dispatch.h"
#include "engine/philox.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

namespace {

// Inputs shared by both suites: IG over 130 steps (more than one CUDA launch of 128), an
// occlusion geometry with overhanging windows, per-item feature masks with absent ids, noise.
struct Case {
  int64_t items = 3, per = 105;  // per = 3 x 7 x 5
  int64_t steps = 130;
  Tensor x, b, grads, diffs, values, given;
  std::vector<float> alphas, weights, stdev;
  std::vector<int32_t> ids;  // [items, per]: ids 0..6 without 3
  OcclusionGeometry g;

  explicit Case(uint64_t seed) {
    std::mt19937_64 rng(seed);
    x = randn({items, per}, rng);
    b = randn({items, per}, rng);
    grads = randn({steps * items, per}, rng);
    g = occlusion_geometry({3, 7, 5}, {3, 2, 3}, {1, 2, 2});
    diffs = randn({g.positions, items}, rng);
    values = randn({7, items}, rng);
    given = randn({4, items, per}, rng);
    for (int64_t k = 0; k < steps; ++k) {
      alphas.push_back(static_cast<float>(k + 0.5) / static_cast<float>(steps));
      weights.push_back(1.0f / static_cast<float>(steps) + 0.001f * static_cast<float>(k % 3));
    }
    stdev = {0.5f, 0.0f, 1.5f};
    for (int64_t i = 0; i < items * per; ++i) {
      const int32_t id = static_cast<int32_t>((i * 7 + i / per) % 7);
      ids.push_back(id == 3 ? 4 : id);
    }
  }
};

// The results of every kernel for one device: `ctx` null (CPU) or a CUDA context, whose tensors
// come from `ws` and are brought back to the host.
struct Results {
  std::vector<Tensor> tensors;
  std::vector<const char*> names;
  void add(const char* name, const Tensor& t) {
    names.push_back(name);
    tensors.push_back(t.is_cuda() ? t.to_cpu() : t.clone());  // a snapshot: later kernels write in place
  }
  const Tensor& operator[](std::string_view name) const {
    for (size_t i = 0; i < names.size(); ++i)
      if (names[i] == name) return tensors[i];
    FAIL("no result named ", name);
    return tensors[0];
  }
};

Results run_all(const Case& c, const Workspace* ws) {
  cuda::Context* ctx = ws ? ws->cuda_context() : nullptr;
  auto on = [&](const Tensor& t) { return ctx ? t.to(Device::CUDA, ws) : t; };
  auto zeros = [&](const Shape& s) { return Tensor::zeros(s, ctx ? ws : nullptr); };
  Results r;
  const Tensor x = on(c.x), b = on(c.b), grads = on(c.grads);
  const IgChunk chunk{x.device_data(), b.device_data(), c.items, c.per, c.alphas.data(), c.weights.data(), c.steps};
  Tensor rows = zeros({c.steps * c.items, c.per});
  ig_interpolate(chunk, rows.device_data(), ctx);
  r.add("ig_interpolate", rows);
  Tensor acc = zeros({c.items, c.per}), attr = zeros({c.items, c.per});
  ig_accumulate(chunk, grads.device_data(), acc.device_data(), ctx);
  r.add("ig_accumulate", acc);
  ig_finish(chunk, acc.device_data(), true, 2.0f, attr.device_data(), ctx);
  ig_finish(chunk, acc.device_data(), false, 2.0f, attr.device_data(), ctx);
  r.add("ig_finish acc", acc);
  r.add("ig_finish attr", attr);

  const BaselineRef base{.data = b.device_data(), .item_stride = c.per};
  Tensor occluded = zeros({c.g.positions * c.items, c.per});
  occlude_batch(x.device_data(), c.items, base, c.g, 0, c.g.positions, occluded.device_data(), ctx);
  r.add("occlude_batch", occluded);
  Tensor oattr = zeros({c.items, c.per}), counts = zeros({c.per});
  const Tensor diffs = on(c.diffs);
  occlusion_scatter(diffs.device_data(), c.items, c.g, oattr.device_data(), counts.device_data(), ctx);
  occlusion_divide(oattr.device_data(), c.items, c.per, counts.device_data(), ctx);
  r.add("occlusion_scatter + divide", oattr);
  r.add("occlusion counts", counts);

  const auto ids = ids_for(c.ids.data(), static_cast<int64_t>(c.ids.size()), ctx);
  const MaskRef mask{ids.get(), c.items};
  Tensor ablated = zeros({4 * c.items, c.per});
  mask_ablate(x.device_data(), c.items, c.per, BaselineRef{.value = -7.0f}, mask, 2, 4, ablated.device_data(), ctx);
  r.add("mask_ablate", ablated);
  Tensor mattr = zeros({c.items, c.per});
  const Tensor values = on(c.values);
  mask_scatter(values.device_data(), 7, c.items, c.per, mask, 0, mattr.device_data(), ctx);
  r.add("mask_scatter", mattr);

  const Tensor stdev = on(Tensor::from(Shape{c.items}, c.stdev)), given = on(c.given);
  NoiseRows nr{.input = x.device_data(), .items = c.items, .per_item = c.per, .stdev = stdev.device_data(),
               .seed = 9, .stream_base = 77, .first_sample = 1, .copies = 3};
  Tensor noisy = zeros({3 * c.items, c.per});
  noise_rows(nr, noisy.device_data(), ctx);
  r.add("noise_rows (Philox)", noisy);
  nr.given = given.device_data();
  noise_rows(nr, noisy.device_data(), ctx);
  r.add("noise_rows (given)", noisy);
  const auto sum = zeroed_doubles(c.items * c.per, ctx), sum_sq = zeroed_doubles(c.items * c.per, ctx);
  moments_add(noisy.device_data(), c.items, 3, c.per, sum.get(), sum_sq.get(), ctx);
  moments_add(rows.device_data(), c.items, 2, c.per, sum.get(), sum_sq.get(), ctx);  // 2 more copies
  for (const MomentStat stat : {MomentStat::Mean, MomentStat::MeanSquare, MomentStat::Variance}) {
    Tensor m = zeros({c.items, c.per});
    moments_finish(sum.get(), sum_sq.get(), c.items * c.per, 5, stat, m.device_data(), ctx);
    r.add("moments", m);
  }
  return r;
}

}  // namespace

TEST_SUITE("kernels") {

TEST_CASE("dispatch: a null context runs the CPU tier of every kernel") {
  const Case c(kSeed);
  const Results got = run_all(c, nullptr);
  // The same calls straight to the *_cpu functions, spot-checked where the dispatch layer could
  // mix up arguments.
  const IgChunk chunk{c.x.data(), c.b.data(), c.items, c.per, c.alphas.data(), c.weights.data(), c.steps};
  Tensor rows = Tensor::zeros({c.steps * c.items, c.per});
  ig_interpolate_cpu(chunk, rows.data());
  BL_CHECK_CLOSE(got["ig_interpolate"], rows, 0, 0);
  Tensor acc = Tensor::zeros({c.items, c.per});
  ig_accumulate_cpu(chunk, c.grads.data(), acc.data());
  BL_CHECK_CLOSE(got["ig_accumulate"], acc, 0, 0);
  Tensor ablated = Tensor::zeros({4 * c.items, c.per});
  mask_ablate_cpu(c.x.data(), c.items, c.per, BaselineRef{.value = -7.0f}, MaskRef{c.ids.data(), c.items}, 2, 4,
                  ablated.data());
  BL_CHECK_CLOSE(got["mask_ablate"], ablated, 0, 0);
  // Noise rows: sample 1 + j of item n uses stream 77 + (1 + j) * N + n.
  const Tensor& noisy = got["noise_rows (Philox)"];
  CHECK(noisy.data()[(2 * 3 + 1) * c.per + 4] ==
        doctest::Approx(c.x.data()[2 * c.per + 4] + 1.5f * philox::normal(9, 77 + (1 + 1) * 3 + 2, 4)).epsilon(1e-6));
}

TEST_CASE("dispatch: host buffers and the finiteness check") {
  const auto d = zeroed_doubles(1000, nullptr);
  for (int i = 0; i < 1000; ++i) CHECK(d.get()[i] == 0.0);
  const std::vector<int32_t> ids = {3, 1, 4};
  CHECK(ids_for(ids.data(), 3, nullptr).get() == ids.data());  // the host array itself
  std::vector<float> v(100, 1.0f);
  CHECK(first_nonfinite(v.data(), 100, nullptr) == -1);
  v[71] = std::numeric_limits<float>::infinity();
  v[90] = std::nanf("");
  CHECK(first_nonfinite(v.data(), 100, nullptr) == 71);
  CHECK(first_nonfinite(v.data() + 72, 28, nullptr) == 18);
  CHECK(first_nonfinite(v.data(), 0, nullptr) == -1);
}

}  // TEST_SUITE

TEST_SUITE("cuda") {

TEST_CASE("dispatch: every fused kernel on a CUDA workspace equals its CPU tier") {
  BL_REQUIRE_CUDA_OR_SKIP();
  const Workspace ws = Workspace::for_cuda(0);
  const Case c(kSeed);
  const Results cpu = run_all(c, nullptr), gpu = run_all(c, &ws);
  REQUIRE(cpu.tensors.size() == gpu.tensors.size());
  for (size_t i = 0; i < cpu.tensors.size(); ++i) {
    CAPTURE(cpu.names[i]);
    CHECK(gpu.tensors[i].device() == Device::CPU);
    // Copies and selections are exact; arithmetic may differ by FMA contraction and (noise) by
    // the last ulp of CUDA's logf/sinf/cosf against the host libm.
    BL_CHECK_CLOSE(gpu.tensors[i], cpu.tensors[i], 1e-5 * max_abs(cpu.tensors[i]), 1e-5);
  }
}

TEST_CASE("dispatch: first_nonfinite on the device finds the first bad index") {
  BL_REQUIRE_CUDA_OR_SKIP();
  const Workspace ws = Workspace::for_cuda(0);
  Tensor host = Tensor::full({1 << 20}, 0.5f);
  CHECK(first_nonfinite(host.to(Device::CUDA, &ws).device_data(), host.numel(), ws.cuda_context()) == -1);
  host.data()[777777] = std::nanf("");
  host.data()[900000] = -std::numeric_limits<float>::infinity();
  host.data()[5] = std::numeric_limits<float>::infinity();
  const Tensor dev = host.to(Device::CUDA, &ws);
  CHECK(first_nonfinite(dev.device_data(), dev.numel(), ws.cuda_context()) == 5);
  CHECK(first_nonfinite(dev.device_data() + 6, dev.numel() - 6, ws.cuda_context()) == 777777 - 6);
}

}  // TEST_SUITE
