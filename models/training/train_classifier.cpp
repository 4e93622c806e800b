#include "models/training/train_classifier.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numbers>
#include <numeric>
#include <optional>
#include <vector>

#include "engine/error.h"
#include "engine/losses.h"
#include "engine/optim.h"
#include "engine/tape.h"
#include "models/training/accuracy.h"
#include "models/training/data_init.h"

namespace backlight {

float recipe_lr(const TrainRecipe& recipe, int64_t step, int64_t total_steps) {
  BL_CHECK(step >= 1 && step <= total_steps, "recipe_lr: expected step in [1, ", total_steps, "], got ", step);
  BL_CHECK(recipe.schedule == "constant" || recipe.schedule == "cosine",
           "recipe_lr: expected schedule constant or cosine, got '", recipe.schedule, "'");
  if (step <= recipe.warmup)
    return static_cast<float>(static_cast<double>(recipe.lr) * static_cast<double>(step) / static_cast<double>(recipe.warmup));
  if (recipe.schedule == "constant") return recipe.lr;
  const double k = static_cast<double>(step - recipe.warmup - 1), K = static_cast<double>(total_steps - recipe.warmup);
  return static_cast<float>(static_cast<double>(recipe.lr) * 0.5 * (1.0 + std::cos(std::numbers::pi * k / K)));
}

TrainResult train_classifier(Module& model, const ClassifierData& data, const TrainRecipe& recipe, std::mt19937_64& rng,
                             const TrainCallbacks& callbacks) {
  BL_CHECK(recipe.epochs >= 1 && recipe.batch >= 1 && recipe.lr > 0.0f,
           "train_classifier: expected epochs >= 1, batch >= 1 and lr > 0, got epochs ", recipe.epochs, ", batch ",
           recipe.batch, ", lr ", recipe.lr);
  BL_CHECK(recipe.optimizer == "adam" || recipe.optimizer == "sgd",
           "train_classifier: expected optimizer adam or sgd, got '", recipe.optimizer, "'");
  BL_CHECK(recipe.schedule == "constant" || recipe.schedule == "cosine",
           "train_classifier: expected schedule constant or cosine, got '", recipe.schedule, "'");
  BL_CHECK(recipe.momentum >= 0.0f && recipe.momentum < 1.0f && (recipe.optimizer == "sgd" || recipe.momentum == 0.0f),
           "train_classifier: expected momentum in [0, 1) with optimizer sgd (0 with adam), got momentum ",
           recipe.momentum, " with ", recipe.optimizer);
  BL_CHECK(recipe.warmup >= 0 && recipe.init_data >= 0, "train_classifier: expected warmup >= 0 steps and init_data >= 0, got ",
           recipe.warmup, " and ", recipe.init_data);
  BL_CHECK(data.size >= 1 && data.batch, "train_classifier: expected at least one training example, got ", data.size);
  const int64_t total_steps = recipe.epochs * ((data.size + recipe.batch - 1) / recipe.batch);
  const auto t0 = std::chrono::steady_clock::now();
  // One of the two optimizers; step() updates the model in place.
  std::optional<Adam> adam;
  std::optional<SGD> sgd;
  if (recipe.optimizer == "adam") adam.emplace(model, AdamOptions{.lr = recipe.lr});
  else sgd.emplace(model, SGDOptions{.lr = recipe.lr, .momentum = recipe.momentum});
  std::vector<int64_t> order(static_cast<size_t>(data.size));
  std::iota(order.begin(), order.end(), int64_t{0});
  TrainResult result;
  if (recipe.init_data > 0) {
    std::shuffle(order.begin(), order.end(), rng);
    const int64_t k = std::max<int64_t>(2, std::min(recipe.init_data, data.size));
    BL_CHECK(data.size >= 2, "train_classifier: init_data needs at least 2 training examples, got ", data.size);
    data_dependent_init(model, data.batch(std::span<const int64_t>(order).first(static_cast<size_t>(k))).images);
  }
  for (int64_t epoch = 1; epoch <= recipe.epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), rng);
    double loss_sum = 0.0;
    int64_t correct = 0;
    for (int64_t begin = 0; begin < data.size; begin += recipe.batch) {
      const int64_t n = std::min(recipe.batch, data.size - begin);
      const LabelledBatch b = data.batch(std::span<const int64_t>(order).subspan(static_cast<size_t>(begin), n));
      Tape tape;  // a new tape per step: the step updates the parameters the old tape holds
      const Var logits = model.forward(tape.input(b.images));
      const Var loss = cross_entropy(logits, b.labels);
      const NamedTensors grads = parameter_gradients(model, loss);
      const float lr = recipe_lr(recipe, result.steps + 1, total_steps);
      if (adam) {
        adam->set_lr(lr);
        adam->step(grads);
      } else {
        sgd->set_lr(lr);
        sgd->step(grads);
      }
      ++result.steps;
      if (callbacks.on_step) callbacks.on_step(result.steps, epoch);
      loss_sum += static_cast<double>(loss.value().item()) * static_cast<double>(n);
      correct += count_correct(logits.value(), b.labels);
    }
    result.last = {.epoch = epoch,
                   .epochs = recipe.epochs,
                   .loss = loss_sum / static_cast<double>(data.size),
                   .accuracy = static_cast<double>(correct) / static_cast<double>(data.size),
                   .seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()};
    if (callbacks.on_epoch) callbacks.on_epoch(result.last);
  }
  return result;
}

}  // namespace backlight
