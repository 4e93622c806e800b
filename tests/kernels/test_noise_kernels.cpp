// Noise-tunnel kernels, CPU tier: the noisy rows against the Philox formula and Captum's
// repeat_interleave layout, explicit noise, and the moments against sums done by hand.
#include <cmath>
#include <vector>

#include "kernels/noise.h"
#include "engine/philox.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

TEST_SUITE("kernels") {

TEST_CASE("noise kernels: noise_rows draws stdev[n] * Philox normal per (sample, item), rows n * copies + j") {
  std::mt19937_64 rng(kSeed);
  const int64_t items = 3, per = 1001, copies = 2, first = 1, samples = 4;
  const Tensor x = randn({items, per}, rng);
  const std::vector<float> stdev = {0.5f, 0.0f, 2.0f};
  const uint64_t seed = 42, base = 1000;
  NoiseRows r{.input = x.data(), .items = items, .per_item = per, .stdev = stdev.data(), .seed = seed,
              .stream_base = base, .first_sample = first, .copies = copies};
  Tensor out = Tensor::empty({items * copies, per});
  noise_rows_cpu(r, out.data());
  for (int64_t n = 0; n < items; ++n)
    for (int64_t j = 0; j < copies; ++j) {
      const uint64_t stream = base + static_cast<uint64_t>((first + j) * items + n);
      for (int64_t i : {int64_t{0}, int64_t{1}, int64_t{500}, per - 1}) {
        CAPTURE(n);
        CAPTURE(j);
        CAPTURE(i);
        const float want = x.data()[n * per + i] + stdev[n] * philox::normal(seed, stream, static_cast<uint64_t>(i));
        CHECK(out.data()[(n * copies + j) * per + i] == doctest::Approx(want).epsilon(1e-6));
      }
    }
  // Item 1 has stdev 0: its copies are the input exactly.
  for (int64_t i = 0; i < per; ++i) CHECK(out.data()[(1 * copies + 1) * per + i] == x.data()[per + i]);

  // Explicit noise [samples, items, per] is added as given, sample first + j of item n.
  const Tensor given = randn({samples, items, per}, rng);
  r.given = given.data();
  noise_rows_cpu(r, out.data());
  for (int64_t n = 0; n < items; ++n)
    for (int64_t j = 0; j < copies; ++j)
      for (int64_t i = 0; i < per; i += 97)
        CHECK(out.data()[(n * copies + j) * per + i] ==
              x.data()[n * per + i] + given.data()[((first + j) * items + n) * per + i]);
}

TEST_CASE("noise kernels: moments over chunks equal the mean, mean square and variance by hand") {
  std::mt19937_64 rng(kSeed + 1);
  const int64_t items = 2, per = 33, samples = 5;
  // The attributions of all samples, interleaved per chunk as the tunnel passes them: chunk 1
  // holds samples 0..2, chunk 2 samples 3..4.
  const Tensor all = randn({samples, items, per}, rng);
  std::vector<double> sum(items * per, 0.0), sum_sq(sum.size(), 0.0);
  for (const auto& [s0, s1] : std::vector<std::pair<int64_t, int64_t>>{{0, 3}, {3, 5}}) {
    const int64_t copies = s1 - s0;
    Tensor chunk = Tensor::empty({items * copies, per});
    for (int64_t n = 0; n < items; ++n)
      for (int64_t j = 0; j < copies; ++j)
        for (int64_t i = 0; i < per; ++i)
          chunk.data()[(n * copies + j) * per + i] = all.data()[((s0 + j) * items + n) * per + i];
    moments_add_cpu(chunk.data(), items, copies, per, sum.data(), sum_sq.data());
  }
  for (const MomentStat stat : {MomentStat::Mean, MomentStat::MeanSquare, MomentStat::Variance}) {
    CAPTURE(static_cast<int>(stat));
    Tensor out = Tensor::empty({items, per});
    moments_finish_cpu(sum.data(), sum_sq.data(), items * per, samples, stat, out.data());
    for (int64_t k = 0; k < items * per; ++k) {
      double m = 0, m2 = 0;
      for (int64_t s = 0; s < samples; ++s) {
        const double v = all.data()[s * items * per + k];
        m += v / samples;
        m2 += v * v / samples;
      }
      const double want = stat == MomentStat::Mean ? m : stat == MomentStat::MeanSquare ? m2 : m2 - m * m;
      CHECK(out.data()[k] == doctest::Approx(want).epsilon(1e-6));
    }
  }
}

}  // TEST_SUITE
