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
#include "models/onnx/model.h"
#include "engine/ops/ops.h"
#include "io/npy.h"
#include "tools/cli/finite_check.h"
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
// Imported models (--model FILE.onnx): no CAM default for tabular rows (no feature maps).
const char* kDefaultTabularMethods = "saliency,input_x_gradient,integrated_gradients,lrp,occlusion";

// Tabular rows [N, F] as [N, 1, 1, F] "images" of one row, so the pixel-ranking metrics (deletion,
// insertion) and infidelity run unchanged: the wrapped model sees [N, F] again. Not registered as
// a child, so the wrapped model's module paths stay as they are.
class RowsAsImages : public ModuleImpl<RowsAsImages> {
 public:
  RowsAsImages(ModulePtr inner, int64_t features) : inner_(std::move(inner)), features_(features) {}
  Var forward(const Var& x) const override {
    const std::vector<int64_t> dims{x.shape()[0], features_};
    return inner_->forward(reshape(x, dims, "rows"));
  }
  std::string type_name() const override { return "RowsAsImages"; }

 private:
  ModulePtr inner_;
  int64_t features_;
};

// The data of an imported model: --input FILE.npy, float32 [N,C,H,W] / [C,H,W] images or [N,F]
// rows (as [N,1,1,F]); the targets are the model's top-1 predictions (there are no labels).
struct OnnxData {
  Tensor inputs;
  bool tabular = false;
};
OnnxData load_onnx_data(const std::string& path, const std::string& model) {
  const NpyArray a = load_npy_array(path);
  if (a.dtype != NpyDtype::Float32)
    throw UsageError("evaluate: --input '" + path + "' holds " + to_string(a.dtype) + " token ids " +
                     a.values.shape().str() + "; the metrics (deletion, insertion, infidelity) change input values, "
                     "which ids do not have; expected float32 images [N,C,H,W] or rows [N,F]");
  Tensor t = a.values;
  check_finite(t, "evaluate: --input '" + path + "'");
  if (t.dim() == 3) t = t.reshape({1, t.size(0), t.size(1), t.size(2)});
  if (t.dim() == 1) t = t.reshape({1, t.size(0)});
  if (t.dim() == 2) return {t.reshape({t.size(0), 1, 1, t.size(1)}), true};
  if (t.dim() != 4)
    throw UsageError("evaluate: --input '" + path + "' has shape " + t.shape().str() + " for model " + model +
                     "; expected float32 images [N,C,H,W] or [C,H,W], or rows [N,F]");
  return {t, false};
}

Tensor top1(const Module& model, const Tensor& x, const std::string& path) {
  Tensor logits;
  try {
    Tape tape(TapeOptions{.record = false});
    logits = model.forward(tape.input(x)).value();
  } catch (const Error& e) {
    BL_THROW("evaluate: --input '", path, "' ", x.shape(), " does not fit the model: ", e.what());
  }
  return logits;
}

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
  for (const Row& r : rows) {
    os << "| " << r.method << " | " << std::setprecision(3);
    if (std::isfinite(r.pointing)) os << r.pointing << " | " << r.mass << " | ";
    else os << "- | - | ";  // no ground-truth masks
    os << r.deletion
       << " | " << r.insertion << " | " << std::setprecision(5) << r.infidelity << " | " << std::setprecision(4)
       << r.seconds << " |\n";
  }
  return os.str();
}

int run_evaluate(const Args& args) {
  // The validators explain uses (flag_checks.h): usage errors before any work, exit 2.
  const int64_t images = positive_flag(args, "images", kMaxImages).value_or(16);
  const uint64_t seed = seed_flag(args).value_or(kShapesCnnDataSeed);
  if (const auto t = threads_flag(args)) set_num_threads(*t);
  const std::optional<std::string> out = args.get("out");
  if (out) check_output_dir(*out, "evaluate: --out");  // before the work, not after

  const std::string model_name = args.get_or("model", "shapes_cnn");
  const bool onnx = model_name.ends_with(".onnx");
  if (!onnx && model_name != "shapes_cnn")
    throw UsageError("evaluate: --model accepts shapes_cnn (the default, on generated shapes images) or FILE.onnx, got '" +
                     model_name + "'");
  const std::optional<std::string> input = args.get("input");
  if (onnx && !input)
    throw UsageError("evaluate: --model " + model_name +
                     " needs --input FILE.npy (float32 images [N,C,H,W] or rows [N,F] to score on)");
  if (!onnx && input) throw UsageError("evaluate: --input applies to --model FILE.onnx");
  if (onnx && args.has("images")) throw UsageError("evaluate: --images applies to the shapes dataset; --input gives the data of --model FILE.onnx");
  if (onnx) check_input_file(model_name, "evaluate: --model");
  if (input) check_input_file(*input, "evaluate: --input");
  const OnnxData onnx_data = input ? load_onnx_data(*input, model_name) : OnnxData{};
  const bool tabular = onnx_data.tabular;
  const std::vector<std::string> names = method_list_flag(args, "methods", tabular ? kDefaultTabularMethods : kDefaultMethods);
  const std::string layer = args.get_or("layer", onnx ? "" : "features.10");  // "": CAM finds the maps itself

  ModulePtr model = onnx ? load_onnx_model(model_name) : default_model();
  if (tabular) model = std::make_shared<RowsAsImages>(model, onnx_data.inputs.size(3));
  std::vector<MethodInfo> infos = methods();
  for (const std::string& name : names)
    for (const MethodInfo& info : infos)
      if (info.name == name && tabular && (info.family == "cam" || info.family == "attention" || name == "rise"))
        throw UsageError("evaluate: --methods " + name + " does not apply to tabular rows (--input '" + *input +
                         "'): it needs image feature maps [N,C,H,W]");
  ShapesBatch data;
  if (onnx) {
    data.images = onnx_data.inputs;
    const Tensor logits = top1(*model, data.images, *input);
    const int64_t n = logits.size(0), k = logits.numel() / n;
    for (int64_t i = 0; i < n; ++i)
      data.labels.push_back(std::max_element(logits.data() + i * k, logits.data() + (i + 1) * k) - (logits.data() + i * k));
  } else {
    data = make_shapes_batch(ShapesConfig{}, seed, kShapesHeldOutBegin, images);
  }
  const Target target = Target::indices(data.labels);
  const int64_t count = data.images.size(0);

  std::vector<Row> rows;
  for (const std::string& name : names) {
    MethodOptions mo;
    mo.seed = seed;
    for (const MethodInfo& info : infos)
      if (info.name == name && (info.needs_layer || info.family == "cam")) mo.layer = layer;
    if (name == "occlusion" && !onnx) mo.window = {3, 8, 8}, mo.stride = {3, 4, 4};
    const auto t0 = std::chrono::steady_clock::now();
    const Tensor attr = attribute(name, *model, data.images, target, mo).attribution;
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    Row r{.method = name};
    r.seconds = secs / static_cast<double>(count);
    // Localisation needs the shapes' ground-truth masks: not for imported models' own data.
    r.pointing = onnx ? std::nan("") : mean(pointing_game(attr, data.masks));
    r.mass = onnx ? std::nan("") : mean(relevance_mass_accuracy(attr, data.masks));
    // Rows have no neighbourhood to blur: insertion starts from zeros.
    const InsertionStart start = tabular ? InsertionStart::Zero : InsertionStart::Blur;
    r.deletion = mean(deletion_curve(*model, data.images, attr, target, {.batch = 65}).auc);
    r.insertion = mean(insertion_curve(*model, data.images, attr, target, {.insertion_start = start, .batch = 65}).auc);
    r.infidelity = mean(infidelity(*model, data.images, expand_channels(attr, data.images.size(1)), target,
                                   {.samples = 10, .stdev = 0.05f, .seed = seed, .normalize = true, .batch = 64}));
    std::cerr << "evaluate: " << name << " done (" << secs << " s)\n";
    rows.push_back(r);
  }

  const std::string md = markdown(rows);
  std::cout << md;
  if (out) {
    nlohmann::json j = {{"images", count}, {"seed", seed}, {"model", model_name}, {"layer", layer}};
    if (input) j["input"] = *input, j["targets"] = "top1";
    const auto number = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
    for (const Row& r : rows)
      j["methods"].push_back({{"method", r.method}, {"pointing_game", number(r.pointing)}, {"relevance_mass", number(r.mass)},
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
                    {.name = "layer", .metavar = "PATH", .help = "layer for CAM/layer methods (default features.10; FILE.onnx: found by CAM)"},
                    {.name = "model", .metavar = "shapes_cnn|FILE.onnx", .help = "model (default shapes_cnn on generated shapes images)"},
                    {.name = "input", .metavar = "FILE.npy", .help = "FILE.onnx: float32 images [N,C,H,W] or rows [N,F] (targets: top-1)"},
                    {.name = "out", .metavar = "DIR", .help = "also write DIR/evaluation.json and DIR/evaluation.md"},
                    {.name = "threads", .metavar = "N", .help = "CPU threads, 1 to 4 x the hardware threads"}},
          .run = run_evaluate};
}

}  // namespace backlight::cli
