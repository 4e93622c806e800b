// `backlight sanity`: the sanity checks of Adebayo et al. 2018 from the command line
// (docs/evaluation.md): per method, maps as the layers are randomised (cascading from the top, or
// one layer at a time) or of a model retrained on permuted labels (sanity_labels.h), the paper's
// similarities per step (sanity_maps.h), a figure and JSON.
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "attribution/metrics/map_similarity.h"
#include "attribution/metrics/randomisation.h"
#include "attribution/metrics/scoring.h"
#include "attribution/registry.h"
#include "engine/error.h"
#include "engine/parallel.h"
#include "engine/tape.h"
#include "io/file_checks.h"
#include "io/image_io.h"
#include "models/data/shapes.h"
#include "models/default_model.h"
#include "render/grid.h"
#include "render/heatmap.h"
#include "render/resize.h"
#include "tools/cli/image_list.h"
#include "tools/commands/command.h"
#include "tools/commands/flag_checks.h"
#include "tools/commands/sanity_labels.h"
#include "tools/commands/sanity_maps.h"

namespace backlight::cli {

namespace {

constexpr const char* kDefaultMethods = "saliency,integrated_gradients,guided_backprop,grad_cam";

// The images: held-out shapes (true classes) or an image folder resized to 64x64 (top-1 classes).
struct SanityData {
  Tensor images;
  Target target = Target::top1();
};

SanityData load_data(const std::string& data, int64_t count, const Args& args) {
  if (data == "builtin:shapes") {
    const ShapesBatch b = make_shapes_batch(ShapesConfig{}, kShapesCnnDataSeed, kShapesHeldOutBegin, count);
    return {b.images, Target::indices(b.labels)};
  }
  if (!std::filesystem::is_directory(data))
    throw UsageError("sanity: --data '" + data + "' is neither builtin:shapes nor a folder of images");
  const std::vector<std::string> files = list_images(data);
  if (files.empty()) throw UsageError("sanity: --data '" + data + "' holds no images (expected builtin:shapes or a folder of images)");
  const int64_t n = std::min<int64_t>(count, static_cast<int64_t>(files.size()));
  const ShapesConfig c{};
  Tensor t = Tensor::empty(Shape{n, 3, c.height, c.width});
  for (int64_t i = 0; i < n; ++i) {
    Tensor img = load_image(files[static_cast<size_t>(i)], max_pixels_flag(args));
    if (img.size(0) != 3) throw Error("sanity: '" + files[static_cast<size_t>(i)] + "' is not an RGB image");
    if (img.size(1) != c.height || img.size(2) != c.width) img = resize_image(img, c.height, c.width);
    std::copy(img.data(), img.data() + img.numel(), t.data() + i * img.numel());
  }
  return {t, Target::top1()};
}

Tensor stack_rows(const std::vector<Tensor>& rows) {
  int64_t h = 0, w = 0;
  for (const Tensor& r : rows) h += r.size(1), w = std::max(w, r.size(2));
  Tensor out = Tensor::full(Shape{3, h, w}, 1.0f);
  int64_t y0 = 0;
  for (const Tensor& r : rows) {
    for (int64_t ch = 0; ch < 3; ++ch)
      for (int64_t y = 0; y < r.size(1); ++y)
        std::copy(r.data() + (ch * r.size(1) + y) * r.size(2), r.data() + (ch * r.size(1) + y + 1) * r.size(2),
                  out.data() + (ch * h + y0 + y) * w);
    y0 += r.size(1);
  }
  return out;
}

int run_sanity(const Args& args) {
  const std::string model_name = args.get_or("model", "shapes_cnn");
  if (model_name != "shapes_cnn") throw UsageError("sanity: --model accepts shapes_cnn, got '" + model_name + "'");
  const std::string mode = args.get_or("mode", "cascading");
  if (mode != "cascading" && mode != "independent" && mode != "labels")
    throw UsageError("sanity: --mode accepts cascading, independent or labels, got '" + mode + "'");
  if (mode != "labels")
    for (const char* flag : {"epochs", "samples", "batch", "lr", "held-out", "real-weights", "permuted-weights", "save-weights"})
      if (args.has(flag))
        throw UsageError(std::string("sanity: --") + flag + " applies to --mode labels (data randomisation) only");
  const std::vector<std::string> names = method_list_flag(args, "methods", kDefaultMethods);
  const int64_t count = positive_flag(args, "images", 4096).value_or(4);
  const uint64_t seed = seed_flag(args).value_or(0);
  if (const auto t = threads_flag(args)) set_num_threads(*t);
  const std::optional<std::string> out = args.get("out");
  if (out) require_image_extension(args, "out", *out), check_output_file(*out, "sanity: --out");
  const std::string data_name = args.get_or("data", "builtin:shapes");
  SanityData data = load_data(data_name, count, args);
  std::optional<LabelModels> label_models;
  if (mode == "labels") label_models = label_randomisation_models(args);
  const ModulePtr model = label_models ? label_models->real : default_model();
  if (label_models) {
    // Both models explain the real model's classes (as model randomisation resolves its targets
    // once on the original model): top-1 of the real model for DIR images.
    Tape tape(TapeOptions{.record = false});
    data.target = Target::indices(data.target.resolve(model->forward(tape.input(data.images)).value()));
  }
  const std::string layer = args.get_or("layer", "features.10");
  const int64_t n = data.images.size(0);

  nlohmann::json j = {{"model", model_name}, {"data", data_name}, {"mode", mode}, {"images", n}, {"seed", seed}};
  if (label_models) j["models"] = label_models->report;
  std::vector<Tensor> rows;
  for (const std::string& name : names) {
    MethodOptions mo;
    mo.seed = seed;
    for (const MethodInfo& info : methods())
      if (info.name == name && (info.needs_layer || info.family == "cam")) mo.layer = layer;
    const RandomisationOptions ro{.seed = seed,
                                  .mode = mode == "independent" ? RandomisationMode::Independent : RandomisationMode::Cascading,
                                  .keep_maps = true};
    std::vector<RandomisationStep> steps;
    if (label_models) {  // data randomisation: the real model's maps, then the permuted-label model's
      steps.push_back({.layer = "", .attribution = attribute(name, *model, data.images, data.target, mo).attribution});
      steps.push_back({.layer = "permuted_labels",
                       .attribution = attribute(name, *label_models->permuted, data.images, data.target, mo).attribution});
    } else {
      steps = model_randomisation(name, *model, data.images, data.target, mo, ro);
    }
    nlohmann::json js;
    const ShapesConfig c{};
    std::vector<Panel> panels{{metrics::item(data.images, 0).reshape({3, c.height, c.width}).clone(), "input"}};
    for (const RandomisationStep& st : steps) {
      const SanitySimilarity sim = sanity_similarity(steps[0].attribution, st.attribution);
      js.push_back({{"layer", st.layer.empty() ? "original" : st.layer}, {"spearman", sim.spearman},
                    {"spearman_abs", sim.spearman_abs}, {"ssim", sim.ssim}, {"hog", sim.hog}});
      const MapPlane u = sanity_plane(st.attribution, 0, true);
      Tensor m = Tensor::empty(Shape{u.height, u.width});
      for (int64_t k = 0; k < m.numel(); ++k) m.data()[k] = static_cast<float>(u.values[static_cast<size_t>(k)]);
      panels.push_back({visualize_attribution(m, metrics::item(data.images, 0).reshape({3, u.height, u.width}),
                                              {.sign = VisualSign::AbsoluteValue}),
                        (st.layer.empty() ? name : label_models ? "permuted labels" : "-" + st.layer)});
    }
    j["methods"].push_back({{"method", name}, {"steps", js}});
    rows.push_back(make_grid(panels, {.min_panel_size = 64, .gap = 4}));
    std::cerr << "sanity: " << name << " done (" << steps.size() << " steps)\n";
  }
  if (args.flag("json")) {
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << std::fixed << std::setprecision(3) << "| method | layer | spearman | spearman abs | ssim | hog |\n|---|---|---|---|---|---|\n";
    for (const auto& m : j["methods"])
      for (const auto& s : m["steps"])
        std::cout << "| " << m["method"].get<std::string>() << " | " << s["layer"].get<std::string>() << " | " << s["spearman"].get<double>() << " | "
                  << s["spearman_abs"].get<double>() << " | " << s["ssim"].get<double>() << " | " << s["hog"].get<double>()
                  << " |\n";
  }
  if (out) write_image(*out, stack_rows(rows));
  return 0;
}

}  // namespace

Command sanity_command() {
  return {.name = "sanity",
          .summary = "sanity checks (Adebayo et al. 2018): maps and similarities as layers or labels are randomised",
          .description =
              "For each method, re-runs the attribution while the model's layers are randomised from the top\n"
              "(cascading) or one at a time (independent), and reports per step the mean over the images of the\n"
              "Spearman rank correlation with the original map (signed and absolute), SSIM and HOG similarity of\n"
              "the [0,1]-normalised absolute maps. --out draws one row per method (first image).\n"
              "--mode labels (data randomisation): trains shapes_cnn twice with the same recipe and initialisation\n"
              "(--seed) on shapes samples [0, --samples), once with the true labels and once with the labels\n"
              "randomly permuted, and compares the two models' maps with the same similarities (step\n"
              "'permuted_labels'); the JSON also has both models' held-out accuracies (the permuted-label model\n"
              "should be at chance, 25%). --real-weights / --permuted-weights FILE reuse trained models (e.g. from\n"
              "--save-weights DIR of an earlier run). docs/evaluation.md.",
          .flags = {{.name = "model", .metavar = "shapes_cnn", .help = "model (default shapes_cnn)"},
                    {.name = "data", .metavar = "builtin:shapes|DIR", .help = "images (default builtin:shapes, true classes; DIR: top-1)"},
                    {.name = "methods", .metavar = "LIST", .help = std::string("methods (default ") + kDefaultMethods + ")"},
                    {.name = "mode", .metavar = "cascading|independent|labels", .help = "randomisation (default cascading)"},
                    {.name = "images", .metavar = "N", .help = "images (default 4)"},
                    {.name = "seed", .metavar = "S", .help = "randomisation and method seed; labels: init, shuffling and permutation (default 0)"},
                    {.name = "layer", .metavar = "PATH", .help = "layer for CAM/layer methods (default features.10)"},
                    {.name = "out", .metavar = "FILE.png", .help = "the figure: rows of maps per method"},
                    {.name = "json", .kind = FlagKind::Bool, .help = "print JSON instead of the markdown table"},
                    {.name = "max-pixels", .metavar = "N", .help = "decoded-pixel cap of DIR images"},
                    {.name = "threads", .metavar = "N", .help = "CPU threads"},
                    {.name = "epochs", .metavar = "N", .help = "labels: training epochs (default 3)"},
                    {.name = "samples", .metavar = "N", .help = "labels: training samples (default 2000)"},
                    {.name = "batch", .metavar = "N", .help = "labels: minibatch size (default 32)"},
                    {.name = "lr", .metavar = "X", .help = "labels: Adam learning rate (default 0.002)"},
                    {.name = "held-out", .metavar = "N", .help = "labels: held-out samples for the accuracies (default 500)"},
                    {.name = "real-weights", .metavar = "FILE|default", .help = "labels: the true-label model instead of training it (`default`: the embedded model)"},
                    {.name = "permuted-weights", .metavar = "FILE|default", .help = "labels: the permuted-label model instead of training it"},
                    {.name = "save-weights", .metavar = "DIR", .help = "labels: write the trained models as DIR/real.safetensors, DIR/permuted.safetensors"}},
          .run = run_sanity};
}

}  // namespace backlight::cli
