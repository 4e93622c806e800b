#pragma once
// The training-recipe flags that `backlight train`, `roar` and `sanity --mode labels` share beyond
// --epochs/--batch/--lr (models/training/train_classifier.h, TrainRecipe):
//   --optimizer adam|sgd   --momentum X (sgd only, [0, 1))   --schedule constant|cosine   --warmup N
//   --init-data N (data-dependent init on N training images, models/training/data_init.h; 0: off)
// Each command keeps its own defaults; bad values are usage errors naming the command and flag.
#include <string>
#include <vector>

#include "models/training/train_classifier.h"
#include "tools/cli/args.h"

namespace backlight::cli {

/// The FlagSpecs of the five flags, help texts saying `defaults` (the command's recipe) values.
std::vector<FlagSpec> recipe_flag_specs(const TrainRecipe& defaults);

/// Reads the five flags into `recipe` (absent flags keep its values). UsageError for an unknown
/// optimizer or schedule, momentum outside [0, 1) or given with adam, a warm-up outside [0, 10^9],
/// --init-data outside [0, 10^6].
void read_recipe_flags(const Args& args, TrainRecipe& recipe);

/// "Adam lr 0.002, cosine schedule, warm-up 20 steps" for progress lines.
std::string describe_recipe(const TrainRecipe& recipe);

}  // namespace backlight::cli
