// The TCAV pipeline (attribution/concepts/tcav.h): one pass over every stream, results invariant to
// the batch sizes, the random-vs-random null, Bonferroni over concepts x layers, errors.
#include <doctest/doctest.h>

#include "attribution/concepts/tcav.h"
#include "engine/error.h"
#include "models/synthetic_weights.h"
#include "tests/parity_nets.h"

using namespace backlight;
using namespace backlight::test;

namespace {

ExampleSet images(const std::string& name, int64_t n, float lo, float hi, int64_t batch, int* reads = nullptr) {
  const Tensor t = synthetic_uniform(Shape{n, 3, 32, 32}, kFixtureSeed, "tcav/" + name, lo, hi);
  auto next = std::make_shared<int64_t>(0);
  return {name, [t, next, batch, reads]() -> Tensor {
            if (reads) ++*reads;
            if (*next >= t.size(0)) return {};
            const int64_t e = std::min(t.size(0), *next + batch);
            Tensor s = t.slice_batch(*next, e).clone();
            *next = e;
            return s;
          }, n};
}

TcavResult run(int64_t batch, int* input_reads = nullptr) {
  const ModulePtr model = make_net("small_vgg_bn");
  std::vector<ExampleSet> concepts{images("concept", 12, -0.2f, 1.0f, batch), images("concept2", 10, -1.0f, 0.2f, batch)};
  std::vector<ExampleSet> randoms;
  for (int i = 0; i < 3; ++i) randoms.push_back(images("random" + std::to_string(i), 12, -1.0f, 0.8f, batch));
  return tcav(*model, std::move(concepts), std::move(randoms), images("inputs", 7, -1.0f, 1.0f, batch, input_reads),
              {.layers = {"features.9", "features.10"}, .target = 3, .progress = {.enabled = false}});
}

}  // namespace

TEST_SUITE("attribution") {

TEST_CASE("tcav: shapes of the result, one pass over the inputs, invariance to the batch size") {
  int reads = 0;
  const TcavResult a = run(5, &reads);
  CHECK(reads == 3);  // two batches of inputs and the end of the stream: read once
  CHECK(a.runs == 3);
  CHECK(a.inputs == 7);
  CHECK(a.tests == 4);
  REQUIRE(a.cells.size() == 4);
  CHECK(a.cell(1, 0).concept_name == "concept2");
  CHECK(a.cell(1, 0).layer == "features.9");
  const TcavResult b = run(1);
  for (size_t i = 0; i < a.cells.size(); ++i) {
    CAPTURE(i);
    const TcavCell &x = a.cells[i], &y = b.cells[i];
    REQUIRE(x.scores.size() == 3);
    CHECK(x.scores == y.scores);
    for (size_t r = 0; r < 3; ++r) CHECK(x.magnitudes[r] == doctest::Approx(y.magnitudes[r]).epsilon(1e-5));
    CHECK(x.test.p_value == doctest::Approx(y.test.p_value));
    CHECK(x.p_corrected == doctest::Approx(std::min(1.0, 4 * x.test.p_value)));
    CHECK(x.significant == (x.p_corrected < 0.05));
  }
  REQUIRE(a.random_scores.size() == 2);
  CHECK(a.random_scores[0].size() == 3);
}

TEST_CASE("tcav: the steps one by one, inputs split in two shares, give tcav()'s result") {
  const ModulePtr model = make_net("small_vgg_bn");
  const TcavOptions o{.layers = {"features.9", "features.10"}, .target = 3, .progress = {.enabled = false}};
  const auto sets = [] {
    std::vector<ExampleSet> s{images("concept", 12, -0.2f, 1.0f, 4)};
    for (int i = 0; i < 3; ++i) s.push_back(images("random" + std::to_string(i), 12, -1.0f, 0.8f, 4));
    return s;
  };
  std::vector<ExampleSet> once = sets();  // streams are read once: a fresh copy for each run
  const TcavResult whole = tcav(*model, {once[0]}, {once[1], once[2], once[3]}, images("inputs", 7, -1.0f, 1.0f, 2), o);
  std::vector<ExampleSet> all = sets();

  const Workspace ws;
  const std::vector<int> ops = layer_ops(*model, o.layers, Tensor::zeros(Shape{1, 3, 32, 32}), ws);
  std::vector<std::vector<Eigen::MatrixXf>> acts;
  for (ExampleSet& s : all) acts.push_back(gather_activations(*model, ops, o.layers, s, ws, 100));
  const size_t nc = 1, nr = 3, nl = 2;
  std::vector<Eigen::MatrixXf> cavs(nl);
  std::vector<std::vector<double>> acc(nl);
  for (size_t l = 0; l < nl; ++l) {
    cavs[l].resize(static_cast<int64_t>((nc + 1) * nr), acts[0][l].cols());
    for (size_t c = 0; c <= nc; ++c)
      for (size_t i = 0; i < nr; ++i) {
        CavOptions co = o.cav;
        co.seed = tcav_cav_seed(o.cav.seed, l, c, i);
        const Cav cav = train_cav(c < nc ? acts[c][l] : acts[nc + (i + 1) % nr][l], acts[nc + i][l], co);
        cavs[l].row(static_cast<int64_t>(c * nr + i)) = cav.direction.transpose();
        acc[l].push_back(cav.accuracy);
      }
  }
  // Input batches dealt to two accumulators (two ranks), then added up.
  std::vector<TcavAccumulator> share[2];
  for (auto& sh : share)
    for (const Eigen::MatrixXf& c : cavs) sh.emplace_back(c);
  ExampleSet inputs = images("inputs", 7, -1.0f, 1.0f, 2);
  int b = 0;
  for (Tensor t = inputs.batches(); t.defined(); t = inputs.batches(), ++b) tcav_add_batch(*model, o.layers, t, o.target, ws, share[b % 2]);
  std::vector<std::vector<TcavScore>> scores(nl);
  for (size_t l = 0; l < nl; ++l)
    for (size_t r = 0; r < (nc + 1) * nr; ++r) {
      const int64_t n = share[0][l].inputs() + share[1][l].inputs();
      scores[l].push_back({static_cast<double>(share[0][l].positive()[r] + share[1][l].positive()[r]) / static_cast<double>(n),
                           (share[0][l].sums()[r] + share[1][l].sums()[r]) / static_cast<double>(n)});
    }
  const TcavResult steps = tcav_result({"concept"}, o.layers, 3, scores, acc, 7, o);
  REQUIRE(steps.cells.size() == whole.cells.size());
  CHECK(steps.inputs == 7);
  for (size_t i = 0; i < whole.cells.size(); ++i) {
    CAPTURE(i);
    CHECK(steps.cells[i].scores == whole.cells[i].scores);
    CHECK(steps.cells[i].cav_accuracies == whole.cells[i].cav_accuracies);
    for (size_t r = 0; r < 3; ++r) CHECK(steps.cells[i].magnitudes[r] == doctest::Approx(whole.cells[i].magnitudes[r]).epsilon(1e-9));
    CHECK(steps.cells[i].test.p_value == whole.cells[i].test.p_value);
  }
  CHECK(steps.random_scores == whole.random_scores);
  CHECK(tcav_cav_seed(0, 1, 2, 3) != tcav_cav_seed(0, 1, 3, 2));
}

TEST_CASE("tcav: errors name the problem") {
  const ModulePtr model = make_net("small_vgg_bn");
  auto randoms = [](int n) {
    std::vector<ExampleSet> r;
    for (int i = 0; i < n; ++i) r.push_back(images("random" + std::to_string(i), 4, -1.0f, 0.8f, 4));
    return r;
  };
  const TcavOptions o{.layers = {"features.9"}, .target = 3, .progress = {.enabled = false}};
  CHECK_THROWS_WITH_AS(tcav(*model, {images("concept", 4, 0.f, 1.f, 4)}, randoms(1), images("inputs", 2, 0.f, 1.f, 2), o),
                       doctest::Contains("at least 2 runs"), Error);
  TcavOptions o3 = o;
  o3.runs = 3;
  CHECK_THROWS_WITH_AS(tcav(*model, {images("concept", 4, 0.f, 1.f, 4)}, randoms(2), images("inputs", 2, 0.f, 1.f, 2), o3),
                       doctest::Contains("3 runs need 3 random sets"), Error);
  TcavOptions bad = o;
  bad.layers = {"features.77"};
  CHECK_THROWS_WITH_AS(tcav(*model, {images("concept", 4, 0.f, 1.f, 4)}, randoms(2), images("inputs", 2, 0.f, 1.f, 2), bad),
                       doctest::Contains("features.77"), Error);
  TcavOptions target = o;
  target.target = 10;
  CHECK_THROWS_WITH_AS(
      tcav(*model, {images("concept", 4, 0.f, 1.f, 4)}, randoms(2), images("inputs", 2, 0.f, 1.f, 2), target),
      doctest::Contains("target class 10"), Error);
  CHECK_THROWS_WITH_AS(tcav(*model, {}, randoms(2), images("inputs", 2, 0.f, 1.f, 2), o),
                       doctest::Contains("at least one concept"), Error);
}

}  // TEST_SUITE
