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
#include "tools/commands/evaluate_metrics.h"
#include "tools/commands/flag_checks.h"
#include "io/image_io.h"
#include "render/bar_chart.h"

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
  std::vector<MeanSe> metrics;  // one per selected metric; NaN mean: not applicable (no masks)
  double seconds = 0;
};

std::string markdown(const std::vector<Row>& rows, const std::vector<std::string>& metrics) {
  std::ostringstream os;
  os << std::fixed << "| method |";
  for (const std::string& m : metrics) os << " " << m << " |";
  os << " s / image |\n|---|";
  for (size_t i = 0; i < metrics.size(); ++i) os << "---|";
  os << "---|\n";
  for (const Row& r : rows) {
    os << "| " << r.method << " |";
    for (const MeanSe& v : r.metrics) {
      if (std::isfinite(v.mean)) os << " " << std::setprecision(3) << v.mean << " +- " << v.se << " |";
      else os << " - |";  // no ground-truth masks
    }
    os << " " << std::setprecision(4) << r.seconds << " |\n";
  }
  return os.str();
}

// One bar panel per metric, one bar per method (the means).
Tensor chart(const std::vector<Row>& rows, const std::vector<std::string>& metrics, int64_t count) {
  std::vector<BarPanel> panels;
  for (size_t k = 0; k < metrics.size(); ++k) {
    BarPanel p{.title = metrics[k] + " (mean of " + std::to_string(count) + " images)"};
    for (const Row& r : rows)
      if (std::isfinite(r.metrics[k].mean)) p.names.push_back(r.method), p.values.push_back(static_cast<float>(r.metrics[k].mean));
    if (!p.values.empty()) panels.push_back(std::move(p));
  }
  return bar_chart(panels, "backlight evaluate", 800);
}

int run_evaluate(const Args& args) {
  // The validators explain uses (flag_checks.h): usage errors before any work, exit 2.
  const int64_t images = positive_flag(args, "images", kMaxImages).value_or(16);
  const uint64_t seed = seed_flag(args).value_or(kShapesCnnDataSeed);
  if (const auto t = threads_flag(args)) set_num_threads(*t);
  const std::optional<std::string> out = args.get("out");
  if (out) check_output_dir(*out, "evaluate: --out");  // before the work, not after
  const std::optional<std::string> chart_out = args.get("chart");
  if (chart_out) require_image_extension(args, "chart", *chart_out);
  const MetricParams params = metric_params_from_flags(args, seed);

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
  const std::vector<std::string> metric_names = name_list_flag(args, "metrics", kDefaultEvaluateMetrics, evaluate_metric_names());
  if (onnx && args.has("metrics"))
    for (const std::string& m : metric_names)
      if (metric_needs_masks(m))
        throw UsageError("evaluate: --metrics " + m + " needs ground-truth masks (the shapes dataset); --model " +
                         model_name + " has none");
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
    const MetricInput in{.model = *model, .images = data.images, .masks = data.masks, .target = target,
                         .method = name, .method_options = mo, .attributions = attr, .tabular = tabular};
    for (const std::string& metric : metric_names) {
      // Localisation needs the shapes' ground-truth masks: not for imported models' own data.
      if (onnx && metric_needs_masks(metric)) {
        r.metrics.push_back({std::nan(""), std::nan("")});
        continue;
      }
      const auto m0 = std::chrono::steady_clock::now();
      r.metrics.push_back(mean_se(metric_values(metric, in, params)));
      std::cerr << "evaluate: " << name << " " << metric << " ("
                << std::chrono::duration<double>(std::chrono::steady_clock::now() - m0).count() << " s)\n";
    }
    std::cerr << "evaluate: " << name << " done (" << secs << " s attribution)\n";
    rows.push_back(r);
  }

  const std::string md = markdown(rows, metric_names);
  std::cout << md;
  if (out) {
    nlohmann::json j = {{"images", count}, {"seed", seed}, {"model", model_name}, {"layer", layer},
                        {"metrics", metric_names}};
    if (input) j["input"] = *input, j["targets"] = "top1";
    const auto number = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
    for (const Row& r : rows) {
      nlohmann::json m = {{"method", r.method}, {"seconds_per_image", r.seconds}};
      for (size_t k = 0; k < metric_names.size(); ++k) {
        const MeanSe& v = r.metrics[k];
        m[metric_json_key(metric_names[k])] = number(v.mean);  // the mean, as before --metrics
        m["metrics"][metric_names[k]] = {{"mean", number(v.mean)}, {"se", number(v.se)}};
      }
      j["methods"].push_back(m);
    }
    StagedFiles files;  // both files or neither, each write checked
    files.stage(*out + "/evaluation.json", j.dump(2) + "\n");
    files.stage(*out + "/evaluation.md", md);
    files.commit();
  }
  if (chart_out) write_image(*chart_out, chart(rows, metric_names, count));
  return 0;
}

}  // namespace

Command evaluate_command() {
  const std::vector<FlagSpec> metric_flags = evaluate_metric_flags();
  Command c{.name = "evaluate",
          .summary = "score attribution methods on generated shapes images (localisation, deletion, infidelity)",
          .description =
              "Runs each method on N held-out images of the shapes dataset with the default model (or on --input\n"
              "with --model FILE.onnx), explaining the true class (top-1 for FILE.onnx), and prints a markdown table\n"
              "of the --metrics (mean +- standard error over the images) and attribution seconds per image.\n"
              "Metric parameters are flags with the papers' defaults. See docs/metrics.md and docs/evaluation.md.",
          .flags = {{.name = "methods", .metavar = "LIST", .help = std::string("comma-separated methods (default ") +
                                                                    kDefaultMethods + ")"},
                    {.name = "images", .metavar = "N", .help = "number of images, 1 to 1048576 (default 16)"},
                    {.name = "seed", .metavar = "S", .help = "dataset and metric seed (default 1)"},
                    {.name = "layer", .metavar = "PATH", .help = "layer for CAM/layer methods (default features.10; FILE.onnx: found by CAM)"},
                    {.name = "model", .metavar = "shapes_cnn|FILE.onnx", .help = "model (default shapes_cnn on generated shapes images)"},
                    {.name = "input", .metavar = "FILE.npy", .help = "FILE.onnx: float32 images [N,C,H,W] or rows [N,F] (targets: top-1)"},
                    {.name = "out", .metavar = "DIR", .help = "also write DIR/evaluation.json and DIR/evaluation.md"},
                    {.name = "threads", .metavar = "N", .help = "CPU threads, 1 to 4 x the hardware threads"},
                    {.name = "metrics", .metavar = "LIST", .help = std::string("comma-separated metrics or all (default ") + kDefaultEvaluateMetrics + ")"},
                    {.name = "chart", .metavar = "FILE.png", .help = "also draw the means as bar charts (one panel per metric)"}},
          .run = run_evaluate};
  c.flags.insert(c.flags.end(), metric_flags.begin(), metric_flags.end());
  return c;
}

}  // namespace backlight::cli
