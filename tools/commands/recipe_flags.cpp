#include "tools/commands/recipe_flags.h"

#include <sstream>

#include "tools/commands/flag_checks.h"

namespace backlight::cli {

namespace {

std::string number(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

}  // namespace

std::vector<FlagSpec> recipe_flag_specs(const TrainRecipe& d) {
  return {{.name = "optimizer", .metavar = "adam|sgd", .help = "recipe: optimizer, torch.optim's formulas (default " + d.optimizer + ")"},
          {.name = "momentum", .metavar = "X", .help = "recipe: SGD momentum in [0, 1) (default " + number(d.momentum) + "; sgd only)"},
          {.name = "schedule", .metavar = "constant|cosine", .help = "recipe: learning rate after the warm-up (default " + d.schedule + ")"},
          {.name = "warmup", .metavar = "N", .help = "recipe: optimizer steps of linear lr warm-up (default " + std::to_string(d.warmup) + ")"},
          {.name = "init-data", .metavar = "N", .help = "recipe: data-dependent init on N training images, 0 off (default " + std::to_string(d.init_data) + ")"}};
}

void read_recipe_flags(const Args& args, TrainRecipe& recipe) {
  const std::string& cmd = args.command();
  recipe.optimizer = args.get_or("optimizer", recipe.optimizer);
  if (recipe.optimizer != "adam" && recipe.optimizer != "sgd")
    throw UsageError(cmd + ": --optimizer accepts adam or sgd, got '" + recipe.optimizer + "'");
  if (const auto m = number_flag(args, "momentum", 0.0, 1.0)) {
    if (!(*m < 1.0)) throw UsageError(cmd + ": --momentum expects a number in [0, 1), got " + number(*m));
    if (recipe.optimizer != "sgd" && *m != 0.0)
      throw UsageError(cmd + ": --momentum applies to --optimizer sgd (Adam has its own betas), got optimizer " +
                       recipe.optimizer);
    recipe.momentum = static_cast<float>(*m);
  }
  if (recipe.optimizer != "sgd") recipe.momentum = 0.0f;
  recipe.schedule = args.get_or("schedule", recipe.schedule);
  if (recipe.schedule != "constant" && recipe.schedule != "cosine")
    throw UsageError(cmd + ": --schedule accepts constant or cosine, got '" + recipe.schedule + "'");
  if (const auto w = args.get_int("warmup", 0, 1'000'000'000)) recipe.warmup = *w;
  if (const auto n = args.get_int("init-data", 0, 1'000'000)) recipe.init_data = *n;
}

std::string describe_recipe(const TrainRecipe& r) {
  std::ostringstream os;
  os << (r.optimizer == "adam" ? "Adam" : "SGD") << " lr " << r.lr;
  if (r.optimizer == "sgd" && r.momentum > 0) os << " momentum " << r.momentum;
  if (r.schedule != "constant") os << ", " << r.schedule << " schedule";
  if (r.warmup > 0) os << ", warm-up " << r.warmup << " steps";
  if (r.init_data > 0) os << ", data-dependent init on " << r.init_data << " images";
  return os.str();
}

}  // namespace backlight::cli
