// `backlight counterfactual`: Wachter or DiCE counterfactuals (attribution/counterfactual/) of one
// input for a desired class; writes a picture (images: original | counterfactual | difference per
// answer; tabular: a table of changed features), optionally the counterfactuals as .npy
// (float32 [k, ...input shape]), and validity/proximity/sparsity/diversity as text or JSON.
// docs/counterfactuals.md.
#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <limits>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "attribution/counterfactual/counterfactual.h"
#include "engine/parallel.h"
#include "io/file_checks.h"
#include "io/image_io.h"
#include "io/npy.h"
#include "models/data/shapes.h"
#include "models/default_model.h"
#include "models/onnx/model.h"
#include "models/zoo.h"
#include "render/grid.h"
#include "tools/cli/finite_check.h"
#include "tools/commands/command.h"
#include "tools/commands/counterfactual_render.h"
#include "tools/commands/flag_checks.h"

namespace backlight::cli {
namespace {

ModulePtr load_cf_model(const Args& args) {
  const std::string name = args.get_or("model", "shapes_cnn");
  if (name.ends_with(".onnx")) {
    if (args.has("weights")) throw UsageError("counterfactual: --weights does not apply to an .onnx model");
    return load_onnx_model(name);
  }
  bool known = name == "shapes_cnn";
  for (const ModelInfo& mi : zoo_models()) known |= mi.name == name;
  if (!known) throw UsageError("counterfactual: --model: unknown model '" + name + "' (see 'backlight models', or FILE.onnx)");
  if (const auto w = args.get("weights")) return load_model(*w);
  if (name == "shapes_cnn") return default_model();
  std::cerr << "counterfactual: warning: --model " << name << " without --weights uses random weights\n";
  return make_model(name);
}

struct CfInput {
  std::string source;
  Tensor x;             ///< [1, ...]
  Shape shape{};        ///< as given (--save writes [k, ...this shape without a leading 1])
  bool pixels = false;  ///< an image in [0,1]
  bool tabular = false; ///< [1, F]
};

CfInput load_cf_input(const Args& args) {
  if (args.has("image") && args.has("input"))
    throw UsageError("counterfactual: give --image FILE or --input FILE.npy, not both");
  if (const auto p = args.get("image")) {
    const Tensor chw = load_image(*p);
    return {*p, chw.reshape({1, chw.size(0), chw.size(1), chw.size(2)}).clone(), chw.shape(), true, false};
  }
  if (const auto p = args.get("input")) {
    const Tensor t = load_npy(*p);
    check_finite(t, "counterfactual: --input " + *p);
    const bool batched = t.dim() >= 2 && t.size(0) == 1;
    const auto span = t.shape().dims();
    std::vector<int64_t> item(span.begin() + (batched ? 1 : 0), span.end());
    if (item.empty()) throw UsageError("counterfactual: --input " + *p + ": expected a vector [F] or a tensor, got a scalar");
    std::vector<int64_t> dims{1};
    dims.insert(dims.end(), item.begin(), item.end());
    return {*p, t.reshape(Shape(dims)).clone(), Shape(item), false, item.size() == 1};
  }
  const DefaultImage img = default_images().at(0);
  const Tensor& chw = img.sample.image;
  return {"builtin:" + img.name, chw.reshape({1, chw.size(0), chw.size(1), chw.size(2)}).clone(), chw.shape(), true,
          false};
}

std::vector<std::string> read_lines(const std::string& path, const char* flag) {
  std::ifstream f(path);
  if (!f) BL_THROW("counterfactual: ", flag, ": cannot read '", path, "'");
  std::vector<std::string> out;
  std::string line;
  while (std::getline(f, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty() && line[0] != '#') out.push_back(line);
  }
  return out;
}

// A feature named or numbered (0-based).
int64_t feature_index(const std::string& word, const std::vector<std::string>& names, int64_t f, const char* flag) {
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == word) return int64_t(i);
  char* end = nullptr;
  const long long v = std::strtoll(word.c_str(), &end, 10);
  if (!word.empty() && *end == '\0' && v >= 0 && v < f) return v;
  throw UsageError(std::string("counterfactual: ") + flag + ": '" + word + "' is neither a feature name nor an index in 0.." +
                   std::to_string(f - 1));
}

int run_counterfactual(const Args& args) {
  const std::string method = args.get_or("method", "dice");
  if (method != "dice" && method != "wachter")
    throw UsageError("counterfactual: --method expects dice or wachter, got '" + method + "'");
  const auto target = args.get_int("target", 0, std::numeric_limits<int32_t>::max());
  if (!target) throw UsageError("counterfactual: --target K (the desired class) is required");
  const int64_t k = args.get_int("k", 1, 64).value_or(method == "dice" ? 4 : 1);
  if (method == "wachter" && k != 1) throw UsageError("counterfactual: --method wachter finds one counterfactual; drop --k or use --method dice");
  const std::string dist_name = args.get_or("distance", args.has("mad-data") ? "mad" : "l1");
  if (dist_name != "l1" && dist_name != "l2" && dist_name != "mad")
    throw UsageError("counterfactual: --distance expects l1, l2 or mad, got '" + dist_name + "'");
  if (dist_name == "mad" && !args.has("mad-data"))
    throw UsageError("counterfactual: --distance mad needs --mad-data FILE.npy (reference data [N, features])");
  auto nonneg = [&](const char* flag, double fallback) {
    const double v = args.get_double(flag).value_or(fallback);
    if (!(v >= 0) || !std::isfinite(v)) throw UsageError(std::string("counterfactual: --") + flag + " expects a number >= 0");
    return v;
  };
  const double diversity = nonneg("diversity", 1.0), proximity = nonneg("proximity", method == "dice" ? 0.5 : 1.0);
  const double kappa = nonneg("kappa", method == "dice" ? 1.0 : 0.1);
  const double lr = args.get_double("learning-rate").value_or(method == "dice" ? 0.05 : 0.01);
  if (!(lr > 0) || !std::isfinite(lr)) throw UsageError("counterfactual: --learning-rate expects a number > 0");
  if (method == "wachter" && args.has("diversity")) throw UsageError("counterfactual: --diversity applies to --method dice");
  if (const auto t = threads_flag(args)) set_num_threads(*t);
  if (const auto o = args.get("out")) check_output_file(*o, "counterfactual: --out");
  if (const auto o = args.get("save")) check_output_file(*o, "counterfactual: --save");

  const ModulePtr model = load_cf_model(args);
  const CfInput in = load_cf_input(args);
  const int64_t f = in.x.numel();
  std::vector<std::string> names;
  if (const auto p = args.get("feature-names")) {
    names = read_lines(*p, "--feature-names");
    if (int64_t(names.size()) != f)
      BL_THROW("counterfactual: --feature-names ", *p, " has ", names.size(), " names; the input has ", f, " features");
  }
  CfConstraints cons;
  cons.lower_bound = float(args.get_double("lower-bound").value_or(in.pixels ? 0.0 : -INFINITY));
  cons.upper_bound = float(args.get_double("upper-bound").value_or(in.pixels ? 1.0 : INFINITY));
  if (cons.lower_bound > cons.upper_bound) throw UsageError("counterfactual: --lower-bound must not exceed --upper-bound");
  if (const auto list = args.get_list("immutable")) {
    cons.immutable.assign(size_t(f), 0);
    for (const std::string& w : *list) cons.immutable[size_t(feature_index(w, names, f, "--immutable"))] = 1;
  }
  if (const auto p = args.get("ranges")) {
    cons.lower.assign(size_t(f), cons.lower_bound);
    cons.upper.assign(size_t(f), cons.upper_bound);
    for (const std::string& line : read_lines(*p, "--ranges")) {
      std::istringstream ss(line);
      std::string word;
      double lo = 0, hi = 0;
      if (!(ss >> word >> lo >> hi) || lo > hi)
        BL_THROW("counterfactual: --ranges ", *p, ": expected lines 'FEATURE LOW HIGH' with LOW <= HIGH, got '", line, "'");
      const size_t j = size_t(feature_index(word, names, f, "--ranges"));
      cons.lower[j] = float(lo), cons.upper[j] = float(hi);
    }
  }
  CfMetric metric{cf_distance_from_string(dist_name), {}};
  if (dist_name == "mad") {
    const Tensor ref = load_npy(*args.get("mad-data"));
    BL_CHECK_SHAPE(ref.dim() >= 2 && ref.numel() / ref.size(0) == f, "counterfactual: --mad-data: expected [N, ", f,
                   "] (one row per example, the input's features), got ", ref.shape());
    metric.weights = mad_weights(ref);
  }
  const int64_t max_iter = args.get_int("max-iter", 1, 1000000).value_or(method == "dice" ? (in.tabular ? 5000 : 300) : 300);
  const int64_t min_iter = args.get_int("min-iter", 0, 1000000).value_or(std::min<int64_t>(in.tabular ? 500 : 50, max_iter));
  if (min_iter > max_iter) throw UsageError("counterfactual: --min-iter must not exceed --max-iter");
  const bool sparsify = in.tabular && !args.flag("no-posthoc-sparsity");

  const Tensor z0 = [&] {
    Tape tape(TapeOptions{.record = false});
    return model->forward(tape.input(in.x)).value().to_cpu();
  }();
  BL_CHECK_SHAPE(z0.dim() == 2 && z0.size(0) == 1, "counterfactual: expected logits [1, classes], got ", z0.shape());
  if (*target >= z0.size(1)) BL_THROW("counterfactual: --target ", *target, " is not a class of the model (0..", z0.size(1) - 1, ")");
  const int64_t before = std::max_element(z0.data(), z0.data() + z0.size(1)) - z0.data();

  const auto t0 = std::chrono::steady_clock::now();
  CounterfactualResult r;
  if (method == "dice") {
    r = dice_counterfactuals(*model, in.x, *target,
                             {.k = k, .proximity_weight = float(proximity), .diversity_weight = float(diversity),
                              .kappa = float(kappa), .learning_rate = float(lr), .min_iter = min_iter,
                              .max_iter = max_iter, .metric = metric, .constraints = cons,
                              .posthoc_sparsity = sparsify, .progress = {.enabled = true}});
  } else {
    r = wachter_counterfactual(*model, in.x, *target,
                               {.kappa = float(kappa), .lambda = float(proximity), .max_iter = max_iter,
                                .learning_rate = float(lr), .metric = metric, .constraints = cons,
                                .posthoc_sparsity = sparsify, .progress = {.enabled = true}});
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  CfReport rep{in.x, r, names, metric, before, in.tabular};
  if (const auto out = args.get("out")) write_png(*out, in.tabular ? render_cf_table(rep) : render_cf_images(rep));
  if (const auto save = args.get("save")) {
    std::vector<int64_t> dims{r.counterfactuals.size(0)};
    for (int64_t d : in.shape.dims()) dims.push_back(d);
    save_npy(*save, r.counterfactuals.reshape(Shape(dims)));
  }
  nlohmann::json j = cf_json(rep);
  j["source"] = in.source;
  j["method"] = method;
  j["distance"] = dist_name;
  j["kappa"] = kappa;
  j["learning_rate"] = lr;
  j["iterations"] = r.iterations;
  j["seconds"] = seconds;
  if (method == "dice") j["diversity_weight"] = diversity, j["proximity_weight"] = proximity;
  else j["lambda"] = r.lambda;
  if (const auto o = args.get("out")) j["png"] = *o;
  if (const auto s = args.get("save")) j["npy"] = *s;
  if (args.flag("json")) {
    std::cout << j.dump(2) << "\n";
  } else {
    const CfMetrics& m = r.metrics;
    std::cout << method << " on " << in.source << ": class " << before << " -> desired class " << *target << ", "
              << r.counterfactuals.size(0) << " counterfactual(s); validity " << m.validity << ", proximity "
              << m.proximity << " (" << dist_name << "), sparsity " << m.sparsity << " (" << m.changed_features
              << " features changed on average), diversity " << m.diversity << "\n";
  }
  return 0;
}

}  // namespace

Command counterfactual_command() {
  return {
      .name = "counterfactual",
      .summary = "counterfactual explanations (Wachter et al. 2017, DiCE) for a desired class",
      .description =
          "Finds inputs close to the given one that the model assigns to --target K: one (--method wachter: hinge on\n"
          "the logit margin + lambda * distance, lambda lowered until valid) or --k diverse ones (--method dice,\n"
          "the default: dice-ml's gradient method with a determinantal diversity term). Reports validity,\n"
          "proximity, sparsity and diversity. Tabular inputs (--input FILE.npy holding [F] or [1,F]) can name\n"
          "features (--feature-names), hold some fixed (--immutable) and limit ranges (--ranges: lines\n"
          "'FEATURE LOW HIGH'); changed features are reset afterwards where the answer stays valid.\n"
          "See docs/counterfactuals.md.",
      .flags = {{.name = "model", .metavar = "NAME|FILE.onnx", .help = "zoo model or ONNX file (default: shapes_cnn)"},
                {.name = "weights", .metavar = "FILE.safetensors", .help = "weights of a zoo model"},
                {.name = "image", .metavar = "FILE", .help = "input image, values in [0,1] (default: a built-in image)"},
                {.name = "input", .metavar = "FILE.npy", .help = "exact float32 input ([F] or [1,F] is tabular)"},
                {.name = "target", .metavar = "K", .help = "the desired class (required)"},
                {.name = "method", .metavar = "NAME", .help = "dice (default) or wachter"},
                {.name = "k", .metavar = "N", .help = "number of counterfactuals (dice; default 4)"},
                {.name = "diversity", .metavar = "W", .help = "weight of the det K diversity term (dice; default 1)"},
                {.name = "proximity", .metavar = "W", .help = "distance weight (dice: 0.5; wachter: initial lambda 1)"},
                {.name = "kappa", .metavar = "M", .help = "logit margin of the hinge (dice 1, wachter 0.1)"},
                {.name = "distance", .metavar = "NAME", .help = "l1 (default), l2 or mad (MAD-weighted l1)"},
                {.name = "mad-data", .metavar = "FILE.npy", .help = "reference data [N, F] for the MAD weights"},
                {.name = "feature-names", .metavar = "FILE", .help = "one feature name a line (tabular)"},
                {.name = "immutable", .metavar = "NAMES|INDICES", .help = "comma-separated features that must not change"},
                {.name = "ranges", .metavar = "FILE", .help = "allowed ranges, lines 'FEATURE LOW HIGH'"},
                {.name = "lower-bound", .metavar = "V", .help = "smallest value of every feature (images: 0)"},
                {.name = "upper-bound", .metavar = "V", .help = "largest value of every feature (images: 1)"},
                {.name = "learning-rate", .metavar = "R", .help = "Adam step (dice 0.05, wachter 0.01)"},
                {.name = "max-iter", .metavar = "N", .help = "Adam steps at most (dice: 5000 tabular, 300 images; wachter: 300 per lambda)"},
                {.name = "min-iter", .metavar = "N", .help = "dice: Adam steps at least (500 tabular, 50 images)"},
                {.name = "no-posthoc-sparsity", .kind = FlagKind::Bool, .help = "tabular: keep every changed feature"},
                {.name = "threads", .metavar = "N", .help = "CPU threads, 1 to 4 x the hardware threads"},
                {.name = "out", .metavar = "FILE.png", .help = "picture (images: original | counterfactual | difference; tabular: table)"},
                {.name = "save", .metavar = "FILE.npy", .help = "the counterfactuals, float32 [k, ...input shape]"},
                {.name = "json", .kind = FlagKind::Bool, .help = "print a JSON summary"}},
      .run = run_counterfactual};
}

}  // namespace backlight::cli
