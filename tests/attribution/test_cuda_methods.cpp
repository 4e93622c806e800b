// Suite "cuda": the fused-path methods on a CUDA workspace - integrated gradients, the noise
// tunnel over the gradient methods, occlusion and feature ablation - against the CPU on the same
// inputs, on a small BatchNorm VGG and on ResNet-18 at 3x32x32; the errors for what does not run
// on CUDA; buffer reuse. Skipped with "skipped: no CUDA device" where there is none (this
// project's CI): these cases compile and link but have never run.
//
// Tolerance: |cuda - cpu| <= 1e-3 x max |cpu| (+ 1e-3 relative), as the whole-model cases of
// tests/engine/test_cuda_ops.cpp: cuBLAS/cuDNN sum in other orders. The noise tunnel draws the
// same Philox numbers on both devices (up to the last ulp of CUDA's logf/sinf/cosf), so seeded
// runs compare at the same tolerance.
#include <string>
#include <vector>

#include "attribution/perturbation/feature_ablation.h"
#include "attribution/perturbation/occlusion.h"
#include "attribution/path/integrated_gradients.h"
#include "attribution/gradient/noise_tunnel.h"
#include "attribution/gradient/gradient_methods.h"
#include "attribution/on_device.h"
#include "attribution/perturbation/perturbation.h"
#include "attribution/registry.h"
#include "models/zoo.h"
#include "tests/parity_nets.h"

using namespace backlight;
using namespace backlight::test;

namespace {

void compare(const Tensor& gpu, const Tensor& cpu, const char* what) {
  CAPTURE(what);
  REQUIRE(gpu.defined());
  CHECK(gpu.device() == Device::CPU);  // results come back to the host
  BL_CHECK_CLOSE(gpu, cpu, 1e-3 * max_abs(cpu), 1e-3);
}

// attribute(method) on the CPU and on `ws`: attribution, output, classes and delta agree.
void check_method(const Module& model, const Tensor& x, const Target& t, const std::string& method, MethodOptions o,
                  const Workspace& ws) {
  CAPTURE(method);
  CAPTURE(o.noise_tunnel);
  o.workspace = nullptr;
  const AttributionResult cpu = attribute(method, model, x, t, o);
  o.workspace = &ws;
  const AttributionResult gpu = attribute(method, model, x, t, o);
  compare(gpu.attribution, cpu.attribution, "attribution");
  if (cpu.output.defined()) compare(gpu.output, cpu.output, "output");
  CHECK(gpu.target == cpu.target);
  CHECK(gpu.delta.defined() == cpu.delta.defined());
  if (cpu.delta.defined()) {
    // The delta is a difference of sums of the attribution: its error scales with the output.
    CHECK(gpu.delta.device() == Device::CPU);
    BL_CHECK_CLOSE(gpu.delta, cpu.delta, 1e-3 * std::max(1.0, max_abs(cpu.output)), 0.0);
  }
}

Tensor images(int64_t n, int64_t size, uint64_t seed) {
  std::mt19937_64 rng(seed);
  return uniform({n, 3, size, size}, rng);
}

// Feature ids over [1, 1, H, W]: 4 x 4 cells, every other id (absent ids are skipped).
Tensor cell_mask(int64_t size) {
  Tensor m = Tensor::empty({1, 1, size, size});
  for (int64_t y = 0; y < size; ++y)
    for (int64_t x = 0; x < size; ++x) m.data()[y * size + x] = static_cast<float>(2 * ((y / 4) * 8 + x / 4));
  return m;
}

}  // namespace

TEST_SUITE("cuda") {

TEST_CASE("cuda/methods: integrated gradients match the CPU for every rule, baseline kind and chunking") {
  BL_REQUIRE_CUDA_OR_SKIP();
  const Workspace ws = Workspace::for_cuda(0);
  const ModulePtr model = make_net("small_vgg_bn");
  const Tensor x = images(2, 16, kSeed);
  std::mt19937_64 rng(kSeed + 1);
  const Tensor given = uniform({2, 3, 16, 16}, rng);
  const std::vector<std::vector<Baseline>> baselines = {
      {Baseline::zero()},
      {Baseline::constant(0.3f), Baseline::uniform(-1.0f, 1.0f, 5), Baseline::blur(1.5f)},
      {Baseline::given(given)}};
  for (const Integration rule : {Integration::RiemannTrapezoid, Integration::GaussLegendre})
    for (const auto& b : baselines)
      for (int batch : {0, 6}) {  // all steps in one chunk, or 3 steps per chunk
        CAPTURE(static_cast<int>(rule));
        CAPTURE(b.size());
        CAPTURE(batch);
        check_method(*model, x, Target::top1(), "integrated_gradients",
                     {.baselines = b, .steps = 8, .integration = rule, .batch = batch}, ws);
      }
  // multiply_by_inputs = false and a model moved once (MethodOptions has no such field: direct call).
  const ModulePtr on_device = model->to(Device::CUDA, &ws);
  const IntegratedGradientsOptions o{.steps = 7, .internal_batch_size = 4, .multiply_by_inputs = false};
  const AttributionResult cpu = integrated_gradients(*model, x, Target::index(1), o);
  IntegratedGradientsOptions od = o;
  od.workspace = &ws;
  const AttributionResult gpu = integrated_gradients(*on_device, x.to(Device::CUDA, &ws), Target::index(1), od);
  CHECK(gpu.attribution.device() == Device::CUDA);  // attribute() brings it back; a direct call does not
  compare(gpu.attribution.to_cpu(), cpu.attribution, "attribution (multiply_by_inputs = false)");
  BL_CHECK_CLOSE(gpu.delta, cpu.delta, 1e-3 * std::max(1.0, max_abs(cpu.output)), 0.0);
}

TEST_CASE("cuda/methods: the noise tunnel over every device gradient method matches the CPU for a seed") {
  BL_REQUIRE_CUDA_OR_SKIP();
  const Workspace ws = Workspace::for_cuda(0);
  const ModulePtr model = make_net("small_vgg_bn");
  const Tensor x = images(2, 16, kSeed + 2);
  for (const char* nt : {"smoothgrad", "smoothgrad_sq", "vargrad"})
    for (std::string_view m : cuda_noise_tunnel_methods())
      check_method(*model, x, Target::top1(), std::string(m),
                   {.steps = 4, .noise_tunnel = nt, .samples = 4, .seed = 7}, ws);
  // Explicit noise (on the host) over device inputs, in chunks of 3 samples.
  std::mt19937_64 rng(kSeed + 3);
  const NoiseTunnelOptions nt{.type = NoiseTunnelType::VarGrad, .samples = 5, .samples_batch_size = 3,
                              .noise = randn({5, 2, 3, 16, 16}, rng, 0.1f)};
  const ModulePtr on_device = model->to(Device::CUDA, &ws);
  const AttributionResult cpu = noise_tunnel(
      [&](const Tensor& xs, const Target& t) { return saliency(*model, xs, t); }, x, Target::index(2), nt);
  const AttributionResult gpu = noise_tunnel(
      [&](const Tensor& xs, const Target& t) { return saliency(*on_device, xs, t, {.workspace = &ws}); },
      x.to(Device::CUDA, &ws), Target::index(2), nt);
  CHECK(gpu.attribution.device() == Device::CUDA);
  compare(gpu.attribution.to_cpu(), cpu.attribution, "explicit noise, chunked");
}

TEST_CASE("cuda/methods: occlusion and feature ablation match the CPU") {
  BL_REQUIRE_CUDA_OR_SKIP();
  const Workspace ws = Workspace::for_cuda(0);
  const ModulePtr model = make_net("small_vgg_bn");
  const Tensor x = images(3, 16, kSeed + 4);
  std::mt19937_64 rng(kSeed + 5);
  const Tensor given = uniform({1, 3, 16, 16}, rng);
  for (const Baseline& b : {Baseline::zero(), Baseline::constant(-0.5f), Baseline::given(given)})
    for (int batch : {0, 5}) {
      CAPTURE(batch);
      check_method(*model, x, Target::top1(), "occlusion",
                   {.baselines = {b}, .window = {3, 4, 4}, .stride = {3, 3, 2}, .batch = batch}, ws);
      check_method(*model, x, Target::index(4), "feature_ablation",
                   {.baselines = {b}, .window = {3, 5, 3}, .batch = batch}, ws);
    }
  // Incremental occlusion is CPU-only: Auto quietly takes the plain path on CUDA, On refuses.
  const ModulePtr on_device = model->to(Device::CUDA, &ws);
  const Tensor xd = x.to(Device::CUDA, &ws);
  OcclusionOptions o{.window = {3, 4, 4}, .stride = {3, 2, 2}, .incremental = IncrementalMode::Off};
  const AttributionResult cpu = occlusion(*model, x, Target::top1(), o);
  o.workspace = &ws;
  o.incremental = IncrementalMode::Auto;
  compare(occlusion(*on_device, xd, Target::top1(), o).attribution.to_cpu(), cpu.attribution, "occlusion, Auto");
  o.incremental = IncrementalMode::On;
  CHECK_THROWS_WITH_AS(occlusion(*on_device, xd, Target::top1(), o), doctest::Contains("runs on the CPU only"), Error);
  // Feature ablation with a mask of absent ids and per-forward batches that split runs of ids.
  const FeatureAblationOptions fo{.feature_mask = cell_mask(16), .perturbations_per_eval = 3};
  FeatureAblationOptions fd = fo;
  fd.workspace = &ws;
  compare(feature_ablation(*on_device, xd, Target::index(1), fd).attribution.to_cpu(),
          feature_ablation(*model, x, Target::index(1), fo).attribution, "feature_ablation, mask");
}

TEST_CASE("cuda/models: resnet18 IG, SmoothGrad, occlusion and feature ablation on the device match the CPU") {
  BL_REQUIRE_CUDA_OR_SKIP();
  const Workspace ws = Workspace::for_cuda(0);
  const ModulePtr model = make_model("resnet18", {.num_classes = 10, .seed = 1});
  const Tensor x = images(1, 32, kSeed + 6);
  for (const Integration rule : {Integration::RiemannTrapezoid, Integration::GaussLegendre})
    check_method(*model, x, Target::index(3), "integrated_gradients", {.steps = 16, .integration = rule, .batch = 8},
                 ws);
  check_method(*model, x, Target::index(3), "saliency", {.noise_tunnel = "smoothgrad", .samples = 6, .seed = 11}, ws);
  check_method(*model, x, Target::index(3), "occlusion", {.window = {3, 8, 8}, .stride = {3, 4, 4}}, ws);
  check_method(*model, x, Target::index(3), "feature_ablation", {.window = {3, 4, 4}}, ws);
}

TEST_CASE("cuda/methods: what does not run on CUDA throws naming what does") {
  BL_REQUIRE_CUDA_OR_SKIP();
  const Workspace ws = Workspace::for_cuda(0);
  const ModulePtr model = make_net("small_vgg_bn");
  const Tensor x = images(1, 16, kSeed);
  for (const char* m : {"deeplift", "grad_cam", "gradient_shap"}) {
    CAPTURE(m);
    CHECK_THROWS_WITH_AS(attribute(m, *model, x, Target::top1(), {.layer = "features", .workspace = &ws}),
                         doctest::Contains("runs on the CPU only for now (on CUDA: saliency"), Error);
  }
  for (const char* m : {"lrp", "occlusion"}) {
    CAPTURE(m);
    CHECK_THROWS_WITH_AS(attribute(m, *model, x, Target::top1(), {.noise_tunnel = "smoothgrad", .workspace = &ws}),
                         doctest::Contains("the noise tunnel on CUDA wraps: saliency"), Error);
  }
}

TEST_CASE("cuda/workspace: a repeated integrated gradients call allocates no new device block") {
  BL_REQUIRE_CUDA_OR_SKIP();
  const Workspace ws = Workspace::for_cuda(0);
  const ModulePtr model = make_net("small_vgg_bn")->to(Device::CUDA, &ws);
  const Tensor x = images(2, 16, kSeed).to(Device::CUDA, &ws);
  const IntegratedGradientsOptions o{.steps = 9, .internal_batch_size = 6, .workspace = &ws};
  const Tensor first = integrated_gradients(*model, x, Target::top1(), o).attribution.to_cpu();
  const size_t fresh = ws.stats().fresh_allocations;
  const Tensor second = integrated_gradients(*model, x, Target::top1(), o).attribution.to_cpu();
  CHECK(ws.stats().fresh_allocations == fresh);  // chunk buffers, interpolations and sums reused
  BL_CHECK_CLOSE(second, first, 0.0, 0.0);        // and the result is deterministic
}

}  // TEST_SUITE
