#pragma once
/// Training a classifier with the engine itself: minibatches reshuffled every epoch, a new tape
/// per step (forward, cross_entropy, parameter_gradients), Adam or SGD with PyTorch's formulas
/// (engine/optim.h). `backlight train` (the embedded shapes_cnn weights), `backlight roar`
/// (remove-and-retrain, Hooker et al. 2019) and `backlight sanity --mode labels` (data
/// randomisation, Adebayo et al. 2018) all train through this function. CPU; the float sums,
/// hence the weights, depend on the thread count (engine/parallel.h).
#include <cstdint>
#include <functional>
#include <random>
#include <string>

#include "engine/module.h"
#include "models/training/classifier_data.h"

namespace backlight {

/// What `backlight train` calls the recipe (its defaults are the embedded model's).
struct TrainRecipe {
  int64_t epochs = 4;
  int64_t batch = 32;  ///< the last batch of an epoch holds the remainder
  float lr = 2e-3f;    ///< the peak learning rate (see schedule)
  std::string optimizer = "adam";  ///< "adam" (AdamOptions defaults otherwise) or "sgd"
  float momentum = 0.0f;           ///< sgd only: SGDOptions::momentum (0: plain SGD), in [0, 1)
  /// Learning rate per optimizer step (recipe_lr): "constant" or "cosine" (after the warm-up, decays
  /// as lr * (1 + cos(pi * k / K)) / 2 over the remaining K steps, Loshchilov & Hutter 2017 without
  /// restarts).
  std::string schedule = "constant";
  int64_t warmup = 0;  ///< steps of linear warm-up from lr / warmup to lr (Goyal et al. 2017); 0: none
  /// > 0: before the first step, data_dependent_init (models/training/data_init.h) on this many
  /// training examples (the first of a shuffle drawn from `rng`; at most all of them). 0: off.
  int64_t init_data = 0;
};

/// The learning rate of optimizer step `step` (1-based) of `total_steps` under the recipe's warm-up
/// and schedule: lr * step / warmup during the warm-up, then lr ("constant") or
/// lr * (1 + cos(pi * k / K)) / 2 with k = step - warmup - 1 and K = total_steps - warmup ("cosine":
/// lr on the first step after the warm-up, above 0 on the last). Throws for step outside
/// [1, total_steps] or an unknown schedule.
float recipe_lr(const TrainRecipe& recipe, int64_t step, int64_t total_steps);

/// Reported after each epoch: mean loss and accuracy over the epoch's minibatches (taken before
/// each step's update, as PyTorch training loops print them).
struct EpochReport {
  int64_t epoch = 0, epochs = 0;  ///< 1-based
  double loss = 0, accuracy = 0;
  double seconds = 0;  ///< wall time since training started
};

struct TrainCallbacks {
  std::function<void(const EpochReport&)> on_epoch{};
  /// After optimizer step `step` (1-based, counted over all epochs) of epoch `epoch`: the model holds
  /// the updated weights (checkpoints are written here).
  std::function<void(int64_t step, int64_t epoch)> on_step{};
};

struct TrainResult {
  int64_t steps = 0;
  EpochReport last{};  ///< the last epoch's report
};

/// Trains `model` in place on all of `data` for recipe.epochs epochs. `rng` shuffles the example
/// order at the start of each epoch (std::shuffle), so a caller that also initialised the model
/// from it gets the same run from the same seed. Throws backlight::Error for a recipe with
/// epochs, batch or lr <= 0, an unknown optimizer or schedule, momentum outside [0, 1) (or set
/// with adam), a negative warm-up or init_data, or empty data.
TrainResult train_classifier(Module& model, const ClassifierData& data, const TrainRecipe& recipe, std::mt19937_64& rng,
                             const TrainCallbacks& callbacks = {});

}  // namespace backlight
