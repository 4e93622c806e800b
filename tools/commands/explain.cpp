// `backlight explain`: the main job - attribution maps for one image (or .npy tensor) with one or
// more methods, written as a PNG grid (input | one heatmap per method), optionally the raw
// attribution as .npy, and a summary as text or JSON. Defaults: the embedded shapes_cnn model on
// its first embedded image, methods saliency, integrated_gradients, lrp, grad_cam.
#include <chrono>
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>

#include "attribution/layer.h"
#include "attribution/on_device.h"
#include "attribution/registry.h"
#include "engine/parallel.h"
#include "kernels/device.h"
#include "models/default_model.h"
#include "models/zoo.h"
#include "tools/cli/heatmap.h"
#include "tools/cli/image_io.h"
#include "tools/cli/npy.h"
#include "tools/commands/command.h"

namespace backlight::cli {
namespace {

constexpr const char* kDefaultOut = "out/explain.png";
constexpr const char* kDefaultMethods = "saliency,integrated_gradients,lrp,grad_cam";

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string part; std::getline(ss, part, sep);)
    if (!part.empty()) out.push_back(part);
  return out;
}

std::vector<int64_t> parse_dims(const Args& args, const char* flag) {
  std::vector<int64_t> dims;
  const std::optional<std::string> v = args.get(flag);
  if (!v) return dims;
  for (const std::string& p : split(*v, 'x')) {
    char* end = nullptr;
    const long long d = std::strtoll(p.c_str(), &end, 10);
    if (end != p.c_str() + p.size() || d < 1)
      throw UsageError(std::string("explain: --") + flag + " expects positive sizes like 3x16x16, got '" + *v + "'");
    dims.push_back(d);
  }
  return dims;
}

std::vector<float> parse_floats(const std::string& text, const char* flag) {
  std::vector<float> out;
  for (const std::string& p : split(text, ',')) {
    char* end = nullptr;
    const float f = std::strtof(p.c_str(), &end);
    if (end != p.c_str() + p.size() || !std::isfinite(f))
      throw UsageError(std::string("explain: --") + flag + " expects comma-separated numbers, got '" + text + "'");
    out.push_back(f);
  }
  return out;
}

// Attribution [1,C,H,W] (or a layer/CAM map) -> signed [H,W] map at the image's size (channel sum).
Tensor display_map(const Tensor& attr, int64_t h, int64_t w) {
  Tensor a = attr;
  if (a.dim() == 3) a = a.reshape({1, a.size(0), a.size(1), a.size(2)});
  if (a.dim() != 4) return Tensor::zeros({h, w});
  const int64_t c = a.size(1), ah = a.size(2), aw = a.size(3);
  Tensor summed = Tensor::zeros({1, 1, ah, aw});
  for (int64_t k = 0; k < c; ++k)
    for (int64_t i = 0; i < ah * aw; ++i) summed.data()[i] += a.data()[k * ah * aw + i];
  if (ah != h || aw != w) summed = upsample_bilinear(summed, h, w);
  return summed.reshape({h, w});
}

// [3,H,W] (or [C,H,W]) values rescaled to [0,1] for display when they are not images already.
Tensor display_image(const Tensor& chw) {
  float lo = chw.data()[0], hi = lo;
  for (float v : chw.span()) lo = std::min(lo, v), hi = std::max(hi, v);
  Tensor out = chw.clone();
  if (lo >= 0.0f && hi <= 1.0f) return out;
  for (float& v : out.span()) v = hi > lo ? (v - lo) / (hi - lo) : 0.5f;
  return out;
}

int run_explain(const Args& args) {
  // --- arguments (usage errors before any work)
  if (const auto t = args.get_int("threads")) {
    if (*t < 1) throw UsageError("explain: --threads expects a positive integer, got " + std::to_string(*t));
    set_num_threads(static_cast<int>(*t));
  }
  const std::string device = args.get_or("device", "cpu");
  if (device != "cpu" && device != "cuda")
    throw UsageError("explain: --device expects cpu or cuda, got '" + device + "'");
  std::vector<std::string> method_names = split(args.get_or("method", kDefaultMethods), ',');
  std::string known;
  for (const MethodInfo& m : methods()) known += (known.empty() ? "" : ", ") + m.name;
  for (const std::string& m : method_names) {
    bool ok = false;
    for (const MethodInfo& info : methods()) ok |= info.name == m;
    if (!ok) throw UsageError("explain: --method: unknown method '" + m + "' (accepted: " + known + ")");
  }
  if (args.has("model")) {
    bool ok = false;
    std::string names;
    for (const ModelInfo& mi : zoo_models()) {
      ok |= mi.name == *args.get("model");
      names += (names.empty() ? "" : ", ") + mi.name;
    }
    if (!ok && *args.get("model") != "shapes_cnn")
      throw UsageError("explain: --model: unknown model '" + *args.get("model") + "' (accepted: shapes_cnn, " + names +
                       ")");
  }
  if (args.has("image") && args.has("input"))
    throw UsageError("explain: give either --image or --input, not both");

  MethodOptions opt;
  opt.rules = args.get_or("rules", "");
  for (const std::string& kv : args.get_all("rule-param")) {
    try {
      opt.rule_params.insert(parse_rule_param(kv));
    } catch (const RuleError& e) {
      throw UsageError(std::string("explain: --rule-param: ") + e.what());
    }
  }
  if (!opt.rules.empty()) make_rule_set(opt.rules, opt.rule_params);  // validates names early
  opt.layer = args.get_or("layer", "");
  if (const auto n = args.get("neuron"))
    for (const std::string& p : split(*n, ',')) opt.neuron.push_back(std::stoll(p));
  if (const auto s = args.get_int("steps")) {
    if (*s < 1) throw UsageError("explain: --steps expects a positive integer");
    opt.steps = static_cast<int>(*s);
  }
  if (const auto i = args.get("integration")) {
    try {
      opt.integration = integration_from_string(*i);
    } catch (const Error& e) {
      throw UsageError(std::string("explain: --integration: ") + e.what());
    }
  }
  const std::string nt = args.get_or("noise-tunnel", "");
  if (!nt.empty() && nt != "smoothgrad" && nt != "smoothgrad_sq" && nt != "vargrad")
    throw UsageError("explain: --noise-tunnel expects smoothgrad, smoothgrad_sq or vargrad, got '" + nt + "'");
  opt.noise_tunnel = nt;
  if (const auto s = args.get_int("samples")) opt.samples = static_cast<int>(*s);
  if (const auto s = args.get_double("stdev")) opt.stdev = static_cast<float>(*s);
  opt.window = parse_dims(args, "window");
  opt.stride = parse_dims(args, "stride");
  if (const auto b = args.get_int("batch")) opt.batch = static_cast<int>(*b);
  if (const auto s = args.get_int("seed")) opt.seed = static_cast<uint64_t>(*s);
  const std::string target_text = args.get_or("target", "top1");
  std::optional<int64_t> target_class;
  if (target_text != "top1") {
    char* end = nullptr;
    const long long t = std::strtoll(target_text.c_str(), &end, 10);
    if (end != target_text.c_str() + target_text.size() || t < 0)
      throw UsageError("explain: --target expects a class index or top1, got '" + target_text + "'");
    target_class = t;
  }
  const std::string out_png = args.get_or("out", kDefaultOut);
  const std::optional<std::string> save_path = args.get("save");

  // --- runtime (errors exit 1)
  if (device == "cuda") require_cuda_device("explain");
  ModulePtr model;
  std::string model_name = args.get_or("model", "shapes_cnn");
  if (const auto w = args.get("weights")) {
    model = load_model(*w);
  } else if (model_name == "shapes_cnn") {
    model = default_model();
  } else {
    model = make_model(model_name);
    std::cerr << "explain: warning: --model " << model_name << " without --weights uses random weights\n";
  }

  Tensor input;  // [1, C, H, W]
  Tensor shown;  // [C, H, W] for the grid
  std::string source;
  if (const auto npy = args.get("input")) {
    input = load_npy(*npy);
    if (input.dim() == 3) input = input.reshape({1, input.size(0), input.size(1), input.size(2)});
    BL_CHECK_SHAPE(input.dim() == 4 && input.size(0) >= 1, "explain: --input ", *npy,
                   ": expected a float32 tensor [C,H,W] or [N,C,H,W], got ", input.shape());
    input = input.slice_batch(0, 1).clone();
    shown = display_image(input.reshape({input.size(1), input.size(2), input.size(3)}));
    source = *npy;
  } else {
    Tensor chw;
    if (const auto img = args.get("image")) {
      chw = load_image(*img);
      source = *img;
    } else {
      chw = default_images().at(0).sample.image;
      source = "builtin:" + default_images().at(0).name;
    }
    shown = chw;
    input = chw.reshape({1, chw.size(0), chw.size(1), chw.size(2)}).clone();
    const std::vector<float> mean = parse_floats(args.get_or("mean", "0,0,0"), "mean");
    const std::vector<float> stdv = parse_floats(args.get_or("std", "1,1,1"), "std");
    const int64_t c = input.size(1), hw = input.size(2) * input.size(3);
    if (static_cast<int64_t>(mean.size()) != c || static_cast<int64_t>(stdv.size()) != c)
      throw UsageError("explain: --mean and --std need one value per channel (" + std::to_string(c) + ")");
    for (int64_t k = 0; k < c; ++k)
      for (int64_t i = 0; i < hw; ++i) input.data()[k * hw + i] = (input.data()[k * hw + i] - mean[k]) / stdv[k];
  }
  if (const auto b = args.get("baseline")) {
    if (b->size() > 4 && b->substr(b->size() - 4) == ".npy")
      opt.baselines = {Baseline::given(load_npy(*b))};
    else
      try {
        opt.baselines = {Baseline::parse(*b, opt.seed)};
      } catch (const Error& e) {
        throw UsageError(std::string("explain: --baseline: ") + e.what());
      }
  }
  Workspace ws;
  opt.workspace = &ws;
  // --device cuda: methods with a CUDA path get a CUDA workspace, the others run on the CPU.
  std::optional<Workspace> cuda_ws;
  if (device == "cuda") cuda_ws = Workspace::for_cuda(0);
  const Target target = target_class ? Target::index(*target_class) : Target::top1();

  const int64_t h = input.size(2), w = input.size(3);
  std::vector<Tensor> panels{shown};
  nlohmann::json method_json = nlohmann::json::array();
  Tensor first_attr, output;
  std::vector<int64_t> resolved;
  double total_seconds = 0;
  for (const std::string& m : method_names) {
    const auto start = std::chrono::steady_clock::now();
    MethodOptions method_opt = opt;
    if (cuda_ws && runs_on_cuda(m)) method_opt.workspace = &*cuda_ws;
    else if (cuda_ws && !args.flag("json")) std::cerr << "explain: " << m << " runs on the CPU (no CUDA path yet)\n";
    const AttributionResult r = attribute(m, *model, input, target, method_opt);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    total_seconds += seconds;
    if (!first_attr.defined()) first_attr = r.attribution;
    if (r.output.defined()) output = r.output;
    if (!r.target.empty()) resolved = r.target;
    panels.push_back(heatmap_rgb(display_map(r.attribution, h, w)));
    method_json.push_back({{"method", m}, {"seconds", seconds}, {"shape", r.attribution.shape().to_vector()}});
    if (!args.flag("json")) std::cerr << "explain: " << m << " done in " << seconds << " s\n";
  }
  if (!output.defined()) {
    Tape t(TapeOptions{.record = false}, ws);
    output = model->forward(t.input(input)).value().clone();
  }
  write_png(out_png, tile_horizontal(panels));
  if (save_path) save_npy(*save_path, first_attr);

  std::vector<int64_t> order(output.numel());
  for (int64_t i = 0; i < output.numel(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return output.data()[a] > output.data()[b]; });
  order.resize(std::min<size_t>(5, order.size()));
  const int64_t prediction = order.empty() ? -1 : order[0];
  const int64_t tgt = resolved.empty() ? prediction : resolved[0];
  if (args.flag("json")) {
    const nlohmann::json j = {
        {"command", "explain"},
        {"model", args.has("weights") ? *args.get("weights") : model_name},
        {"input", source},
        {"input_shape", input.shape().to_vector()},
        {"output", {output.to_vector()}},
        {"prediction", {prediction}},
        {"top5", {order}},
        {"target", {tgt}},
        {"methods", method_json},
        {"seconds", total_seconds},
        {"files", {{"png", out_png}, {"npy", save_path ? nlohmann::json(*save_path) : nullptr}}},
    };
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::cout << "model:      " << model_name << "\ninput:      " << source << " " << input.shape()
            << "\nprediction: " << prediction << ", target: " << tgt << "\nmethods:   ";
  for (const std::string& m : method_names) std::cout << " " << m;
  std::cout << " (" << total_seconds << " s)\nwrote " << out_png << " (input | one heatmap per method)\n";
  if (save_path) std::cout << "wrote " << *save_path << " (" << method_names[0] << ", " << first_attr.shape() << ")\n";
  return 0;
}

}  // namespace

Command explain_command() {
  return {
      .name = "explain",
      .summary = "attribution maps for one image (the main job)",
      .description =
          "Runs the model on the image, attributes the target with each --method and writes a PNG grid:\n"
          "input | one heatmap per method (channel sum, blue-white-red, clipped at the 98th percentile\n"
          "of |values|; layer and CAM maps upsampled bilinearly). Default: the embedded shapes_cnn model\n"
          "on its first embedded image with saliency, integrated_gradients, lrp and grad_cam.\n"
          "`backlight methods` (see docs/methods.md) and docs/rules.md list methods and rule sets.",
      .flags =
          {
              {.name = "model", .metavar = "NAME", .help = "zoo model (default: shapes_cnn, the embedded model)"},
              {.name = "weights", .metavar = "FILE.safetensors", .help = "weights converted with tools/convert_torch.py"},
              {.name = "image", .metavar = "FILE", .help = "input image (PNG, JPEG, BMP), values in [0,1] before --mean/--std"},
              {.name = "input", .metavar = "FILE.npy", .help = "exact float32 input tensor, CHW or NCHW (first item used)"},
              {.name = "mean", .metavar = "M,M,M", .help = "per-channel mean subtracted from --image (default 0)"},
              {.name = "std", .metavar = "S,S,S", .help = "per-channel std dividing --image (default 1)"},
              {.name = "method", .metavar = "NAME[,NAME...]", .help = std::string("methods; default: ") + kDefaultMethods},
              {.name = "rules", .metavar = "NAME", .help = "rule set for lrp / layer_lrp (backlight rules)"},
              {.name = "rule-param", .metavar = "KEY=VALUE", .help = "rule set parameter, e.g. gamma=0.5", .repeated = true},
              {.name = "target", .metavar = "N|top1", .help = "class to explain (default top1)"},
              {.name = "layer", .metavar = "NAME", .help = "module path for CAM, layer and neuron methods"},
              {.name = "neuron", .metavar = "INDEX[,INDEX...]", .help = "neuron index into the layer output"},
              {.name = "baseline", .metavar = "zero|blur|uniform|FILE.npy", .help = "baseline for path/reference methods"},
              {.name = "steps", .metavar = "N", .help = "integration steps (default 50)"},
              {.name = "integration", .metavar = "NAME", .help = "gausslegendre (default) or riemann_left|right|middle|trapezoid"},
              {.name = "noise-tunnel", .metavar = "TYPE", .help = "wrap the methods: smoothgrad, smoothgrad_sq or vargrad"},
              {.name = "samples", .metavar = "N", .help = "samples (noise tunnel, sampling methods)"},
              {.name = "stdev", .metavar = "X", .help = "noise standard deviation"},
              {.name = "window", .metavar = "CxHxW", .help = "occlusion window"},
              {.name = "stride", .metavar = "CxHxW", .help = "occlusion stride"},
              {.name = "batch", .metavar = "N", .help = "internal batch size / perturbations per forward"},
              {.name = "seed", .metavar = "N", .help = "seed of every random draw"},
              {.name = "device", .metavar = "cpu|cuda", .help = "device (cuda needs a CUDA build and a device)"},
              {.name = "threads", .metavar = "N", .help = "CPU threads (default: all cores)"},
              {.name = "out", .metavar = "FILE.png", .help = std::string("output PNG grid; default: ") + kDefaultOut},
              {.name = "save", .metavar = "FILE.npy", .help = "raw float32 attribution of the first method"},
              {.name = "json", .kind = FlagKind::Bool, .help = "print a JSON summary on stdout"},
          },
      .run = run_explain,
  };
}

}  // namespace backlight::cli
