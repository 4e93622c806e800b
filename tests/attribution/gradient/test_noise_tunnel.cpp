// NoiseTunnel: aggregation by hand for the three types, Captum's row order and delta layout,
// seeded Philox noise (same seed, same result; chunking invariant), relative stdev, the registry
// wrapper, and parity with Captum NoiseTunnel(Saliency) on the committed fixture.
#include <cmath>

#include "attribution/gradient/gradient_methods.h"
#include "attribution/path/integrated_gradients.h"
#include "attribution/gradient/noise_tunnel.h"
#include "attribution/registry.h"
#include "tests/attribution/cam_fixture.h"

using namespace backlight;
using namespace backlight::test;

namespace {

ModulePtr small_net(uint64_t seed) {
  std::mt19937_64 rng(seed);
  return std::make_shared<Sequential>(std::initializer_list<ModulePtr>{
      std::make_shared<Conv2d>(2, 4, 3, rng, Conv2dOptions{.padding = 1}), std::make_shared<ReLU>(),
      std::make_shared<MaxPool2d>(2), std::make_shared<Flatten>(), std::make_shared<Linear>(16, 3, rng)});
}

AttributionFn signed_saliency(const Module& m) {
  return [&m](const Tensor& x, const Target& t) { return saliency(m, x, t, {.abs = false}); };
}

}  // namespace

TEST_SUITE("attribution") {

TEST_CASE("noise_tunnel: explicit noise equals the hand aggregation for smoothgrad, smoothgrad_sq, vargrad") {
  const ModulePtr m = small_net(kSeed);
  std::mt19937_64 rng(kSeed + 20);
  const Tensor x = randn({2, 2, 4, 4}, rng);
  const int samples = 5;
  const Tensor noise = randn({samples, 2, 2, 4, 4}, rng, 0.3f);
  const std::vector<int64_t> cls{2, 0};
  const int64_t per = 32;
  // a[s][n] = saliency of item n plus noise sample s, one call per copy.
  std::vector<std::vector<Tensor>> a(samples);
  for (int s = 0; s < samples; ++s)
    for (int64_t n = 0; n < 2; ++n) {
      Tensor row = Tensor::empty({1, 2, 4, 4});
      for (int64_t i = 0; i < per; ++i) row.data()[i] = x.data()[n * per + i] + noise.data()[(s * 2 + n) * per + i];
      a[s].push_back(saliency(*m, row, Target::index(cls[n]), {.abs = false}).attribution);
    }
  for (NoiseTunnelType type : {NoiseTunnelType::SmoothGrad, NoiseTunnelType::SmoothGradSq, NoiseTunnelType::VarGrad}) {
    Tensor hand = Tensor::empty(x.shape());
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t i = 0; i < per; ++i) {
        double s1 = 0, s2 = 0;
        for (int s = 0; s < samples; ++s) {
          const double v = a[s][n].data()[i];
          s1 += v / samples;
          s2 += v * v / samples;
        }
        hand.data()[n * per + i] = static_cast<float>(type == NoiseTunnelType::SmoothGrad     ? s1
                                                      : type == NoiseTunnelType::SmoothGradSq ? s2
                                                                                              : s2 - s1 * s1);
      }
    for (int chunk : {0, 1, 2, 3}) {
      CAPTURE(to_string(type));
      CAPTURE(chunk);
      const AttributionResult r = noise_tunnel(signed_saliency(*m), x, Target::indices(cls),
                                               {.type = type, .samples = samples, .samples_batch_size = chunk,
                                                .noise = noise});
      BL_CHECK_CLOSE(r.attribution, hand, 1e-6, 1e-4);
      CHECK(r.target == cls);
    }
  }
}

TEST_CASE("noise_tunnel: Captum's repeat_interleave rows and concatenated deltas") {
  const Tensor x = Tensor::from({2, 1, 2}, {0, 1, 10, 11});
  Tensor noise = Tensor::empty({3, 2, 1, 2});
  for (int64_t i = 0; i < noise.numel(); ++i) noise.data()[i] = 100.0f * static_cast<float>(i / 2 + 1);
  std::vector<std::vector<float>> seen;
  const NoiseChunkFn record = [&](const NoiseChunk& c) {
    seen.push_back(c.inputs.to_vector());
    AttributionResult r;
    r.attribution = c.inputs.clone();
    r.delta = Tensor::empty({c.inputs.size(0)});
    for (int64_t i = 0; i < c.inputs.size(0); ++i) r.delta.data()[i] = static_cast<float>(c.sample_begin * 10 + i);
    const std::vector<int64_t> want = c.sample_end - c.sample_begin == 2 ? std::vector<int64_t>{4, 4, 7, 7}
                                                                         : std::vector<int64_t>{4, 7};
    CHECK(c.target.fixed_classes(c.inputs.size(0)) == want);  // class targets repeat like the rows
    return r;
  };
  const AttributionResult r = noise_tunnel(record, x, Target::indices({4, 7}),
                                           {.samples = 3, .samples_batch_size = 2, .noise = noise});
  // Chunk 0 (samples 0, 1): rows item0+s0, item0+s1, item1+s0, item1+s1; noise[s, n] = 100 * (s*2+n+1).
  REQUIRE(seen.size() == 2);
  CHECK(seen[0] == std::vector<float>{100, 101, 300, 301, 210, 211, 410, 411});
  CHECK(seen[1] == std::vector<float>{500, 501, 610, 611});
  // Deltas are concatenated chunk after chunk, as Captum (torch.cat of the partial deltas).
  CHECK(r.delta.to_vector() == std::vector<float>{0, 1, 2, 3, 20, 21});
  // Identity method: smoothgrad = x + mean noise.
  CHECK(r.attribution.to_vector() == std::vector<float>{300, 301, 410, 411});
}

TEST_CASE("noise_tunnel: seeded noise is reproducible and independent of samples_batch_size") {
  const ModulePtr m = small_net(kSeed + 1);
  std::mt19937_64 rng(kSeed + 21);
  const Tensor x = randn({3, 2, 4, 4}, rng);
  const NoiseTunnelOptions base{.type = NoiseTunnelType::VarGrad, .samples = 7, .stdev = 0.2f, .seed = 42};
  const AttributionResult ref = noise_tunnel(signed_saliency(*m), x, Target::index(1), base);
  for (int chunk : {1, 2, 3, 7, 100}) {
    CAPTURE(chunk);
    NoiseTunnelOptions o = base;
    o.samples_batch_size = chunk;
    BL_CHECK_CLOSE(noise_tunnel(signed_saliency(*m), x, Target::index(1), o).attribution, ref.attribution, 1e-7, 1e-5);
  }
  NoiseTunnelOptions other = base;
  other.seed = 43;
  CHECK_FALSE(allclose_report(noise_tunnel(signed_saliency(*m), x, Target::index(1), other).attribution,
                              ref.attribution, 1e-6, 1e-4)
                  .empty());
  // Noise statistics: mean ~ 0, standard deviation ~ stdev.
  NoiseTunnelOptions big{.samples = 50, .stdev = 0.5f, .seed = 7};
  const Tensor noisy = noisy_inputs(x, big, 0, 50);
  double s1 = 0, s2 = 0;
  const int64_t per = 32;
  for (int64_t r = 0; r < noisy.size(0); ++r)
    for (int64_t i = 0; i < per; ++i) {
      const double d = noisy.data()[r * per + i] - x.data()[(r / 50) * per + i];
      s1 += d;
      s2 += d * d;
    }
  const double count = static_cast<double>(noisy.numel());
  CHECK(std::fabs(s1 / count) < 0.02);
  CHECK(std::sqrt(s2 / count) == doctest::Approx(0.5).epsilon(0.03));
}

TEST_CASE("noise_tunnel: relative stdev scales the noise by each item's value range") {
  std::mt19937_64 rng(kSeed + 22);
  Tensor x = randn({2, 3, 5}, rng);
  for (int64_t i = 15; i < 30; ++i) x.data()[i] *= 4.0f;  // item 1 has a wider range
  const Tensor unit = noisy_inputs(x, {.samples = 2, .stdev = 1.0f, .seed = 3}, 0, 2);
  const Tensor rel = noisy_inputs(x, {.samples = 2, .stdev = 0.1f, .stdev_relative = true, .seed = 3}, 0, 2);
  for (int64_t n = 0; n < 2; ++n) {
    const auto [lo, hi] = std::minmax_element(x.data() + n * 15, x.data() + (n + 1) * 15);
    const float range = *hi - *lo;
    for (int64_t r = 2 * n; r < 2 * n + 2; ++r)
      for (int64_t i = 0; i < 15; ++i) {
        const float xi = x.data()[n * 15 + i];
        const float want = 0.1f * range * (unit.data()[r * 15 + i] - xi);
        CHECK(rel.data()[r * 15 + i] - xi == doctest::Approx(want).epsilon(1e-4));
      }
  }
}

TEST_CASE("noise_tunnel: attribute() wraps any method (defaults 10 samples, stdev 0.15 of the range)") {
  const ModulePtr m = small_net(kSeed + 2);
  std::mt19937_64 rng(kSeed + 23);
  const Tensor x = randn({2, 2, 4, 4}, rng);
  const AttributionResult via_registry =
      attribute("input_x_gradient", *m, x, Target::top1(), {.noise_tunnel = "smoothgrad_sq", .seed = 5});
  const std::vector<int64_t> cls = Target::top1().resolve(via_registry.output);
  const AttributionResult direct = noise_tunnel(
      [&](const Tensor& xs, const Target& t) { return input_x_gradient(*m, xs, t); }, x, Target::indices(cls),
      {.type = NoiseTunnelType::SmoothGradSq, .samples = 10, .stdev = 0.15f, .stdev_relative = true, .seed = 5});
  BL_CHECK_CLOSE(via_registry.attribution, direct.attribution, 1e-7, 1e-5);
  CHECK(via_registry.target == cls);  // top-1 of the clean inputs, not of each noisy copy
  const AttributionResult set = attribute("saliency", *m, x, Target::index(0),
                                          {.noise_tunnel = "vargrad", .samples = 3, .stdev = 0.5f, .seed = 9});
  const AttributionResult set_direct =
      noise_tunnel([&](const Tensor& xs, const Target& t) { return saliency(*m, xs, t); }, x, Target::index(0),
                   {.type = NoiseTunnelType::VarGrad, .samples = 3, .stdev = 0.5f, .stdev_relative = true, .seed = 9});
  BL_CHECK_CLOSE(set.attribution, set_direct.attribution, 1e-7, 1e-5);
  CHECK_THROWS_WITH_AS(attribute("saliency", *m, x, Target::top1(), {.noise_tunnel = "smooth"}),
                       doctest::Contains("unknown noise tunnel type 'smooth'"), Error);
}

TEST_CASE("noise_tunnel: parity with Captum NoiseTunnel(Saliency), explicit noise, nt_samples_batch_size 3") {
  const ModulePtr m = cam_fixture_model();
  const Tensor& x = cam_fixture().at("input");
  const Target t = Target::indices(cam_fixture_targets());
  for (const char* type : {"smoothgrad", "smoothgrad_sq", "vargrad"}) {
    CAPTURE(type);
    const AttributionResult r =
        noise_tunnel([&](const Tensor& xs, const Target& tt) { return saliency(*m, xs, tt); }, x, t,
                     {.type = noise_tunnel_type_from_string(type), .samples = 4, .samples_batch_size = 3,
                      .noise = cam_fixture().at("nt.noise")});
    BL_CHECK_PARITY(r.attribution, cam_fixture().at(std::string("nt.") + type));
  }
}

}  // TEST_SUITE
