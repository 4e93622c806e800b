// Side-by-side chunks (attribution/core/side_by_side.h): the plan, unit order of the results,
// exceptions from a worker; and for every method that uses it, two threads give the one-thread
// result (up to float rounding of smaller batches) and a chunked run the unchunked one.
#include <functional>
#include <stdexcept>
#include <utility>

#include "attribution/core/limits.h"
#include "attribution/core/side_by_side.h"
#include "attribution/gradient/gradient_methods.h"
#include "attribution/gradient/noise_tunnel.h"
#include "attribution/layer/layer_path_methods.h"
#include "attribution/neuron/neuron_methods.h"
#include "attribution/path/gradient_shap.h"
#include "attribution/registry.h"
#include "engine/parallel.h"
#include "tests/attribution/small_cnn.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

namespace {

// f() on one thread and on two (restoring the caller's thread count).
std::pair<AttributionResult, AttributionResult> one_and_two(const std::function<AttributionResult()>& f) {
  const int before = num_threads();
  set_num_threads(1);
  AttributionResult one = f();
  set_num_threads(2);
  AttributionResult two = f();
  set_num_threads(before);
  return {std::move(one), std::move(two)};
}

void check_same(const AttributionResult& a, const AttributionResult& b) {
  BL_CHECK_CLOSE(a.attribution, b.attribution, 1e-6, 1e-5);
  if (a.delta.defined() || b.delta.defined()) BL_CHECK_CLOSE(a.delta, b.delta, 1e-6, 1e-5);
}

}  // namespace

TEST_SUITE("attribution") {

TEST_CASE("side_by_side: plan floors a method-chosen chunk to a multiple of the threads") {
  const SideBySidePlan a = side_by_side_plan(50, 7, 2, true);  // method chose 7: 6, 3 per worker
  CHECK(a.per_chunk == 6);
  CHECK(a.workers == 2);
  CHECK(a.per_worker == 3);
  const SideBySidePlan b = side_by_side_plan(50, 7, 2, false);  // the caller's 7 stays: 4 + 3
  CHECK(b.per_chunk == 7);
  CHECK(b.per_worker == 4);
  const SideBySidePlan c = side_by_side_plan(50, 1, 4, true);  // one row per chunk: one per thread
  CHECK(c.per_chunk == 4);
  CHECK(c.workers == 4);
  const SideBySidePlan d = side_by_side_plan(3, 1, 4, true);  // fewer units than threads
  CHECK(d.per_chunk == 3);
  CHECK(d.workers == 3);
  const SideBySidePlan e = side_by_side_plan(9, 9, 1, true);  // one thread: the sequential loop
  CHECK(e.workers == 1);
  CHECK(e.per_worker == 9);
  CHECK_THROWS_WITH_AS(side_by_side_plan(9, 0, 2, true), doctest::Contains("per_chunk >= 1"), Error);
}

TEST_CASE("side_by_side: results arrive in unit order; parts run in a parallel region; errors come back") {
  const int before = num_threads();
  set_num_threads(2);
  const size_t threads = side_by_side_threads(true);
  CHECK(side_by_side_threads(false) == 1);
  for (size_t per_chunk : {1, 4, 5, 11}) {
    CAPTURE(per_chunk);
    const SideBySidePlan plan = side_by_side_plan(11, per_chunk, threads, false);
    std::vector<std::pair<size_t, size_t>> seen;
    int parallel = 0;
    run_side_by_side(
        plan,
        [&](size_t k0, size_t k1) {
          if (in_parallel_region()) {
#pragma omp atomic
            ++parallel;
          }
          return std::make_pair(k0, k1);
        },
        [&](size_t k0, size_t k1, std::pair<size_t, size_t> got) {
          CHECK(got == std::make_pair(k0, k1));
          seen.push_back(got);
        });
    size_t next = 0;
    for (const auto& [k0, k1] : seen) {
      CHECK(k0 == next);
      CHECK(k1 > k0);
      next = k1;
    }
    CHECK(next == 11);
    if (threads >= 2 && per_chunk >= 2) CHECK(parallel > 0);  // OpenMP builds: the parts ran on threads
  }
  const SideBySidePlan plan = side_by_side_plan(8, 8, threads, false);
  CHECK_THROWS_WITH_AS(run_side_by_side(
                           plan,
                           [](size_t k0, size_t) -> int {
                             if (k0 > 0) BL_THROW("unit ", k0, " failed");
                             return 0;
                           },
                           [](size_t, size_t, int) {}),
                       doctest::Contains("failed"), Error);
  set_num_threads(before);
}

TEST_CASE("side_by_side: layer IG, layer conductance, internal influence on two threads equal one thread") {
  const ModulePtr m = small_cnn();
  std::mt19937_64 rng(kSeed + 41);
  const Tensor x = randn({2, 3, 8, 8}, rng);
  const std::vector<Baseline> bases{Baseline::zero(), Baseline::constant(0.1f)};
  for (int ibs : {0, 6, 2}) {  // one chunk split in two; chunks of 3 steps (2 + 1); 1 step per chunk
    CAPTURE(ibs);
    const auto [lig1, lig2] = one_and_two([&] {
      return layer_integrated_gradients(*m, x, Target::top1(),
                                        {.layer = "conv2", .steps = 9, .baselines = bases, .internal_batch_size = ibs});
    });
    check_same(lig1, lig2);
    const auto [lc1, lc2] = one_and_two([&] {
      return layer_conductance(*m, x, Target::index(3),
                               {.layer = "relu1", .steps = 9, .baselines = bases, .internal_batch_size = ibs});
    });
    check_same(lc1, lc2);
    const auto [ii1, ii2] = one_and_two([&] {
      return internal_influence(*m, x, Target::top1(), {.layer = "relu2", .steps = 9, .internal_batch_size = ibs});
    });
    check_same(ii1, ii2);
  }
  // Chunked (5 chunks of 2 points, each split between the threads) equals unchunked.
  const int before = num_threads();
  set_num_threads(2);
  const AttributionResult whole = layer_conductance(*m, x, Target::index(3), {.layer = "relu1", .steps = 9});
  const AttributionResult chunked =
      layer_conductance(*m, x, Target::index(3), {.layer = "relu1", .steps = 9, .internal_batch_size = 4});
  const AttributionResult lig_whole = layer_integrated_gradients(*m, x, Target::top1(), {.layer = "conv2", .steps = 9});
  const AttributionResult lig_chunked =
      layer_integrated_gradients(*m, x, Target::top1(), {.layer = "conv2", .steps = 9, .internal_batch_size = 6});
  set_num_threads(before);
  check_same(chunked, whole);
  check_same(lig_chunked, lig_whole);
}

TEST_CASE("side_by_side: neuron IG and neuron conductance on two threads equal one thread") {
  const ModulePtr m = small_cnn();
  std::mt19937_64 rng(kSeed + 43);
  const Tensor x = randn({3, 3, 8, 8}, rng);
  const Neuron nrn = Neuron::at("relu2", {1, 1, 1});
  for (int ibs : {0, 9, 3}) {
    CAPTURE(ibs);
    const auto [nig1, nig2] =
        one_and_two([&] { return neuron_integrated_gradients(*m, x, nrn, {.steps = 10, .internal_batch_size = ibs}); });
    check_same(nig1, nig2);
    const auto [nc1, nc2] = one_and_two(
        [&] { return neuron_conductance(*m, x, nrn, Target::index(2), {.steps = 10, .internal_batch_size = ibs}); });
    check_same(nc1, nc2);
  }
  const int before = num_threads();
  set_num_threads(2);
  const AttributionResult whole = neuron_conductance(*m, x, nrn, Target::index(2), {.steps = 10});
  const AttributionResult chunked = neuron_conductance(*m, x, nrn, Target::index(2), {.steps = 10, .internal_batch_size = 6});
  set_num_threads(before);
  check_same(chunked, whole);
}

TEST_CASE("side_by_side: noise tunnel and GradientSHAP draw the same samples on two threads as on one") {
  const ModulePtr m = small_cnn();
  std::mt19937_64 rng(kSeed + 47);
  const Tensor x = randn({2, 3, 8, 8}, rng);
  // A wrapped method with one delta per row that tells the rows apart: the deltas must come back
  // in the one-thread order (chunk after chunk, item-major inside a chunk).
  const AttributionFn method = [&](const Tensor& rows, const Target& t) {
    AttributionResult r = saliency(*m, rows, t, {.abs = false});
    r.delta = Tensor::empty(Shape{rows.size(0)});
    const int64_t per = rows.numel() / rows.size(0);
    for (int64_t i = 0; i < rows.size(0); ++i) r.delta.data()[i] = rows.data()[i * per];
    return r;
  };
  for (int batch : {0, 4, 1}) {
    CAPTURE(batch);
    for (NoiseTunnelType type : {NoiseTunnelType::SmoothGrad, NoiseTunnelType::VarGrad}) {
      const NoiseTunnelOptions o{
          .type = type, .samples = 7, .stdev = 0.3f, .seed = 5, .samples_batch_size = batch, .side_by_side = true};
      const auto [nt1, nt2] = one_and_two([&] { return noise_tunnel(method, x, Target::index(1), o); });
      check_same(nt1, nt2);
      CHECK(nt2.delta.numel() == 14);
      BL_CHECK_CLOSE(nt2.delta, nt1.delta, 0, 0);  // the same noisy rows in the same order
    }
    const GradientShapOptions g{.baselines = randn({3, 3, 8, 8}, rng), .samples = 5, .stdev = 0.1f, .seed = 3,
                                .samples_batch_size = batch};
    const auto [gs1, gs2] = one_and_two([&] { return gradient_shap(*m, x, Target::top1(), g); });
    check_same(gs1, gs2);
  }
  // Through the registry (smoothgrad around saliency, 6 samples): chunked equals unchunked.
  const auto [reg1, reg2] = one_and_two([&] {
    return attribute("saliency", *m, x, Target::top1(), {.noise_tunnel = "smoothgrad", .samples = 6, .seed = 9});
  });
  check_same(reg1, reg2);
  const int before = num_threads();
  set_num_threads(2);
  const NoiseTunnelOptions whole{.samples = 9, .stdev = 0.2f, .seed = 2, .side_by_side = true};
  NoiseTunnelOptions chunked = whole;
  chunked.samples_batch_size = 4;
  const AttributionResult a = noise_tunnel(method, x, Target::index(0), whole);
  const AttributionResult b = noise_tunnel(method, x, Target::index(0), chunked);
  set_num_threads(before);
  BL_CHECK_CLOSE(b.attribution, a.attribution, 1e-6, 1e-5);
}

TEST_CASE("noise_tunnel: bytes_per_row caps the rows per call at the activation budget; same result") {
  const ModulePtr m = small_cnn();
  std::mt19937_64 rng(kSeed + 53);
  const Tensor x = randn({2, 3, 8, 8}, rng);
  int64_t most = 0;
  const AttributionFn method = [&](const Tensor& rows, const Target& t) {
    most = std::max(most, rows.size(0));
    AttributionResult r = saliency(*m, rows, t, {.abs = false});
    r.delta = Tensor::empty(Shape{rows.size(0)});  // tells the rows apart
    const int64_t per = rows.numel() / rows.size(0);
    for (int64_t i = 0; i < rows.size(0); ++i) r.delta.data()[i] = rows.data()[i * per];
    return r;
  };
  const NoiseTunnelOptions free{.samples = 7, .stdev = 0.2f, .seed = 4, .side_by_side = true};
  NoiseTunnelOptions capped = free;
  capped.bytes_per_row = kChunkActivationBytes / 2;  // two rows per chunk: one sample of each item
  const int before = num_threads();
  set_num_threads(1);
  const AttributionResult a = noise_tunnel(method, x, Target::index(1), free);
  CHECK(most == 14);  // all samples at once
  most = 0;
  const AttributionResult b = noise_tunnel(method, x, Target::index(1), capped);
  CHECK(most == 2);
  set_num_threads(before);
  BL_CHECK_CLOSE(b.attribution, a.attribution, 1e-6, 1e-5);
  BL_CHECK_CLOSE(b.delta, a.delta, 0, 0);  // one call's order (Captum's) whatever the budget made
}

}  // TEST_SUITE
