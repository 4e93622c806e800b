// `backlight sanity`: the sanity checks of Adebayo et al. 2018 from the command line
// (docs/evaluation.md): per method, maps as the layers are randomised (cascading from the top, or
// one layer at a time) or of a model retrained on permuted labels (sanity_labels.h), the paper's
// similarities per step (planes from sanity_maps.h), a figure and JSON.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "attribution/core/progress.h"
#include "attribution/metrics/map_similarity.h"
#include "attribution/metrics/randomisation.h"
#include "attribution/metrics/scoring.h"
#include "attribution/registry.h"
#include "engine/error.h"
#include "engine/parallel.h"
#include "engine/tape.h"
#include "engine/workspace.h"
#include "io/file_checks.h"
#include "io/image_io.h"
#include "models/data/shapes.h"
#include "models/default_model.h"
#include "render/grid.h"
#include "render/heatmap.h"
#include "render/resize.h"
#include "tools/cli/image_list.h"
#include "tools/cluster/cluster.h"
#include "attribution/core/packing.h"
#include "tools/cli/limits.h"
#include "tools/commands/command.h"
#include "tools/commands/flag_checks.h"
#include "tools/commands/recipe_flags.h"
#include "tools/commands/sanity_labels.h"
#include "tools/commands/sanity_chunks.h"
#include "tools/commands/sanity_maps.h"
#include "tools/cluster/unit_cache.h"

namespace backlight::cli {

namespace {

constexpr const char* kDefaultMethods = "saliency,integrated_gradients,guided_backprop,grad_cam";

SanityData list_data(const std::string& data, int64_t count, const Args& args) {
  SanityData d{.name = data, .count = count, .max_pixels = max_pixels_flag(args)};
  if (data == "builtin:shapes") return d;
  if (!std::filesystem::is_directory(data))
    throw UsageError("sanity: --data '" + data + "' is neither builtin:shapes nor a folder of images");
  d.files = list_images(data);
  if (d.files.empty()) throw UsageError("sanity: --data '" + data + "' holds no images (expected builtin:shapes or a folder of images)");
  d.count = std::min<int64_t>(count, static_cast<int64_t>(d.files.size()));
  return d;
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
    for (const char* flag : {"epochs", "samples", "batch", "lr", "held-out", "real-weights", "permuted-weights", "save-weights",
                             "optimizer", "momentum", "schedule", "warmup", "init-data"})
      if (args.has(flag))
        throw UsageError(std::string("sanity: --") + flag + " applies to --mode labels (data randomisation) only");
  const std::vector<std::string> names = method_list_flag(args, "methods", kDefaultMethods);
  const int64_t count = positive_flag(args, "images", 4096).value_or(4);
  const uint64_t seed = seed_flag(args).value_or(0);
  const int threads = std::clamp(threads_flag(args).value_or(num_threads()), 1, max_threads());
  const std::optional<std::string> out = args.get("out");
  if (out) require_image_extension(args, "out", *out), check_output_file(*out, "sanity: --out");
  const Cluster cluster("sanity");  // one process, or this rank of an mpirun/srun job
  // Labels mode trains its two models before any map is compared: every rank would train them.
  if (mode == "labels" && args.has("cache"))
    throw UsageError("sanity: --cache applies to --mode cascading and independent (labels mode does not resume)");
  if (mode == "labels" && cluster.distributed())
    throw UsageError("sanity: --mode labels trains two models first and runs as one process; start it without mpirun");
  SanityJob job;
  job.data = list_data(args.get_or("data", "builtin:shapes"), count, args);
  job.chunk = positive_flag(args, "chunk", 4096).value_or(2);
  std::optional<LabelModels> label_models;
  if (mode == "labels") label_models = label_randomisation_models(args);
  const ModulePtr model = label_models ? label_models->real : default_model();
  job.model = model.get();
  if (label_models) job.permuted = label_models->permuted.get();
  job.methods = names;
  job.mode = mode;
  job.layer = args.get_or("layer", "features.10");
  job.seed = seed;
  job.who = cluster.distributed() ? "sanity: " + cluster.describe() : "sanity";
  // Step names after "original": the layers randomised (from the top), or the permuted-label model.
  const std::vector<std::string> layers =
      label_models ? std::vector<std::string>{"permuted_labels"} : parameter_layers_top_down(*model);
  job.steps = 1 + layers.size();
  const int64_t chunks = (job.data.count + job.chunk - 1) / job.chunk;

  // Chunk k is rank k % size's; each rank's workers take its chunks in turn. A rerun loads the
  // chunks an earlier run of the same job finished (docs/cluster.md). Workers get their OpenMP
  // threads from the rank's whole share, so a resumed run computes a chunk as the first run did.
  UnitCache cache = mode == "labels" ? UnitCache() : open_unit_cache(args, cluster);
  std::vector<int64_t> share, pending;
  std::vector<ChunkOutput> outs;
  for (int64_t k = cluster.rank(); k < chunks; k += cluster.size()) {
    share.push_back(k);
    if (std::optional<ChunkOutput> o = cached_sanity_chunk(job, cache, k)) outs.push_back(std::move(*o));
    else pending.push_back(k);
  }
  const size_t resumed = report_resumed(cache, cluster, "sanity", static_cast<size_t>(chunks));
  const int per_worker = std::max(1, threads / std::max<int>(1, static_cast<int>(std::min<size_t>(threads, share.size()))));
  for (ChunkOutput& o : run_sanity_chunks(job, pending, threads, per_worker, cluster, cache)) outs.push_back(std::move(o));
  std::string error;
  for (const ChunkOutput& o : outs)
    if (error.empty() && !o.error.empty()) error = o.error;
  cluster.fail_together(error);

  // The figure shows the first readable image of the job: the rank holding it sends its maps
  // (from the chunk, the cache, or the chunk run again when it was resumed without them).
  int64_t first_here = -1;
  const ChunkOutput* holder = nullptr;
  for (const ChunkOutput& o : outs)
    if (o.first >= 0 && (first_here < 0 || o.first < first_here)) first_here = o.first, holder = &o;
  int64_t first = -1;
  for (const std::string& f : cluster.all_gather(std::to_string(first_here))) {
    const int64_t v = std::stoll(f);
    if (v >= 0 && (first < 0 || v < first)) first = v;
  }
  const bool sends_figure = out && first >= 0 && first == first_here;
  ChunkOutput figure_maps;
  std::string figure_error;
  if (sends_figure) {
    try {
      figure_maps = sanity_figure(job, *holder, first, per_worker, cache);
    } catch (const std::exception& e) {
      figure_error = e.what();
    }
  }
  cluster.fail_together(figure_error);
  Packer p;
  const size_t nm = names.size(), ns = job.steps;
  {
    std::vector<int64_t> index;
    std::vector<double> values;
    std::vector<std::pair<int64_t, std::string>> skipped;
    for (const ChunkOutput& o : outs) {
      for (const auto& [i, v] : o.images) index.push_back(i), values.insert(values.end(), v.begin(), v.end());
      skipped.insert(skipped.end(), o.skipped.begin(), o.skipped.end());
    }
    p.put_span(std::span<const int64_t>(index));
    p.put_span(std::span<const double>(values));
    p.put<uint64_t>(skipped.size());
    for (const auto& [i, e] : skipped) p.put<int64_t>(i), p.put_string(e);
    p.put<uint8_t>(sends_figure);
    if (sends_figure) {
      const ChunkOutput* figure = &figure_maps;
      p.put<int64_t>(figure->height);
      p.put<int64_t>(figure->width);
      p.put_span(std::span<const float>(figure->first_image.data(), static_cast<size_t>(figure->first_image.numel())));
      for (const std::vector<float>& pl : figure->planes) p.put_span(std::span<const float>(pl));
    }
  }
  const std::vector<std::string> parts = cluster.gather(p.take());
  size_t skipped_here = 0;
  for (const ChunkOutput& o : outs) skipped_here += o.skipped.size();
  if (!cluster.leader()) return skipped_here ? 1 : 0;  // rank 0 reports for the job

  // Per-image values in image order; the means summed in that order (as a single run does).
  std::map<int64_t, std::vector<double>> per_image;
  std::map<int64_t, std::string> skipped;
  Tensor figure_image;
  std::vector<std::vector<float>> planes;
  int64_t fh = 0, fw = 0;
  for (const std::string& part : parts) {
    Unpacker u(part, "sanity: gathering the similarities");
    const std::vector<int64_t> index = u.get_vector<int64_t>();
    const std::vector<double> values = u.get_vector<double>();
    const size_t per = nm * ns * kSanityMeasures;
    BL_CHECK(values.size() == index.size() * per, "sanity: a rank sent ", values.size(), " values for ", index.size(), " images");
    for (size_t k = 0; k < index.size(); ++k)
      per_image[index[k]].assign(values.begin() + static_cast<std::ptrdiff_t>(k * per),
                                 values.begin() + static_cast<std::ptrdiff_t>((k + 1) * per));
    const uint64_t ns_skipped = u.get<uint64_t>();
    for (uint64_t k = 0; k < ns_skipped; ++k) {
      const int64_t i = u.get<int64_t>();
      skipped[i] = u.get_string();
    }
    if (u.get<uint8_t>()) {
      fh = u.get<int64_t>();
      fw = u.get<int64_t>();
      const std::vector<float> img = u.get_vector<float>();
      figure_image = Tensor::empty(Shape{3, fh, fw});
      BL_CHECK(static_cast<int64_t>(img.size()) == figure_image.numel(), "sanity: the figure's image has ", img.size(), " values");
      std::copy(img.begin(), img.end(), figure_image.data());
      for (size_t k = 0; k < nm * ns; ++k) planes.push_back(u.get_vector<float>());
    }
  }
  const int64_t n = static_cast<int64_t>(per_image.size());
  BL_CHECK(n > 0, "sanity: none of the ", job.data.count, " images of '", job.data.name, "' could be read");

  nlohmann::json j = {{"model", model_name}, {"data", job.data.name}, {"mode", mode}, {"images", n}, {"seed", seed},
                      {"ranks", cluster.size()}, {"chunk", job.chunk}};
  if (label_models) j["models"] = label_models->report;
  j["skipped"] = nlohmann::json::array();
  for (const auto& [i, e] : skipped) j["skipped"].push_back({{"index", i}, {"error", e}});
  j["resumed"] = resumed;
  std::vector<Tensor> rows;
  for (size_t m = 0; m < nm; ++m) {
    nlohmann::json js;
    std::vector<Panel> panels{{figure_image, "input"}};
    for (size_t st = 0; st < ns; ++st) {
      double v[kSanityMeasures] = {0, 0, 0, 0};
      for (const auto& [i, values] : per_image)
        for (int q = 0; q < kSanityMeasures; ++q) v[q] += values[(m * ns + st) * kSanityMeasures + static_cast<size_t>(q)] / static_cast<double>(n);
      const std::string layer = st == 0 ? "original" : layers[st - 1];
      js.push_back({{"layer", layer}, {"spearman", v[0]}, {"spearman_abs", v[1]}, {"ssim", v[2]}, {"hog", v[3]}});
      if (!out) continue;  // no figure
      Tensor map = Tensor::empty(Shape{fh, fw});
      const std::vector<float>& pl = planes.at(m * ns + st);
      std::copy(pl.begin(), pl.end(), map.data());
      panels.push_back({visualize_attribution(map, figure_image, {.sign = VisualSign::AbsoluteValue}),
                        st == 0 ? names[m] : label_models ? "permuted labels" : "-" + layers[st - 1]});
    }
    j["methods"].push_back({{"method", names[m]}, {"steps", js}});
    if (out) rows.push_back(make_grid(panels, {.min_panel_size = 64, .gap = 4}));
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
  if (!skipped.empty()) {
    std::cerr << "sanity: " << skipped.size() << " of " << job.data.count << " images could not be read (reported above)\n";
    return 1;
  }
  return 0;
}

// The sanity flags plus the recipe flags of --mode labels (recipe_flags.h).
std::vector<FlagSpec> with_recipe_flags(std::vector<FlagSpec> flags) {
  for (FlagSpec& f : recipe_flag_specs(label_recipe_defaults())) {
    f.help = "labels: " + f.help;
    flags.push_back(std::move(f));
  }
  return flags;
}

std::string number_text(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
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
              "--save-weights DIR of an earlier run). docs/evaluation.md.\n"
              "Images are explained in chunks of --chunk by --threads workers; under mpirun/srun the chunks are\n"
              "shared among the processes and rank 0 writes the one summary, equal to a single run's\n"
              "(docs/cluster.md; --mode labels runs as one process). A rerun of the same command resumes: chunks\n"
              "finished by an earlier run (kept beside --out, or in --cache DIR) are loaded, not recomputed.",
          .flags = with_recipe_flags({{.name = "model", .metavar = "shapes_cnn", .help = "model (default shapes_cnn)"},
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
                    {.name = "chunk", .metavar = "N", .help = "images per unit of work (a worker's batch; default 2)"},
                    {.name = "epochs", .metavar = "N", .help = "labels: training epochs (default " + std::to_string(label_recipe_defaults().epochs) + ")"},
                    {.name = "samples", .metavar = "N", .help = "labels: training samples (default " + std::to_string(kLabelSamplesDefault) + ")"},
                    {.name = "batch", .metavar = "N", .help = "labels: minibatch size (default " + std::to_string(label_recipe_defaults().batch) + ")"},
                    {.name = "lr", .metavar = "X", .help = "labels: (peak) learning rate (default " + number_text(label_recipe_defaults().lr) + ")"},
                    {.name = "held-out", .metavar = "N", .help = "labels: held-out samples for the accuracies (default 500)"},
                    {.name = "real-weights", .metavar = "FILE|default", .help = "labels: the true-label model instead of training it (`default`: the embedded model)"},
                    {.name = "permuted-weights", .metavar = "FILE|default", .help = "labels: the permuted-label model instead of training it"},
                    {.name = "save-weights", .metavar = "DIR", .help = "labels: write the trained models as DIR/real.safetensors, DIR/permuted.safetensors"},
                    {.name = "cache", .metavar = "DIR", .help = "keep finished chunks here; a rerun resumes from them (default: FILE.png.backlight-cache beside --out)"},
                    {.name = "fresh", .kind = FlagKind::Bool, .help = "recompute every chunk (ignore those of an earlier run)"}}),
          .run = run_sanity};
}

}  // namespace backlight::cli
