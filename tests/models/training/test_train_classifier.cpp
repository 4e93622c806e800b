// models/training: the training loop (a separable toy task is learned; the same seed gives the
// same weights; callbacks fire per step and epoch; bad recipes are refused), the data sources
// (shapes batches equal the generator's samples, in-memory batches follow the indices) and the
// accuracy.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <random>
#include <string>

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

TEST_CASE("training/recipe_lr: linear warm-up, then constant or cosine decay") {
  const TrainRecipe constant{.lr = 0.01f, .warmup = 4};
  CHECK(recipe_lr(constant, 1, 20) == doctest::Approx(0.0025));
  CHECK(recipe_lr(constant, 3, 20) == doctest::Approx(0.0075));
  CHECK(recipe_lr(constant, 4, 20) == doctest::Approx(0.01));
  CHECK(recipe_lr(constant, 20, 20) == 0.01f);
  CHECK(recipe_lr(TrainRecipe{.lr = 0.01f}, 1, 20) == 0.01f);  // no warm-up: the recipe's lr, bit for bit
  const TrainRecipe cosine{.lr = 0.01f, .schedule = "cosine", .warmup = 4};
  CHECK(recipe_lr(cosine, 2, 20) == doctest::Approx(0.005));
  CHECK(recipe_lr(cosine, 5, 20) == doctest::Approx(0.01));    // first step after the warm-up: the peak
  CHECK(recipe_lr(cosine, 13, 20) == doctest::Approx(0.005));  // half way through the 16 decay steps
  CHECK(recipe_lr(cosine, 20, 20) == doctest::Approx(0.01 * 0.5 * (1 + std::cos(std::numbers::pi * 15 / 16))));
  CHECK(recipe_lr(cosine, 20, 20) > 0.0f);
  for (int64_t s = 5; s < 20; ++s) CHECK(recipe_lr(cosine, s + 1, 20) < recipe_lr(cosine, s, 20));
  CHECK_THROWS_WITH_AS(recipe_lr(cosine, 21, 20), doctest::Contains("expected step in [1, 20], got 21"), Error);
  CHECK_THROWS_WITH_AS(recipe_lr(TrainRecipe{.schedule = "step"}, 1, 2),
                       doctest::Contains("expected schedule constant or cosine, got 'step'"), Error);
}

TEST_CASE("training/train_classifier: SGD with momentum, warm-up and cosine decay learns the toy task") {
  const ClassifierData data = toy_data();
  // Plain SGD at this lr does not get there in 6 epochs (24 steps); momentum 0.9 does.
  const auto train = [&](float momentum, const std::string& schedule, int64_t warmup) {
    std::mt19937_64 rng(11);
    ModulePtr model = make_shapes_cnn(rng, 2);
    const TrainRecipe recipe{.epochs = 6, .batch = 16, .lr = 2e-2f, .optimizer = "sgd", .momentum = momentum,
                             .schedule = schedule, .warmup = warmup};
    train_classifier(*model, data, recipe, rng);
    return classifier_accuracy(*model, data);
  };
  CHECK(train(0.9f, "cosine", 2) == doctest::Approx(1.0));
  CHECK(train(0.0f, "cosine", 2) < 1.0);
}

TEST_CASE("training/train_classifier: init_data rescales the convs before the first step") {
  const ClassifierData data = toy_data();
  const auto first_conv_bias = [&](int64_t init_data) {
    std::mt19937_64 rng(11);
    ModulePtr model = make_shapes_cnn(rng, 2);
    TrainCallbacks cb;
    std::vector<float> bias;
    cb.on_step = [&](int64_t step, int64_t) {
      if (step == 1)
        for (const auto& [name, t] : model->named_parameters())
          if (name == "features.0.bias") bias = t.to_vector();
    };
    train_classifier(*model, data, {.epochs = 1, .batch = 16, .lr = 1e-6f, .init_data = init_data}, rng, cb);
    return bias;
  };
  // Zero-bias He init: after one tiny step the biases are still ~0; the data-dependent init moves
  // them to minus the channel means (the toy images are all positive).
  double off = 0, on = 0;
  for (float b : first_conv_bias(0)) off = std::max(off, std::abs(static_cast<double>(b)));
  for (float b : first_conv_bias(32)) on = std::max(on, std::abs(static_cast<double>(b)));
  REQUIRE(first_conv_bias(0).size() == 16);
  CHECK(off < 1e-4);
  CHECK(on > 0.1);
}

TEST_CASE("training/train_classifier: refuses bad recipes and empty data") {
  std::mt19937_64 rng(0);
  ModulePtr model = make_shapes_cnn(rng, 2);
  const ClassifierData data = toy_data();
  CHECK_THROWS_WITH_AS(train_classifier(*model, data, {.epochs = 0}, rng),
                       doctest::Contains("expected epochs >= 1, batch >= 1 and lr > 0, got epochs 0"), Error);
  CHECK_THROWS_WITH_AS(train_classifier(*model, data, {.optimizer = "rmsprop"}, rng),
                       doctest::Contains("expected optimizer adam or sgd, got 'rmsprop'"), Error);
  CHECK_THROWS_WITH_AS(train_classifier(*model, data, {.optimizer = "adam", .momentum = 0.9f}, rng),
                       doctest::Contains("expected momentum in [0, 1) with optimizer sgd (0 with adam)"), Error);
  CHECK_THROWS_WITH_AS(train_classifier(*model, data, {.optimizer = "sgd", .momentum = 1.0f}, rng),
                       doctest::Contains("got momentum 1 with sgd"), Error);
  CHECK_THROWS_WITH_AS(train_classifier(*model, data, {.schedule = "linear"}, rng),
                       doctest::Contains("expected schedule constant or cosine, got 'linear'"), Error);
  CHECK_THROWS_WITH_AS(train_classifier(*model, data, {.warmup = -1}, rng),
                       doctest::Contains("expected warmup >= 0 steps and init_data >= 0, got -1 and 0"), Error);
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
