// `backlight dissect`: network dissection (Bau et al. 2017) of one convolutional layer over a
// concept-mask dataset (a folder with index.csv, or the built-in shapes dataset): per unit the
// best concept and its IoU, detectors per category, and a montage of the top units' top images
// with their thresholded masks. The work is attribution/concepts/dissection.h; the montage is
// dissect_montage.cpp.
#include <algorithm>
#include <climits>
#include <iomanip>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "attribution/concepts/dissection.h"
#include "engine/parallel.h"
#include "io/image_io.h"
#include "models/data/shapes.h"
#include "models/default_model.h"
#include "tools/cli/concept_data.h"
#include "tools/cluster/cluster.h"
#include "tools/commands/command.h"
#include "tools/commands/concept_model.h"
#include "tools/commands/dissect_montage.h"
#include "tools/commands/flag_checks.h"
#include "tools/commands/resume_units.h"

namespace backlight::cli {

namespace {

int run_dissect(const Args& args) {
  const double quantile = args.get_double("quantile").value_or(0.005);
  if (!(quantile > 0 && quantile < 1)) throw UsageError("dissect: --quantile expects a number in (0, 1), got " + std::to_string(quantile));
  const double iou_threshold = args.get_double("iou-threshold").value_or(0.04);
  if (!(iou_threshold >= 0 && iou_threshold < 1))
    throw UsageError("dissect: --iou-threshold expects a number in [0, 1), got " + std::to_string(iou_threshold));
  const double accuracy = args.get_double("sketch-accuracy").value_or(1e-3);
  if (!(accuracy > 0 && accuracy < 0.5))
    throw UsageError("dissect: --sketch-accuracy expects a number in (0, 0.5), got " + std::to_string(accuracy));
  const int64_t count = positive_flag(args, "count").value_or(200);
  const int64_t batch = positive_flag(args, "batch").value_or(16);
  const int64_t montage_units = args.get_int("montage-units", 1, 64).value_or(8);
  const int64_t top_images = args.get_int("top-images", 1, 16).value_or(4);
  const int64_t max_pixels = max_pixels_flag(args);
  const std::string out = args.get_or("out", "dissect.png");
  require_image_extension(args, "out", out);
  const std::string data_spec = args.get_or("data", "builtin:shapes");
  if (const auto t = threads_flag(args)) set_num_threads(*t);

  const Cluster cluster("dissect");  // one process, or this rank of an mpirun/srun job
  const LoadedModel m = load_concept_model("dissect", args.get_or("model", "shapes_cnn"), args.get("weights"), "--model");
  DissectionOptions o{.quantile = quantile,
                      .iou_threshold = iou_threshold,
                      .exact = args.flag("exact"),
                      .sketch_accuracy = accuracy,
                      .batch = batch,
                      .top_images = top_images,
                      .input_shape = m.input};
  o.mean = channel_values_flag(args, "dissect", "mean", m.input[0]);
  o.std = channel_values_flag(args, "dissect", "std", m.input[0]);
  if (cluster.distributed()) o.reducer = &cluster;  // batches sharded, sketches and counts reduced
  o.progress.enabled = o.progress.enabled && cluster.leader();

  std::unique_ptr<ConceptSource> data;
  const FolderConcepts* folder = nullptr;  // a folder dataset (its files identify the units)
  if (data_spec == "builtin:shapes") {
    data = std::make_unique<ShapesConcepts>(count, m.input[1], m.input[2]);
  } else {
    if (args.has("count")) throw UsageError("dissect: --count applies to --data builtin:shapes only");
    auto f = std::make_unique<FolderConcepts>(data_spec, max_pixels);
    folder = f.get();
    data = std::move(f);
  }
  Tensor probe = Tensor::empty(Shape{1, m.input[0], m.input[1], m.input[2]});
  std::fill(probe.data(), probe.data() + probe.numel(), 0.5f);
  o.layer = args.has("layer") ? *args.get("layer") : last_convolution(*m.model, probe);
  if (cluster.leader())
    std::cerr << "dissect: layer " << o.layer << " of " << m.label << " over " << data->size() << " images ("
            << data_spec << "), " << data->concepts().size() << " concepts, quantile " << quantile
            << (o.exact ? " (exact)" : "") << (cluster.distributed() ? ", " + std::to_string(cluster.size()) + " ranks" : "")
            << "\n";
  // Resume: batches' activations and IoU counts (resume_units.h); the montage and ranking flags
  // change no unit.
  static constexpr std::string_view kNoUnitChange[] = {"montage-units", "top-images", "iou-threshold"};
  const std::unique_ptr<ResumeUnits> units = ResumeUnits::open(args, cluster, kNoUnitChange);
  o.units = units.get();
  if (units && folder) {
    // A folder's files are not in the job's fingerprint: batch j's activations are keyed by its
    // images and masks, its IoU counts also by every file (the thresholds read all of them).
    const int64_t n = data->size();
    std::vector<std::string> all;
    for (int64_t i = 0; i < n; ++i)
      for (const std::string& f : folder->files(i)) all.push_back(f);
    const std::string everything = files_digest(all);
    units->inputs = [folder, n, batch, everything](std::string_view kind, int64_t j) {
      std::vector<std::string> files;
      for (int64_t i = j * batch; i < std::min(n, (j + 1) * batch); ++i)
        for (const std::string& f : folder->files(i)) files.push_back(f);
      if (kind == "iou") files.push_back("dataset " + everything);
      return files;
    };
  }
  // A bad image: reported by the rank that met it and left out; the job goes on and exits 1.
  const std::string who = cluster.distributed() ? "dissect: " + cluster.describe() : "dissect";
  o.skip = [&](int64_t i, const std::string& error) {
    std::cerr << who << ": skipped '" << data->name(i) << "': " << error << "\n";
  };
  const Dissection d = dissect(*m.model, *data, o);
  const int64_t resumed = report_resumed_units(cluster, units.get(), d.units_here, d.resumed_here, "dissect");
  if (!cluster.leader()) return d.skipped.empty() ? 0 : 1;  // every rank holds the same result; rank 0 reports it
  std::cerr << "dissect: " << d.passes << " passes in " << std::fixed << std::setprecision(2) << d.seconds << " s ("
            << std::setprecision(1) << static_cast<double>(d.images * d.passes) / std::max(d.seconds, 1e-9)
            << " images/s)\n";

  const std::vector<int64_t> ranked = ranked_units(d);
  write_image(out, dissection_montage(*m.model, *data, o, d, ranked, montage_units));
  const auto summary = detectors_per_category(d);
  int64_t detectors = 0;
  for (const auto& [cat, n] : summary) detectors += n;

  if (args.flag("json")) {
    nlohmann::json units = nlohmann::json::array();
    for (const UnitDissection& u : d.units) {
      nlohmann::json top = nlohmann::json::array();
      for (const auto& [v, i] : u.top_images) top.push_back({{"image", data->name(i)}, {"max_activation", v}});
      units.push_back({{"unit", u.unit},
                       {"threshold", u.threshold},
                       {"threshold_bounded", u.threshold_bounded},
                       {"concept", u.best_concept >= 0 ? nlohmann::json(d.concepts[u.best_concept].name) : nlohmann::json()},
                       {"category", u.best_concept >= 0 ? nlohmann::json(d.concepts[u.best_concept].category) : nlohmann::json()},
                       {"iou", u.iou},
                       {"detector", u.detector},
                       {"top_images", top}});
    }
    nlohmann::json concepts = nlohmann::json::array();
    for (const Concept& c : d.concepts) concepts.push_back({{"name", c.name}, {"category", c.category}});
    nlohmann::json per_cat = nlohmann::json::object();
    for (const auto& [cat, n] : summary) per_cat[cat] = n;
    nlohmann::json j = {{"command", "dissect"},   {"model", m.label},
                              {"layer", d.layer},       {"data", data_spec},
                              {"images", d.images},     {"quantile", quantile},
                              {"exact", o.exact},       {"sketch_accuracy", o.exact ? 0.0 : accuracy},
                              {"iou_threshold", iou_threshold}, {"passes", d.passes},
                              {"seconds", d.seconds},   {"concepts", concepts},
                              {"units", units},         {"detectors", detectors},
                              {"detectors_per_category", per_cat}, {"png", out},
                              {"ranks", cluster.size()}};
    nlohmann::json skipped = nlohmann::json::array();
    for (const auto& [i, error] : d.skipped) skipped.push_back({{"image", data->name(i)}, {"error", error}});
    j["skipped"] = skipped;
    j["resumed"] = resumed;
    std::cout << j.dump(2) << "\n";
    return d.skipped.empty() ? 0 : 1;
  }
  std::cout << "layer " << d.layer << ": " << d.units.size() << " units, " << detectors << " detectors (IoU > "
            << iou_threshold << ") over " << d.images << " images\n";
  for (const auto& [cat, n] : summary) std::cout << "  " << cat << ": " << n << "\n";
  std::cout << "unit  threshold   concept          category  IoU\n";
  for (int64_t k : ranked) {
    const UnitDissection& u = d.units[static_cast<size_t>(k)];
    std::cout << std::setw(4) << u.unit << "  " << std::setw(10) << std::setprecision(4) << u.threshold << "  "
              << std::left << std::setw(16) << (u.best_concept >= 0 ? d.concepts[u.best_concept].name : "-") << " "
              << std::setw(9) << (u.best_concept >= 0 ? d.concepts[u.best_concept].category : "-") << std::right
              << " " << std::setprecision(3) << u.iou << (u.detector ? "  *" : "") << "\n";
  }
  std::cout << "wrote " << out << "\n";
  if (!d.skipped.empty())
    std::cerr << "dissect: " << d.skipped.size() << " image(s) could not be read (reported above) and were left out\n";
  return d.skipped.empty() ? 0 : 1;
}

}  // namespace

Command dissect_command() {
  return {
      .name = "dissect",
      .summary = "network dissection: which concept each unit of a conv layer detects (IoU with concept masks)",
      .description =
          "Network dissection (Bau et al. 2017). For each unit (channel) of --layer: the threshold T_k at the top\n"
          "--quantile of its activations over the dataset (one streaming pass, relative error <= --sketch-accuracy;\n"
          "--exact: one more pass for the exact order statistic), the activation maps upsampled bilinearly to the\n"
          "mask resolution and binarised at T_k, and their IoU with every concept's masks, counted over the whole\n"
          "dataset. A unit is a detector of its best concept when that IoU > --iou-threshold. --data is a folder\n"
          "with index.csv (image,mask,concept,category; masks PNG or .npy) or builtin:shapes. Writes a montage of\n"
          "the top units' top-activating images with the thresholded mask. See docs/concepts.md.",
      .flags = {{.name = "model", .metavar = "NAME", .help = "model (default: shapes_cnn, the embedded model)"},
                {.name = "weights", .metavar = "FILE.safetensors", .help = "weights of the model"},
                {.name = "layer", .metavar = "L", .help = "module path of a conv layer (default: the last convolution)"},
                {.name = "data", .metavar = "DIR|builtin:shapes", .help = "concept-mask dataset (default builtin:shapes)"},
                {.name = "count", .metavar = "N", .help = "number of builtin:shapes images (default 200)"},
                {.name = "quantile", .metavar = "Q", .help = "top quantile of the unit thresholds (default 0.005)"},
                {.name = "iou-threshold", .metavar = "X", .help = "detector when IoU > X (default 0.04)"},
                {.name = "exact", .kind = FlagKind::Bool, .help = "exact thresholds (one more pass over the data)"},
                {.name = "sketch-accuracy", .metavar = "A", .help = "relative error bound of the one-pass thresholds (default 0.001)"},
                {.name = "batch", .metavar = "B", .help = "images per forward pass (default 16)"},
                {.name = "mean", .metavar = "M,M,M", .help = "per-channel mean subtracted from images (default none)"},
                {.name = "std", .metavar = "S,S,S", .help = "per-channel std dividing images (default none)"},
                {.name = "max-pixels", .metavar = "N", .help = "decoded-pixel cap per image or mask (default 50000000)"},
                {.name = "montage-units", .metavar = "N", .help = "units (rows) in the montage, best IoU first (default 8)"},
                {.name = "top-images", .metavar = "N", .help = "top-activating images per unit in the montage (default 4)"},
                {.name = "out", .metavar = "FILE.png", .help = "montage picture (default dissect.png)"},
                {.name = "json", .kind = FlagKind::Bool, .help = "print every unit, the summary and the settings as JSON"},
                {.name = "threads", .metavar = "N", .help = "CPU threads per process, 1 to 4 x the hardware threads (default: all)"},
                unit_cache_flags()[0], unit_cache_flags()[1]},
      .run = run_dissect};
}

}  // namespace backlight::cli
