#pragma once
// `backlight sanity --mode labels`: the data randomisation test of Adebayo et al. 2018. Two
// shapes_cnn models are trained with the same recipe from the same initialisation on the same
// shapes samples, one with the true labels and one with the labels randomly permuted (the
// label vector shuffled, so the class balance stays and every label is independent of its
// image); maps of a method that depend on what the model learned must differ between the two.
// Either model can come from a file instead (--real-weights, --permuted-weights: e.g. written by
// an earlier run's --save-weights DIR; "default": the embedded model, trained on true labels by
// `backlight train --epochs 4 --samples 12800 --seed 1`, the recipe to repeat on permuted labels).
#include <string>

#include <nlohmann/json.hpp>

#include "engine/module.h"
#include "models/training/train_classifier.h"
#include "tools/cli/args.h"

namespace backlight::cli {

struct LabelModels {
  ModulePtr real, permuted;
  /// {"real": {...}, "permuted": {...}}: per model its source ("trained" or the file), held-out
  /// accuracy (true labels) and, when trained, the last epoch's training accuracy (on its labels).
  nlohmann::json report;
};

/// The recipe without flags: --epochs, --batch, --lr, --optimizer, --momentum, --schedule, --warmup.
TrainRecipe label_recipe_defaults();
/// Training samples without --samples.
inline constexpr int64_t kLabelSamplesDefault = 1000;

/// Trains (or loads) the two models as the flags say: --epochs, --samples, --batch, --lr,
/// --optimizer, --momentum, --schedule, --warmup (the recipe), --seed (initialisation, shuffling and the permutation), --real-weights FILE,
/// --permuted-weights FILE, --save-weights DIR, --held-out N. Progress on stderr.
LabelModels label_randomisation_models(const Args& args);

}  // namespace backlight::cli
