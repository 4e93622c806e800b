// `backlight roar`: remove and retrain (ROAR) and keep and retrain (KAR), Hooker, Erhan,
// Kindermans, Kim 2019 (docs/evaluation.md, "ROAR and KAR"). Per method and fraction t the
// top-t pixels of every image (ranked by the method's attribution on a model trained on the
// unmodified images) are replaced by the per-channel training-set mean (ROAR), or all but them
// (KAR); a new model is trained from scratch on the modified training images with the same recipe
// (several seeds) and tested on the modified test images. Every piece is cached (roar_job.h), so
// a rerun resumes; under mpirun the trainings are shared over the ranks (tools/cluster).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <iostream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "attribution/registry.h"
#include "engine/parallel.h"
#include "io/file_checks.h"
#include "io/image_io.h"
#include "tools/cluster/cluster.h"
#include "tools/commands/command.h"
#include "tools/commands/flag_checks.h"
#include "tools/commands/recipe_flags.h"
#include "tools/commands/roar_data.h"
#include "tools/commands/roar_job.h"
#include "tools/commands/roar_report.h"

namespace backlight::cli {

namespace {

constexpr const char* kDefaultMethods = "saliency,integrated_gradients";
constexpr int64_t kDefaultSamples = 1000, kDefaultTestSamples = 250;

// The recipe without flags: 10 epochs of 1000 images in batches of 8 with the data-dependent init
// on 256 of them, Adam 0.002 (docs/evaluation.md, "ROAR and KAR": 89% test accuracy on the
// unmodified shapes, ~20 s CPU per training; the former 2 epochs of 256 images in batches of 32
// stayed at chance).
TrainRecipe default_recipe() { return {.epochs = 10, .batch = 8, .lr = 2e-3f, .init_data = 256}; }

std::string number_text(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

struct RoarSettings {
  std::string data, cache, layer;
  std::vector<std::string> methods;  // with the baselines random and sobel
  std::vector<int> percents;
  std::vector<uint64_t> seeds;
  std::vector<std::string> modes;
  TrainRecipe recipe;
  int64_t samples = 0, test_samples = 0;
};

std::vector<std::string> roar_methods(const Args& args) {
  const std::vector<std::string> names = args.get_list("methods").value_or(std::vector<std::string>{});
  std::vector<std::string> list = args.has("methods") ? names : std::vector<std::string>{"saliency", "integrated_gradients"};
  std::vector<std::string> out;
  const std::vector<MethodInfo> known = methods();
  for (const std::string& m : list) {
    if (m.empty()) throw UsageError("roar: --methods has an empty item; expected names separated by commas");
    if (std::find(out.begin(), out.end(), m) != out.end()) throw UsageError("roar: --methods lists '" + m + "' twice");
    if (m != "random" && m != "sobel") {
      const auto it = std::find_if(known.begin(), known.end(), [&](const MethodInfo& i) { return i.name == m; });
      if (it == known.end())
        throw UsageError("roar: --methods: unknown method '" + m +
                         "'; accepted: random, sobel and the input-attribution methods of `backlight methods`");
      if (it->family == "layer" || it->family == "neuron" || it->family == "attention")
        throw UsageError("roar: --methods: '" + m + "' (" + it->family +
                         " family) does not give a map per input pixel, which ROAR ranks");
    }
    out.push_back(m);
  }
  for (const char* baseline : {"random", "sobel"})
    if (std::find(out.begin(), out.end(), baseline) == out.end()) out.push_back(baseline);
  return out;
}

std::vector<int> percent_list(const Args& args) {
  const std::vector<std::string> items = args.get_list("fractions").value_or(std::vector<std::string>{"10", "30", "50", "70", "90"});
  std::vector<int> out;
  for (const std::string& s : items) {
    const bool digits = !s.empty() && s.size() <= 2 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    const int p = digits ? std::stoi(s) : -1;
    if (p < 1 || p > 99)
      throw UsageError("roar: --fractions expects percentages 1..99 separated by commas (e.g. 10,30,50,70,90), got '" + s + "'");
    if (std::find(out.begin(), out.end(), p) != out.end()) throw UsageError("roar: --fractions lists " + s + " twice");
    out.push_back(p);
  }
  std::sort(out.begin(), out.end());
  return out;
}

RoarSettings parse_settings(const Args& args) {
  RoarSettings s;
  s.data = args.get_or("data", "builtin:shapes");
  s.methods = roar_methods(args);
  s.percents = percent_list(args);
  const int64_t seeds = positive_flag(args, "seeds", 100).value_or(1);
  for (int64_t k = 1; k <= seeds; ++k) s.seeds.push_back(static_cast<uint64_t>(k));
  const std::string mode = args.get_or("mode", "roar");
  if (mode == "both") s.modes = {"roar", "kar"};
  else if (mode == "roar" || mode == "kar") s.modes = {mode};
  else throw UsageError("roar: --mode accepts roar, kar or both, got '" + mode + "'");
  s.recipe = default_recipe();
  s.recipe.epochs = positive_flag(args, "epochs", 1000).value_or(s.recipe.epochs);
  s.recipe.batch = positive_flag(args, "batch", 4096).value_or(s.recipe.batch);
  s.recipe.lr = static_cast<float>(number_flag(args, "lr", 0.0, 1.0, true).value_or(s.recipe.lr));
  read_recipe_flags(args, s.recipe);
  s.samples = positive_flag(args, "samples", 1'000'000).value_or(kDefaultSamples);
  s.test_samples = positive_flag(args, "test-samples", 1'000'000).value_or(kDefaultTestSamples);
  s.layer = args.get_or("layer", "features.10");
  s.cache = args.get_or("cache", "roar-cache");
  check_output_dir(s.cache, "roar: --cache");
  if (const auto out = args.get("out")) require_image_extension(args, "out", *out), check_output_file(*out, "roar: --out");
  return s;
}

std::string duration(double seconds) {
  const int64_t s = std::llround(seconds);
  std::ostringstream os;
  if (s >= 3600) os << s / 3600 << "h" << std::setw(2) << std::setfill('0') << (s % 3600) / 60 << "m";
  else if (s >= 60) os << s / 60 << "m" << std::setw(2) << std::setfill('0') << s % 60 << "s";
  else os << s << "s";
  return os.str();
}

std::string task_name(const RoarTask& t) {
  if (t.mode == "none") return "unmodified seed " + std::to_string(t.seed);
  return t.mode + " " + t.method + " " + std::to_string(t.percent) + "% seed " + std::to_string(t.seed);
}

nlohmann::json outcome_json(const RoarOutcome& o) {
  return {{"test_accuracy", o.test_accuracy}, {"train_accuracy", o.train_accuracy}, {"seconds", o.seconds}};
}

int run_roar(const Args& args) {
  const RoarSettings s = parse_settings(args);
  if (const auto t = threads_flag(args)) set_num_threads(*t);
  const Cluster cluster("roar");  // one process, or this rank of an mpirun/srun job
  const std::string who = cluster.distributed() ? "roar (" + cluster.describe() + ")" : "roar";
  const auto t0 = std::chrono::steady_clock::now();
  const RoarData data = load_roar_data(s.data, s.samples, s.test_samples, max_pixels_flag(args));
  std::ostringstream job_text;  // what the cached files depend on
  job_text << "roar-1|" << data.description << "|epochs " << s.recipe.epochs << "|batch " << s.recipe.batch << "|lr "
           << s.recipe.lr << "|optimizer " << s.recipe.optimizer << "|layer " << s.layer;
  // Only a recipe that differs from plain constant-lr Adam adds to the text (older caches stay valid).
  if (s.recipe.momentum != 0.0f || s.recipe.schedule != "constant" || s.recipe.warmup != 0 || s.recipe.init_data != 0)
    job_text << "|momentum " << s.recipe.momentum << "|schedule " << s.recipe.schedule << "|warmup " << s.recipe.warmup
             << "|init_data " << s.recipe.init_data;
  RoarJob job(data, s.recipe, s.cache, job_text.str());

  // Every task of the job; the base model of seed 1 ranks the pixels.
  std::vector<RoarTask> tasks;
  for (uint64_t seed : s.seeds) tasks.push_back({.mode = "none", .seed = seed});
  for (const std::string& mode : s.modes)
    for (const std::string& method : s.methods)
      for (int p : s.percents)
        for (uint64_t seed : s.seeds) tasks.push_back({.mode = mode, .method = method, .percent = p, .seed = seed});
  if (cluster.leader()) {
    std::cerr << who << ": " << data.description << "; " << tasks.size() << " trainings (" << s.recipe.epochs
              << " epochs of " << data.train_images.size(0) << " images, batch " << s.recipe.batch << ", "
              << describe_recipe(s.recipe) << "), cache "
              << s.cache << "\n";
  }
  // Trained here (not read from the cache): counted with the other trainings of this run.
  const bool base_trained = cluster.leader() && !job.cached(tasks[0]);
  if (base_trained) std::cerr << who << ": training the model that ranks the pixels (seed 1)\n";
  if (cluster.leader()) job.base_model(1);
  cluster.barrier();  // the base model is in the cache

  std::vector<std::string> rankings;
  for (const std::string& m : s.methods)
    if (!job.has_ranking(m)) rankings.push_back(m);
  cluster.barrier();  // every rank has the same list before any ranking is written
  if (!rankings.empty()) {
    const ModulePtr base = job.base_model(1);
    for (size_t k : cluster.shard(rankings.size())) {
      const auto r0 = std::chrono::steady_clock::now();
      job.compute_ranking(rankings[k], *base, s.layer);
      std::cerr << who << ": ranked the pixels of " << data.train_images.size(0) + data.test_images.size(0)
                << " images by " << rankings[k] << " ("
                << duration(std::chrono::duration<double>(std::chrono::steady_clock::now() - r0).count()) << ")\n";
    }
  }
  cluster.barrier();  // every ranking is in the cache

  std::vector<RoarResult> results;
  std::vector<size_t> pending;
  for (size_t i = 0; i < tasks.size(); ++i) {
    if (const auto o = job.cached(tasks[i])) results.push_back({tasks[i], *o});
    else pending.push_back(i);
  }
  cluster.barrier();  // every rank has the same pending list before any training is written
  if (cluster.leader())
    std::cerr << who << ": " << results.size() << " of " << tasks.size() << " trainings cached, " << pending.size()
              << " to train\n";
  const std::vector<size_t> mine = cluster.shard(pending.size());
  nlohmann::json trained = nlohmann::json::object();
  double train_seconds = 0;
  size_t done_here = 0;  // trainings this process ran (for the ETA)
  for (size_t k = 0; k < mine.size(); ++k) {
    const RoarTask& t = tasks[pending[mine[k]]];
    // Another process sharing the cache folder may have finished it since the list was made.
    if (const auto c = job.cached(t)) {
      trained[t.key()] = outcome_json(*c);
      std::cerr << who << ": [" << k + 1 << "/" << mine.size() << "] " << task_name(t)
                << ": in the cache now (another process trained it)\n";
      continue;
    }
    const RoarOutcome o = job.run(t);
    train_seconds += o.seconds;
    trained[t.key()] = outcome_json(o);
    ++done_here;
    const double eta = train_seconds / static_cast<double>(done_here) * static_cast<double>(mine.size() - k - 1);
    std::cerr << who << ": [" << k + 1 << "/" << mine.size() << "] " << task_name(t) << ": test accuracy " << std::fixed
              << std::setprecision(1) << 100.0 * o.test_accuracy << "% (train " << 100.0 * o.train_accuracy << "%), "
              << duration(o.seconds) << "; ETA " << duration(eta) << std::defaultfloat << "\n";
  }
  const std::vector<std::string> parts = cluster.gather(trained.dump());
  if (!cluster.leader()) return 0;  // rank 0 reports for the job
  for (const std::string& part : parts) {
    const nlohmann::json done = nlohmann::json::parse(part);
    for (const auto& item : done.items())
      for (const RoarTask& t : tasks)
        if (const nlohmann::json& o = item.value(); t.key() == item.key())
          results.push_back({t, RoarOutcome{.test_accuracy = o["test_accuracy"].get<double>(),
                                             .train_accuracy = o["train_accuracy"].get<double>(),
                                             .seconds = o["seconds"].get<double>()}});
  }

  nlohmann::json j = roar_curves(results, s.modes, s.methods, s.percents, s.seeds);
  j["data"] = data.description;
  j["recipe"] = {{"epochs", s.recipe.epochs}, {"batch", s.recipe.batch}, {"lr", s.recipe.lr},
                 {"optimizer", s.recipe.optimizer}, {"momentum", s.recipe.momentum}, {"schedule", s.recipe.schedule},
                 {"warmup", s.recipe.warmup}, {"init_data", s.recipe.init_data}, {"train_images", data.train_images.size(0)},
                 {"test_images", data.test_images.size(0)}};
  j["methods"] = s.methods;
  j["percents"] = s.percents;
  j["seeds"] = s.seeds;
  j["modes"] = s.modes;
  j["trainings"] = tasks.size();
  const size_t trained_here = pending.size() + (base_trained ? 1 : 0);
  j["trained"] = trained_here;
  j["cached"] = tasks.size() - trained_here;
  j["ranks"] = cluster.size();
  j["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (const auto out = args.get("out")) {
    write_image(*out, roar_chart(j, s.data));
    std::cerr << who << ": wrote " << *out << "\n";
  }
  if (args.flag("json")) std::cout << j.dump(2) << "\n";
  else std::cout << roar_table(j);
  return 0;
}

// The roar flags plus --optimizer, --momentum, --schedule and --warmup (recipe_flags.h).
std::vector<FlagSpec> with_recipe_flags(std::vector<FlagSpec> flags) {
  for (FlagSpec& f : recipe_flag_specs(default_recipe())) flags.push_back(std::move(f));
  return flags;
}

}  // namespace

Command roar_command() {
  return {.name = "roar",
          .summary = "remove and retrain (ROAR) / keep and retrain (KAR), Hooker et al. 2019: accuracy-vs-fraction curves",
          .description =
              "Trains shapes_cnn on the unmodified training images (seed 1), ranks every pixel of every training and\n"
              "test image by each method's attribution for the true class (plus the paper's baselines: random and\n"
              "sobel), replaces the top t% (ROAR) or all but the top t% (KAR) by the per-channel training-set mean,\n"
              "retrains from scratch with the same recipe for each seed and reports the test accuracy on the\n"
              "modified test images: the faster it drops under ROAR (rises under KAR), the better the ranking.\n"
              "Every ranking and trained model is cached in --cache DIR (atomic writes, tagged with the job's data\n"
              "and recipe), so a rerun skips what is finished. Under mpirun/srun the trainings are shared over the\n"
              "ranks and rank 0 writes the results (the cache folder must be shared). Progress with ETA on stderr.\n"
              "docs/evaluation.md.",
          .flags = with_recipe_flags({{.name = "data", .metavar = "builtin:shapes|DIR", .help = "images (default builtin:shapes; DIR: one subfolder per class, every 5th image a test image)"},
                    {.name = "methods", .metavar = "LIST", .help = std::string("methods (default ") + kDefaultMethods + "); random and sobel are always added"},
                    {.name = "fractions", .metavar = "P1,P2,...", .help = "percentages of pixels ranked on top (default 10,30,50,70,90)"},
                    {.name = "seeds", .metavar = "N", .help = "trainings per point, seeds 1..N (default 1)"},
                    {.name = "mode", .metavar = "roar|kar|both", .help = "remove the top pixels, keep only them, or both (default roar)"},
                    {.name = "epochs", .metavar = "N", .help = "recipe: epochs (default " + std::to_string(default_recipe().epochs) + ")"},
                    {.name = "samples", .metavar = "N", .help = "recipe: training images (default " + std::to_string(kDefaultSamples) + ")"},
                    {.name = "test-samples", .metavar = "N", .help = "test images (default " + std::to_string(kDefaultTestSamples) + ")"},
                    {.name = "batch", .metavar = "N", .help = "recipe: minibatch size (default " + std::to_string(default_recipe().batch) + ")"},
                    {.name = "lr", .metavar = "X", .help = "recipe: (peak) learning rate (default " + number_text(default_recipe().lr) + ")"},
                    {.name = "layer", .metavar = "PATH", .help = "layer of CAM methods (default features.10)"},
                    {.name = "cache", .metavar = "DIR", .help = "rankings and trained models, reused by a rerun (default roar-cache)"},
                    {.name = "out", .metavar = "FILE.png", .help = "the accuracy-vs-fraction curves"},
                    {.name = "json", .kind = FlagKind::Bool, .help = "print JSON instead of the markdown table"},
                    {.name = "max-pixels", .metavar = "N", .help = "decoded-pixel cap of DIR images"},
                    {.name = "threads", .metavar = "N", .help = "CPU threads per process"}}),
          .run = run_roar};
}

}  // namespace backlight::cli
