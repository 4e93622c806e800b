// Incremental occlusion equals the plain sweep (to float32 round-off) on VGG-16, ResNet-18,
// MobileNetV2, a net with dilation, grouped convs, ceil_mode and padded pools, a net with shape
// and normalisation ops after the convs and a fully convolutional net; for every batch size and
// split between per-thread and whole-batch work; falls back (auto) or throws (on) for an
// unsupported op.
#include <algorithm>

#include "attribution/perturbation/occlusion.h"
#include "attribution/perturbation/incremental/incremental_occlusion.h"
#include "attribution/perturbation/perturbation.h"
#include "engine/modules/all.h"
#include "models/feature_classifier.h"
#include "models/synthetic_weights.h"
#include "models/zoo.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

namespace {

// Results of the two paths agree to a few float32 ulp of the values they are differences of.
// An attribution is the target output minus its occluded output, and the two paths round each
// output differently by ~1e-6 of the outputs (the Winograd conv path rounds an output according
// to its place in a 2x2 tile, and the incremental crops start wherever the dirty rectangle
// does): on VGG-16 below, max |logit| 2.2, attributions up to 0.2, the paths differ by up to
// 4.6e-6 (2e-6 of the logits, 2e-5 of the attributions). So the scale is the larger of the
// attributions and the model outputs (`scale`).
void check_same(const Tensor& incremental, const Tensor& plain, double scale = 0) {
  BL_CHECK_CLOSE(incremental, plain, 1e-5 * std::max(scale, max_abs(plain)), 0.0);
}

// max |model output| over the unoccluded items.
double output_scale(const Module& m, const Tensor& x) {
  Workspace ws;
  return max_abs(RowEvaluator(m, x, Target::top1(), ws).output());
}

Tensor run(const Module& m, const Tensor& x, OcclusionOptions o, IncrementalMode mode, int ppe) {
  o.incremental = mode;
  o.perturbations_per_eval = ppe;
  return occlusion(m, x, Target::top1(), o).attribution;
}

// Plain once, incremental for each batch size; the plan must apply and save FLOPs.
void check_model(const Module& m, const Tensor& x, const OcclusionOptions& o, std::initializer_list<int> ppes) {
  const IncrementalOcclusionInfo info = incremental_occlusion_info(m, x, o);
  CHECK_MESSAGE(info.applies, info.reason);
  CHECK(info.incremental_flops < info.plain_flops);
  INFO("flops plain / incremental: ", info.plain_flops / info.incremental_flops);
  const Tensor plain = run(m, x, o, IncrementalMode::Off, 16);
  CHECK(max_abs(plain) > 1e-3);  // the windows change the target well beyond round-off
  const double scale = output_scale(m, x);
  for (int ppe : ppes) {
    CAPTURE(ppe);
    check_same(run(m, x, o, IncrementalMode::On, ppe), plain, scale);
  }
}

// A zoo model with He-uniform synthetic weights (activations stay O(1) through the depth, so
// the windows change the logits by far more than round-off).
ModulePtr zoo_model(std::string_view name, ModelConfig cfg, uint64_t seed) {
  ModulePtr m = make_model(name, cfg);
  fill_synthetic(*m, seed);
  return m;
}

// VGG-16: torchvision's configuration "D" as models/vgg.cpp builds it, with a one-layer
// classifier (the zoo's 120M-parameter classifier would take seconds to initialise and plays no
// part here: after flatten every node runs whole).
ModulePtr vgg16_net(uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto features = std::make_shared<Sequential>();
  int64_t in = 3;
  for (int v : {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0}) {
    if (v == 0) {
      features->push_back(std::make_shared<MaxPool2d>(2, MaxPool2dOptions{.stride = 2}));
      continue;
    }
    features->push_back(std::make_shared<Conv2d>(in, v, 3, rng, Conv2dOptions{.padding = 1}));
    features->push_back(std::make_shared<ReLU>());
    in = v;
  }
  ModulePtr m = std::make_shared<FeatureClassifier>("VGG", features, std::make_shared<AdaptiveAvgPool2d>(7),
                                                    std::make_shared<Linear>(512 * 7 * 7, 10, rng));
  fill_synthetic(*m, seed);
  return m;
}

Tensor images(int64_t n, int64_t hw, uint64_t seed = kSeed) {
  std::mt19937_64 rng(seed);
  return uniform({n, 3, hw, hw}, rng);
}

// Dilated and grouped convs, max pooling with padding and ceil_mode, average pooling with
// count_include_pad off and ceil_mode, add / sub / mul of maps, leaky relu, sigmoid, tanh.
class OddNet : public ModuleImpl<OddNet> {
 public:
  explicit OddNet(std::mt19937_64& rng) {
    register_module("conv1", std::make_shared<Conv2d>(3, 8, 3, rng, Conv2dOptions{.padding = 2, .dilation = 2}));
    register_module("conv2", std::make_shared<Conv2d>(8, 8, 3, rng, Conv2dOptions{.padding = 1, .groups = 2}));
    register_module("conv3", std::make_shared<Conv2d>(8, 8, 1, rng));
    register_module("conv4", std::make_shared<Conv2d>(8, 6, 3, rng, Conv2dOptions{.stride = 2, .padding = 1}));
    register_module("fc", std::make_shared<Linear>(6 * 2 * 2, 5, rng));
  }
  Var forward(const Var& x) const override {
    Var h = leaky_relu(child("conv1").forward(x), 0.1f);
    h = maxpool2d(h, Pool2dAttrs{.kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1,
                                 .ceil_mode = true});
    const Var a = sigmoid(child("conv2").forward(h));
    const Var b = avgpool2d(h, Pool2dAttrs{.kernel_h = 3, .kernel_w = 3, .pad_h = 1, .pad_w = 1,
                                           .count_include_pad = false});
    h = sub(mul(a, b), tanh(child("conv3").forward(a)));
    h = avgpool2d(h, Pool2dAttrs{.kernel_h = 2, .kernel_w = 2, .stride_h = 2, .stride_w = 2, .ceil_mode = true});
    h = relu(child("conv4").forward(h));
    h = adaptive_avgpool2d(h, 2, 2);
    return child("fc").forward(flatten(h, 1, -1));
  }
  std::string type_name() const override { return "OddNet"; }
};

// A conv stem, then a tail of the shape and normalisation ops (all replayed on whole rows):
// permute, layernorm, slice, pad, concat, gelu, sum, mean, scale, add of a constant, log_softmax.
class TailNet : public ModuleImpl<TailNet> {
 public:
  explicit TailNet(std::mt19937_64& rng) {
    register_module("conv", std::make_shared<Conv2d>(3, 4, 3, rng, Conv2dOptions{.padding = 1}));
    register_parameter("ln_weight", uniform({4}, rng, 0.5f, 1.5f));
    register_parameter("ln_bias", uniform({4}, rng));
    register_parameter("offset", uniform({8}, rng));
  }
  Var forward(const Var& x) const override {
    Tape& t = x.tape();
    Var h = maxpool2d(relu6(child("conv").forward(x)), Pool2dAttrs{.kernel_h = 2, .kernel_w = 2, .stride_h = 2,
                                                                   .stride_w = 2});
    const int perm[] = {0, 2, 3, 1};
    h = layernorm(permute(h, perm), param(t, "ln_weight"), param(t, "ln_bias"), 1);  // [N, h, w, 4]
    h = slice(h, 1, 0, 3);                                                          // [N, 3, w, 4]
    const int64_t pads[] = {0, 0, 1, 1};
    h = pad(h, pads);  // [N, 3, w + 2, 4]
    const Var both[] = {h, scale(h, -1.0f)};
    h = gelu(concat(both, 3));  // [N, 3, w + 2, 8]
    const int rows[] = {2}, items[] = {1};
    h = mean(sum(h, rows), items);  // [N, 8]
    return log_softmax(add(scale(h, 2.0f), param(t, "offset")));
  }
  std::string type_name() const override { return "TailNet"; }
};

// A conv, then a 4096 x 1024 linear layer (16 MB of weights: streamed, behind the plan's tail).
class BigHead : public ModuleImpl<BigHead> {
 public:
  explicit BigHead(std::mt19937_64& rng) {
    register_module("conv", std::make_shared<Conv2d>(3, 4, 3, rng, Conv2dOptions{.padding = 1}));
    register_module("fc1", std::make_shared<Linear>(4 * 32 * 32, 1024, rng));
    register_module("fc2", std::make_shared<Linear>(1024, 10, rng));
  }
  Var forward(const Var& x) const override {
    const Var h = flatten(relu(child("conv").forward(x)), 1, -1);
    return child("fc2").forward(relu(child("fc1").forward(h)));
  }
  std::string type_name() const override { return "BigHead"; }
};

// A fully convolutional net: its output is a map [N, 4, H, W] (explained through a function).
class Fcn : public ModuleImpl<Fcn> {
 public:
  explicit Fcn(std::mt19937_64& rng) {
    register_module("conv1", std::make_shared<Conv2d>(3, 6, 3, rng, Conv2dOptions{.padding = 1}));
    register_module("conv2", std::make_shared<Conv2d>(6, 4, 3, rng, Conv2dOptions{.padding = 1}));
  }
  Var forward(const Var& x) const override { return child("conv2").forward(relu(child("conv1").forward(x))); }
  std::string type_name() const override { return "Fcn"; }
};

// A conv net whose head multiplies by a weight matrix with matmul (not supported).
class MatmulHead : public ModuleImpl<MatmulHead> {
 public:
  explicit MatmulHead(std::mt19937_64& rng) {
    register_module("conv", std::make_shared<Conv2d>(3, 4, 3, rng, Conv2dOptions{.padding = 1}));
    register_parameter("proj", uniform({4 * 16 * 16, 3}, rng));
  }
  Var forward(const Var& x) const override {
    const Var h = flatten(relu(child("conv").forward(x)), 1, -1);
    return matmul(h, param(x.tape(), "proj"));
  }
  std::string type_name() const override { return "MatmulHead"; }
};

}  // namespace

TEST_SUITE("attribution") {
  TEST_CASE("incremental occlusion: equals plain occlusion on VGG-16") {
    const ModulePtr m = vgg16_net(1);
    // 9 positions (stride 12 does not divide 32 - 14; the last windows overhang and are clipped).
    check_model(*m, images(2, 32), {.window = {3, 14, 14}, .stride = {3, 12, 12}}, {4, 9});
  }

  TEST_CASE("incremental occlusion: equals plain occlusion on ResNet-18") {
    const ModulePtr m = zoo_model("resnet18", {.num_classes = 10}, 2);
    // 25 positions (stride 10 does not divide 48 - 12).
    check_model(*m, images(2, 48), {.window = {3, 12, 12}, .stride = {3, 10, 10}}, {4, 25});
  }

  TEST_CASE("incremental occlusion: MobileNetV2 (depthwise, residual) and a channel window") {
    const ModulePtr m = zoo_model("mobilenet_v2", {.num_classes = 10, .width_mult = 0.5f}, 3);
    check_model(*m, images(2, 40), {.window = {1, 12, 12}, .stride = {1, 7, 7}}, {9});
  }

  TEST_CASE("incremental occlusion: dilation, groups, ceil_mode and padded pools, baselines, targets") {
    std::mt19937_64 rng(4);
    const OddNet net(rng);
    const Tensor x = images(2, 23);
    check_model(net, x, {.window = {3, 5, 4}, .stride = {3, 3, 2}}, {4, 1000});
    // A per-item baseline tensor and a constant one.
    for (const Baseline& b : {Baseline::constant(0.5f), Baseline::given(images(2, 23, 7))}) {
      const OcclusionOptions o{.window = {2, 6, 6}, .stride = {1, 4, 4}, .baseline = b};
      check_same(run(net, x, o, IncrementalMode::On, 5), run(net, x, o, IncrementalMode::Off, 5));
    }
  }

  TEST_CASE("incremental occlusion: shape and normalisation ops in the whole-row tail") {
    std::mt19937_64 rng(7);
    const TailNet net(rng);
    check_model(net, images(2, 18), {.window = {3, 4, 4}, .stride = {3, 3, 3}}, {5});
  }

  TEST_CASE("incremental occlusion: where the per-thread shares end and the whole-batch tail begins") {
    // Plan::tail only moves nodes between per-thread shares and whole-batch runs; any split
    // (everything whole-batch, mid-way through the regions, none) gives the same differences.
    std::mt19937_64 rng(8);
    const OddNet net(rng);
    const Tensor x = images(1, 23);
    const OcclusionGeometry g = occlusion_geometry({3, 23, 23}, {3, 5, 5}, {3, 3, 3});
    Workspace ws;
    const RowEvaluator eval(net, x, Target::top1(), ws);
    const int nodes = incremental::record_and_plan(net, x, g, ws).tape->num_nodes();
    std::vector<Tensor> diffs;
    for (int tail : {0, nodes / 2, nodes}) {
      CAPTURE(tail);
      incremental::Recording rec = incremental::record_and_plan(net, x, g, ws);
      REQUIRE(rec.plan.unsupported.empty());
      CHECK(rec.plan.tail == nodes);  // small weights: no whole-batch tail by default
      rec.plan.tail = tail;
      Progress bar("occlusion", g.positions, {.enabled = false});
      diffs.push_back(
          incremental::occlusion_diffs(net, std::move(rec), x, g, BaselineRef{}, eval, Target::top1(), 7, bar, ws));
    }
    CHECK(max_abs(diffs[2]) > 1e-3);
    check_same(diffs[0], diffs[2]);
    check_same(diffs[1], diffs[2]);
  }

  TEST_CASE("incremental occlusion: a large linear layer runs on the whole batch, weights streamed") {
    std::mt19937_64 rng(9);
    BigHead net(rng);
    fill_synthetic(net, 9);
    const Tensor x = images(2, 32);
    const OcclusionOptions o{.window = {3, 8, 8}, .stride = {3, 6, 6}};
    const std::vector<int64_t> item{3, 32, 32};
    Workspace ws;
    const incremental::Recording rec =
        incremental::record_and_plan(net, x.slice_batch(0, 1), occlusion_geometry(item, o.window, o.stride), ws);
    REQUIRE(rec.plan.tail < rec.tape->num_nodes());
    CHECK(rec.tape->node(rec.plan.tail).kind == OpKind::Linear);
    check_model(net, x, o, {6, 13});
  }

  TEST_CASE("incremental occlusion: a map output (stored as a region) through a function target") {
    std::mt19937_64 rng(6);
    const Fcn net(rng);
    const Tensor x = images(2, 20);
    // The sum of channel 1 of the output map.
    const Target target = Target::function([](const Var& out) {
      const int axes[] = {1, 2, 3};
      return sum(slice(out, 1, 1, 2), axes);
    });
    OcclusionOptions o{.window = {3, 3, 3}, .stride = {3, 2, 2}, .perturbations_per_eval = 7};
    const IncrementalOcclusionInfo info = incremental_occlusion_info(net, x, o);
    CHECK(info.chosen);
    CHECK(info.incremental_flops * 4 < info.plain_flops);
    o.incremental = IncrementalMode::Off;
    const Tensor plain = occlusion(net, x, target, o).attribution;
    o.incremental = IncrementalMode::On;
    check_same(occlusion(net, x, target, o).attribution, plain);
  }

  TEST_CASE("incremental occlusion: an unsupported op falls back (auto) or throws (on)") {
    std::mt19937_64 rng(5);
    const MatmulHead net(rng);
    const Tensor x = images(2, 16);
    const OcclusionOptions o{.window = {3, 4, 4}, .stride = {3, 4, 4}};
    const IncrementalOcclusionInfo info = incremental_occlusion_info(net, x, o);
    CHECK_FALSE(info.applies);
    CHECK_FALSE(info.chosen);
    CHECK(info.reason.find("matmul") != std::string::npos);
    const Tensor plain = run(net, x, o, IncrementalMode::Off, 4);
    const Tensor autom = run(net, x, o, IncrementalMode::Auto, 4);
    CHECK(std::equal(plain.span().begin(), plain.span().end(), autom.span().begin()));
    CHECK_THROWS_WITH_AS(run(net, x, o, IncrementalMode::On, 4), doctest::Contains("matmul"), backlight::Error);
    // Inputs that are not images: no plan.
    const ModulePtr mlp = make_model("mlp", {.num_classes = 3, .mlp_sizes = {6, 4}});
    const Tensor v = images(1, 2).reshape({2, 6});
    CHECK_THROWS_WITH_AS(occlusion(*mlp, v, Target::top1(), {.window = {2}, .incremental = IncrementalMode::On}),
                         doctest::Contains("not images"), backlight::Error);
  }
}
