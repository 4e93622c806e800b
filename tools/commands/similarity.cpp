// `backlight similarity`: layer-by-layer representation similarity (CKA, RBF CKA, CCA, SVCCA,
// PWCCA) between the layers of one model or of two models on the same inputs, streamed over a
// folder of examples, a .npy stack or the built-in shapes dataset; writes the heatmap PNG and optionally JSON.
// The work is attribution/concepts/layer_similarity.h; this file parses flags and draws.
#include <algorithm>
#include <climits>
#include <memory>
#include <iostream>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "attribution/concepts/layer_similarity.h"
#include "engine/parallel.h"
#include "io/image_io.h"
#include "models/data/shapes.h"
#include "models/default_model.h"
#include "render/matrix_heatmap.h"
#include "tools/commands/command.h"
#include "tools/commands/concept_model.h"
#include "tools/commands/flag_checks.h"
#include "tools/commands/input_batches.h"
#include "tools/commands/resume_units.h"
#include "tools/cluster/cluster.h"
#include "tools/cluster/packing.h"

namespace backlight::cli {

namespace {

std::vector<std::string> resolve_layers(const std::string& spec, const Module& model, const Tensor& probe,
                                        std::string_view flag) {
  if (spec == "all") return model_layer_names(model, probe);
  return split_list(spec, ',', flag);
}

int run_similarity(const Args& args) {
  const std::string measure_name = args.get_or("measure", "cka");
  SimilarityMeasure measure{};
  try {
    measure = similarity_measure_from_string(measure_name);
  } catch (const Error& e) {
    throw UsageError(std::string("--measure: ") + e.what());
  }
  const std::string inputs = args.get_or("inputs", "builtin:shapes");
  if (const auto t = threads_flag(args)) set_num_threads(*t);
  const int64_t count = args.get_int("count", 2, INT_MAX).value_or(500);
  const int64_t batch = positive_flag(args, "batch").value_or(50);
  const double threshold = args.get_double("rbf-threshold").value_or(0.5);
  if (!(threshold > 0)) throw UsageError("--rbf-threshold expects a positive number, got " + std::to_string(threshold));
  const int64_t max_pixels = max_pixels_flag(args);
  const std::string out = args.get_or("out", "similarity.png");
  require_image_extension(args, "out", out);

  const Cluster cluster("similarity");  // one process, or this rank of an mpirun/srun job
  const LoadedModel a = load_concept_model("similarity", args.get_or("model", "shapes_cnn"), args.get("weights"), "--model");
  const bool two = args.has("model-b") || args.has("weights-b");
  const LoadedModel b = two ? load_concept_model("similarity", args.get_or("model-b", "shapes_cnn"), args.get("weights-b"),
                                                    "--model-b")
                            : a;
  if (two && a.input != b.input)
    throw UsageError("similarity: the two models take different inputs ([" + std::to_string(a.input[0]) + "," +
                     std::to_string(a.input[1]) + "," + std::to_string(a.input[2]) + "] vs [" +
                     std::to_string(b.input[0]) + "," + std::to_string(b.input[1]) + "," +
                     std::to_string(b.input[2]) + "])");
  const int64_t h = a.input[1], w = a.input[2];

  // The input stream (input_batches.h): shapes images generated per batch, or the examples of a
  // folder or a .npy stack [N, C, H, W] read per batch; --mean/--std apply to images only.
  const ImageNormalization norm{channel_values_flag(args, "similarity", "mean", a.input[0]),
                                channel_values_flag(args, "similarity", "std", a.input[0])};
  const bool npy = inputs.size() > 4 && inputs.substr(inputs.size() - 4) == ".npy";
  if (npy && !norm.empty())
    throw UsageError("similarity: --mean/--std apply to images, not to a .npy stack (used as given)");
  ExampleFiles files;
  int64_t total = count;
  if (inputs != "builtin:shapes") {
    files = list_examples(inputs, a.input[0]);
    if (files.total < 2)
      throw UsageError("similarity: --inputs " + inputs + " holds " + std::to_string(files.total) +
                       " example(s); at least 2 are needed");
    total = files.total;
  }
  // Batches by number (batch j: inputs j * batch ..), so this rank reads only its own (j % ranks ==
  // rank) and a rerun skips the ones kept in the cache. An input that cannot be read is reported
  // by the rank that met it and left out.
  const bool shapes = inputs == "builtin:shapes";
  const std::string who = cluster.distributed() ? "similarity: " + cluster.describe() : "similarity";
  std::vector<std::string> skipped;  // this rank's
  NumberedBatches source{(total + batch - 1) / batch, {}};
  source.read = [&](int64_t j, bool& complete) -> Tensor {
    const int64_t begin = j * batch, size = std::min(batch, total - begin);
    if (shapes)
      return shapes_batches(h, w, kShapesCnnDataSeed, kShapesHeldOutBegin + begin, size, batch, norm)();
    std::vector<int64_t> pick;
    for (int64_t i = begin; i < begin + size; ++i) pick.push_back(i);
    const size_t before = skipped.size();
    Tensor t = read_examples_skipping(files, pick, h, w, max_pixels, norm, [&](const std::string& name, const std::string& error) {
      std::cerr << who << ": skipped '" << name << "': " << error << "\n";
      skipped.push_back(name + ": " + error);
    });
    complete = skipped.size() == before;
    return t;
  };
  const Tensor probe = make_shapes_batch(ShapesConfig{.height = h, .width = w}, kShapesCnnDataSeed, 0, 1).images;
  const std::vector<std::string> la = resolve_layers(args.get_or("layers", "all"), *a.model, probe, "--layers");
  const std::vector<std::string> lb = resolve_layers(args.get_or("layers-b", args.get_or("layers", "all")), *b.model, probe, "--layers-b");

  LayerSimilarityOptions o{.measure = measure, .expected_examples = total};
  o.similarity.rbf_threshold = static_cast<float>(threshold);
  o.similarity.unbiased = args.flag("unbiased");
  o.probe = probe;
  if (cluster.distributed()) {
    o.reducer = &cluster;
    o.progress.enabled = cluster.leader();
  }
  // Resume: each batch's activation rows (resume_units.h); the measure and its options change no unit.
  static constexpr std::string_view kNoUnitChange[] = {"measure", "unbiased", "rbf-threshold"};
  const std::unique_ptr<ResumeUnits> units = ResumeUnits::open(args, cluster, kNoUnitChange);
  o.units = units.get();
  if (units && !shapes)  // a folder's files are not in the job's fingerprint: batch j is keyed by its files
    units->inputs = [&files, total, batch](std::string_view, int64_t j) {
      std::vector<std::string> paths;
      int64_t first = 0;
      for (size_t f = 0; f < files.paths.size(); first += files.counts[f], ++f)
        if (first < std::min(total, (j + 1) * batch) && first + files.counts[f] > j * batch) paths.push_back(files.paths[f]);
      return paths;
    };
  if (cluster.leader())
    std::cerr << "similarity: " << measure_name << " of " << la.size() << " x " << lb.size() << " layers over " << total
            << " inputs (" << inputs << ")" << (cluster.distributed() ? ", " + std::to_string(cluster.size()) + " ranks" : "")
            << "\n";
  const LayerSimilarity r = layer_similarity(*a.model, la, *b.model, lb, source, o);
  const int64_t resumed = report_resumed_units(cluster, units.get(), r.units_here, r.resumed_here, "similarity");
  Packer mine;
  for (const std::string& s : skipped) mine.put_string(s);
  const std::vector<std::string> parts = cluster.gather(mine.take());
  if (!cluster.leader()) return skipped.empty() ? 0 : 1;  // rank 0 draws and reports
  std::vector<std::string> all_skipped;
  for (const std::string& part : parts) {
    Unpacker u(part, "similarity: gathering skipped inputs");
    while (!u.done()) all_skipped.push_back(u.get_string());
  }

  std::vector<double> flat;
  for (int64_t i = 0; i < r.values.rows(); ++i)
    for (int64_t j = 0; j < r.values.cols(); ++j) flat.push_back(r.values(i, j));
  std::string title = measure_name + (o.similarity.unbiased && measure == SimilarityMeasure::CkaRbf ? " (unbiased)" : "") +
                      ": " + a.label + " (rows) vs " + b.label + " (columns), " + std::to_string(r.examples) + " inputs";
  // Unbiased HSIC can go slightly below 0; the colour range stays [0, 1] (values printed in cells).
  write_image(out, matrix_picture(flat, r.layers_a, r.layers_b, {.title = title}));

  if (args.flag("json")) {
    nlohmann::json rows = nlohmann::json::array();
    for (int64_t i = 0; i < r.values.rows(); ++i) {
      std::vector<double> row(flat.begin() + i * r.values.cols(), flat.begin() + (i + 1) * r.values.cols());
      rows.push_back({{"layer", r.layers_a[static_cast<size_t>(i)]}, {"values", row}});
    }
    nlohmann::json j = {{"command", "similarity"}, {"measure", measure_name},  {"model_a", a.label},
                        {"model_b", b.label},      {"inputs", inputs},         {"examples", r.examples},
                        {"space", r.space},        {"layers_a", r.layers_a},   {"layers_b", r.layers_b},
                        {"matrix", rows},          {"png", out},               {"ranks", cluster.size()},
                        {"skipped", all_skipped},  {"resumed", resumed}};
    if (measure == SimilarityMeasure::CkaRbf) j["unbiased"] = o.similarity.unbiased, j["rbf_threshold"] = threshold;
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << "similarity (" << measure_name << ", " << r.examples << " inputs, " << r.space << " space): wrote "
              << out << "\n";
  }
  if (!all_skipped.empty()) {
    std::cerr << "similarity: " << all_skipped.size() << " input(s) could not be read (reported above) and were left out\n";
    return 1;
  }
  return 0;
}

}  // namespace

Command similarity_command() {
  return {
      .name = "similarity",
      .summary = "layer-by-layer representation similarity (CKA, RBF CKA, CCA, SVCCA, PWCCA) as a heatmap",
      .description =
          "Compares every layer of --model with every layer of --model-b (default: the same model) on the same\n"
          "inputs, streamed in batches (images are never held whole). Activations are flattened per input.\n"
          "Measures: cka (linear CKA), cka_rbf (RBF kernel CKA, --unbiased for the unbiased HSIC), cca (mean\n"
          "canonical correlation), svcca (SVD keeping 99% of the variance, then CCA), pwcca (projection-weighted\n"
          "CCA). cca and pwcca need more inputs than each layer has features. --inputs DIR holds images and .npy\n"
          "files ([C,H,W] or [N,C,H,W]); every example is resized to the model's input size, images are read as\n"
          "RGB in [0, 1], then --mean/--std apply; .npy values (a folder's or a FILE.npy stack) are used as given.\n"
          "See docs/concepts.md.",
      .flags = {{.name = "model", .metavar = "NAME", .help = "model A (default: shapes_cnn, the embedded model)"},
                {.name = "weights", .metavar = "FILE.safetensors", .help = "weights of model A"},
                {.name = "layers", .metavar = "all|L1,L2", .help = "layers of model A (default all)"},
                {.name = "model-b", .metavar = "NAME", .help = "model B (default: model A)"},
                {.name = "weights-b", .metavar = "FILE.safetensors", .help = "weights of model B"},
                {.name = "layers-b", .metavar = "all|L1,L2", .help = "layers of model B (default: --layers)"},
                {.name = "inputs", .metavar = "DIR|FILE.npy|builtin:shapes",
                 .help = "folder of images and .npy files, a float32 .npy stack [N,C,H,W], or shapes images "
                         "(default builtin:shapes)"},
                {.name = "mean", .metavar = "M,M,M", .help = "per-channel mean subtracted from images (default none)"},
                {.name = "std", .metavar = "S,S,S", .help = "per-channel std dividing images (default none)"},
                {.name = "count", .metavar = "N", .help = "number of builtin:shapes images (default 500)"},
                {.name = "batch", .metavar = "B", .help = "inputs per forward pass (default 50)"},
                {.name = "measure", .metavar = "M", .help = "cka|cka_rbf|svcca|pwcca|cca (default cka)"},
                {.name = "unbiased", .kind = FlagKind::Bool, .help = "cka_rbf: unbiased HSIC estimator"},
                {.name = "rbf-threshold", .metavar = "T",
                 .help = "cka_rbf: sigma = T * sqrt(median squared distance) (default 0.5)"},
                {.name = "max-pixels", .metavar = "N", .help = "decoded-pixel cap per input image (default 50000000)"},
                {.name = "out", .metavar = "FILE.png", .help = "heatmap picture (default similarity.png)"},
                {.name = "json", .kind = FlagKind::Bool, .help = "print the matrix as JSON (rows with layer names)"},
                {.name = "threads", .metavar = "N", .help = "CPU threads per process, 1 to 4 x the hardware threads (default: all)"},
                unit_cache_flags()[0], unit_cache_flags()[1]},
      .run = run_similarity};
}

}  // namespace backlight::cli
