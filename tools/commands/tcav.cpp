// `backlight tcav`: Testing with Concept Activation Vectors (Kim et al. 2018) - CAVs per concept,
// layer and run, TCAV scores of the target class's inputs, a t-test against random-vs-random
// CAVs with Bonferroni correction; writes the bar chart and optionally JSON. Without data flags
// it runs the built-in demo on shapes_cnn (tcav_demo.h). The work is attribution/concepts/tcav.h.
#include <algorithm>
#include <climits>
#include <cstdio>
#include <iostream>
#include <memory>
#include <random>

#include <nlohmann/json.hpp>

#include "attribution/concepts/tcav.h"
#include "io/image_io.h"
#include "models/data/shapes.h"
#include "render/grouped_bar_chart.h"
#include "engine/parallel.h"
#include "tools/commands/command.h"
#include "tools/commands/concept_model.h"
#include "tools/commands/flag_checks.h"
#include "tools/commands/input_batches.h"
#include "tools/commands/resume_units.h"
#include "tools/commands/tcav_demo.h"
#include "tools/commands/tcav_job.h"

namespace backlight::cli {

namespace {

// "name=dir" of --concept.
std::pair<std::string, std::string> concept_flag(const std::string& v) {
  const size_t eq = v.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == v.size())
    throw UsageError("tcav: --concept expects NAME=DIR, got '" + v + "'");
  return {v.substr(0, eq), v.substr(eq + 1)};
}

std::string stars(const TcavCell& c, double alpha) {
  if (!c.significant) return "ns";
  return c.p_corrected < alpha / 50 ? "***" : c.p_corrected < alpha / 5 ? "**" : "*";
}

int run_tcav(const Args& args) {
  const bool demo = !args.has("concept") && !args.has("random") && !args.has("inputs");
  if (!demo && !(args.has("concept") && args.has("random") && args.has("inputs")))
    throw UsageError("tcav: give --concept, --random and --inputs together (or none of them for the built-in demo)");
  const std::string classifier_name = args.get_or("classifier", "logistic");
  CavOptions cav;
  try {
    cav.classifier = cav_classifier_from_string(classifier_name);
  } catch (const Error& e) {
    throw UsageError(std::string("tcav: --classifier: ") + e.what());
  }
  cav.c = args.get_double("logistic-c").value_or(1.0);
  cav.alpha = args.get_double("sgd-alpha").value_or(0.01);
  if (!(cav.c > 0) || !(cav.alpha > 0)) throw UsageError("tcav: --logistic-c and --sgd-alpha expect positive numbers");
  cav.test_split = args.get_double("test-split").value_or(0.33);
  if (!(cav.test_split >= 0 && cav.test_split < 0.9))
    throw UsageError("tcav: --test-split expects a fraction in [0, 0.9), got " + std::to_string(cav.test_split));
  cav.seed = seed_flag(args).value_or(0);
  TcavOptions o;
  o.cav = cav;
  try {
    o.test = t_test_kind_from_string(args.get_or("test", "student"));
  } catch (const Error& e) {
    throw UsageError(std::string("tcav: --test: ") + e.what());
  }
  o.alpha = args.get_double("significance").value_or(0.05);
  if (!(o.alpha > 0 && o.alpha < 1)) throw UsageError("tcav: --significance expects a level in (0, 1)");
  const int64_t batch = positive_flag(args, "batch").value_or(32);
  const int64_t set_size = positive_flag(args, "set-size").value_or(50);
  if (set_size < 2) throw UsageError("tcav: --set-size expects at least 2");
  const int64_t max_pixels = max_pixels_flag(args);
  if (const auto t = threads_flag(args)) set_num_threads(*t);
  const std::string out = args.get_or("out", "tcav.png");
  require_image_extension(args, "out", out);

  const LoadedModel m = load_concept_model("tcav", args.get_or("model", "shapes_cnn"), args.get("weights"), "--model");
  const bool shapes_model = m.label == "shapes_cnn" || !args.has("model") || args.get_or("model", "") == "shapes_cnn";
  if (demo && !shapes_model) throw UsageError("tcav: the built-in demo runs on shapes_cnn; give --concept, --random and --inputs for other models");
  const int64_t h = m.input[1], w = m.input[2];

  // --target: a class index, or a shapes class name for shapes_cnn.
  int64_t target = 0;
  std::string target_name;
  if (const auto t = args.get("target")) {
    const auto it = std::find(kShapeClassNames.begin(), kShapeClassNames.end(), *t);
    if (shapes_model && it != kShapeClassNames.end()) target = it - kShapeClassNames.begin();
    else target = parse_int(*t, 0, INT_MAX, "tcav: --target");
  }
  if (shapes_model && target < kNumShapeClasses) target_name = kShapeClassNames[static_cast<size_t>(target)];
  if (demo && target >= kNumShapeClasses)
    throw UsageError("tcav: --target " + std::to_string(target) + " is not a shapes class (0-3 or circle, square, triangle, cross)");

  std::vector<BatchedSet> concepts, randoms;
  BatchedSet inputs;
  const int64_t random_sets = positive_flag(args, "random-sets").value_or(demo ? 10 : 0);
  if (demo) {
    const std::vector<std::string> names =
        args.has("demo-concepts") ? split_list(*args.get("demo-concepts"), ',', "tcav: --demo-concepts")
                                  : std::vector<std::string>{"circle", "cross", "red", "green", "blue"};
    for (const std::string& n : names) {
      if (!is_demo_concept(n))
        throw UsageError("tcav: --demo-concepts: unknown concept '" + n + "' (accepted: " + demo_concept_names() + ")");
      concepts.push_back(stream_batches(demo_concept(n, set_size, h, w, batch, cav.seed), set_size, batch));
    }
    for (int64_t i = 0; i < random_sets; ++i)
      randoms.push_back(stream_batches(demo_random_set(i, set_size, h, w, batch), set_size, batch));
    const int64_t count = args.get_int("count", 1, INT_MAX).value_or(100);
    inputs = stream_batches(demo_inputs(target, count, h, w, batch), count, batch);
  } else {
    for (const std::string& v : args.get_all("concept")) {
      const auto [name, dir] = concept_flag(v);
      for (const BatchedSet& c : concepts)
        if (c.name == name) throw UsageError("tcav: --concept " + name + " is given twice");
      const ExampleFiles f = list_examples(dir, m.input[0]);
      if (f.total < 2) throw Error("tcav: concept '" + name + "' (" + dir + ") holds " + std::to_string(f.total) + " example(s); at least 2 are needed");
      concepts.push_back(folder_batches(name, f, h, w, batch, max_pixels));
    }
    const std::vector<std::string> rdirs = args.get_all("random");
    if (args.has("random-sets")) {
      if (rdirs.size() != 1)
        throw UsageError("tcav: --random-sets N draws the sets from one pool folder: give exactly one --random DIR");
      const ExampleFiles pool = list_examples(rdirs[0], m.input[0]);
      if (pool.total < set_size)
        throw Error("tcav: the random pool " + rdirs[0] + " holds " + std::to_string(pool.total) +
                    " examples, fewer than --set-size " + std::to_string(set_size));
      std::mt19937_64 rng(cav.seed ^ 0x72616e646f6dULL);
      for (int64_t i = 0; i < random_sets; ++i) {
        std::vector<int64_t> all(static_cast<size_t>(pool.total));
        for (int64_t k = 0; k < pool.total; ++k) all[static_cast<size_t>(k)] = k;
        std::shuffle(all.begin(), all.end(), rng);
        all.resize(static_cast<size_t>(set_size));
        std::sort(all.begin(), all.end());
        randoms.push_back(folder_batches("random" + std::to_string(i), pool, h, w, batch, max_pixels, all));
      }
    } else {
      for (const std::string& d : rdirs) {
        const ExampleFiles f = list_examples(d, m.input[0]);
        if (f.total < 2) throw Error("tcav: random set " + d + " holds " + std::to_string(f.total) + " example(s); at least 2 are needed");
        randoms.push_back(folder_batches(d, f, h, w, batch, max_pixels));
      }
    }
    const ExampleFiles in = list_examples(*args.get("inputs"), m.input[0]);
    if (in.total < 1) throw Error("tcav: --inputs " + *args.get("inputs") + " holds no examples");
    inputs = folder_batches(*args.get("inputs"), in, h, w, batch, max_pixels);
  }
  o.runs = static_cast<int>(args.get_int("runs", 2, 1000).value_or(static_cast<int64_t>(randoms.size())));
  if (static_cast<int64_t>(randoms.size()) < o.runs)
    throw UsageError("tcav: --runs " + std::to_string(o.runs) + " needs as many random sets, got " +
                     std::to_string(randoms.size()) + " (more --random DIR, or --random-sets N)");
  if (o.runs < 2) throw UsageError("tcav: the t-test needs at least 2 runs, so at least 2 random sets");
  if (args.has("layers")) o.layers = split_list(*args.get("layers"), ',', "tcav: --layers");
  else if (shapes_model) o.layers = {"features.5", "features.8", "features.9"};
  else throw UsageError("tcav: --layers L1,L2 is required for " + m.label);
  o.target = target;
  o.max_set_examples = args.get_int("max-set", 2, INT_MAX).value_or(5000);

  const Cluster cluster("tcav");  // one process, or this rank of an mpirun/srun job
  if (cluster.leader())
    std::cerr << "tcav: " << concepts.size() << " concept(s) x " << o.layers.size() << " layer(s) x " << o.runs
              << " runs, " << classifier_name << " CAVs, target " << target << (target_name.empty() ? "" : " (" + target_name + ")")
              << (demo ? ", built-in demo data" : "")
              << (cluster.distributed() ? ", " + std::to_string(cluster.size()) + " processes" : "") << "\n";
  // Resume: activation batches, CAVs and input-batch counts (tcav_job.h); the t-test's flags
  // change no unit.
  static constexpr std::string_view kNoUnitChange[] = {"significance", "test"};
  const std::unique_ptr<ResumeUnits> units = ResumeUnits::open(args, cluster, kNoUnitChange);
  const TcavJobResult job = tcav_job(*m.model, concepts, randoms, inputs, o, m.input, cluster, units.get());
  const int64_t resumed = report_resumed_units(cluster, units.get(), job.units_here, job.resumed_here, "tcav");
  if (!cluster.leader()) return job.skipped_here ? 1 : 0;  // rank 0 reports for the job
  const TcavResult& r = job.result;

  // The picture: one group per concept, one bar per layer.
  std::vector<BarGroup> groups;
  for (size_t c = 0; c < r.concepts.size(); ++c) {
    BarGroup g{r.concepts[c], {}};
    for (size_t l = 0; l < r.layers.size(); ++l) {
      const TcavCell& cell = r.cell(c, l);
      g.bars.push_back({cell.score.mean, cell.score.std, stars(cell, o.alpha), !cell.significant,
                        mean_std(r.random_scores[l]).mean});
    }
    groups.push_back(std::move(g));
  }
  char title[400];
  std::snprintf(title, sizeof title,
                "TCAV scores for class %s of %s: %d runs, %s CAVs, %lld inputs\n"
                "bars: mean and std over runs, dashes: random-vs-random mean\n"
                "*, **, ***: Bonferroni p (x%lld tests) below %.3g, /5, /50, ns (faded): not significant",
                target_name.empty() ? std::to_string(target).c_str() : target_name.c_str(), m.label.c_str(), r.runs,
                classifier_name.c_str(), static_cast<long long>(r.inputs), static_cast<long long>(r.tests), o.alpha);
  write_image(out, grouped_bar_chart(groups, {.title = title, .series = r.layers}));

  if (args.flag("json")) {
    nlohmann::json results = nlohmann::json::array(), random = nlohmann::json::array();
    for (size_t l = 0; l < r.layers.size(); ++l) {
      const MeanStd ms = mean_std(r.random_scores[l]);
      random.push_back({{"layer", r.layers[l]}, {"scores", r.random_scores[l]}, {"mean", ms.mean}, {"std", ms.std},
                        {"cav_accuracy", r.random_accuracies[l]}});
    }
    for (const TcavCell& c : r.cells)
      results.push_back({{"concept", c.concept_name}, {"layer", c.layer}, {"scores", c.scores}, {"mean", c.score.mean},
                         {"std", c.score.std}, {"magnitudes", c.magnitudes}, {"magnitude_mean", c.magnitude.mean},
                         {"magnitude_std", c.magnitude.std}, {"cav_accuracy", c.cav_accuracies}, {"t", c.test.t},
                         {"dof", c.test.dof}, {"p_value", c.test.p_value}, {"p_corrected", c.p_corrected},
                         {"significant", c.significant}});
    nlohmann::json j = {{"command", "tcav"},         {"model", m.label},          {"target", target},
                        {"classifier", classifier_name}, {"test", to_string(o.test)}, {"significance", o.alpha},
                        {"bonferroni_tests", r.tests}, {"runs", r.runs},          {"inputs", r.inputs},
                        {"layers", r.layers},        {"concepts", r.concepts},    {"demo", demo},
                        {"random", random},          {"results", results},        {"png", out},
                        {"ranks", cluster.size()},   {"skipped", job.skipped},    {"resumed", resumed}};
    if (!target_name.empty()) j["target_name"] = target_name;
    std::cout << j.dump(2) << "\n";
  } else {
    std::printf("%-12s %-14s %6s %6s %10s %10s  %s\n", "concept", "layer", "mean", "std", "p_value", "p_corr", "");
    for (const TcavCell& c : r.cells)
      std::printf("%-12s %-14s %6.3f %6.3f %10.3g %10.3g  %s\n", c.concept_name.c_str(), c.layer.c_str(), c.score.mean,
                  c.score.std, c.test.p_value, c.p_corrected, c.significant ? stars(c, o.alpha).c_str() : "not significant");
    std::printf("tcav: wrote %s\n", out.c_str());
  }
  if (!job.skipped.empty()) {
    std::cerr << "tcav: " << job.skipped.size() << " example(s) could not be read (reported above) and were left out\n";
    return 1;
  }
  return 0;
}

}  // namespace

Command tcav_command() {
  return {
      .name = "tcav",
      .summary = "TCAV: concept sensitivity of a class per layer, with significance over random sets",
      .description =
          "Testing with Concept Activation Vectors (Kim et al. 2018). For each concept and layer, R runs train a\n"
          "linear classifier (the CAV) separating the concept's layer activations from random set i's; the TCAV\n"
          "score is the fraction of --inputs (examples of class --target) whose gradient of the class logit at the\n"
          "layer points along the CAV. Random-vs-random CAVs give the null scores; a two-sided t-test (Student by\n"
          "default) with Bonferroni correction over concepts x layers marks each bar significant or not.\n"
          "Folders hold images (PNG/JPEG/BMP) and/or float32 .npy files ([C,H,W] or [N,C,H,W]); everything is\n"
          "resized to the model's input and streamed. Without --concept/--random/--inputs: the built-in demo on\n"
          "shapes_cnn (shape and colour concepts, random shapes images). See docs/concepts.md.\n"
          "Under mpirun/srun the batches, CAVs and input batches are shared among the processes and rank 0\n"
          "writes the chart and JSON, equal to a single run's (docs/cluster.md).",
      .flags = {{.name = "model", .metavar = "NAME", .help = "model (default: shapes_cnn, the embedded model)"},
                {.name = "weights", .metavar = "FILE.safetensors", .help = "weights of the model"},
                {.name = "layers", .metavar = "L1,L2", .help = "layers (module paths; shapes_cnn default features.5,features.8,features.9)"},
                {.name = "concept", .metavar = "NAME=DIR", .help = "a concept set", .repeated = true},
                {.name = "random", .metavar = "DIR", .help = "a random counterexample set, or the pool of --random-sets", .repeated = true},
                {.name = "random-sets", .metavar = "N", .help = "draw N random sets of --set-size from one --random pool (demo default 10)"},
                {.name = "set-size", .metavar = "N", .help = "examples per drawn random set and per demo set (default 50)"},
                {.name = "inputs", .metavar = "DIR", .help = "examples of the target class to score"},
                {.name = "target", .metavar = "K", .help = "class index (or shapes class name) (default 0)"},
                {.name = "runs", .metavar = "R", .help = "runs = random sets used (default: all given)"},
                {.name = "classifier", .metavar = "logistic|sgd", .help = "CAV classifier (default logistic)"},
                {.name = "logistic-c", .metavar = "C", .help = "logistic: inverse L2 strength, sklearn's C (default 1)"},
                {.name = "sgd-alpha", .metavar = "A", .help = "sgd: L2 strength, sklearn's alpha (default 0.01, Captum's)"},
                {.name = "test-split", .metavar = "F", .help = "held-out fraction for CAV accuracy (default 0.33)"},
                {.name = "test", .metavar = "student|welch", .help = "two-sided t-test (default student)"},
                {.name = "significance", .metavar = "A", .help = "level for the Bonferroni-corrected p-value (default 0.05)"},
                {.name = "seed", .metavar = "N", .help = "splits, sgd shuffling, random-set draws (default 0)"},
                {.name = "count", .metavar = "N", .help = "demo: number of inputs (default 100)"},
                {.name = "demo-concepts", .metavar = "A,B", .help = "demo: concepts (default circle,cross,red,green,blue)"},
                {.name = "batch", .metavar = "B", .help = "examples per forward pass (default 32)"},
                {.name = "max-set", .metavar = "N", .help = "largest concept/random set (activations are kept) (default 5000)"},
                {.name = "max-pixels", .metavar = "N", .help = "decoded-pixel cap per input image (default 50000000)"},
                {.name = "threads", .metavar = "N", .help = "CPU threads (per process under mpirun); default: all"},
                {.name = "out", .metavar = "FILE.png", .help = "bar chart (default tcav.png)"},
                {.name = "json", .kind = FlagKind::Bool, .help = "print every run's scores, mean, std, p_value as JSON"},
                unit_cache_flags()[0], unit_cache_flags()[1]},
      .run = run_tcav};
}

}  // namespace backlight::cli
