// `backlight evaluate`: methods x metrics on generated shapes images with the default model
// (docs/evaluation.md). Metrics come from attribution/metrics/; this file only loops and prints.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <span>
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
#include "render/table_picture.h"
#include "tools/cluster/cluster.h"
#include "attribution/core/packing.h"
#include "tools/cluster/unit_cache.h"

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

// Chunk k's seed: the --seed itself for the first chunk (so runs of at most one chunk keep the
// values evaluate always gave), a SplitMix64 mix of (seed, k) for the others.
uint64_t chunk_seed(uint64_t seed, int64_t k) {
  if (k == 0) return seed;
  uint64_t z = seed + 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(k + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// One chunk's results: per method its attribution seconds and per metric the chunk's per-image
// values (NaN for a metric that does not apply).
struct ChunkResult {
  int64_t chunk = 0;
  std::vector<double> seconds;                    // [method]
  std::vector<std::vector<double>> values;        // [method * metrics + metric][image of the chunk]
};

void pack_chunk(Packer& p, const ChunkResult& c) {
  p.put<int64_t>(c.chunk);
  p.put_span(std::span<const double>(c.seconds));
  p.put<uint64_t>(c.values.size());
  for (const std::vector<double>& v : c.values) p.put_span(std::span<const double>(v));
}

ChunkResult unpack_chunk(Unpacker& u) {
  ChunkResult c;
  c.chunk = u.get<int64_t>();
  c.seconds = u.get_vector<double>();
  const uint64_t cells = u.get<uint64_t>();
  for (uint64_t k = 0; k < cells; ++k) c.values.push_back(u.get_vector<double>());
  return c;
}

std::string unit_key(int64_t chunk) { return "chunk-" + std::to_string(chunk); }

// Chunk k from the cache: nullopt when absent, or when its bytes do not hold chunk k with `methods`
// x `metrics` values for `len` images (a unit of another build's format is computed again).
std::optional<ChunkResult> cached_chunk(UnitCache& cache, int64_t k, size_t methods, size_t metrics, int64_t len) {
  const std::optional<std::string> bytes = cache.load(unit_key(k));
  if (!bytes) return std::nullopt;
  try {
    Unpacker u(*bytes, "evaluate: cached " + unit_key(k));
    ChunkResult c = unpack_chunk(u);
    bool ok = u.done() && c.chunk == k && c.seconds.size() == methods && c.values.size() == methods * metrics;
    for (const std::vector<double>& v : c.values) ok = ok && static_cast<int64_t>(v.size()) == len;
    if (ok) return c;
  } catch (const Error&) {
  }
  cache.discard(unit_key(k));
  return std::nullopt;
}

// evaluation.png: the markdown table as a picture (mean +- se per cell).
Tensor table_image(const std::vector<Row>& rows, const std::vector<std::string>& metrics, int64_t count,
                   const std::string& model) {
  std::vector<std::string> header{"method"};
  header.insert(header.end(), metrics.begin(), metrics.end());
  header.push_back("s / image");
  std::vector<std::vector<std::string>> cells;
  char buf[64];
  for (const Row& r : rows) {
    std::vector<std::string> line{r.method};
    for (const MeanSe& v : r.metrics) {
      if (std::isfinite(v.mean)) std::snprintf(buf, sizeof buf, "%.3f +- %.3f", v.mean, v.se);
      else std::snprintf(buf, sizeof buf, "-");
      line.push_back(buf);
    }
    std::snprintf(buf, sizeof buf, "%.4f", r.seconds);
    line.push_back(buf);
    cells.push_back(std::move(line));
  }
  return table_picture(header, cells,
                       {.title = "backlight evaluate: " + model + ", " + std::to_string(count) +
                                 " images (mean +- standard error)"});
}

int run_evaluate(const Args& args) {
  // The validators explain uses (flag_checks.h): usage errors before any work, exit 2.
  const int64_t images = positive_flag(args, "images", kMaxImages).value_or(16);
  const uint64_t seed = seed_flag(args).value_or(kShapesCnnDataSeed);
  if (const auto t = threads_flag(args)) set_num_threads(*t);
  const int64_t chunk = positive_flag(args, "chunk", kMaxImages).value_or(16);
  const std::optional<std::string> out = args.get("out");
  if (out) check_output_dir(*out, "evaluate: --out");  // before the work, not after
  const std::optional<std::string> chart_out = args.get("chart");
  if (chart_out) require_image_extension(args, "chart", *chart_out);
  MetricParams params = metric_params_from_flags(args, seed);

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
  if (params.fragility.attack == FragilityAttack::TopK)  // the top-k attack needs gradient maps
    for (const std::string& m : metric_names)
      if (m == "fragility" || m == "fragility_spearman")
        for (const std::string& name : names)
          if (name != "saliency" && name != "input_x_gradient")
            throw UsageError("evaluate: --fragility-attack topk applies to --methods saliency,input_x_gradient, got " +
                             name);
  const std::string layer = args.get_or("layer", onnx ? "" : "features.10");  // "": CAM finds the maps itself
  if (!onnx) params.fragility.lower_bound = 0, params.fragility.upper_bound = 1;  // shapes pixels lie in [0, 1]

  const Cluster cluster("evaluate");  // one process, or this rank of an mpirun/srun job
  const std::string who = cluster.distributed() ? "evaluate: " + cluster.describe() : "evaluate";
  ModulePtr model = onnx ? load_onnx_model(model_name) : default_model();
  if (tabular) model = std::make_shared<RowsAsImages>(model, onnx_data.inputs.size(3));
  std::vector<MethodInfo> infos = methods();
  for (const std::string& name : names)
    for (const MethodInfo& info : infos)
      if (info.name == name && tabular && (info.family == "cam" || info.family == "attention" || name == "rise"))
        throw UsageError("evaluate: --methods " + name + " does not apply to tabular rows (--input '" + *input +
                         "'): it needs image feature maps [N,C,H,W]");
  ShapesBatch onnx_all;  // --input with its top-1 targets (every rank computes the same)
  if (onnx) {
    onnx_all.images = onnx_data.inputs;
    const Tensor logits = top1(*model, onnx_all.images, *input);
    const int64_t n = logits.size(0), k = logits.numel() / n;
    for (int64_t i = 0; i < n; ++i)
      onnx_all.labels.push_back(std::max_element(logits.data() + i * k, logits.data() + (i + 1) * k) - (logits.data() + i * k));
  }
  const int64_t count = onnx ? onnx_all.images.size(0) : images;
  const size_t nm = names.size(), nk = metric_names.size();

  // Items are chunks of --chunk images; chunk k goes to rank k % ranks. A chunk is computed the
  // same way whatever the rank count (same images, same seeds), so every per-image value is; a
  // rerun loads the chunks an earlier run of the same job finished (docs/cluster.md).
  static constexpr std::string_view kOutputFlags[] = {"chart"};
  UnitCache cache = open_unit_cache(args, cluster, kOutputFlags);
  const int64_t chunks = (count + chunk - 1) / chunk;
  const auto chunk_length = [&](int64_t k) { return std::min(chunk, count - k * chunk); };
  std::vector<ChunkResult> mine;
  std::vector<int64_t> pending;
  for (size_t ck : cluster.shard(static_cast<size_t>(chunks))) {
    const int64_t k = static_cast<int64_t>(ck);
    if (std::optional<ChunkResult> c = cached_chunk(cache, k, nm, nk, chunk_length(k))) mine.push_back(std::move(*c));
    else pending.push_back(k);
  }
  const size_t resumed = report_resumed(cache, cluster, "evaluate", static_cast<size_t>(chunks));
  for (const int64_t k : pending) {
    const int64_t begin = k * chunk, len = chunk_length(k);
    cache.begin(unit_key(k));
    ShapesBatch data;
    if (onnx) {
      data.images = onnx_all.images.slice_batch(begin, begin + len);
      data.labels.assign(onnx_all.labels.begin() + begin, onnx_all.labels.begin() + begin + len);
    } else {
      data = make_shapes_batch(ShapesConfig{}, seed, kShapesHeldOutBegin + begin, len);
    }
    const Target target = Target::indices(data.labels);
    MetricParams p = params;
    p.seed = chunk_seed(seed, k);
    ChunkResult cr{.chunk = k};
    for (const std::string& name : names) {
      MethodOptions mo;
      mo.seed = p.seed;
      for (const MethodInfo& info : infos)
        if (info.name == name && (info.needs_layer || info.family == "cam")) mo.layer = layer;
      if (name == "occlusion" && !onnx) mo.window = {3, 8, 8}, mo.stride = {3, 4, 4};
      const auto t0 = std::chrono::steady_clock::now();
      const Tensor attr = attribute(name, *model, data.images, target, mo).attribution;
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      cr.seconds.push_back(secs);
      const MetricInput in{.model = *model, .images = data.images, .masks = data.masks, .target = target,
                           .method = name, .method_options = mo, .attributions = attr, .tabular = tabular};
      const auto m0 = std::chrono::steady_clock::now();
      for (const std::string& metric : metric_names) {
        // Localisation needs the shapes' ground-truth masks: not for imported models' own data.
        if (onnx && metric_needs_masks(metric)) cr.values.emplace_back(static_cast<size_t>(len), std::nan(""));
        else cr.values.push_back(metric_values(metric, in, p));
      }
      std::cerr << who << ": images " << begin << ".." << begin + len - 1 << ": " << name << " (" << secs
                << " s attribution, "
                << std::chrono::duration<double>(std::chrono::steady_clock::now() - m0).count() << " s metrics)\n";
    }
    Packer unit;
    pack_chunk(unit, cr);
    cache.store(unit_key(k), unit.bytes());
    mine.push_back(std::move(cr));
  }

  // The per-image values meet on rank 0 and are reduced there in image order: the table is the
  // single-process table bit for bit, whatever the rank count (docs/cluster.md).
  std::vector<ChunkResult> all;
  if (cluster.distributed()) {
    Packer p;
    p.put<uint64_t>(mine.size());
    for (const ChunkResult& c : mine) pack_chunk(p, c);
    const std::vector<std::string> parts = cluster.gather(p.take());
    if (!cluster.leader()) return 0;
    for (const std::string& part : parts) {
      Unpacker u(part, "evaluate: gathering the chunks");
      const uint64_t n = u.get<uint64_t>();
      for (uint64_t i = 0; i < n; ++i) all.push_back(unpack_chunk(u));
    }
  } else {
    all = std::move(mine);
  }
  std::sort(all.begin(), all.end(), [](const ChunkResult& a, const ChunkResult& b) { return a.chunk < b.chunk; });
  BL_CHECK(static_cast<int64_t>(all.size()) == chunks, "evaluate: ", all.size(), " of ", chunks,
           " chunks arrived on rank 0");
  std::vector<Row> rows;
  for (size_t m = 0; m < nm; ++m) {
    Row r{.method = names[m]};
    double secs = 0;
    for (const ChunkResult& c : all) secs += c.seconds[m];
    r.seconds = secs / static_cast<double>(count);
    for (size_t k = 0; k < nk; ++k) {
      std::vector<double> v;
      for (const ChunkResult& c : all) v.insert(v.end(), c.values[m * nk + k].begin(), c.values[m * nk + k].end());
      const bool applies = !(onnx && metric_needs_masks(metric_names[k]));
      r.metrics.push_back(applies ? mean_se(v) : MeanSe{std::nan(""), std::nan("")});
    }
    rows.push_back(r);
  }

  const std::string md = markdown(rows, metric_names);
  std::cout << md;
  if (out) {
    nlohmann::json j = {{"images", count}, {"seed", seed}, {"model", model_name}, {"layer", layer},
                        {"metrics", metric_names}, {"chunk", chunk}, {"ranks", cluster.size()},
                        {"resumed", resumed}};
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
    StagedFiles files;  // all three files or none, each write checked
    files.stage(*out + "/evaluation.json", j.dump(2) + "\n");
    files.stage(*out + "/evaluation.md", md);
    files.stage(*out + "/evaluation.png",
                encode_image(table_image(rows, metric_names, count, model_name), ImageFormat::Png,
                             *out + "/evaluation.png"));
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
              "Metric parameters are flags with the papers' defaults. See docs/metrics.md and docs/evaluation.md.\n"
              "Under mpirun/srun the chunks of --chunk images are shared by the ranks and rank 0 writes the table,\n"
              "identical to a single-process run's (docs/cluster.md).",
          .flags = {{.name = "methods", .metavar = "LIST", .help = std::string("comma-separated methods (default ") +
                                                                    kDefaultMethods + ")"},
                    {.name = "images", .metavar = "N", .help = "number of images, 1 to 1048576 (default 16)"},
                    {.name = "seed", .metavar = "S", .help = "dataset and metric seed (default 1)"},
                    {.name = "layer", .metavar = "PATH", .help = "layer for CAM/layer methods (default features.10; FILE.onnx: found by CAM)"},
                    {.name = "model", .metavar = "shapes_cnn|FILE.onnx", .help = "model (default shapes_cnn on generated shapes images)"},
                    {.name = "input", .metavar = "FILE.npy", .help = "FILE.onnx: float32 images [N,C,H,W] or rows [N,F] (targets: top-1)"},
                    {.name = "out", .metavar = "DIR", .help = "also write DIR/evaluation.json, .md and .png (the table as a picture); finished chunks go to DIR/.backlight-cache (a rerun resumes)"},
                    {.name = "chunk", .metavar = "N", .help = "images per unit of work (default 16; seeds are per chunk, so values depend on it, not on the rank count)"},
                    {.name = "threads", .metavar = "N", .help = "CPU threads, 1 to 4 x the hardware threads"},
                    {.name = "metrics", .metavar = "LIST", .help = std::string("comma-separated metrics or all (default ") + kDefaultEvaluateMetrics + ")"},
                    {.name = "chart", .metavar = "FILE.png", .help = "also draw the means as bar charts (one panel per metric)"}},
          .run = run_evaluate};
  c.flags.insert(c.flags.end(), metric_flags.begin(), metric_flags.end());
  for (FlagSpec& f : unit_cache_flags()) c.flags.push_back(std::move(f));
  return c;
}

}  // namespace backlight::cli
