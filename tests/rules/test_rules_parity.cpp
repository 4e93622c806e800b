// Parity with Zennit 0.5.1 composites and Captum 0.8 (GuidedBackprop, Deconvolution, DeepLift)
// on a VGG-style net with BatchNorm and a small ResNet. Fixture: tools/reference/make_rules_fixtures.py.
#include "attribution/path/deeplift.h"
#include "attribution/gradient/gradient_methods.h"
#include "tests/parity_nets.h"

using namespace backlight;
using namespace backlight::test;

namespace {

const SafeTensorsFile& fixture() {
  static const SafeTensorsFile f = read_safetensors(std::string(BACKLIGHT_TEST_DATA) + "/rules/rules_parity.safetensors");
  return f;
}

Tensor get(const std::string& name) { return fixture_tensor(fixture(), name); }

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
  // DeepLift parity with max pooling (Captum run with its ReLU->MaxPool hook clash separated, see
  // the fixture script) and with average pooling.
  for (const std::string net : {"small_vgg_bn", "small_vgg_bn_avgpool"}) {
    CAPTURE(net);
    const AttributionResult dl =
        deeplift(*make_net(net), x, target, {.baselines = {Baseline::given(get("baseline"))}});
    check_parity(dl.attribution, get(net + "/deeplift"));
  }
  for (const std::string net : {"small_vgg_bn", "small_resnet"}) {
    CAPTURE(net);
    const AttributionResult d = deeplift(*make_net(net), x, target, {.baselines = {Baseline::given(get("baseline"))}});
    for (int64_t n = 0; n < 2; ++n) CHECK(std::fabs(d.delta.data()[n]) < 1e-4);
  }
}

}  // TEST_SUITE
