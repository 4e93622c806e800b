// `backlight sanity`: the model-randomisation sanity checks of Adebayo et al. 2018 from the
// command line (docs/evaluation.md): per method, maps as the layers are randomised (cascading from
// the top, or one layer at a time), the paper's similarities per step, a figure and JSON.
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "attribution/metrics/map_similarity.h"
#include "attribution/metrics/randomisation.h"
#include "attribution/metrics/scoring.h"
#include "attribution/registry.h"
#include "engine/error.h"
#include "engine/parallel.h"
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

// Item i's channel-summed map as a plane; `unit`: scaled to [0, 1] by |.| / max |.| (the paper's
// normalisation before SSIM and HOG).
MapPlane plane(const Tensor& a, int64_t i, bool unit) {
  const int64_t c = a.size(1), h = a.size(2), w = a.size(3);
  MapPlane p{std::vector<double>(static_cast<size_t>(h * w), 0.0), h, w};
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t j = 0; j < h * w; ++j) p.values[static_cast<size_t>(j)] += a.data()[(i * c + ch) * h * w + j];
  if (unit) {
    double mx = 0;
    for (double& v : p.values) v = std::fabs(v), mx = std::max(mx, v);
    if (mx > 0)
      for (double& v : p.values) v /= mx;
  }
  return p;
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
  if (mode == "labels")
    throw UsageError("sanity: --mode labels (data randomisation) is not implemented yet; accepted: cascading, independent");
  if (mode != "cascading" && mode != "independent")
    throw UsageError("sanity: --mode accepts cascading or independent, got '" + mode + "'");
  const std::vector<std::string> names = method_list_flag(args, "methods", kDefaultMethods);
  const int64_t count = positive_flag(args, "images", 4096).value_or(4);
  const uint64_t seed = seed_flag(args).value_or(0);
  if (const auto t = threads_flag(args)) set_num_threads(*t);
  const std::optional<std::string> out = args.get("out");
  if (out) require_image_extension(args, "out", *out), check_output_file(*out, "sanity: --out");
  const std::string data_name = args.get_or("data", "builtin:shapes");
  const SanityData data = load_data(data_name, count, args);
  const ModulePtr model = default_model();
  const std::string layer = args.get_or("layer", "features.10");
  const int64_t n = data.images.size(0);

  nlohmann::json j = {{"model", model_name}, {"data", data_name}, {"mode", mode}, {"images", n}, {"seed", seed}};
  std::vector<Tensor> rows;
  for (const std::string& name : names) {
    MethodOptions mo;
    mo.seed = seed;
    for (const MethodInfo& info : methods())
      if (info.name == name && (info.needs_layer || info.family == "cam")) mo.layer = layer;
    const RandomisationOptions ro{.seed = seed,
                                  .mode = mode == "independent" ? RandomisationMode::Independent : RandomisationMode::Cascading,
                                  .keep_maps = true};
    const std::vector<RandomisationStep> steps = model_randomisation(name, *model, data.images, data.target, mo, ro);
    nlohmann::json js;
    const ShapesConfig c{};
    std::vector<Panel> panels{{metrics::item(data.images, 0).reshape({3, c.height, c.width}).clone(), "input"}};
    for (const RandomisationStep& st : steps) {
      double sp = 0, sp_abs = 0, ss = 0, hg = 0;
      for (int64_t i = 0; i < n; ++i) {
        const MapPlane a0 = plane(steps[0].attribution, i, false), a1 = plane(st.attribution, i, false);
        sp += map_spearman(a0, a1, false) / static_cast<double>(n);
        sp_abs += map_spearman(a0, a1, true) / static_cast<double>(n);
        const MapPlane u0 = plane(steps[0].attribution, i, true), u1 = plane(st.attribution, i, true);
        ss += ssim(u0, u1, 1.0) / static_cast<double>(n);
        hg += hog_similarity(u0, u1) / static_cast<double>(n);
      }
      js.push_back({{"layer", st.layer.empty() ? "original" : st.layer}, {"spearman", sp}, {"spearman_abs", sp_abs},
                    {"ssim", ss}, {"hog", hg}});
      const MapPlane u = plane(st.attribution, 0, true);
      Tensor m = Tensor::empty(Shape{u.height, u.width});
      for (int64_t k = 0; k < m.numel(); ++k) m.data()[k] = static_cast<float>(u.values[static_cast<size_t>(k)]);
      panels.push_back({visualize_attribution(m, metrics::item(data.images, 0).reshape({3, u.height, u.width}),
                                              {.sign = VisualSign::AbsoluteValue}),
                        (st.layer.empty() ? name : "-" + st.layer)});
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
          .summary = "model-randomisation sanity checks (Adebayo et al. 2018): maps and similarities per layer",
          .description =
              "For each method, re-runs the attribution while the model's layers are randomised from the top\n"
              "(cascading) or one at a time (independent), and reports per step the mean over the images of the\n"
              "Spearman rank correlation with the original map (signed and absolute), SSIM and HOG similarity of\n"
              "the [0,1]-normalised absolute maps. --out draws one row per method (first image). docs/evaluation.md.",
          .flags = {{.name = "model", .metavar = "shapes_cnn", .help = "model (default shapes_cnn)"},
                    {.name = "data", .metavar = "builtin:shapes|DIR", .help = "images (default builtin:shapes, true classes; DIR: top-1)"},
                    {.name = "methods", .metavar = "LIST", .help = std::string("methods (default ") + kDefaultMethods + ")"},
                    {.name = "mode", .metavar = "cascading|independent", .help = "randomisation (default cascading)"},
                    {.name = "images", .metavar = "N", .help = "images (default 4)"},
                    {.name = "seed", .metavar = "S", .help = "randomisation and method seed (default 0)"},
                    {.name = "layer", .metavar = "PATH", .help = "layer for CAM/layer methods (default features.10)"},
                    {.name = "out", .metavar = "FILE.png", .help = "the figure: rows of maps per method"},
                    {.name = "json", .kind = FlagKind::Bool, .help = "print JSON instead of the markdown table"},
                    {.name = "max-pixels", .metavar = "N", .help = "decoded-pixel cap of DIR images"},
                    {.name = "threads", .metavar = "N", .help = "CPU threads"}},
          .run = run_sanity};
}

}  // namespace backlight::cli
