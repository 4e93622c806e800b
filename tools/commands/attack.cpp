// `backlight attack`: FGSM or PGD (attribution/robustness/attack.h, Captum's captum.robust) on one
// input; writes a picture (original | adversarial | amplified difference [| attribution of each
// with --explain]) labelled with predictions and confidences, optionally the adversarial input as
// .npy (float32, the input's shape), and a summary as text or JSON. docs/robustness.md.
#include <chrono>
#include <cmath>
#include <limits>
#include <iostream>
#include <random>

#include <nlohmann/json.hpp>

#include "attribution/metrics/fragility.h"
#include "attribution/metrics/sensitivity.h"
#include "attribution/registry.h"
#include "attribution/robustness/attack_comparator.h"
#include "attribution/robustness/min_param.h"
#include "engine/philox.h"
#include "attribution/robustness/attack.h"
#include "io/file_checks.h"
#include "io/image_io.h"
#include "io/npy.h"
#include "models/data/shapes.h"
#include "models/default_model.h"
#include "models/safetensors.h"
#include "models/state_dict.h"
#include "models/zoo.h"
#include "render/grid.h"
#include "render/heatmap.h"
#include "tools/commands/command.h"
#include "tools/cli/finite_check.h"
#include "tools/commands/explain_job.h"
#include "tools/commands/flag_checks.h"
#include "engine/parallel.h"

namespace backlight::cli {
namespace {

ModulePtr load_attack_model(const Args& args) {
  const std::string name = args.get_or("model", "shapes_cnn");
  bool known = name == "shapes_cnn";
  for (const ModelInfo& mi : zoo_models()) known |= mi.name == name;
  if (!known) throw UsageError("attack: --model: unknown model '" + name + "' (see 'backlight models')");
  if (const auto w = args.get("weights")) {
    const SafeTensorsFile file = read_safetensors(*w);
    const auto arch = file.metadata.find("arch");
    if (arch != file.metadata.end() && arch->second == "shapes_cnn") {
      std::mt19937_64 rng(0);  // every tensor is overwritten by the weights
      const auto classes = file.metadata.find("num_classes");
      ModulePtr m = make_shapes_cnn(rng, classes == file.metadata.end() ? kNumShapeClasses : std::stoll(classes->second));
      load_weights(*m, file, LoadOptions{.strict = true, .arch = "shapes_cnn"});
      return m;
    }
    return load_model(*w);
  }
  if (name == "shapes_cnn") return default_model();
  std::cerr << "attack: warning: --model " << name << " without --weights uses random weights\n";
  return make_model(name);
}

struct Input {
  std::string source;
  Tensor x;  ///< [1, C, H, W]
  bool pixels = false;  ///< an image in [0,1]: default bounds [0,1]
  Shape shape{};        ///< the shape as given (--save writes this shape)
};

Input load_input(const Args& args) {
  if (args.has("image") && args.has("input")) throw UsageError("attack: give --image FILE or --input FILE.npy, not both");
  if (const auto p = args.get("image")) {
    const Tensor chw = load_image(*p);
    return {*p, chw.reshape({1, chw.size(0), chw.size(1), chw.size(2)}).clone(), true,
            Shape{1, chw.size(0), chw.size(1), chw.size(2)}};
  }
  if (const auto p = args.get("input")) {
    Tensor t = load_npy(*p);
    const Shape given = t.shape();
    if (t.dim() == 3) t = t.reshape({1, t.size(0), t.size(1), t.size(2)});
    BL_CHECK_SHAPE(t.dim() == 4 && t.size(0) == 1, "attack: --input ", *p, ": expected float32 [C,H,W] or [1,C,H,W], got ",
                   t.shape());
    check_finite(t, "attack: --input " + *p);
    return {*p, t.clone(), false, given};
  }
  const DefaultImage img = default_images().at(0);
  const Tensor& chw = img.sample.image;
  return {"builtin:" + img.name, chw.reshape({1, chw.size(0), chw.size(1), chw.size(2)}).clone(), true,
          Shape{1, chw.size(0), chw.size(1), chw.size(2)}};
}

struct Prediction {
  int64_t cls = -1;
  double confidence = 0;  ///< softmax probability of cls
  double target_probability = 0;
};

Prediction predict(const Module& model, const Tensor& x, int64_t target) {
  Tape tape(TapeOptions{.record = false});
  const Tensor z = model.forward(tape.input(x)).value().to_cpu();
  BL_CHECK_SHAPE(z.dim() == 2 && z.size(0) == 1, "attack: expected logits [1, classes], got ", z.shape());
  const float* r = z.data();
  const int64_t c = z.size(1);
  const int64_t best = std::max_element(r, r + c) - r;
  double s = 0;
  for (int64_t k = 0; k < c; ++k) s += std::exp(double(r[k]) - r[best]);
  Prediction p{best, 1.0 / s, 0};
  if (target >= 0 && target < c) p.target_probability = std::exp(double(r[target]) - r[best]) / s;
  return p;
}

std::string class_label(int64_t cls, size_t classes) {
  if (classes == kNumShapeClasses && cls >= 0 && cls < int64_t(kNumShapeClasses))
    return std::string(kShapeClassNames[size_t(cls)]);
  return "class " + std::to_string(cls);
}

// [1,C,H,W] -> [3,H,W] in [0,1] (min-max scaled over both images when outside [0,1]).
Tensor shown(const Tensor& x, float lo, float hi) {
  const int64_t c = x.size(1), hw = x.size(2) * x.size(3);
  Tensor out = Tensor::empty({3, x.size(2), x.size(3)});
  const bool scale = lo < 0 || hi > 1;
  for (int64_t k = 0; k < 3; ++k)
    for (int64_t i = 0; i < hw; ++i) {
      float v = 0;
      if (c == 3) v = x.data()[k * hw + i];
      else
        for (int64_t j = 0; j < c; ++j) v += x.data()[j * hw + i] / float(c);
      out.data()[k * hw + i] = scale ? (hi > lo ? (v - lo) / (hi - lo) : 0.5f) : v;
    }
  return out;
}

// 0.5 + d / (2 max|d|) per element, mean over channels shown grey; returns max|d| in `amp`.
Tensor difference_panel(const Tensor& a, const Tensor& b, double& max_abs) {
  max_abs = 0;
  for (int64_t i = 0; i < a.numel(); ++i) max_abs = std::max(max_abs, std::fabs(double(b.data()[i]) - a.data()[i]));
  Tensor d = Tensor::empty(a.shape());
  for (int64_t i = 0; i < a.numel(); ++i)
    d.data()[i] = max_abs > 0 ? float(0.5 + (double(b.data()[i]) - a.data()[i]) / (2 * max_abs)) : 0.5f;
  return shown(d, 0, 1);
}

Tensor attribution_of(const Module& model, const Tensor& x, int64_t cls, const std::string& method,
                      const std::string& layer) {
  MethodOptions mo;
  mo.layer = layer;
  return attribute(method, model, x, Target::index(cls), mo).attribution.to_cpu();
}

Tensor attribution_panel(const Tensor& a, const Tensor& x, const std::string& method, const Tensor& image) {
  BL_CHECK_SHAPE(a.dim() == 4 && a.size(2) == x.size(2) && a.size(3) == x.size(3), "attack: --explain ", method,
                 " gave a map ", a.shape(), "; expected the input's height and width ", x.shape());
  const int64_t hw = a.size(2) * a.size(3);
  Tensor map = Tensor::zeros({a.size(2), a.size(3)});
  for (int64_t k = 0; k < a.size(1); ++k)
    for (int64_t i = 0; i < hw; ++i) map.data()[i] += a.data()[k * hw + i];
  return visualize_attribution(map, image, VisualOptions{});
}

std::string explain_layer(const Module& model, const Tensor& x, const std::string& method) {
  for (const MethodInfo& mi : methods())
    if (mi.name == method && (mi.needs_layer || mi.family == "cam")) return default_layer(model, x);
  return "";
}

// --compare fgsm:0.01,pgd:0.03,noise:0.05: Captum's AttackComparator idea on the one input.
int run_compare(const Args& args, const Module& model, const Input& in, float lo, float hi, int64_t target) {
  std::vector<NamedPerturbation> list;
  const int64_t steps = args.get_int("steps", 1, 1000000).value_or(10);
  const uint64_t seed = uint64_t(args.get_int("seed", 0, std::numeric_limits<int64_t>::max()).value_or(0));
  const std::vector<std::string> items = *args.get_list("compare");
  for (const std::string& item : items) {
    const size_t colon = item.find(':');
    const std::string kind = item.substr(0, colon);
    double v = -1;
    try {
      v = colon == std::string::npos ? -1 : std::stod(item.substr(colon + 1));
    } catch (const std::exception&) {
    }
    if ((kind != "fgsm" && kind != "pgd" && kind != "noise") || !(v >= 0) || !std::isfinite(v))
      throw UsageError("attack: --compare expects a list of fgsm:EPS, pgd:EPS or noise:STDEV, got '" + item + "'");
    NamedPerturbation p{item, {}, 1};
    const float e = float(v);
    if (kind == "fgsm")
      p.apply = [&model, e, lo, hi](const Tensor& x) {
        return fgsm(model, x, e, Target::top1(), {.lower_bound = lo, .upper_bound = hi}).adversarial;
      };
    else if (kind == "pgd")
      p.apply = [&model, e, lo, hi, steps](const Tensor& x) {
        return pgd(model, x, e, Target::top1(), {.step_size = e / 4, .step_num = steps, .lower_bound = lo, .upper_bound = hi})
            .adversarial;
      };
    else
      p.apply = [e, lo, hi, seed](const Tensor& x) {
        Tensor out = x.clone();
        for (int64_t i = 0; i < out.numel(); ++i)
          out.data()[i] = std::min(std::max(out.data()[i] + e * philox::normal(seed, 7, uint64_t(i)), lo), hi);
        return out;
      };
    list.push_back(std::move(p));
  }
  ComparatorOptions co;
  if (const auto m = args.get("explain")) {
    co.method = *m;
    co.method_options.layer = explain_layer(model, in.x, *m);
  }
  co.top_k = args.get_int("top-k", 1, std::numeric_limits<int32_t>::max()).value_or(0);
  const std::vector<ComparisonRow> rows = compare_attacks(model, in.x, {target}, list, co);
  if (args.flag("json")) {
    nlohmann::json j = {{"source", in.source}, {"label", target}, {"method", co.method.empty() ? nlohmann::json() : nlohmann::json(co.method)}};
    nlohmann::json arr = nlohmann::json::array();
    for (const ComparisonRow& r : rows) {
      nlohmann::json e = {{"name", r.name}, {"accuracy", r.accuracy}, {"label_probability", r.label_probability}};
      if (r.top_k_intersection) e["top_k_intersection"] = *r.top_k_intersection, e["spearman"] = *r.spearman;
      arr.push_back(e);
    }
    j["comparison"] = arr;
    std::cout << j.dump(2) << "\n";
  } else {
    for (const ComparisonRow& r : rows) {
      std::cout << r.name << ": accuracy " << r.accuracy << ", label probability " << r.label_probability;
      if (r.top_k_intersection) std::cout << ", top-k intersection " << *r.top_k_intersection << ", spearman " << *r.spearman;
      std::cout << "\n";
    }
  }
  return 0;
}

int run_attack(const Args& args) {
  if (args.has("compare")) {
    for (const char* f : {"epsilon", "min-param", "out", "save", "targeted", "attack"})
      if (args.has(f)) throw UsageError(std::string("attack: --") + f + " does not apply to --compare");
    if (const auto t = threads_flag(args)) set_num_threads(*t);
    const ModulePtr model = load_attack_model(args);
    const Input in = load_input(args);
    const float lo = float(args.get_double("lower-bound").value_or(in.pixels ? 0.0 : -INFINITY));
    const float hi = float(args.get_double("upper-bound").value_or(in.pixels ? 1.0 : INFINITY));
    if (lo > hi) throw UsageError("attack: --lower-bound must not exceed --upper-bound");
    const auto tf = args.get_int("target", 0, std::numeric_limits<int32_t>::max());
    return run_compare(args, *model, in, lo, hi, tf ? *tf : predict(*model, in.x, -1).cls);
  }
  const std::string kind = args.get_or("attack", "fgsm");
  if (kind != "fgsm" && kind != "pgd") throw UsageError("attack: --attack expects fgsm or pgd, got '" + kind + "'");
  const auto min_param = args.get("min-param");
  if (min_param && *min_param != "epsilon")
    throw UsageError("attack: --min-param expects epsilon (the parameter searched), got '" + *min_param + "'");
  if (min_param && args.has("epsilon")) throw UsageError("attack: --min-param epsilon searches --range; drop --epsilon");
  if (!min_param)
    for (const char* f : {"range", "search", "num-attempts"})
      if (args.has(f)) throw UsageError(std::string("attack: --") + f + " applies to --min-param only");
  MinParamOptions mp;
  if (min_param) {
    const auto range = args.get_list("range", ':');
    if (!range || range->size() != 3)
      throw UsageError("attack: --min-param needs --range LO:HI:STEP (Captum's arg_min:arg_max:arg_step)");
    try {
      mp.arg_min = std::stod((*range)[0]), mp.arg_max = std::stod((*range)[1]), mp.arg_step = std::stod((*range)[2]);
    } catch (const std::exception&) {
      throw UsageError("attack: --range expects three numbers LO:HI:STEP, got '" + *args.get("range") + "'");
    }
    if (!(mp.arg_min >= 0) || !(mp.arg_step > 0) || !(mp.arg_max > mp.arg_min + mp.arg_step) || !std::isfinite(mp.arg_max))
      throw UsageError("attack: --range LO:HI:STEP needs 0 <= LO, STEP > 0 and HI > LO + STEP");
    const std::string search = args.get_or("search", "linear");
    if (search != "linear" && search != "binary")
      throw UsageError("attack: --search expects linear or binary, got '" + search + "'");
    mp.mode = min_param_mode_from_string(search);
    mp.num_attempts = args.get_int("num-attempts", 1, 1000).value_or(1);
    if (args.flag("targeted")) throw UsageError("attack: --min-param searches an untargeted attack; drop --targeted");
  }
  const auto epsilon = min_param ? std::optional<double>(mp.arg_min) : args.get_double("epsilon");
  if (!epsilon) throw UsageError("attack: --epsilon is required (the FGSM step or the PGD radius), e.g. --epsilon 0.03");
  if (!(*epsilon >= 0) || !std::isfinite(*epsilon)) throw UsageError("attack: --epsilon expects a number >= 0");
  AttackNorm norm = AttackNorm::Linf;
  const std::string norm_name = args.get_or("norm", "linf");
  if (norm_name != "linf" && norm_name != "l2") throw UsageError("attack: --norm expects linf or l2, got '" + norm_name + "'");
  norm = attack_norm_from_string(norm_name);
  if (kind == "fgsm")
    for (const char* f : {"step-size", "steps", "random-start", "norm", "seed"})
      if (args.has(f)) throw UsageError(std::string("attack: --") + f + " applies to --attack pgd only");
  const int64_t steps = args.get_int("steps", 1, 1000000).value_or(10);
  const auto step_flag = args.get_double("step-size");
  double step_size = step_flag.value_or(*epsilon / 4);
  if (step_flag && (!(step_size > 0) || !std::isfinite(step_size))) throw UsageError("attack: --step-size expects a number > 0");
  if (const auto t = threads_flag(args)) set_num_threads(*t);
  const bool targeted = args.flag("targeted");
  const auto target_flag = args.get_int("target", 0, std::numeric_limits<int32_t>::max());
  if (targeted && !target_flag) throw UsageError("attack: --targeted needs --target K (the class to move towards)");

  // Outputs are checked before the (possibly long) attack runs.
  if (const auto o = args.get("out")) check_output_file(*o, "attack: --out");
  if (const auto o = args.get("save")) check_output_file(*o, "attack: --save");
  const ModulePtr model = load_attack_model(args);
  const Input in = load_input(args);
  const float lo = float(args.get_double("lower-bound").value_or(in.pixels ? 0.0 : -INFINITY));
  const float hi = float(args.get_double("upper-bound").value_or(in.pixels ? 1.0 : INFINITY));
  if (lo > hi) throw UsageError("attack: --lower-bound must not exceed --upper-bound");

  const Prediction before = predict(*model, in.x, -1);
  const int64_t target = target_flag ? *target_flag : before.cls;
  Tape probe(TapeOptions{.record = false});
  const int64_t classes = model->forward(probe.input(in.x)).value().size(1);
  if (target < 0 || target >= classes)
    BL_THROW("attack: --target ", target, " is not a class of the model (0..", classes - 1, ")");

  const bool json = args.flag("json");
  const auto t0 = std::chrono::steady_clock::now();
  const uint64_t seed = uint64_t(args.get_int("seed", 0, std::numeric_limits<int64_t>::max()).value_or(0));
  auto run_one = [&](const Tensor& x, double eps, bool progress) {
    const double step = step_flag ? step_size : eps / 4;
    if (kind == "fgsm")
      return fgsm(*model, x, float(eps), Target::index(target), {.lower_bound = lo, .upper_bound = hi, .targeted = targeted});
    return pgd(*model, x, float(eps), Target::index(target),
               {.step_size = float(step), .step_num = steps, .norm = norm, .targeted = targeted,
                .random_start = args.flag("random-start"), .seed = seed, .lower_bound = lo, .upper_bound = hi,
                .progress = {.enabled = progress}});
  };
  AttackResult r;
  MinParamResult found;
  double used_epsilon = *epsilon;
  if (min_param) {
    found = min_param_perturbation(
        *model, in.x, [&](const Tensor& x, double eps) { return run_one(x, eps, false).adversarial; },
        Target::index(target), mp);
    std::cerr << "attack: min-param: " << found.evaluations << " evaluations, epsilon "
              << (found.param ? std::to_string(*found.param) : std::string("none in range")) << "\n";
    used_epsilon = found.param.value_or(0);
    r.adversarial = found.param ? found.perturbed : in.x.clone();
    r.target = {target};
  } else {
    r = run_one(in.x, *epsilon, true);
  }
  step_size = step_flag ? step_size : used_epsilon / 4;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const Tensor& adv = r.adversarial;
  const Prediction after = predict(*model, adv, target);
  const Prediction before_t = predict(*model, in.x, target);
  double linf = 0, l2 = 0;
  for (int64_t i = 0; i < adv.numel(); ++i) {
    const double d = double(adv.data()[i]) - in.x.data()[i];
    linf = std::max(linf, std::fabs(d));
    l2 += d * d;
  }
  l2 = std::sqrt(l2);
  const bool success = targeted ? after.cls == target : after.cls != target;

  if (const auto out = args.get("out")) {
    float vlo = INFINITY, vhi = -INFINITY;
    for (const Tensor* t : {&in.x, &adv})
      for (float v : t->span()) vlo = std::min(vlo, v), vhi = std::max(vhi, v);
    double amp = 0;
    const Tensor orig_img = shown(in.x, vlo, vhi), adv_img = shown(adv, vlo, vhi);
    auto conf = [&](const Prediction& p) {
      char buf[64];
      std::snprintf(buf, sizeof buf, " %.1f%%", 100 * p.confidence);
      return class_label(p.cls, size_t(classes)) + buf;
    };
    std::vector<Panel> panels{{orig_img, "original: " + conf(before)}, {adv_img, kind + ": " + conf(after)}};
    Tensor diff = difference_panel(in.x, adv, amp);
    char buf[64];
    std::snprintf(buf, sizeof buf, "difference x%.0f", amp > 0 ? 0.5 / amp : 1.0);
    panels.push_back({diff, buf});
    if (const auto method = args.get("explain")) {
      const std::string layer = explain_layer(*model, in.x, *method);
      panels.push_back({attribution_panel(attribution_of(*model, in.x, before.cls, *method, layer), in.x, *method, orig_img),
                        *method + " original (" + class_label(before.cls, size_t(classes)) + ")"});
      panels.push_back({attribution_panel(attribution_of(*model, adv, after.cls, *method, layer), adv, *method, adv_img),
                        *method + " adversarial (" + class_label(after.cls, size_t(classes)) + ")"});
    }
    write_png(*out, make_grid(panels));
  }
  if (const auto save = args.get("save")) save_npy(*save, adv.reshape(in.shape));

  // Fragility of the explanation (Ghorbani et al. 2019): the map of the original's predicted class
  // on both inputs, next to sensitivity-max of the same method at radius epsilon.
  nlohmann::json robustness;
  if (const auto method = args.get("explain")) {
    const std::string layer = explain_layer(*model, in.x, *method);
    const Tensor a = attribution_of(*model, in.x, before.cls, *method, layer);
    const Tensor b = attribution_of(*model, adv, before.cls, *method, layer);
    const int64_t top_k = args.get_int("top-k", 1, std::numeric_limits<int32_t>::max()).value_or(0);
    const FragilityResult fr = explanation_fragility(a, b, top_k);
    MethodOptions mo;
    mo.layer = layer;
    const Tensor sens = sensitivity_max(*method, *model, in.x, Target::index(before.cls), mo,
                                        {.samples = 10, .radius = float(std::max(used_epsilon, 1e-3))});
    robustness = {{"method", *method}, {"class", before.cls}, {"top_k", fr.k},
                  {"top_k_intersection", fr.top_k_intersection[0]}, {"spearman", fr.spearman[0]},
                  {"sensitivity_max", double(sens.to_cpu().data()[0])},
                  {"sensitivity_radius", std::max(used_epsilon, 1e-3)}, {"sensitivity_samples", 10}};
    if (!json)
      std::cout << "explanation fragility (" << *method << "): top-" << fr.k << " intersection "
                << fr.top_k_intersection[0] << ", spearman " << fr.spearman[0] << "; sensitivity-max "
                << sens.to_cpu().data()[0] << "\n";
  }

  if (json) {
    nlohmann::json j = {{"source", in.source}, {"attack", kind}, {"epsilon", used_epsilon}, {"targeted", targeted},
                        {"target", target}, {"lower_bound", lo}, {"upper_bound", hi},
                        {"original", {{"prediction", before.cls}, {"confidence", before.confidence},
                                      {"target_probability", before_t.target_probability}}},
                        {"adversarial", {{"prediction", after.cls}, {"confidence", after.confidence},
                                         {"target_probability", after.target_probability}}},
                        {"success", success}, {"linf", linf}, {"l2", l2}, {"seconds", seconds}};
    if (kind == "pgd") {
      j["norm"] = to_string(norm);
      j["step_size"] = step_size;
      j["steps"] = steps;
      j["random_start"] = args.flag("random-start");
    }
    if (min_param) {
      j["min_param"] = {{"name", *min_param}, {"value", found.param ? nlohmann::json(*found.param) : nlohmann::json()},
                        {"arg_min", mp.arg_min}, {"arg_max", mp.arg_max}, {"arg_step", mp.arg_step},
                        {"mode", args.get_or("search", "linear")}, {"num_attempts", mp.num_attempts},
                        {"evaluations", found.evaluations}};
      if (!found.param) j["epsilon"] = nullptr;
    }
    if (!robustness.is_null()) j["explanation_robustness"] = robustness;
    if (!std::isfinite(lo)) j["lower_bound"] = nullptr;
    if (!std::isfinite(hi)) j["upper_bound"] = nullptr;
    if (const auto o = args.get("out")) j["png"] = *o;
    if (const auto s = args.get("save")) j["npy"] = *s;
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << kind << " on " << in.source << ": " << class_label(before.cls, size_t(classes)) << " ("
              << before.confidence << ") -> " << class_label(after.cls, size_t(classes)) << " (" << after.confidence
              << "), " << (success ? "success" : "no success") << "; |d|_inf " << linf << ", |d|_2 " << l2 << "\n";
  }
  return 0;
}

}  // namespace

Command attack_command() {
  return {
      .name = "attack",
      .summary = "adversarial attack (FGSM, PGD) on one input, as Captum's captum.robust",
      .description =
          "Perturbs the input to change the model's answer: FGSM (one signed-gradient step of size --epsilon) or PGD\n"
          "(--steps signed-gradient steps of --step-size, projected onto the --norm ball of radius --epsilon).\n"
          "The loss is cross-entropy on the logits (Captum's default). --target K is Captum's target: the label\n"
          "whose loss the attack increases (default: the predicted class); with --targeted, the class the attack\n"
          "moves towards. Images (--image, the built-in default) are bounded to [0,1] unless --lower-bound /\n"
          "--upper-bound say otherwise; .npy inputs are unbounded by default. See docs/robustness.md.",
      .flags = {{.name = "model", .metavar = "NAME", .help = "zoo model (default: shapes_cnn, the embedded model)"},
                {.name = "weights", .metavar = "FILE.safetensors", .help = "weights (backlight train, tools/convert_torch.py)"},
                {.name = "image", .metavar = "FILE", .help = "input image (PNG, JPEG, BMP), values in [0,1]"},
                {.name = "input", .metavar = "FILE.npy", .help = "exact float32 input [C,H,W] or [1,C,H,W]"},
                {.name = "attack", .metavar = "NAME", .help = "fgsm (default) or pgd"},
                {.name = "epsilon", .metavar = "E", .help = "FGSM step / PGD radius (required)"},
                {.name = "step-size", .metavar = "S", .help = "PGD step (default epsilon/4)"},
                {.name = "steps", .metavar = "N", .help = "PGD steps (default 10)"},
                {.name = "norm", .metavar = "NORM", .help = "PGD ball: linf (default) or l2"},
                {.name = "random-start", .kind = FlagKind::Bool, .help = "PGD starts at a random point of the ball"},
                {.name = "seed", .metavar = "S", .help = "random start seed (default 0)"},
                {.name = "lower-bound", .metavar = "V", .help = "smallest input value (images: 0)"},
                {.name = "upper-bound", .metavar = "V", .help = "largest input value (images: 1)"},
                {.name = "target", .metavar = "K", .help = "Captum's target (default: the predicted class)"},
                {.name = "targeted", .kind = FlagKind::Bool, .help = "move towards --target instead of away"},
                {.name = "out", .metavar = "FILE.png", .help = "picture: original | adversarial | difference"},
                {.name = "save", .metavar = "FILE.npy", .help = "adversarial input, float32, the input's shape"},
                {.name = "explain", .metavar = "METHOD", .help = "add METHOD's maps to the picture; fragility + sensitivity-max to the output"},
                {.name = "compare", .metavar = "LIST", .help = "accuracy (+ fragility with --explain) under fgsm:EPS,pgd:EPS,noise:STDEV,..."},
                {.name = "top-k", .metavar = "K", .help = "fragility: the K most salient positions (default 10 %)"},
                {.name = "min-param", .metavar = "epsilon", .help = "search the smallest epsilon that flips the answer (Captum MinParamPerturbation)"},
                {.name = "range", .metavar = "LO:HI:STEP", .help = "--min-param grid: arg_min:arg_max:arg_step"},
                {.name = "search", .metavar = "MODE", .help = "--min-param mode: linear (default) or binary"},
                {.name = "num-attempts", .metavar = "N", .help = "--min-param tries per value (random start; default 1)"},
                {.name = "threads", .metavar = "N", .help = "CPU threads, 1 to 4 x the hardware threads"},
                {.name = "json", .kind = FlagKind::Bool, .help = "print a JSON summary"}},
      .run = run_attack};
}

}  // namespace backlight::cli
