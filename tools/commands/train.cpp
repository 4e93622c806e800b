// `backlight train`: trains the default model architecture on the synthetic shapes dataset with
// the engine itself (models/training/train_classifier.h: tape forward, cross_entropy,
// parameter_gradients, Adam) and writes the weights as safetensors. This is how
// models/weights/shapes_cnn.safetensors was made.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <numeric>
#include <filesystem>
#include <optional>
#include <map>
#include <random>
#include <sstream>
#include <string>

#include "models/data/shapes.h"
#include "models/checkpoints.h"
#include "engine/parallel.h"
#include "models/default_model.h"
#include "models/state_dict.h"
#include "models/training/accuracy.h"
#include "models/training/train_classifier.h"
#include "io/image_io.h"
#include "io/file_checks.h"
#include "tools/commands/command.h"
#include "tools/commands/flag_checks.h"
#include "tools/commands/recipe_flags.h"

namespace backlight::cli {
namespace {

struct TrainSettings {
  int64_t epochs = 0, samples = 0, batch = 0, held_out = 0, threads = 0;
  uint64_t seed = 0;
  float lr = 0.0f;
  std::string out;
  std::string optimizer = "adam";
  TrainRecipe recipe;  // epochs, batch, lr and optimizer as above, plus momentum, schedule, warm-up
  int64_t save_every = 0;  // optimizer steps between checkpoints; 0: none
  std::string checkpoint_dir;
  double flip_fraction = 0.0;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int64_t positive_int(const Args& args, const char* name, int64_t fallback) {
  return positive_flag(args, name, INT32_MAX).value_or(fallback);
}

TrainSettings parse_settings(const Args& args) {
  const std::string model = args.get_or("model", "shapes_cnn");
  if (model != "shapes_cnn") throw UsageError("train: --model accepts shapes_cnn, got '" + model + "'");
  TrainSettings s;
  s.epochs = positive_int(args, "epochs", 4);
  s.samples = positive_int(args, "samples", 12800);
  s.batch = positive_int(args, "batch", 32);
  s.held_out = positive_int(args, "held-out", 1000);
  s.threads = threads_flag(args).value_or(0);
  s.seed = seed_flag(args).value_or(kShapesCnnDataSeed);
  const double lr = args.get_double("lr").value_or(2e-3);
  if (!(lr > 0.0 && lr < 1.0)) throw UsageError("train: --lr expects a value in (0, 1), got " + std::to_string(lr));
  s.lr = static_cast<float>(lr);
  const std::optional<std::string> out = args.get("out");
  if (!out) throw UsageError("train: --out FILE.safetensors is required");
  s.out = *out;
  check_output_file(s.out, "train: --out");
  if (const auto dir = args.get("images")) check_output_dir(*dir, "train: --images");
  s.recipe = TrainRecipe{.epochs = s.epochs, .batch = s.batch, .lr = s.lr};
  read_recipe_flags(args, s.recipe);
  s.optimizer = s.recipe.optimizer;
  s.save_every = positive_flag(args, "save-every", INT32_MAX).value_or(0);
  s.checkpoint_dir = args.get_or("checkpoint-dir", "");
  if (s.save_every > 0 && s.checkpoint_dir.empty())
    throw UsageError("train: --save-every needs --checkpoint-dir DIR (where the checkpoints go)");
  if (s.save_every == 0 && !s.checkpoint_dir.empty())
    throw UsageError("train: --checkpoint-dir needs --save-every N (optimizer steps between checkpoints)");
  if (!s.checkpoint_dir.empty()) check_output_dir(s.checkpoint_dir, "train: --checkpoint-dir");
  if (const auto f = args.get_double("flip-labels")) {
    if (!(*f >= 0.0 && *f < 1.0))
      throw UsageError("train: --flip-labels expects a fraction in [0, 1), got " + std::to_string(*f));
    s.flip_fraction = *f;
  }
  return s;
}

std::string fixed(double v, int digits) {
  std::ostringstream os;
  os.setf(std::ios::fixed);
  os.precision(digits);
  os << v;
  return os.str();
}

int run_train(const Args& args) {
  const TrainSettings s = parse_settings(args);
  if (s.samples > kShapesHeldOutBegin)
    throw UsageError("train: --samples must stay below the held-out range (" + std::to_string(kShapesHeldOutBegin) +
                     "), got " + std::to_string(s.samples));
  if (s.threads > 0) set_num_threads(static_cast<int>(s.threads));
  if (!s.checkpoint_dir.empty()) std::filesystem::create_directories(s.checkpoint_dir);
  const auto t0 = std::chrono::steady_clock::now();
  const std::clock_t cpu0 = std::clock();
  std::mt19937_64 rng(s.seed);
  ModulePtr model = make_shapes_cnn(rng);
  if (const auto init = args.get("init")) {
    // Fine-tuning (e.g. on flipped labels) from trained weights instead of the random init.
    if (*init == "default") model = default_model();
    else load_weights(*model, *init, LoadOptions{.arch = "shapes_cnn"});
  }
  const std::map<std::string, std::string> data_meta = {
      {"arch", "shapes_cnn"},
      {"num_classes", std::to_string(kNumShapeClasses)},
      {"data_seed", std::to_string(s.seed)},
      {"train_indices", "[0, " + std::to_string(s.samples) + ")"},
      {"samples", std::to_string(s.samples)},
      {"flip_labels", fixed(s.flip_fraction, 6)},
      {"optimizer", s.optimizer}};
  // A float lr as a decimal (7 significant digits: what the user typed), not its binary expansion.
  const auto decimal = [](float lr) {
    std::ostringstream os;
    os.precision(7);
    os << lr;
    return std::stod(os.str());
  };
  const int64_t total_steps = s.epochs * ((s.samples + s.batch - 1) / s.batch);
  std::cerr << "train: shapes_cnn on " << s.samples << " samples of dataset " << s.seed << ", " << s.epochs
            << " epochs, batch " << s.batch << ", " << describe_recipe(s.recipe) << ", " << num_threads() << " threads";
  if (s.flip_fraction > 0) std::cerr << ", labels flipped with probability " << s.flip_fraction;
  if (s.save_every > 0) std::cerr << ", a checkpoint every " << s.save_every << " steps in " << s.checkpoint_dir;
  std::cerr << "\n";
  const TrainRecipe& recipe = s.recipe;
  TrainCallbacks callbacks;
  callbacks.on_epoch = [&](const EpochReport& e) {
    std::cerr << "epoch " << e.epoch << "/" << e.epochs << ": loss " << fixed(e.loss, 4) << ", train accuracy "
              << fixed(100.0 * e.accuracy, 1) << "%, " << fixed(seconds_since(t0), 1) << " s\n";
  };
  if (s.save_every > 0)
    callbacks.on_step = [&](int64_t step, int64_t epoch) {
      // The lr of the step that made these weights (the --lr itself unless --warmup / --schedule).
      if (step % s.save_every == 0)
        save_checkpoint(*model, s.checkpoint_dir, decimal(recipe_lr(s.recipe, step, total_steps)), epoch, step, data_meta);
    };
  train_classifier(*model, shapes_classifier_data(s.seed, 0, s.samples, s.flip_fraction), recipe, rng, callbacks);
  const double train_seconds = seconds_since(t0);
  const double cpu_seconds = static_cast<double>(std::clock() - cpu0) / CLOCKS_PER_SEC;
  const double accuracy =
      classifier_accuracy(*model, shapes_classifier_data(s.seed, kShapesHeldOutBegin, s.held_out));
  const std::string command = "backlight train --model shapes_cnn --epochs " + std::to_string(s.epochs) +
                              " --seed " + std::to_string(s.seed) + " --samples " + std::to_string(s.samples) +
                              " --batch " + std::to_string(s.batch) + " --lr " + fixed(s.lr, 6) +
                              (s.optimizer != "adam" ? " --optimizer " + s.optimizer : "") +
                              (recipe.momentum > 0 ? " --momentum " + fixed(recipe.momentum, 6) : "") +
                              (recipe.schedule != "constant" ? " --schedule " + recipe.schedule : "") +
                              (recipe.warmup > 0 ? " --warmup " + std::to_string(recipe.warmup) : "") +
                              (recipe.init_data > 0 ? " --init-data " + std::to_string(recipe.init_data) : "") +
                              (args.has("init") ? " --init " + args.get_or("init", "") : "") +
                              (s.flip_fraction > 0 ? " --flip-labels " + fixed(s.flip_fraction, 6) : "") +
                              (s.threads > 0 ? " --threads " + std::to_string(s.threads) : "") + " --out " + s.out;
  save_weights(*model, s.out,
               {{"arch", "shapes_cnn"},
                {"num_classes", std::to_string(kNumShapeClasses)},
                {"dataset", "shapes (models/data/shapes.h), default ShapesConfig"},
                {"data_seed", std::to_string(s.seed)},
                {"train_indices", "[0, " + std::to_string(s.samples) + ")"},
                {"epochs", std::to_string(s.epochs)},
                {"batch", std::to_string(s.batch)},
                {"lr", fixed(s.lr, 6)},
                {"held_out_indices", "[" + std::to_string(kShapesHeldOutBegin) + ", " +
                                         std::to_string(kShapesHeldOutBegin + s.held_out) + ")"},
                {"held_out_accuracy", fixed(accuracy, 4)},
                {"train_seconds", fixed(train_seconds, 1)},
                {"train_cpu_seconds", fixed(cpu_seconds, 1)},
                {"threads", std::to_string(num_threads())},
                {"optimizer", s.optimizer},
                {"momentum", fixed(recipe.momentum, 6)},
                {"schedule", recipe.schedule},
                {"warmup", std::to_string(recipe.warmup)},
                {"init_data", std::to_string(recipe.init_data)},
                {"flip_labels", fixed(s.flip_fraction, 6)},
                {"command", command}});
  std::cout << "held-out accuracy " << fixed(100.0 * accuracy, 2) << "% (" << s.held_out
            << " samples from index " << kShapesHeldOutBegin << "), training " << fixed(train_seconds, 1)
            << " s (" << fixed(cpu_seconds, 1) << " s CPU, " << num_threads() << " threads); wrote " << s.out << "\n";

  if (const std::optional<std::string> dir = args.get("images"))
    for (const DefaultImage& im : default_images()) {
      const std::string path = *dir + "/" + im.name + ".png";
      write_png(path, im.sample.image);
      std::cout << "wrote " << path << "\n";
    }
  return 0;
}

// The train flags plus --momentum, --schedule and --warmup (tools/commands/recipe_flags.h; train
// has had its own --optimizer since before those).
std::vector<FlagSpec> with_recipe_flags(std::vector<FlagSpec> flags) {
  for (FlagSpec& f : recipe_flag_specs(TrainRecipe{}))
    if (f.name != "optimizer") flags.push_back(std::move(f));
  return flags;
}

}  // namespace

Command train_command() {
  return {
      .name = "train",
      .summary = "train the default model (shapes_cnn) on the synthetic shapes dataset",
      .description =
          "Trains shapes_cnn (models/default_model.h) from its random init on samples [0, --samples)\n"
          "of the shapes dataset --seed (models/data/shapes.h), minibatches reshuffled every\n"
          "epoch, cross-entropy loss, Adam. Progress (loss, train accuracy) goes to stderr per epoch;\n"
          "the accuracy on the held-out indices [1000000, 1000000 + --held-out) goes to stdout and\n"
          "into the file's metadata. The embedded default weights were made with:\n"
          "  backlight train --model shapes_cnn --epochs 4 --samples 12800 --seed 1 --threads 1 \\\n"
          "      --out models/weights/shapes_cnn.safetensors --images models/images\n"
          "(--threads 1: the float sums, hence the weights, depend on the thread count).\n"
          "With --save-every N --checkpoint-dir DIR it also writes the weights every N optimizer steps\n"
          "as DIR/checkpoint-<step>.safetensors with the learning rate, epoch and step in the metadata\n"
          "(the checkpoints `backlight influence` reads). --flip-labels F changes each training label\n"
          "with probability F to another class (models/data/label_flip.h, seeded by --seed), to check\n"
          "that influence self-scores find the flipped ones.",
      .flags = with_recipe_flags(
          {
              {.name = "model", .metavar = "NAME", .help = "architecture; only shapes_cnn (default)"},
              {.name = "epochs", .metavar = "N", .help = "passes over the training samples; default 4"},
              {.name = "seed", .metavar = "S", .help = "dataset and init seed; default 1"},
              {.name = "out", .metavar = "FILE.safetensors", .help = "where to write the weights (required)"},
              {.name = "samples", .metavar = "N", .help = "training samples (indices [0, N)); default 12800"},
              {.name = "batch", .metavar = "N", .help = "minibatch size; default 32"},
              {.name = "lr", .metavar = "X", .help = "Adam learning rate; default 0.002"},
              {.name = "held-out", .metavar = "N", .help = "held-out samples to evaluate; default 1000"},
              {.name = "threads", .metavar = "N", .help = "CPU threads, 1 to 4 x the hardware threads; default: all (OMP_NUM_THREADS)"},
              {.name = "images", .metavar = "DIR", .help = "also write default_images() as DIR/<class>.png"},
              {.name = "init", .metavar = "FILE|default", .help = "start from these weights (default: the embedded model) instead of a random init"},
              {.name = "optimizer", .metavar = "NAME", .help = "adam (default) or sgd (torch.optim's formulas)"},
              {.name = "save-every", .metavar = "N", .help = "write a checkpoint every N optimizer steps (for backlight influence)"},
              {.name = "checkpoint-dir", .metavar = "DIR", .help = "where --save-every writes checkpoint-<step>.safetensors (lr, epoch, step in metadata)"},
              {.name = "flip-labels", .metavar = "FRACTION", .help = "train on wrong labels: each sample's label changes with this probability (seeded by --seed)"},
          }),
      .run = run_train,
  };
}

}  // namespace backlight::cli
