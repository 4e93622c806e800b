// TCAV against Captum 0.8 (captum.concept.TCAV) on make_rules_fixtures.py's SmallVGG with
// synthetic weights (fixture: tools/reference/make_tcav_fixtures.py): given Captum's CAVs, the
// sign-count and magnitude scores from backlight's layer gradients equal Captum's; the logistic
// CAVs trained on backlight's activations match sklearn's LogisticRegression (lbfgs, C = 1).
#include <doctest/doctest.h>

#include "attribution/concepts/tcav.h"
#include "models/synthetic_weights.h"
#include "tests/attribution/concepts/tcav_fixture.h"

using namespace backlight;
using namespace backlight::test;

namespace {

const std::vector<std::string> kLayers{"features.9", "features.10"};
const std::vector<std::string> kSets{"c_r1", "c_r2", "r1_r2"};

Tensor images(const char* name, int64_t n, float lo, float hi) {
  return synthetic_uniform(Shape{n, 3, 32, 32}, kFixtureSeed, name, lo, hi);
}

// A stream of `t` in batches of `batch`.
ExampleSet stream(const std::string& name, Tensor t, int64_t batch) {
  auto next = std::make_shared<int64_t>(0);
  return {name, [t, next, batch]() -> Tensor {
            if (*next >= t.size(0)) return {};
            const int64_t e = std::min(t.size(0), *next + batch);
            Tensor s = t.slice_batch(*next, e).clone();
            *next = e;
            return s;
          }, t.size(0)};
}

}  // namespace

TEST_SUITE("attribution") {

TEST_CASE("tcav/parity: scores from Captum's CAVs equal Captum's TCAV scores, for any batch size") {
  const ModulePtr model = make_net("small_vgg_bn");
  std::vector<Eigen::MatrixXf> cavs;
  for (const std::string& l : kLayers) {
    Eigen::MatrixXf m;
    for (size_t s = 0; s < kSets.size(); ++s) {
      const Tensor c = tcav_tensor("captum/" + l + "/" + kSets[s] + "/cav");
      if (s == 0) m.resize(static_cast<int64_t>(kSets.size()), c.numel());
      m.row(static_cast<int64_t>(s)) = Eigen::Map<const Eigen::RowVectorXf>(c.data(), c.numel());
    }
    cavs.push_back(m);
  }
  for (const int64_t batch : {6, 4, 1}) {
    CAPTURE(batch);
    ExampleSet in = stream("inputs", images("tcav/inputs", 6, -1.0f, 1.0f), batch);
    Workspace ws;
    int64_t seen = 0;
    const auto scores = tcav_score_inputs(*model, kLayers, cavs, in, 3, ws, nullptr, &seen);
    CHECK(seen == 6);
    for (size_t l = 0; l < kLayers.size(); ++l)
      for (size_t s = 0; s < kSets.size(); ++s) {
        CAPTURE(kLayers[l]);
        CAPTURE(kSets[s]);
        const std::string k = "captum/" + kLayers[l] + "/" + kSets[s] + "/";
        CHECK(scores[l][s].sign_count == doctest::Approx(tcav_vector(k + "sign_count")(0)).epsilon(1e-6));
        const double mag = tcav_vector(k + "magnitude")(0);
        CHECK(std::abs(scores[l][s].magnitude - mag) <= 1e-4 * std::abs(mag) + 1e-9);
      }
  }
}

TEST_CASE("tcav/parity: logistic CAVs on backlight's activations match sklearn's (cosine >= 0.9999)") {
  const ModulePtr model = make_net("small_vgg_bn");
  Workspace ws;
  const Tensor concept_images = images("tcav/concept", 12, -0.2f, 1.0f);
  const std::vector<int> ops = layer_ops(*model, kLayers, concept_images, ws);
  ExampleSet c = stream("concept", concept_images, 5);
  ExampleSet r1 = stream("random1", images("tcav/random1", 12, -1.0f, 0.8f), 12);
  ExampleSet r2 = stream("random2", images("tcav/random2", 12, -1.0f, 0.8f), 7);
  const auto ac = gather_activations(*model, ops, kLayers, c, ws, 100);
  const auto a1 = gather_activations(*model, ops, kLayers, r1, ws, 100);
  const auto a2 = gather_activations(*model, ops, kLayers, r2, ws, 100);
  REQUIRE(ac[0].rows() == 12);
  CHECK(ac[0].cols() == 4096);
  CHECK(ac[1].cols() == 1024);
  for (size_t l = 0; l < kLayers.size(); ++l) {
    CAPTURE(kLayers[l]);
    const CavOptions o{.c = 1.0, .test_split = 0};
    const std::pair<const Eigen::MatrixXf*, const Eigen::MatrixXf*> pairs[] = {{&ac[l], &a1[l]}, {&ac[l], &a2[l]},
                                                                               {&a1[l], &a2[l]}};
    for (size_t s = 0; s < kSets.size(); ++s) {
      CAPTURE(kSets[s]);
      const Cav cav = train_cav(*pairs[s].first, *pairs[s].second, o);
      CHECK(cav.converged);
      CHECK(cosine(cav.weights, tcav_vector("captum/" + kLayers[l] + "/" + kSets[s] + "/cav")) >= 0.9999);
    }
  }
}

}  // TEST_SUITE
