// Parity with Zennit 0.5.1 composites and Captum 0.8 (GuidedBackprop, Deconvolution, DeepLift)
// on a VGG-style net with BatchNorm and a small ResNet. Fixture: tools/reference/make_rules_fixtures.py.
#include "attribution/deeplift.h"
#include "attribution/gradient_methods.h"
#include "engine/modules.h"
#include "models/resnet.h"
#include "models/safetensors.h"
#include "models/synthetic_weights.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

namespace {

constexpr uint64_t kFixtureSeed = 20261124;

// The fixture's SmallVGG: features / avgpool / classifier with torchvision's naming.
class SmallVgg : public ModuleImpl<SmallVgg> {
 public:
  SmallVgg(std::mt19937_64& rng, bool avgpool) {
    auto pool = [&]() -> ModulePtr {
      if (avgpool) return std::make_shared<AvgPool2d>(2);
      return std::make_shared<MaxPool2d>(2);
    };
    auto conv = [&](int64_t i, int64_t o) { return std::make_shared<Conv2d>(i, o, 3, rng, Conv2dOptions{.padding = 1}); };
    register_module("features", std::make_shared<Sequential>(std::initializer_list<ModulePtr>{
                                    conv(3, 8), std::make_shared<BatchNorm2d>(8), std::make_shared<ReLU>(), conv(8, 8),
                                    std::make_shared<BatchNorm2d>(8), std::make_shared<ReLU>(),
                                    pool(), conv(8, 16), std::make_shared<BatchNorm2d>(16),
                                    std::make_shared<ReLU>(), pool()}));
    register_module("avgpool", std::make_shared<AdaptiveAvgPool2d>(2));
    register_module("classifier", std::make_shared<Sequential>(std::initializer_list<ModulePtr>{
                                      std::make_shared<Linear>(64, 32, rng), std::make_shared<ReLU>(),
                                      std::make_shared<Dropout>(), std::make_shared<Linear>(32, 10, rng)}));
  }
  Var forward(const Var& x) const override {
    return child("classifier").forward(flatten(child("avgpool").forward(child("features").forward(x)), 1, -1, "flatten"));
  }
  std::string type_name() const override { return "SmallVGG"; }
};

ModulePtr make_net(const std::string& name) {
  std::mt19937_64 rng(1);
  ModulePtr m = name == "small_resnet"
                    ? ModulePtr(std::make_shared<ResNet>(false, std::array<int, 4>{1, 1, 1, 1}, 10, rng))
                    : ModulePtr(std::make_shared<SmallVgg>(rng, name == "small_vgg_bn_avgpool"));
  fill_synthetic(*m, kFixtureSeed);
  return m;
}

const SafeTensorsFile& fixture() {
  static const SafeTensorsFile f = read_safetensors(std::string(BACKLIGHT_TEST_DATA) + "/rules/rules_parity.safetensors");
  return f;
}

Tensor get(const std::string& name) {
  const Tensor* t = fixture().find(name);
  REQUIRE_MESSAGE(t, "fixture has no tensor ", name);
  return *t;
}

void check_parity(const Tensor& got, const Tensor& ref) {
  // max abs error <= 1e-4 x max |reference| (float32)
  BL_CHECK_CLOSE(got, ref, 1e-4 * max_abs(ref), 0.0);
}

}  // namespace

TEST_SUITE("rules") {

TEST_CASE("parity: forward of the fixture networks equals PyTorch") {
  const Tensor x = get("input");
  for (const std::string net : {"small_vgg_bn", "small_resnet"}) {
    CAPTURE(net);
    Tape t(TapeOptions{.record = false});
    check_parity(make_net(net)->forward(t.input(x)).value(), get(net + "/logits"));
  }
}

TEST_CASE("parity: every LRP composite equals Zennit (with canonizers) on VGG-BN and ResNet") {
  const Tensor x = get("input");
  const Target target = Target::indices({3, 7});
  for (const std::string net : {"small_vgg_bn", "small_resnet"}) {
    const ModulePtr model = make_net(net);
    for (const std::string rs : {"lrp_epsilon", "lrp_epsilon_plus", "lrp_epsilon_plus_flat", "lrp_epsilon_gamma_box",
                                 "lrp_epsilon_alpha2_beta1", "lrp_epsilon_alpha2_beta1_flat", "lrp_alpha1_beta0"}) {
      CAPTURE(net);
      CAPTURE(rs);
      const AttributionResult r = lrp(*model, x, target, {.rules = rs});
      check_parity(r.attribution, get(net + "/" + rs));
    }
  }
}

TEST_CASE("parity: guided backprop, deconvolution and DeepLift equal Captum") {
  const Tensor x = get("input");
  const Target target = Target::indices({3, 7});
  for (const std::string net : {"small_vgg_bn", "small_resnet"}) {
    CAPTURE(net);
    const ModulePtr model = make_net(net);
    check_parity(guided_backprop_attribution(*model, x, target).attribution, get(net + "/guided_backprop"));
    check_parity(deconvolution(*model, x, target).attribution, get(net + "/deconvnet"));
  }
  // DeepLift parity on the average-pooling variant (see the fixture script: Captum's max-pooling
  // result misses summation-to-delta there); backlight's max-pooling rule is checked by
  // summation-to-delta on the max-pooling nets instead.
  const ModulePtr avg = make_net("small_vgg_bn_avgpool");
  const AttributionResult dl = deeplift(*avg, x, target, {.baselines = {Baseline::given(get("baseline"))}});
  check_parity(dl.attribution, get("small_vgg_bn_avgpool/deeplift"));
  for (const std::string net : {"small_vgg_bn", "small_resnet"}) {
    CAPTURE(net);
    const AttributionResult d = deeplift(*make_net(net), x, target, {.baselines = {Baseline::given(get("baseline"))}});
    for (int64_t n = 0; n < 2; ++n) CHECK(std::fabs(d.delta.data()[n]) < 1e-4);
  }
}

}  // TEST_SUITE
