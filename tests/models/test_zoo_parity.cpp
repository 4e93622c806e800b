// Zoo parity with torchvision: logits and input gradients of vgg11_bn, resnet18, mobilenet_v2
// and vit_tiny with synthetic weights (models/synthetic_weights.h; BatchNorm in eval mode with
// randomised running statistics) against tests/data/models/zoo_parity.safetensors, computed by
// torchvision in float64 (tools/reference/make_zoo_fixtures.py). Also: merge_batchnorm keeps the
// logits and the original model.
#include <chrono>
#include <nlohmann/json.hpp>

#include "engine/canonize.h"
#include "models/safetensors.h"
#include "models/synthetic_weights.h"
#include "models/zoo.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

namespace {

constexpr double kParityTol = 1e-4;  // max |got - ref| / max |ref|, float32 vs float64 reference

const SafeTensorsFile& fixture() {
  static const SafeTensorsFile f = read_safetensors(BACKLIGHT_TEST_DATA "/models/zoo_parity.safetensors");
  return f;
}

struct ZooCase {
  std::string arch;
  Shape input;
  int64_t num_classes = 0;
  uint64_t seed = 0;
};

ZooCase find_case(const std::string& arch) {
  for (const auto& c : nlohmann::json::parse(fixture().metadata.at("cases")))
    if (c.at("arch") == arch)
      return {arch, Shape(c.at("input").get<std::vector<int64_t>>()), c.at("num_classes").get<int64_t>(),
              c.at("seed").get<uint64_t>()};
  FAIL("zoo_parity.safetensors has no case for ", arch);
  return {};
}

// max |got - ref| relative to max |ref|, with the worst element in the message.
void check_rel(const std::string& what, const Tensor& got, const Tensor& ref, double tol) {
  REQUIRE_MESSAGE(got.shape() == ref.shape(), what, ": shape ", got.shape(), " != reference ", ref.shape());
  double worst = 0;
  int64_t at = 0;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    const double e = std::fabs(static_cast<double>(got.data()[i]) - ref.data()[i]);
    if (!(e <= worst)) {
      worst = e;
      at = i;
    }
  }
  const double rel = worst / max_abs(ref);
  CHECK_MESSAGE(rel <= tol, what, ": max abs err ", worst, " = ", rel, " x max|ref| ", max_abs(ref), " (limit ", tol,
                "), worst at [", at, "]: got ", got.data()[at], ", ref ", ref.data()[at]);
  if (doctest::getContextOptions()->success) MESSAGE(what, ": max err / max|ref| = ", rel);
}

struct Run {
  Tensor logits, input_grad;
};

Run run(const Module& model, const ZooCase& c) {
  Tape tape;
  const Var x = tape.input(synthetic_uniform(c.input, c.seed, "input", -1.0f, 1.0f));
  const Var y = model.forward(x);
  const Tensor cot = synthetic_uniform(y.shape(), c.seed, "cotangent", -1.0f, 1.0f);
  return {y.value(), grad(y, cot, x)};
}

// Forward only, nothing recorded (the merge checks need no gradient).
Tensor logits(const Module& model, const ZooCase& c) {
  Tape tape(TapeOptions{.record = false});
  return model.forward(tape.input(synthetic_uniform(c.input, c.seed, "input", -1.0f, 1.0f))).value();
}

ModulePtr synthetic_model(const ZooCase& c) {
  ModulePtr model = make_model(c.arch, {.num_classes = c.num_classes});
  fill_synthetic(*model, c.seed);
  return model;
}

void check_parity(const std::string& arch) {
  const ZooCase c = find_case(arch);
  CAPTURE(arch);
  const auto t0 = std::chrono::steady_clock::now();
  const ModulePtr model = synthetic_model(c);
  const Run r = run(*model, c);
  check_rel(arch + " logits", r.logits, fixture().at(arch + ".logits"), kParityTol);
  check_rel(arch + " input gradient", r.input_grad, fixture().at(arch + ".input_grad"), kParityTol);
  if (doctest::getContextOptions()->success)
    MESSAGE(arch, ": ", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), " s");
}

// (storage, sum) of every state_dict entry: cheap evidence that nothing was written.
std::vector<std::pair<Tensor, double>> fingerprint(const Module& m) {
  std::vector<std::pair<Tensor, double>> out;
  for (const auto& [k, t] : m.state_dict()) {
    double s = 0;
    for (float v : t.span()) s += v;
    out.emplace_back(t, s);
  }
  return out;
}

void check_merge_batchnorm(const std::string& arch, size_t expected_pairs) {
  const ZooCase c = find_case(arch);
  CAPTURE(arch);
  const ModulePtr model = synthetic_model(c);
  const auto before = fingerprint(*model);
  const Tensor reference = logits(*model, c);
  CanonizeReport report;
  const ModulePtr merged = merge_batchnorm(*model, c.input, &report);
  CHECK(report.merged.size() == expected_pairs);
  check_rel(arch + " merged logits", logits(*merged, c), reference, 1e-5);

  const auto after = fingerprint(*model);
  REQUIRE(after.size() == before.size());
  bool same = true;
  for (size_t i = 0; i < after.size(); ++i)
    same = same && after[i].first.shares_storage(before[i].first) && after[i].second == before[i].second;
  CHECK_MESSAGE(same, "merge_batchnorm changed the original ", arch);
  CHECK(logits(*model, c).to_vector() == reference.to_vector());
}

}  // namespace

TEST_SUITE("models") {

TEST_CASE("zoo parity: vgg11_bn logits and input gradients equal torchvision") { check_parity("vgg11_bn"); }

TEST_CASE("zoo parity: resnet18 logits and input gradients equal torchvision") { check_parity("resnet18"); }

TEST_CASE("zoo parity: mobilenet_v2 logits and input gradients equal torchvision") { check_parity("mobilenet_v2"); }

TEST_CASE("zoo parity: vit_tiny logits and input gradients equal torchvision") { check_parity("vit_tiny"); }

TEST_CASE("zoo: merge_batchnorm on vgg11_bn keeps the logits and leaves the model untouched") {
  check_merge_batchnorm("vgg11_bn", 8);
}

TEST_CASE("zoo: merge_batchnorm on resnet18 keeps the logits and leaves the model untouched") {
  check_merge_batchnorm("resnet18", 20);  // stem + 16 block convs + 3 downsample convs
}

}  // TEST_SUITE
