// Parity with Captum 0.8: Saliency, InputXGradient, IntegratedGradients (all integration rules,
// internal_batch_size), DeepLiftShap. Fixture: tools/reference/make_methods_fixtures.py.
#include "attribution/path/deeplift.h"
#include "attribution/gradient/gradient_methods.h"
#include "attribution/path/integrated_gradients.h"
#include "tests/parity_nets.h"

using namespace backlight;
using namespace backlight::test;

namespace {
const SafeTensorsFile& fixture() {
  static const SafeTensorsFile f =
      read_safetensors(std::string(BACKLIGHT_TEST_DATA) + "/attribution/methods_parity.safetensors");
  return f;
}
Tensor get(const std::string& name) { return fixture_tensor(fixture(), name); }
}  // namespace

TEST_SUITE("attribution") {

TEST_CASE("parity: saliency, input_x_gradient and integrated gradients equal Captum") {
  const Tensor x = get("input"), base = get("baseline");
  const Target target = Target::indices({3, 7});
  for (const std::string net : {"small_vgg_bn", "small_resnet"}) {
    CAPTURE(net);
    const ModulePtr m = make_net(net);
    check_parity(saliency(*m, x, target).attribution, get(net + "/saliency"));
    check_parity(saliency(*m, x, target, {.abs = false}).attribution, get(net + "/saliency_signed"));
    check_parity(input_x_gradient(*m, x, target).attribution, get(net + "/input_x_gradient"));
    for (const std::string method :
         {"riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid", "gausslegendre"}) {
      CAPTURE(method);
      const AttributionResult r = integrated_gradients(
          *m, x, target,
          {.steps = 8, .method = integration_from_string(method), .baselines = {Baseline::given(base)}});
      check_parity(r.attribution, get(net + "/ig_" + method));
      const Tensor delta = get(net + "/ig_" + method + "_delta");
      for (int64_t n = 0; n < 2; ++n) CHECK(r.delta.data()[n] == doctest::Approx(delta.data()[n]).epsilon(1e-3).scale(1e-3));
    }
    const AttributionResult chunked = integrated_gradients(
        *m, x, target, {.steps = 7, .baselines = {Baseline::given(base)}, .internal_batch_size = 4});
    check_parity(chunked.attribution, get(net + "/ig_gausslegendre7_ibs4"));
  }
}

TEST_CASE("parity: deeplift_shap equals Captum DeepLiftShap") {
  const ModulePtr m = make_net("small_vgg_bn_avgpool");
  const AttributionResult r =
      deeplift_shap(*m, get("input"), Target::indices({3, 7}), {.baselines = get("distribution")});
  check_parity(r.attribution, get("small_vgg_bn_avgpool/deeplift_shap"));
}

}  // TEST_SUITE
