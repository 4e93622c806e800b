#include "tools/commands/sanity_labels.h"

#include <algorithm>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <random>

#include "io/file_checks.h"
#include "models/data/shapes.h"
#include "models/default_model.h"
#include "models/state_dict.h"
#include "models/training/accuracy.h"
#include "models/training/train_classifier.h"
#include "tools/commands/flag_checks.h"
#include "tools/commands/recipe_flags.h"

namespace backlight::cli {

namespace {

// The training labels of samples [0, n), permuted with `seed` (generated in chunks: only labels kept).
std::vector<int64_t> permuted_labels(int64_t n, uint64_t seed) {
  std::vector<int64_t> labels;
  for (int64_t b = 0; b < n; b += 500) {
    const ShapesBatch batch = make_shapes_batch(ShapesConfig{}, kShapesCnnDataSeed, b, std::min<int64_t>(500, n - b));
    labels.insert(labels.end(), batch.labels.begin(), batch.labels.end());
  }
  std::mt19937_64 rng(seed ^ 0x9e3779b97f4a7c15ull);  // not the init stream
  std::shuffle(labels.begin(), labels.end(), rng);
  return labels;
}

ClassifierData with_labels(ClassifierData data, std::vector<int64_t> labels) {
  auto shared = std::make_shared<const std::vector<int64_t>>(std::move(labels));
  auto inner = data.batch;
  data.batch = [inner, shared](std::span<const int64_t> indices) {
    LabelledBatch b = inner(indices);
    for (size_t i = 0; i < indices.size(); ++i) b.labels[i] = (*shared)[static_cast<size_t>(indices[i])];
    return b;
  };
  return data;
}

}  // namespace

// The ROAR recipe (tools/commands/roar.cpp; docs/evaluation.md): 10 epochs of 1000 samples in
// batches of 8 after the data-dependent init on 256 of them.
TrainRecipe label_recipe_defaults() { return {.epochs = 10, .batch = 8, .lr = 2e-3f, .init_data = 256}; }

LabelModels label_randomisation_models(const Args& args) {
  TrainRecipe recipe = label_recipe_defaults();
  recipe.epochs = positive_flag(args, "epochs", 1000).value_or(recipe.epochs);
  recipe.batch = positive_flag(args, "batch", 4096).value_or(recipe.batch);
  recipe.lr = static_cast<float>(number_flag(args, "lr", 0.0, 1.0, true).value_or(recipe.lr));
  read_recipe_flags(args, recipe);
  const int64_t samples =
      positive_flag(args, "samples", static_cast<int64_t>(kShapesHeldOutBegin)).value_or(kLabelSamplesDefault);
  const int64_t held_out = positive_flag(args, "held-out", 100000).value_or(500);
  const uint64_t seed = seed_flag(args).value_or(0);
  const std::optional<std::string> save = args.get("save-weights");
  if (save) check_output_dir(*save, "sanity: --save-weights");
  for (const char* flag : {"real-weights", "permuted-weights"})
    if (const auto f = args.get(flag); f && *f != "default") check_input_file(*f, std::string("sanity: --") + flag);
  const ClassifierData test = shapes_classifier_data(kShapesCnnDataSeed, kShapesHeldOutBegin, held_out);
  const ClassifierData truth = shapes_classifier_data(kShapesCnnDataSeed, 0, samples);

  LabelModels m;
  const auto make = [&](const char* which, const char* flag, const ClassifierData& data) {
    std::mt19937_64 rng(seed);
    ModulePtr model = make_shapes_cnn(rng);
    nlohmann::json r;
    if (const auto file = args.get(flag)) {
      if (*file == "default") model = default_model();  // the embedded model (models/default_model.h)
      else load_weights(*model, *file, LoadOptions{.arch = "shapes_cnn"});
      r["source"] = *file;
    } else {
      std::cerr << "sanity: training the " << which << " model (" << recipe.epochs << " epochs of " << samples
                << " shapes samples" << (std::string(which) == "permuted-label" ? " with permuted labels" : "")
                << ", batch " << recipe.batch << ", " << describe_recipe(recipe) << ")\n";
      TrainCallbacks progress;
      progress.on_epoch = [&](const EpochReport& e) {
        std::cerr << "sanity: " << which << " model: epoch " << e.epoch << "/" << e.epochs << ", loss " << std::fixed
                  << std::setprecision(4) << e.loss << ", train accuracy " << std::setprecision(1) << 100.0 * e.accuracy
                  << "%, " << e.seconds << " s" << std::defaultfloat << "\n";
      };
      const TrainResult t = train_classifier(*model, data, recipe, rng, progress);
      r["source"] = "trained";
      r["train_accuracy"] = t.last.accuracy;
      r["train_seconds"] = t.last.seconds;
      if (save) {
        std::filesystem::create_directories(*save);
        const std::string path = *save + "/" + (std::string(which) == "real" ? "real" : "permuted") + ".safetensors";
        save_weights(*model, path, {{"arch", "shapes_cnn"}, {"num_classes", std::to_string(kNumShapeClasses)},
                                    {"labels", std::string(which) == "real" ? "true" : "permuted"},
                                    {"seed", std::to_string(seed)}, {"samples", std::to_string(samples)},
                                    {"epochs", std::to_string(recipe.epochs)}});
        std::cerr << "sanity: wrote " << path << "\n";
      }
    }
    r["held_out_accuracy"] = classifier_accuracy(*model, test);
    r["held_out_images"] = held_out;
    std::cerr << "sanity: " << which << " model: held-out accuracy " << std::fixed << std::setprecision(1)
              << 100.0 * r["held_out_accuracy"].get<double>() << "%" << std::defaultfloat << "\n";
    return std::pair{model, r};
  };
  auto [real, real_report] = make("real", "real-weights", truth);
  m.real = real;
  auto [permuted, permuted_report] =
      make("permuted-label", "permuted-weights",
           args.has("permuted-weights") ? truth : with_labels(truth, permuted_labels(samples, seed)));
  m.permuted = permuted;
  m.report = {{"real", real_report},
              {"permuted", permuted_report},
              {"recipe", {{"epochs", recipe.epochs}, {"batch", recipe.batch}, {"lr", recipe.lr}, {"samples", samples},
                          {"optimizer", recipe.optimizer}, {"momentum", recipe.momentum}, {"schedule", recipe.schedule},
                          {"warmup", recipe.warmup}, {"init_data", recipe.init_data}}}};
  return m;
}

}  // namespace backlight::cli
