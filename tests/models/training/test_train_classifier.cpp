// models/training: the training loop (a separable toy task is learned; the same seed gives the
// same weights; callbacks fire per step and epoch; bad recipes are refused), the data sources
// (shapes batches equal the generator's samples, in-memory batches follow the indices) and the
// accuracy.
#include <doctest/doctest.h>

#include <random>

#include "engine/error.h"
#include "models/data/shapes.h"
#include "models/default_model.h"
#include "models/training/accuracy.h"
#include "models/training/classifier_data.h"
#include "models/training/train_classifier.h"

using namespace backlight;

namespace {

// 64 images 3x8x8: class 1 bright (0.7..0.9), class 0 dark (0.1..0.3), alternating.
ClassifierData toy_data() {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<float> u(0.0f, 0.2f);
  Tensor images = Tensor::empty(Shape{64, 3, 8, 8});
  std::vector<int64_t> labels(64);
  for (int64_t i = 0; i < 64; ++i) {
    labels[static_cast<size_t>(i)] = i % 2;
    for (int64_t j = 0; j < 3 * 64; ++j) images.data()[i * 192 + j] = (i % 2 ? 0.7f : 0.1f) + u(rng);
  }
  return tensor_classifier_data(images, labels);
}

}  // namespace

TEST_SUITE("models") {

TEST_CASE("training/train_classifier: learns a separable task, reproducibly from a seed") {
  const ClassifierData data = toy_data();
  const TrainRecipe recipe{.epochs = 6, .batch = 16, .lr = 1e-2f};
  std::vector<std::vector<float>> weights;
  for (int run = 0; run < 2; ++run) {
    std::mt19937_64 rng(11);
    ModulePtr model = make_shapes_cnn(rng, 2);
    int64_t steps = 0, epochs = 0;
    TrainCallbacks cb;
    cb.on_step = [&](int64_t step, int64_t epoch) {
      ++steps;
      CHECK(step == steps);
      CHECK(epoch == (step - 1) / 4 + 1);  // 64 / 16 = 4 steps per epoch
    };
    cb.on_epoch = [&](const EpochReport& e) {
      ++epochs;
      CHECK(e.epoch == epochs);
      CHECK(e.epochs == 6);
      CHECK(e.loss >= 0.0);
    };
    const TrainResult r = train_classifier(*model, data, recipe, rng, cb);
    CHECK(r.steps == 24);
    CHECK(steps == 24);
    CHECK(epochs == 6);
    CHECK(r.last.accuracy == doctest::Approx(1.0));
    CHECK(classifier_accuracy(*model, data, 7) == doctest::Approx(1.0));
    std::vector<float> w;
    for (const auto& [name, t] : model->named_parameters()) {
      const std::vector<float> v = t.to_vector();
      w.insert(w.end(), v.begin(), v.end());
    }
    weights.push_back(w);
  }
  CHECK(weights[0] == weights[1]);
}

TEST_CASE("training/train_classifier: refuses bad recipes and empty data") {
  std::mt19937_64 rng(0);
  ModulePtr model = make_shapes_cnn(rng, 2);
  const ClassifierData data = toy_data();
  CHECK_THROWS_WITH_AS(train_classifier(*model, data, {.epochs = 0}, rng),
                       doctest::Contains("expected epochs >= 1, batch >= 1 and lr > 0, got epochs 0"), Error);
  CHECK_THROWS_WITH_AS(train_classifier(*model, data, {.optimizer = "rmsprop"}, rng),
                       doctest::Contains("expected optimizer adam or sgd, got 'rmsprop'"), Error);
  CHECK_THROWS_WITH_AS(train_classifier(*model, ClassifierData{}, {}, rng),
                       doctest::Contains("expected at least one training example"), Error);
  CHECK_THROWS_WITH_AS(tensor_classifier_data(Tensor::zeros(Shape{2, 3, 8, 8}), {0}),
                       doctest::Contains("and 1 labels"), Error);
}

TEST_CASE("training/classifier_data: shapes batches are the generator's samples; memory batches follow the indices") {
  const ClassifierData shapes = shapes_classifier_data(3, 100, 8);
  CHECK(shapes.size == 8);
  const std::vector<int64_t> idx = {5, 0, 7};
  const LabelledBatch b = shapes.batch(idx);
  REQUIRE(b.images.shape() == Shape{3, 3, 64, 64});
  for (size_t i = 0; i < idx.size(); ++i) {
    const ShapesSample s = make_shapes_sample(ShapesConfig{}, 3, 100 + idx[i]);
    CHECK(b.labels[i] == s.label);
    const std::vector<float> v = s.image.to_vector();
    CHECK(std::equal(v.begin(), v.end(), b.images.data() + static_cast<int64_t>(i) * 3 * 64 * 64));
  }
  const ClassifierData mem = tensor_classifier_data(b.images, {10, 11, 12});
  const LabelledBatch m = mem.batch(std::vector<int64_t>{2, 2, 0});
  CHECK((m.labels == std::vector<int64_t>{12, 12, 10}));
  CHECK(std::equal(m.images.data(), m.images.data() + 3 * 64 * 64, b.images.data() + 2 * 3 * 64 * 64));
  CHECK_THROWS_WITH_AS(mem.batch(std::vector<int64_t>{3}), doctest::Contains("index 3 outside [0, 3)"), Error);
  CHECK(count_correct(Tensor::from(Shape{2, 2}, {0.f, 1.f, 3.f, 2.f}), std::vector<int64_t>{1, 1}) == 1);
}

}  // TEST_SUITE
