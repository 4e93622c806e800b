// merge_batchnorm: same forward, caller's model untouched, pairs found through any structure.
#include "engine/canonize.h"
#include "engine/modules/all.h"
#include "models/resnet.h"
#include "models/synthetic_weights.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

TEST_SUITE("rules") {

TEST_CASE("merge_batchnorm: forward unchanged, original untouched, residual blocks and bias-free convs folded") {
  std::mt19937_64 rng(kSeed);
  ModulePtr model = std::make_shared<ResNet>(false, std::array<int, 4>{1, 1, 1, 1}, 10, rng);
  fill_synthetic(*model, 99);
  const std::vector<std::pair<std::string, Tensor>> before = model->state_dict();
  std::vector<Tensor> before_copies;
  for (const auto& [name, t] : before) before_copies.push_back(t.clone());

  const Tensor x = randn({2, 3, 32, 32}, rng);
  CanonizeReport report;
  const ModulePtr merged = merge_batchnorm(*model, Shape{1, 3, 32, 32}, &report);
  Tape t(TapeOptions{.record = false});
  const Tensor y0 = model->forward(t.input(x)).value();
  const Tensor y1 = merged->forward(t.input(x)).value();
  BL_CHECK_CLOSE(y1, y0, 1e-5 * max_abs(y0), 1e-5);

  // stem + 2 per block + 3 downsample paths (layer2..4) = 1 + 8 + 3 pairs.
  CHECK(report.merged.size() == 12);
  CHECK(report.merged.front() == std::pair<std::string, std::string>{"conv1", "bn1"});
  CHECK(merged->find("layer2.0.downsample.0")->has_parameter("bias"));
  CHECK_FALSE(model->find("layer2.0.downsample.0")->has_parameter("bias"));
  const std::vector<std::pair<std::string, Tensor>> after = model->state_dict();
  REQUIRE(after.size() == before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    CAPTURE(after[i].first);
    BL_CHECK_CLOSE(after[i].second, before_copies[i], 0, 0);
  }
  // The merged batch norms are identities.
  const Module* bn = merged->find("layer1.0.bn2");
  REQUIRE(bn);
  for (float v : bn->parameter("weight").span()) CHECK(v == 1.0f);
  for (float v : bn->buffer("running_mean").span()) CHECK(v == 0.0f);
}

TEST_CASE("merge_batchnorm: a batchnorm after a non-linear node is left alone") {
  std::mt19937_64 rng(kSeed);
  auto bn = std::make_shared<BatchNorm2d>(4);
  bn->buffer("running_var") = uniform({4}, rng, 0.5f, 2.0f);
  Sequential seq{std::make_shared<Conv2d>(3, 4, 3, rng), std::make_shared<ReLU>(), bn};
  CanonizeReport report;
  const ModulePtr merged = merge_batchnorm(seq, Shape{1, 3, 8, 8}, &report);
  CHECK(report.merged.empty());
  BL_CHECK_CLOSE(merged->find("2")->buffer("running_var"), bn->buffer("running_var"), 0, 0);
}

}  // TEST_SUITE
