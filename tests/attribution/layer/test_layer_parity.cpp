// Layer and neuron methods against Captum 0.8 on a small CNN: fixtures written by
// tools/reference/make_layer_fixtures.py (Captum in float64 on the stored float32 weights and
// inputs). Each case runs through the methods registry by its backlight name and must satisfy
// max |ours - Captum| <= 1e-4 * max |Captum|. LayerGradientShap / NeuronGradientShap take Captum's
// replayed draws, which the registry has no option for: they call the functions directly.
#include <nlohmann/json.hpp>

#include "attribution/layer/layer_methods.h"
#include "attribution/layer/layer_path_methods.h"
#include "attribution/neuron/neuron_methods.h"
#include "attribution/registry.h"
#include "engine/modules/all.h"
#include "models/safetensors.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

namespace {

constexpr double kTol = 1e-4;

// The fixture's LayerNet, module paths = PyTorch names.
ModulePtr layer_net(const SafeTensorsFile& f) {
  std::mt19937_64 rng(kSeed);  // replaced by the fixture's weights below
  auto m = std::make_shared<Sequential>();
  m->add("conv1", std::make_shared<Conv2d>(3, 6, 3, rng, Conv2dOptions{.padding = 1}))
      .add("bn1", std::make_shared<BatchNorm2d>(6))
      .add("relu1", std::make_shared<ReLU>())
      .add("pool", std::make_shared<MaxPool2d>(2))
      .add("conv2", std::make_shared<Conv2d>(6, 8, 3, rng, Conv2dOptions{.padding = 1}))
      .add("relu2", std::make_shared<ReLU>())
      .add("avgpool", std::make_shared<AdaptiveAvgPool2d>(2))
      .add("flatten", std::make_shared<Flatten>())
      .add("fc", std::make_shared<Linear>(32, 5, rng));
  int loaded = 0;
  for (const auto& [name, t] : f.tensors)
    if (name.rfind("state/", 0) == 0) {
      REQUIRE_MESSAGE(m->set_tensor(name.substr(6), t), "unknown state_dict key ", name);
      ++loaded;
    }
  int expected = 0;  // the fixture leaves out BatchNorm's num_batches_tracked counter
  for (const auto& [name, t] : m->state_dict()) expected += name.find("num_batches_tracked") == std::string::npos;
  CHECK(loaded == expected);
  return m;
}

/// max |got - ref| <= kTol * max |ref|, reporting the error found.
void check_close(const Tensor& got, const Tensor& ref, const std::string& what) {
  REQUIRE_MESSAGE(got.shape() == ref.shape(), what, ": shape ", got.shape(), " vs ", ref.shape());
  const double scale = max_abs(ref);
  double worst = 0;
  for (int64_t i = 0; i < ref.numel(); ++i)
    worst = std::max(worst, std::fabs(static_cast<double>(got.data()[i]) - ref.data()[i]));
  MESSAGE(what, ": max abs err ", worst, " (", worst / scale, " x max |ref| = ", scale, ")");
  CHECK_MESSAGE(worst <= kTol * scale, what);
}

// Captum's numpy draws stored as [samples, N] floats -> backlight's explicit draws (index s * N + n).
std::vector<int64_t> indices_of(const Tensor& t) {
  std::vector<int64_t> out;
  for (float v : t.span()) out.push_back(static_cast<int64_t>(v));
  return out;
}

}  // namespace

TEST_SUITE("attribution") {
  TEST_CASE("layer and neuron methods: parity with Captum 0.8 (riemann_trapezoid, gausslegendre)") {
    const SafeTensorsFile f = read_safetensors(BACKLIGHT_TEST_DATA "/attribution/layer_parity.safetensors");
    const ModulePtr model = layer_net(f);
    const Tensor x = f.at("input");
    const Tensor base = f.at("baseline");
    std::vector<int64_t> classes;
    for (float c : f.at("target").span()) classes.push_back(static_cast<int64_t>(c));
    const nlohmann::json cases = nlohmann::json::parse(f.metadata.at("cases"));
    REQUIRE(cases.size() >= 20);
    for (const auto& c : cases) {
      const std::string name = c["name"];
      CAPTURE(name);
      MethodOptions o;
      o.layer = c["layer"];
      for (int64_t i : c["neuron"]) o.neuron.push_back(i);
      o.baselines = {Baseline::given(base)};
      if (!c["integration"].get<std::string>().empty())
        o.integration = integration_from_string(c["integration"].get<std::string>());
      if (c["steps"].get<int>() > 0) o.steps = c["steps"];
      const AttributionResult r = attribute(c["method"].get<std::string>(), *model, x, Target::indices(classes), o);
      const Tensor& ref = f.at(name + "/attr");
      REQUIRE(r.attribution.shape() == ref.shape());
      const double scale = max_abs(ref);
      double worst = 0;
      for (int64_t i = 0; i < ref.numel(); ++i)
        worst = std::max(worst, std::fabs(static_cast<double>(r.attribution.data()[i]) - ref.data()[i]));
      MESSAGE(name, ": max abs err ", worst, " (", worst / scale, " x max |ref| = ", scale, ")");
      CHECK(worst <= kTol * scale);
      if (c["delta"].get<bool>()) {
        const Tensor& d = f.at(name + "/delta");
        REQUIRE(r.delta.defined());
        // The delta is a sum over the layer: allow the per-element tolerance times the layer size.
        const double limit = kTol * scale * std::sqrt(static_cast<double>(ref.numel() / ref.size(0))) + 1e-5;
        for (int64_t n = 0; n < d.numel(); ++n) CHECK(std::fabs(r.delta.data()[n] - d.data()[n]) <= limit);
      }
    }
  }

  TEST_CASE("layer_gradient_shap, neuron_gradient_shap: parity with Captum 0.8 (explicit draws, stdevs 0.1)") {
    const SafeTensorsFile f = read_safetensors(BACKLIGHT_TEST_DATA "/attribution/layer_parity.safetensors");
    const ModulePtr model = layer_net(f);
    const Tensor x = f.at("input");
    std::vector<int64_t> classes;
    for (float c : f.at("target").span()) classes.push_back(static_cast<int64_t>(c));
    const Tensor dist = f.at("gs/distribution"), noise = f.at("gs/noise");
    const std::vector<int64_t> idx = indices_of(f.at("gs/indices"));
    const std::vector<float> alphas = f.at("gs/alphas").to_vector();
    const int samples = static_cast<int>(noise.size(0));
    for (const std::string layer : {"conv2", "relu1"}) {
      CAPTURE(layer);
      const std::string name = "layer_gradient_shap." + layer;
      const AttributionResult r = layer_gradient_shap(*model, x, Target::indices(classes),
                                                      {.layer = layer,
                                                       .baselines = dist,
                                                       .samples = samples,
                                                       .baseline_indices = idx,
                                                       .alphas = alphas,
                                                       .noise = noise});
      check_close(r.attribution, f.at(name + "/attr"), name);
      // backlight's delta is the per-item mean of Captum's per-sample deltas (a sum over the layer).
      const Tensor& d = f.at(name + "/delta");
      const double per_item = static_cast<double>(r.attribution.numel() / r.attribution.size(0));
      const double limit = kTol * max_abs(f.at(name + "/attr")) * std::sqrt(per_item) + 1e-5;
      REQUIRE(r.delta.numel() == d.numel());
      for (int64_t n = 0; n < d.numel(); ++n) CHECK(std::fabs(r.delta.data()[n] - d.data()[n]) <= limit);
    }
    for (const std::string layer : {"relu2", "conv2"}) {
      CAPTURE(layer);
      const std::string name = "neuron_gradient_shap." + layer;
      const std::vector<int64_t> neuron = indices_of(f.at(name + "/neuron"));
      const AttributionResult r = neuron_gradient_shap(
          *model, x, Neuron::at(layer, neuron),
          {.baselines = dist, .samples = samples, .baseline_indices = idx, .alphas = alphas, .noise = noise});
      check_close(r.attribution, f.at(name + "/attr"), name);
    }
    // The draws are checked: wrong counts and indices are errors naming the method.
    CHECK_THROWS_WITH_AS(layer_gradient_shap(*model, x, Target::indices(classes),
                                             {.layer = "conv2", .baselines = dist, .samples = samples,
                                              .baseline_indices = {0, 1}}),
                         doctest::Contains("layer_gradient_shap: expected 8 explicit baseline indices"), Error);
    CHECK_THROWS_WITH_AS(neuron_gradient_shap(*model, x, Neuron::at("conv2", {3, 1, 2}),
                                              {.baselines = dist, .samples = 2, .noise = noise}),
                         doctest::Contains("neuron_gradient_shap: expected explicit noise"), ShapeError);
    std::vector<int64_t> bad = idx;
    bad[3] = 3;
    CHECK_THROWS_WITH_AS(neuron_gradient_shap(*model, x, Neuron::at("conv2", {3, 1, 2}),
                                              {.baselines = dist, .samples = samples, .baseline_indices = bad}),
                         doctest::Contains("baseline index 3 out of range for 3 baselines"), Error);
  }

}  // TEST_SUITE
