// FeatureAblation against a brute-force loop: per-item masks whose ids mix runs of consecutive
// ids and gaps (ablation_diffs builds each batch with one kernel call per run of ids, so runs
// split across batches and single ids must both come out right), a tensor baseline, and every
// batching.
#include "attribution/perturbation/feature_ablation.h"
#include "tests/attribution/perturbation_fixture.h"

using namespace backlight;
using namespace backlight::test;

namespace {

// Item 0: 3 x 3 cells with ids 0..11 (one run); item 1: ids 20, 22, ... (gaps) and 5..7 for the
// last row of cells (a run shared with item 0's ids).
Tensor mixed_mask() {
  Tensor m = Tensor::empty({2, 1, 10, 9});
  for (int64_t y = 0; y < 10; ++y)
    for (int64_t x = 0; x < 9; ++x) {
      const int64_t cell = (y / 3) * 3 + x / 3;
      m.data()[y * 9 + x] = static_cast<float>(cell);
      m.data()[90 + y * 9 + x] = static_cast<float>(y / 3 == 3 ? 5 + x / 3 : 20 + 2 * cell);
    }
  return m;
}

float logit(const Module& m, const Tensor& x, int64_t c) {
  Tape t(TapeOptions{.record = false});
  return m.forward(t.input(x)).value().at({0, c});
}

}  // namespace

TEST_SUITE("attribution") {

TEST_CASE("feature_ablation: per-item masks with runs and gaps equal the brute-force loop for every batching") {
  const ModulePtr m = perturbation_cnn();
  std::mt19937_64 rng(kSeed + 9);
  const Tensor x = uniform({2, 3, 10, 9}, rng), base = uniform({2, 3, 10, 9}, rng, -0.5f, 0.5f);
  const Tensor mask = mixed_mask();
  const int64_t cls = 3, per = 3 * 90;
  // attr[n, c, p] = f(x_n) - f(x_n with every element of id mask[n, p] set to the baseline).
  Tensor want = Tensor::empty(x.shape());
  for (int64_t n = 0; n < 2; ++n) {
    const Tensor xn = x.slice_batch(n, n + 1);
    const float f0 = logit(*m, xn, cls);
    for (int64_t p = 0; p < 90; ++p) {
      const float id = mask.data()[n * 90 + p];
      Tensor ablated = xn.clone();
      for (int64_t c = 0; c < 3; ++c)
        for (int64_t q = 0; q < 90; ++q)
          if (mask.data()[n * 90 + q] == id) ablated.data()[c * 90 + q] = base.data()[n * per + c * 90 + q];
      const float d = f0 - logit(*m, ablated, cls);
      for (int64_t c = 0; c < 3; ++c) want.data()[n * per + c * 90 + p] = d;
    }
  }
  for (int ppe : {1, 2, 4, 1000}) {
    CAPTURE(ppe);
    const AttributionResult r =
        feature_ablation(*m, x, Target::index(cls),
                         {.feature_mask = mask, .baseline = Baseline::given(base), .perturbations_per_eval = ppe});
    BL_CHECK_CLOSE(r.attribution, want, 1e-5 * std::max(1.0, max_abs(want)), 1e-4);
  }
}

}  // TEST_SUITE
