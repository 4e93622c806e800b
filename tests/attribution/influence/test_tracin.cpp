// TracIn pieces: batched per-example gradients against one backward per example, the fast and
// random-projection forms against the exact one, ranking, label flipping and error messages.
#include <doctest/doctest.h>

#include <set>

#include "attribution/influence/layer_gradients.h"
#include "attribution/influence/tracin.h"
#include "engine/losses.h"
#include "engine/optim.h"
#include "models/data/label_flip.h"
#include "tests/attribution/perturbation_fixture.h"

namespace backlight::test {
namespace {

LabeledBatch random_batch(int64_t n, std::mt19937_64& rng) {
  LabeledBatch b{uniform(Shape{n, 3, 10, 9}, rng, 0.0f, 1.0f), {}};
  for (int64_t i = 0; i < n; ++i) b.labels.push_back(static_cast<int64_t>(rng() % 5));
  return b;
}

ModulePtr random_cnn(uint64_t seed) {
  std::mt19937_64 rng(seed);
  return std::make_shared<PerturbationCnn>(rng);
}

// Reference: one forward and one backward per example, the layer's weight and bias gradients.
Tensor naive_gradients(const Module& model, const LabeledBatch& b, const std::vector<std::string>& layers) {
  std::vector<std::vector<float>> rows_;
  for (int64_t e = 0; e < b.inputs.size(0); ++e) {
    Tape tape;
    const Var logits = model.forward(tape.input(b.inputs.slice_batch(e, e + 1)));
    const std::vector<int64_t> y{b.labels[static_cast<size_t>(e)]};
    const NamedTensors g = parameter_gradients(model, cross_entropy(logits, y));
    std::vector<float> row;
    for (const std::string& l : layers)
      for (const char* p : {".weight", ".bias"})
        for (const auto& [name, t] : g)
          if (name == l + p) row.insert(row.end(), t.span().begin(), t.span().end());
    rows_.push_back(row);
  }
  Tensor out = Tensor::empty(Shape{static_cast<int64_t>(rows_.size()), static_cast<int64_t>(rows_[0].size())});
  for (size_t i = 0; i < rows_.size(); ++i) std::copy(rows_[i].begin(), rows_[i].end(), out.data() + i * rows_[0].size());
  return out;
}

std::vector<TracInCheckpoint> random_checkpoints() {
  return {{0.3, [] { return random_cnn(11); }}, {0.1, [] { return random_cnn(12); }}};
}

}  // namespace

TEST_SUITE("attribution") {
  TEST_CASE("tracin/per-example gradients: one batched backward equals one backward per example") {
    const ModulePtr m = random_cnn(3);
    std::mt19937_64 rng(kSeed);
    const LabeledBatch b = random_batch(7, rng);
    for (const std::vector<std::string>& layers :
         {std::vector<std::string>{"classifier"}, std::vector<std::string>{"features.0"},
          std::vector<std::string>{"features.3", "classifier"}}) {
      CAPTURE(layers.size());
      CAPTURE(layers[0]);
      const Tensor got = per_example_gradients(layer_factors(*m, b, layers));
      const Tensor ref = naive_gradients(*m, b, layers);
      BL_CHECK_CLOSE(got, ref, 1e-5 * max_abs(ref), 1e-4);
    }
    CHECK(last_linear_layer(*m, b.inputs) == "classifier");
  }

  TEST_CASE("tracin/self-influence is the diagonal of the influence of the training set on itself") {
    std::mt19937_64 rng(kSeed);
    const LabeledBatch b = random_batch(6, rng);
    const auto cks = random_checkpoints();
    for (TracInMethod method : {TracInMethod::CP, TracInMethod::Fast}) {
      CAPTURE(to_string(method));
      const TracInOptions o{.method = method, .layers = {}, .batch_size = 4};
      const Tensor all = tracin_influence(cks, examples_in_memory(b), b, o);
      const Tensor self = tracin_self_influence(cks, examples_in_memory(b), o);
      Tensor diag = Tensor::empty(Shape{6});
      for (int64_t i = 0; i < 6; ++i) diag.data()[i] = all.data()[i * 6 + i];
      BL_CHECK_CLOSE(self, diag, 1e-5 * max_abs(diag), 1e-4);
    }
  }

  TEST_CASE("tracin/fast-rand-proj: exact when k covers the layer, unbiased and seeded otherwise") {
    std::mt19937_64 rng(kSeed);
    const LabeledBatch train = random_batch(10, rng), test = random_batch(2, rng);
    const auto cks = random_checkpoints();
    const ExampleSource src = examples_in_memory(train);
    const Tensor fast = tracin_influence(cks, src, test, {.method = TracInMethod::Fast});
    // classifier: in 32, out 5; k = 32 keeps both factors exact
    const Tensor wide = tracin_influence(cks, src, test, {.method = TracInMethod::FastRandProj, .projection_dim = 32});
    BL_CHECK_CLOSE(wide, fast, 1e-5 * max_abs(fast), 1e-4);
    // k = 4 projects both factors: a seed gives a different but reproducible estimate, and the
    // mean over seeds approaches the exact scores (error of a mean of 200 ~ 0.35 / sqrt(200)).
    const TracInOptions narrow{.method = TracInMethod::FastRandProj, .projection_dim = 4, .seed = 5};
    const Tensor one = tracin_influence(cks, src, test, narrow);
    BL_CHECK_CLOSE(one, tracin_influence(cks, src, test, narrow), 0.0, 0.0);
    CHECK(!allclose_report(one, fast, 1e-3 * max_abs(fast), 0.0).empty());
    Tensor mean = Tensor::zeros(fast.shape());
    constexpr int kSeeds = 200;
    for (int s = 0; s < kSeeds; ++s) {
      TracInOptions o = narrow;
      o.seed = static_cast<uint64_t>(s);
      const Tensor r = tracin_influence(cks, src, test, o);
      for (int64_t i = 0; i < r.numel(); ++i) mean.data()[i] += r.data()[i] / kSeeds;
    }
    BL_CHECK_CLOSE(mean, fast, 0.15 * max_abs(fast), 0.0);
  }

  TEST_CASE("tracin/top_k: best first, ties by index, k clipped") {
    const std::vector<float> s{0.5f, -2.0f, 3.0f, 0.5f, -1.0f};
    const Ranked p = top_k(s, 3, true);
    CHECK(p.indices == std::vector<int64_t>{2, 0, 3});
    CHECK(p.scores == std::vector<float>{3.0f, 0.5f, 0.5f});
    const Ranked o = top_k(s, 10, false);
    CHECK(o.indices == std::vector<int64_t>{1, 4, 0, 3, 2});
  }

  TEST_CASE("tracin/batch_filter: shares of the training batches give the whole run's scores bit for bit") {
    std::mt19937_64 rng(kSeed);
    const LabeledBatch train = random_batch(7, rng), test = random_batch(2, rng);
    const auto cks = random_checkpoints();
    const ExampleSource src = examples_in_memory(train);
    for (TracInMethod method : {TracInMethod::CP, TracInMethod::Fast}) {
      CAPTURE(to_string(method));
      const TracInOptions all{.method = method, .batch_size = 3};  // batches [0,3) [3,6) [6,7)
      const Tensor whole = tracin_influence(cks, src, test, all), self = tracin_self_influence(cks, src, all);
      for (int64_t share = 0; share < 2; ++share) {
        TracInOptions o = all;
        int64_t progress_total = -1;
        o.progress = [&](int64_t, int64_t total) { progress_total = total; };
        o.batch_filter = [share](int64_t b) { return b % 2 == share; };
        const Tensor part = tracin_influence(cks, src, test, o), part_self = tracin_self_influence(cks, src, o);
        CHECK(progress_total == (share == 0 ? 4 : 3) * 2);  // its examples x 2 checkpoints
        for (int64_t n = 0; n < 7; ++n) {
          CAPTURE(n);
          const bool mine = (n / 3) % 2 == share;
          for (int64_t t = 0; t < 2; ++t) CHECK(part.data()[t * 7 + n] == (mine ? whole.data()[t * 7 + n] : 0.0f));
          CHECK(part_self.data()[n] == (mine ? self.data()[n] : 0.0f));
        }
      }
    }
  }

  TEST_CASE("tracin/merge_top_k: the k best of each share's k best are top_k of the whole, same tie rule") {
    const std::vector<float> s{0.5f, -2.0f, 3.0f, 0.5f, -1.0f, 3.0f, 0.5f};
    const std::vector<int64_t> even{0, 2, 4, 6}, odd{1, 3, 5};
    for (const bool largest : {true, false})
      for (int64_t k : {1, 3, 5, 10}) {
        CAPTURE(largest);
        CAPTURE(k);
        const std::vector<Ranked> parts{top_k_of(s, odd, k, largest), top_k_of(s, even, k, largest)};
        const Ranked merged = merge_top_k(parts, k, largest), whole = top_k(s, k, largest);
        CHECK(merged.indices == whole.indices);
        CHECK(merged.scores == whole.scores);
      }
    CHECK(top_k_of(s, odd, 2, true).indices == std::vector<int64_t>{5, 3});
    CHECK_THROWS_WITH_AS(top_k_of(s, std::vector<int64_t>{9}, 1, true), doctest::Contains("candidate 9"), Error);
  }

  TEST_CASE("tracin: errors name the problem") {
    std::mt19937_64 rng(kSeed);
    const LabeledBatch b = random_batch(3, rng);
    const auto cks = random_checkpoints();
    const ExampleSource src = examples_in_memory(b);
    CHECK_THROWS_WITH_AS(tracin_influence(cks, src, b, {.method = TracInMethod::Fast, .layers = {"features.0"}}),
                         doctest::Contains("needs a Linear layer; 'features.0' is a Conv2d"), Error);
    CHECK_THROWS_WITH_AS(tracin_influence(cks, src, b, {.layers = {"features.1"}}),
                         doctest::Contains("is a relu op; per-example gradients need a Linear or Conv2d"), Error);
    CHECK_THROWS_WITH_AS(tracin_influence(cks, src, b, {.layers = {"nope"}}), doctest::Contains("'nope' not found"),
                         Error);
    CHECK_THROWS_WITH_AS(tracin_influence({}, src, b), doctest::Contains("no checkpoints"), Error);
    const std::vector<TracInCheckpoint> bad{{0.0, [] { return random_cnn(1); }}};
    CHECK_THROWS_WITH_AS(tracin_self_influence(bad, src), doctest::Contains("learning rate 0"), Error);
    LabeledBatch wrong = b;
    wrong.labels[1] = 7;
    CHECK_THROWS_WITH_AS(tracin_self_influence(cks, examples_in_memory(wrong)),
                         doctest::Contains("label 7 of example 1 is outside [0, 5)"), Error);
    CHECK_THROWS_WITH_AS(tracin_method_from_string("fastest"), doctest::Contains("expected tracincp, fast or"), Error);
  }

  TEST_CASE("label_flip: about the fraction is flipped, always to another class, deterministically") {
    int64_t flipped = 0;
    constexpr int64_t kN = 20000;
    for (int64_t i = 0; i < kN; ++i) {
      const int64_t label = i % 4;
      const int64_t y = flipped_label(7, i, 0.2, label, 4);
      CHECK(y == flipped_label(7, i, 0.2, label, 4));
      if (label_flipped(7, i, 0.2)) {
        ++flipped;
        CHECK(y != label);
      } else {
        CHECK(y == label);
      }
    }
    CHECK(std::abs(static_cast<double>(flipped) / kN - 0.2) < 0.015);
    CHECK(!label_flipped(7, 5, 0.0));
    CHECK(label_flipped(7, 5, 1.0));
    CHECK_THROWS_WITH_AS(label_flipped(7, 5, 1.5), doctest::Contains("fraction in [0, 1]"), Error);
  }
}

}  // namespace backlight::test
