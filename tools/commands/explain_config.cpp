#include "tools/commands/explain_config.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include <climits>

#include "attribution/core/limits.h"
#include "attribution/registry.h"
#include "engine/parallel.h"
#include "models/zoo.h"
#include "io/image_io.h"
#include "tools/cluster/manifest.h"
#include "tools/commands/flag_checks.h"

namespace backlight::cli {

namespace {

// Largest --size side; the pixel count is also held to --max-pixels.
constexpr int64_t kMaxSize = 1 << 16;

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<int64_t> parse_dims(const Args& args, const char* flag) {
  const std::optional<std::string> v = args.get(flag);
  if (!v) return {};
  return parse_int_list(*v, 'x', 1, INT_MAX, std::string("explain: --") + flag + " (sizes like 3x16x16)");
}

std::vector<float> parse_floats(const std::string& text, const char* flag) {
  std::vector<float> out;
  for (const std::string& p : split_list(text, ',', std::string("explain: --") + flag)) {
    char* end = nullptr;
    const float f = std::strtof(p.c_str(), &end);
    if (end != p.c_str() + p.size() || !std::isfinite(f))
      throw UsageError(std::string("explain: --") + flag + " expects comma-separated numbers, got '" + text + "'");
    out.push_back(f);
  }
  return out;
}

void parse_model(const Args& args, ExplainConfig& c) {
  c.model = args.get_or("model", "shapes_cnn");
  c.model_given = args.has("model");
  c.weights = args.get("weights");
  c.allow_nonfinite_weights = args.flag("allow-nonfinite-weights");
  std::string names = "shapes_cnn";
  bool ok = c.model == "shapes_cnn";
  for (const ModelInfo& mi : zoo_models()) {
    ok |= mi.name == c.model;
    names += ", " + mi.name;
  }
  ok |= c.model.ends_with(".onnx");  // an exported model (models/onnx/model.h)
  if (!ok)
    throw UsageError("explain: --model: unknown model '" + c.model + "' (accepted: " + names + ", or FILE.onnx)");
  if (ok && c.model.ends_with(".onnx") && c.weights)
    throw UsageError("explain: --weights does not apply to an .onnx model (the file holds its weights)");
  c.device = args.get_or("device", "cpu");
  if (c.device != "cpu" && c.device != "cuda")
    throw UsageError("explain: --device expects cpu or cuda, got '" + c.device + "'");
  if (const auto t = threads_flag(args)) set_num_threads(*t);
}

void parse_inputs(const Args& args, ExplainConfig& c) {
  c.images = args.get_all("image");
  c.images_dir = args.get("images");
  c.npy_input = args.get("input");
  if (c.npy_input && (!c.images.empty() || c.images_dir))
    throw UsageError("explain: give --input FILE.npy or --image/--images, not both");
  if (c.images_dir && !c.images.empty())
    throw UsageError("explain: give --images DIR or --image FILE (repeatable), not both");
  c.batch = c.images_dir || c.images.size() > 1;
  if (const auto s = args.get("size")) {
    if (c.npy_input)
      throw UsageError("explain: --size applies to --image/--images, not to --input (use the tensor's size)");
    const std::vector<int64_t> dims =
        parse_int_list(*s, 'x', 1, kMaxSize, "explain: --size (N for the shorter side or HxW, e.g. 224 or 224x224)");
    if (dims.size() > 2)
      throw UsageError("explain: --size expects N (shorter side) or HxW, e.g. 224 or 224x224, got '" + *s + "'");
    if (dims.size() == 1) {
      c.size_shorter = dims[0];
    } else {
      c.size_h = dims[0];
      c.size_w = dims[1];
      if (c.size_h * c.size_w > c.max_pixels)
        throw UsageError("explain: --size " + *s + " is " + std::to_string(c.size_h * c.size_w) +
                         " pixels, more than --max-pixels " + std::to_string(c.max_pixels));
    }
  }
  c.tokens_file = args.get("tokens");
  c.feature_names_file = args.get("feature-names");
  c.html = args.get("html");
  if (const auto b = args.get("baseline-token"))
    c.baseline_token = parse_int(*b, 0, INT_MAX, "explain: --baseline-token (a token id)");
  for (const char* flag : {"tokens", "feature-names", "html", "baseline-token"})
    if (args.has(flag) && !c.npy_input)
      throw UsageError(std::string("explain: --") + flag + " applies to --input FILE.npy (token ids or tabular rows)");
  if (c.html && !ends_with(*c.html, ".html") && !ends_with(*c.html, ".htm"))
    throw UsageError("explain: --html expects a FILE.html, got '" + *c.html + "'");
  if ((args.has("mean") || args.has("std")) && c.npy_input)
    throw UsageError("explain: --mean/--std apply to --image/--images, not to --input (the tensor is used as given)");
  c.mean_std_given = args.has("mean") || args.has("std");
  c.mean = parse_floats(args.get_or("mean", "0,0,0"), "mean");
  c.stdev = parse_floats(args.get_or("std", "1,1,1"), "std");
  if (c.mean.size() != 3 || c.stdev.size() != 3)
    throw UsageError("explain: --mean and --std need one value per RGB channel (3), e.g. --mean 0.485,0.456,0.406");
  for (float s : c.stdev)
    if (s == 0.0f) throw UsageError("explain: --std values must be non-zero");
}

void parse_methods(const Args& args, ExplainConfig& c) {
  c.methods = method_list_flag(args, "method", kExplainDefaultMethods);
  c.methods_given = args.has("method");
  for (const std::string& m : c.methods) {
    if (m == "feature_permutation" && !c.batch)
      throw UsageError("explain: --method feature_permutation shuffles features across a batch of inputs; run it in "
                       "batch mode (--images DIR or several --image) so each --chunk holds at least 2 images");
  }
  MethodOptions& o = c.options;
  o.rules = args.get_or("rules", "");
  o.base_method = args.get_or("base-method", "");
  if (!o.base_method.empty()) {
    if (o.base_method == "xrai") throw UsageError("explain: --base-method cannot be xrai itself");
    const std::vector<MethodInfo> known = methods();
    if (std::none_of(known.begin(), known.end(), [&](const MethodInfo& m) { return m.name == o.base_method; }))
      throw UsageError("explain: --base-method: unknown method '" + o.base_method + "' (backlight methods lists them)");
  }
  for (const std::string& kv : args.get_all("rule-param")) {
    try {
      o.rule_params.insert(parse_rule_param(kv));
    } catch (const Error& e) {
      throw UsageError(std::string("explain: --rule-param: ") + e.what());
    }
  }
  try {
    if (!o.rules.empty()) make_rule_set(o.rules, o.rule_params);  // validates names and parameters early
  } catch (const Error& e) {
    throw UsageError(std::string("explain: --rules: ") + e.what());
  }
  o.layer = args.get_or("layer", "");
  c.layer_given = !o.layer.empty();
  if (const auto n = args.get("neuron"))
    o.neuron = parse_int_list(*n, ',', 0, INT64_MAX,
                              "explain: --neuron (indices like 5 or 3,4,4: flat or one per dimension)");
  c.neuron_given = !o.neuron.empty();
  if (const auto s = positive_flag(args, "steps", kMaxSteps)) o.steps = static_cast<int>(*s);
  if (const auto i = args.get("integration")) {
    try {
      o.integration = integration_from_string(*i);
    } catch (const Error& e) {
      throw UsageError(std::string("explain: --integration: ") + e.what());
    }
  }
  const std::string nt = args.get_or("noise-tunnel", "");
  if (!nt.empty() && nt != "smoothgrad" && nt != "smoothgrad_sq" && nt != "vargrad")
    throw UsageError("explain: --noise-tunnel expects smoothgrad, smoothgrad_sq or vargrad, got '" + nt + "'");
  o.noise_tunnel = nt;
  if (const auto s = positive_flag(args, "samples", kMaxSamples)) o.samples = static_cast<int>(*s);
  if (const auto s = args.get_double("stdev")) {
    if (*s < 0) throw UsageError("explain: --stdev expects a non-negative number, got " + std::to_string(*s));
    o.stdev = static_cast<float>(*s);
  }
  o.window = parse_dims(args, "window");
  o.stride = parse_dims(args, "stride");
  if (const auto b = positive_flag(args, "batch")) o.batch = static_cast<int>(*b);
  if (const auto s = seed_flag(args)) o.seed = *s;
  if (const auto b = args.get("baseline")) {
    if (ends_with(*b, ".npy")) {
      c.baseline_npy = *b;
    } else {
      try {
        o.baselines = {Baseline::parse(*b, o.seed)};
      } catch (const Error& e) {
        throw UsageError(std::string("explain: --baseline: ") + e.what() + " (or a FILE.npy)");
      }
    }
  }
  const std::string target = args.get_or("target", "top1");
  if (target != "top1") {
    if (target.empty() || !(std::isdigit(static_cast<unsigned char>(target[0])) || target[0] == '-'))
      throw UsageError("explain: --target expects a class index or top1, got '" + target + "'");
    c.target_class = parse_int(target, 0, INT64_MAX, "explain: --target (a class index or top1)");
  }
  // feature_permutation needs several images per call; everything else is fastest one by one
  // (docs/cli.md, "Batch mode").
  const bool permutes = std::find(c.methods.begin(), c.methods.end(), "feature_permutation") != c.methods.end();
  c.chunk = permutes ? kExplainPermutationChunk : 1;
  if (const auto k = positive_flag(args, "chunk")) c.chunk = static_cast<int>(*k);
  c.fresh = args.flag("fresh");
  // Flags that change no output file; everything else (and the files flags name) identifies the job.
  static constexpr std::string_view kNotInFingerprint[] = {"threads", "json", "fresh"};
  c.fingerprint = args_fingerprint(args, kNotInFingerprint);
}

void parse_output(const Args& args, ExplainConfig& c) {
  c.out = args.get_or("out", c.batch ? kExplainDefaultOutDir : kExplainDefaultOut);
  c.save = args.get("save");
  if (c.batch && image_format_for(c.out))
    throw UsageError("explain: in batch mode --out names a folder (one DIR/<stem>.png per image), got '" + c.out + "'");
  if (!c.batch) require_image_extension(args, "out", c.out);
  if (c.batch && c.save && ends_with(*c.save, ".npy"))
    throw UsageError("explain: in batch mode --save names a folder (one DIR/<stem>.npy per image), got '" + *c.save +
                     "'");
  c.json = args.flag("json");
  c.colorbar = !args.has("colorbar") || args.flag("colorbar");
  VisualOptions& v = c.visual;
  try {
    v.method = visual_method_from_string(args.get_or("visual", "heat_map"));
  } catch (const Error& e) {
    throw UsageError(std::string("explain: --visual: ") + e.what());
  }
  // Captum cannot mask or fade with both signs at once; those default to the magnitude.
  const bool needs_magnitude = !uses_colormap(v.method) && v.method != VisualMethod::TopRegions;
  const std::string sign = args.get_or("sign", needs_magnitude ? "absolute_value" : "all");
  try {
    v.sign = visual_sign_from_string(sign);
  } catch (const Error& e) {
    throw UsageError(std::string("explain: --sign: ") + e.what());
  }
  if (needs_magnitude && v.sign == VisualSign::All)
    throw UsageError("explain: --visual " + to_string(v.method) +
                     " needs --sign positive, negative or absolute_value (one mask cannot show both signs)");
  if (const auto p = args.get_double("top-percent")) {
    if (!(*p > 0 && *p <= 100))
      throw UsageError("explain: --top-percent expects a share of the pixels in (0, 100], got " + std::to_string(*p));
    v.top_percent = static_cast<float>(*p);
  }
  const std::string cmap = args.get_or("colormap", "auto");
  if (cmap != "auto") {
    try {
      v.colormap = colormap_from_string(cmap);
    } catch (const Error& e) {
      throw UsageError(std::string("explain: --colormap: unknown colormap '") + cmap + "' (accepted: auto, " +
                       colormap_names() + ")");
    }
  }
  if (const auto p = args.get_double("outlier-percent")) {
    if (*p < 0 || *p >= 100)
      throw UsageError("explain: --outlier-percent expects a number in [0,100), got " + std::to_string(*p));
    v.outlier_percent = static_cast<float>(*p);
  }
}

}  // namespace

std::vector<FlagSpec> explain_flags() {
  // Long entries one field per line; the help texts are what `backlight explain --help` prints.
  return {
      {.name = "model", .metavar = "NAME", .help = "zoo model or FILE.onnx (default: shapes_cnn, the embedded model)"},
      {.name = "weights", .metavar = "FILE.safetensors", .help = "weights converted with tools/convert_torch.py"},
      {.name = "allow-nonfinite-weights",
       .kind = FlagKind::Bool,
       .help = "load --weights even with NaN/Inf values or a negative BatchNorm running variance"},
      {.name = "image",
       .metavar = "FILE",
       .help = "input image (PNG, JPEG, BMP), values in [0,1] before --mean/--std; several --image: batch mode",
       .repeated = true},
      {.name = "images", .metavar = "DIR", .help = "batch mode: every .png/.jpg/.jpeg/.bmp in DIR, sorted by name"},
      {.name = "input",
       .metavar = "FILE.npy",
       .help = "exact input tensor, first item used: float32 [C,H,W]/[N,C,H,W] image or [F]/[N,F] tabular row, "
               "int64/int32 [T]/[N,T] token ids"},
      {.name = "tokens", .metavar = "FILE", .help = "token ids: token strings, one per line (line i = id i)"},
      {.name = "feature-names", .metavar = "FILE", .help = "tabular rows: feature names, one per line (F lines)"},
      {.name = "baseline-token", .metavar = "ID", .help = "token ids: baseline token of path and perturbation methods (default 0)"},
      {.name = "html", .metavar = "FILE.html", .help = "token ids: the HTML page (default: --out with .html)"},
      {.name = "size", .metavar = "N|HxW", .help = "resize images first: shorter side N (aspect kept) or exactly HxW"},
      {.name = "mean", .metavar = "M,M,M", .help = "per-channel mean subtracted from images (default 0)"},
      {.name = "std", .metavar = "S,S,S", .help = "per-channel std dividing images (default 1)"},
      {.name = "method",
       .metavar = "NAME[,NAME...]",
       .help = std::string("methods; default: ") + kExplainDefaultMethods + " (tabular rows and token ids: " +
               kExplainDefaultNonImageMethods + ")"},
      {.name = "rules", .metavar = "NAME", .help = "rule set for lrp / layer_lrp (backlight rules)"},
      {.name = "base-method", .metavar = "NAME", .help = "xrai: the method inside (default integrated_gradients, min/max baselines)"},
      {.name = "rule-param", .metavar = "KEY=VALUE", .help = "rule set parameter, e.g. gamma=0.5", .repeated = true},
      {.name = "target", .metavar = "N|top1", .help = "class to explain (default top1)"},
      {.name = "layer",
       .metavar = "NAME",
       .help = "module path for CAM, layer and neuron methods (default: the feature maps entering the final pooling)"},
      {.name = "neuron",
       .metavar = "INDEX[,INDEX...]",
       .help = "neuron index into the layer output (default: the layer's most active unit for each image)"},
      {.name = "baseline", .metavar = "zero|blur|uniform|FILE.npy", .help = "baseline for path/reference methods"},
      {.name = "steps", .metavar = "N", .help = "integration steps (default 50)"},
      {.name = "integration",
       .metavar = "NAME",
       .help = "gausslegendre (default) or riemann_left|right|middle|trapezoid"},
      {.name = "noise-tunnel", .metavar = "TYPE", .help = "wrap the methods: smoothgrad, smoothgrad_sq or vargrad"},
      {.name = "samples", .metavar = "N", .help = "samples (noise tunnel, sampling methods)"},
      {.name = "stdev", .metavar = "X", .help = "noise standard deviation"},
      {.name = "window", .metavar = "CxHxW", .help = "occlusion window"},
      {.name = "stride", .metavar = "CxHxW", .help = "occlusion stride"},
      {.name = "batch", .metavar = "N", .help = "internal batch size / perturbations per forward"},
      {.name = "chunk",
       .metavar = "N",
       .help = "batch mode: same-size images per method call (default 1; 16 with feature_permutation)"},
      {.name = "fresh",
       .kind = FlagKind::Bool,
       .help = "batch mode: redo every image (default: resume, skipping images whose outputs a previous run of "
               "the same command completed; docs/cluster.md)"},
      {.name = "seed", .metavar = "N", .help = "seed of every random draw"},
      {.name = "device", .metavar = "cpu|cuda", .help = "device (cuda needs a CUDA build and a device)"},
      {.name = "threads",
       .metavar = "N",
       .help = "CPU threads, 1 to 4 x the hardware threads (default: all cores; batch mode: one image per thread)"},
      {.name = "max-pixels",
       .metavar = "N",
       .help = "refuse images of more than N pixels (width x height) before decoding them (default 50000000)"},
      {.name = "out",
       .metavar = "FILE.png|.jpg|.bmp|DIR",
       .help = std::string("output grid, format by extension; batch mode: a folder of <stem>.png; default: ") + kExplainDefaultOut +
               " or " + kExplainDefaultOutDir + "/"},
      {.name = "save",
       .metavar = "FILE.npy|DIR",
       .help = "raw float32 attribution of the first method (batch: DIR/<stem>.npy)"},
      {.name = "visual",
       .metavar = "NAME",
       .help = "heat_map (default), blended_heat_map, masked_image, alpha_scaling or top_regions (XRAI)"},
      {.name = "top-percent", .metavar = "X", .help = "--visual top_regions: share of the pixels shown (default 30)"},
      {.name = "sign",
       .metavar = "NAME",
       .help = "all (default for heat maps), positive, negative or absolute_value (default for masked_image and "
               "alpha_scaling)"},
      {.name = "colormap",
       .metavar = "NAME",
       .help = "auto (default: bwr for sign all, else inferno), bwr, seismic, inferno or viridis"},
      {.name = "outlier-percent", .metavar = "X", .help = "share of the attribution mass that saturates (default 2)"},
      {.name = "colorbar", .kind = FlagKind::Bool, .help = "the colour bar (default on; --colorbar=false hides it)"},
      {.name = "json", .kind = FlagKind::Bool, .help = "print a JSON summary on stdout"},
  };
}

ExplainConfig parse_explain_config(const Args& args) {
  ExplainConfig c;
  parse_model(args, c);
  c.max_pixels = max_pixels_flag(args);
  parse_inputs(args, c);
  parse_methods(args, c);
  parse_output(args, c);
  return c;
}

}  // namespace backlight::cli
