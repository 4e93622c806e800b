// TracInCP and TracInCPFast against Captum 0.8 (tools/reference/make_tracin_fixtures.py): the same
// three checkpoints (read through list_checkpoints, written by PyTorch), loss and layers.
#include <doctest/doctest.h>

#include "attribution/influence/tracin.h"
#include "models/checkpoints.h"
#include "tests/attribution/perturbation_fixture.h"
#include "tests/parity_nets.h"

namespace backlight::test {
namespace {

const SafeTensorsFile& tracin_fixture() {
  static const SafeTensorsFile f =
      read_safetensors(std::string(BACKLIGHT_TEST_DATA) + "/attribution/tracin_parity.safetensors");
  return f;
}

LabeledBatch fixture_batch(const std::string& prefix) {
  const Tensor labels = fixture_tensor(tracin_fixture(), prefix + "/labels");
  LabeledBatch b{fixture_tensor(tracin_fixture(), prefix + "/inputs"), {}};
  for (float v : labels.span()) b.labels.push_back(static_cast<int64_t>(v));
  return b;
}

std::vector<TracInCheckpoint> fixture_checkpoints() {
  std::mt19937_64 rng(1);
  const ModulePtr arch = std::make_shared<PerturbationCnn>(rng);
  std::vector<TracInCheckpoint> out;
  for (const CheckpointInfo& c : list_checkpoints(std::string(BACKLIGHT_TEST_DATA) + "/attribution/tracin_checkpoints"))
    out.push_back({c.lr, [arch, c] { return load_checkpoint(*arch, c); }});
  return out;
}

}  // namespace

TEST_SUITE("attribution") {
  TEST_CASE("tracin: checkpoints written by PyTorch list in step order with their learning rates") {
    const auto cks = list_checkpoints(std::string(BACKLIGHT_TEST_DATA) + "/attribution/tracin_checkpoints");
    REQUIRE(cks.size() == 3);
    CHECK(cks[0].lr == doctest::Approx(0.1));
    CHECK(cks[1].lr == doctest::Approx(0.05));
    CHECK(cks[2].lr == doctest::Approx(0.02));
    CHECK(cks[2].step == 3);
    CHECK(cks[1].epoch == 2);
  }

  TEST_CASE("tracin: TracInCP and TracInCPFast match Captum 0.8") {
    const std::vector<TracInCheckpoint> cks = fixture_checkpoints();
    const ExampleSource train = examples_in_memory(fixture_batch("train"));
    const LabeledBatch test = fixture_batch("test");
    struct Case {
      std::string name;
      TracInOptions options;
    };
    // batch sizes that do and do not divide the 12 training examples
    for (int64_t batch : {5, 12}) {
      const std::vector<Case> cases = {
          {"cp_last", {.method = TracInMethod::CP, .batch_size = batch}},
          {"cp_last", {.method = TracInMethod::CP, .layers = {"classifier"}, .batch_size = batch}},
          {"cp_all",
           {.method = TracInMethod::CP, .layers = {"features.0", "features.3", "classifier"}, .batch_size = batch}},
          {"fast", {.method = TracInMethod::Fast, .batch_size = batch}},
      };
      for (const Case& c : cases) {
        CAPTURE(c.name);
        CAPTURE(batch);
        const Tensor ref = fixture_tensor(tracin_fixture(), c.name + "/influence");
        const Tensor got = tracin_influence(cks, train, test, c.options);
        check_parity(got, ref);
        const Tensor ref_self = fixture_tensor(tracin_fixture(), c.name + "/self");
        check_parity(tracin_self_influence(cks, train, c.options), ref_self);
      }
    }
  }

  TEST_CASE("tracin: the fast and exact forms differ by the bias term only") {
    // CP on the last layer = weight part + bias part; the bias part of example pairs is g.g',
    // so CP - Fast must be non-zero (the fixture has biases) and Fast must stay below CP on the
    // diagonal of self-influence (|g a^T|^2 <= |g a^T|^2 + |g|^2).
    const std::vector<TracInCheckpoint> cks = fixture_checkpoints();
    const ExampleSource train = examples_in_memory(fixture_batch("train"));
    const Tensor cp = tracin_self_influence(cks, train, {.method = TracInMethod::CP});
    const Tensor fast = tracin_self_influence(cks, train, {.method = TracInMethod::Fast});
    for (int64_t i = 0; i < cp.numel(); ++i) {
      CAPTURE(i);
      CHECK(fast.data()[i] < cp.data()[i]);
      CHECK(fast.data()[i] > 0.0f);
    }
  }
}

}  // namespace backlight::test
