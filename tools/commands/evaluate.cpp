// `backlight evaluate`: methods x metrics on generated shapes images with the default model
// (docs/evaluation.md). Metrics come from attribution/metrics/; this file only loops and prints.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/data/shapes.h"
#include "attribution/metrics/deletion_insertion.h"
#include "attribution/metrics/infidelity.h"
#include "attribution/metrics/localisation.h"
#include "attribution/registry.h"
#include "models/default_model.h"
#include "engine/parallel.h"
#include "io/atomic_write.h"
#include "io/file_checks.h"
#include "tools/commands/command.h"
#include "tools/commands/flag_checks.h"

namespace backlight::cli {

namespace {

// --images at most: every image runs through every method and metric.
constexpr int64_t kMaxImages = 1 << 20;

const char* kDefaultMethods = "saliency,input_x_gradient,integrated_gradients,guided_backprop,lrp,grad_cam,occlusion";

struct Row {
  std::string method;
  double pointing = 0, mass = 0, deletion = 0, insertion = 0, infidelity = 0, seconds = 0;
};

double mean(const Tensor& t) {
  double s = 0;
  for (float v : t.span()) s += v;
  return s / static_cast<double>(t.numel());
}

// CAM maps [N, 1, H, W] repeated over the input channels (infidelity needs the input's shape).
Tensor expand_channels(const Tensor& a, int64_t c) {
  if (a.size(1) == c) return a;
  Tensor out = Tensor::empty(Shape{a.size(0), c, a.size(2), a.size(3)});
  const int64_t hw = a.size(2) * a.size(3), ac = a.size(1);
  for (int64_t n = 0; n < a.size(0); ++n)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t j = 0; j < hw; ++j) {
        float v = 0;
        for (int64_t k = 0; k < ac; ++k) v += a.data()[(n * ac + k) * hw + j];
        out.data()[(n * c + ch) * hw + j] = v / static_cast<float>(ac);
      }
  return out;
}

std::string markdown(const std::vector<Row>& rows) {
  std::ostringstream os;
  os << std::fixed;
  os << "| method | pointing game | relevance mass | deletion AUC (lower) | insertion AUC | infidelity (lower) | s / image |\n"
     << "|---|---|---|---|---|---|---|\n";
  for (const Row& r : rows)
    os << "| " << r.method << " | " << std::setprecision(3) << r.pointing << " | " << r.mass << " | " << r.deletion
       << " | " << r.insertion << " | " << std::setprecision(5) << r.infidelity << " | " << std::setprecision(4)
       << r.seconds << " |\n";
  return os.str();
}

int run_evaluate(const Args& args) {
  // The validators explain uses (flag_checks.h): usage errors before any work, exit 2.
  const std::vector<std::string> names = method_list_flag(args, "methods", kDefaultMethods);
  const int64_t images = positive_flag(args, "images", kMaxImages).value_or(16);
  const uint64_t seed = seed_flag(args).value_or(kShapesCnnDataSeed);
  const std::string layer = args.get_or("layer", "features.10");
  if (const auto t = threads_flag(args)) set_num_threads(*t);
  const std::optional<std::string> out = args.get("out");
  if (out) check_output_dir(*out, "evaluate: --out");  // before the work, not after

  const ModulePtr model = default_model();
  const ShapesBatch data = make_shapes_batch(ShapesConfig{}, seed, kShapesHeldOutBegin, images);
  const Target target = Target::indices(data.labels);
  std::vector<MethodInfo> infos = methods();

  std::vector<Row> rows;
  for (const std::string& name : names) {
    MethodOptions mo;
    mo.seed = seed;
    for (const MethodInfo& info : infos)
      if (info.name == name && (info.needs_layer || info.family == "cam")) mo.layer = layer;
    if (name == "occlusion") mo.window = {3, 8, 8}, mo.stride = {3, 4, 4};
    const auto t0 = std::chrono::steady_clock::now();
    const Tensor attr = attribute(name, *model, data.images, target, mo).attribution;
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    Row r{.method = name};
    r.seconds = secs / static_cast<double>(images);
    r.pointing = mean(pointing_game(attr, data.masks));
    r.mass = mean(relevance_mass_accuracy(attr, data.masks));
    r.deletion = mean(deletion_curve(*model, data.images, attr, target, {.batch = 65}).auc);
    r.insertion = mean(insertion_curve(*model, data.images, attr, target, {.batch = 65}).auc);
    r.infidelity = mean(infidelity(*model, data.images, expand_channels(attr, data.images.size(1)), target,
                                   {.samples = 10, .stdev = 0.05f, .seed = seed, .normalize = true, .batch = 64}));
    std::cerr << "evaluate: " << name << " done (" << secs << " s)\n";
    rows.push_back(r);
  }

  const std::string md = markdown(rows);
  std::cout << md;
  if (out) {
    nlohmann::json j = {{"images", images}, {"seed", seed}, {"model", "shapes_cnn"}, {"layer", layer}};
    for (const Row& r : rows)
      j["methods"].push_back({{"method", r.method}, {"pointing_game", r.pointing}, {"relevance_mass", r.mass},
                              {"deletion_auc", r.deletion}, {"insertion_auc", r.insertion},
                              {"infidelity", r.infidelity}, {"seconds_per_image", r.seconds}});
    StagedFiles files;  // both files or neither, each write checked
    files.stage(*out + "/evaluation.json", j.dump(2) + "\n");
    files.stage(*out + "/evaluation.md", md);
    files.commit();
  }
  return 0;
}

}  // namespace

Command evaluate_command() {
  return {.name = "evaluate",
          .summary = "score attribution methods on generated shapes images (localisation, deletion, infidelity)",
          .description =
              "Runs each method on N held-out images of the shapes dataset with the default model, explaining the\n"
              "true class, and prints a markdown table of pointing game, relevance mass accuracy, deletion and\n"
              "insertion AUC (blurred start), normalised infidelity (Gaussian noise, stdev 0.05, 10 samples) and\n"
              "attribution seconds per image. See docs/metrics.md and docs/evaluation.md.",
          .flags = {{.name = "methods", .metavar = "LIST", .help = std::string("comma-separated methods (default ") +
                                                                    kDefaultMethods + ")"},
                    {.name = "images", .metavar = "N", .help = "number of images, 1 to 1048576 (default 16)"},
                    {.name = "seed", .metavar = "S", .help = "dataset and metric seed (default 1)"},
                    {.name = "layer", .metavar = "PATH", .help = "layer for CAM/layer methods (default features.10)"},
                    {.name = "out", .metavar = "DIR", .help = "also write DIR/evaluation.json and DIR/evaluation.md"},
                    {.name = "threads", .metavar = "N", .help = "CPU threads, 1 to 4 x the hardware threads"}},
          .run = run_evaluate};
}

}  // namespace backlight::cli
