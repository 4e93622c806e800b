// `backlight visualize`: feature visualisation by activation maximisation (Olah et al. 2017) of
// a channel, a single unit or a class logit, or a grid over several channels. The work is
// attribution/concepts/feature_visualization.h; this file parses flags and lays out the grid.
#include <algorithm>
#include <climits>
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "attribution/concepts/feature_visualization.h"
#include "attribution/core/layer_eval.h"
#include "engine/workspace.h"
#include "io/image_io.h"
#include "render/grid.h"
#include "tools/commands/command.h"
#include "tools/commands/concept_model.h"
#include "tools/commands/flag_checks.h"

namespace backlight::cli {

namespace {

// "0,1,2", "0-7" or a mix ("0-3,9").
std::vector<int64_t> parse_channels(const std::string& text) {
  std::vector<int64_t> out;
  for (const std::string& item : split_list(text, ',', "visualize: --channels")) {
    const size_t dash = item.find('-', 1);
    if (dash == std::string::npos) {
      out.push_back(parse_int(item, 0, INT_MAX, "visualize: --channels"));
      continue;
    }
    const int64_t a = parse_int(item.substr(0, dash), 0, INT_MAX, "visualize: --channels");
    const int64_t b = parse_int(item.substr(dash + 1), a, a + 1023, "visualize: --channels (range end)");
    for (int64_t c = a; c <= b; ++c) out.push_back(c);
  }
  return out;
}

double double_flag(const Args& args, std::string_view name, double fallback, double lo, double hi) {
  const double v = args.get_double(name).value_or(fallback);
  if (!(v >= lo && v <= hi))
    throw UsageError("visualize: --" + std::string(name) + " expects a number in [" + std::to_string(lo) + ", " +
                     std::to_string(hi) + "], got " + std::to_string(v));
  return v;
}

int run_visualize(const Args& args) {
  const int given = args.has("channel") + args.has("channels") + args.has("neuron") + args.has("target");
  if (given > 1) throw UsageError("visualize: give one of --channel, --channels, --neuron, --target");
  const std::string out = args.get_or("out", "vis.png");
  require_image_extension(args, "out", out);
  const LoadedModel m = load_concept_model("visualize", args.get_or("model", "shapes_cnn"), args.get("weights"), "--model");
  if (m.input.size() != 3 || m.input[0] != 3) throw UsageError("visualize: the model must take RGB images [3, H, W]");

  FeatureVisOptions o;
  o.input_shape = m.input;
  o.steps = positive_flag(args, "steps", 100000).value_or(256);
  o.lr = double_flag(args, "lr", 0.05, 1e-6, 10);
  o.seed = seed_flag(args).value_or(0);
  o.l2 = double_flag(args, "l2", 0, 0, 1e6);
  o.l1 = double_flag(args, "l1", 0, 0, 1e6);
  o.tv = double_flag(args, "tv", 0, 0, 1e6);
  o.transform.jitter = args.get_int("jitter", 0, 1024).value_or(4);
  o.transform.scale = double_flag(args, "scale", 0.05, 0, 0.9);
  o.transform.rotate_degrees = double_flag(args, "rotate", 5, 0, 180);
  o.transform.blur_sigma = double_flag(args, "blur", 0, 0, 64);
  o.param.decay_power = double_flag(args, "decay-power", 1.0, 0, 4);
  o.param.decorrelate_colour = !args.flag("no-decorrelate");
  const std::string param = args.get_or("param", "fourier");
  if (param == "fourier") o.param.kind = ImageParamKind::Fourier;
  else if (param == "pixel") o.param.kind = ImageParamKind::Pixel;
  else throw UsageError("visualize: --param expects fourier or pixel, got '" + param + "'");
  o.mean = channel_values_flag(args, "visualize", "mean", 3);
  o.std = channel_values_flag(args, "visualize", "std", 3);

  Tensor probe = Tensor::empty(Shape{1, m.input[0], m.input[1], m.input[2]});
  std::fill(probe.data(), probe.data() + probe.numel(), 0.5f);
  std::vector<int64_t> channels{0};
  if (args.has("target")) {
    o.objective = VisObjective::Logit;
    o.target = args.get_int("target", 0, INT_MAX).value_or(0);
  } else {
    o.layer = args.has("layer") ? *args.get("layer") : last_convolution(*m.model, probe);
    if (args.has("neuron")) {
      o.objective = VisObjective::Neuron;
      const std::vector<std::string> parts = split_list(*args.get("neuron"), ',', "visualize: --neuron");
      if (parts.size() == 1) {
        o.neuron = parse_int(parts[0], 0, INT64_MAX, "visualize: --neuron");
      } else if (parts.size() == 3) {  // c,y,x into the layer's [C, h, w]
        Workspace ws;
        const Tensor a = eval_layer(*m.model, probe, layer_op_index(*m.model, probe, o.layer, ws), ws).layer;
        if (a.dim() != 4) throw UsageError("visualize: --neuron c,y,x needs a layer with output [N, C, h, w], '" + o.layer + "' gives " + a.shape().str());
        const int64_t c = parse_int(parts[0], 0, a.size(1) - 1, "visualize: --neuron channel");
        const int64_t y = parse_int(parts[1], 0, a.size(2) - 1, "visualize: --neuron row");
        const int64_t x = parse_int(parts[2], 0, a.size(3) - 1, "visualize: --neuron column");
        o.neuron = (c * a.size(2) + y) * a.size(3) + x;
      } else {
        throw UsageError("visualize: --neuron expects a flat index or c,y,x, got '" + *args.get("neuron") + "'");
      }
    } else {
      o.objective = VisObjective::Channel;
      if (args.has("channels")) channels = parse_channels(*args.get("channels"));
      else channels = {args.get_int("channel", 0, INT_MAX).value_or(0)};
      if (channels.size() > 256) throw UsageError("visualize: --channels names more than 256 channels");
    }
  }
  if (o.objective != VisObjective::Channel) channels = {0};

  std::vector<Panel> panels;
  nlohmann::json results = nlohmann::json::array();
  double total = 0;
  for (int64_t c : channels) {
    o.channel = c;
    const FeatureVis r = visualize_feature(*m.model, o);
    total += r.seconds;
    std::string what = o.objective == VisObjective::Logit    ? "target " + std::to_string(o.target)
                       : o.objective == VisObjective::Neuron ? "neuron " + std::to_string(o.neuron)
                                                             : "channel " + std::to_string(c);
    std::cerr << "visualize: " << what << ": objective " << r.objective << " after " << o.steps << " steps ("
              << r.seconds << " s)\n";
    char label[96];
    std::snprintf(label, sizeof label, "%s: %.3g", what.c_str(), r.objective);
    panels.push_back({r.image, label});
    nlohmann::json j = {{"objective", r.objective}, {"seconds", r.seconds}, {"first_step", r.history.front()}, {"last_step", r.history.back()}};
    if (o.objective == VisObjective::Channel) j["channel"] = c;
    if (o.objective == VisObjective::Neuron) j["neuron"] = o.neuron;
    if (o.objective == VisObjective::Logit) j["target"] = o.target;
    results.push_back(j);
  }
  write_image(out, make_grid(panels, {.min_panel_size = 128, .gap = 6}));
  if (args.flag("json")) {
    const nlohmann::json j = {{"command", "visualize"},
                              {"model", m.label},
                              {"layer", o.objective == VisObjective::Logit ? nlohmann::json() : nlohmann::json(o.layer)},
                              {"objective", o.objective == VisObjective::Logit    ? "logit"
                                            : o.objective == VisObjective::Neuron ? "neuron"
                                                                                  : "channel"},
                              {"steps", o.steps},
                              {"seed", o.seed},
                              {"param", param},
                              {"results", results},
                              {"seconds", total},
                              {"png", out}};
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << "visualize: " << panels.size() << " image(s) in " << total << " s: wrote " << out << "\n";
  }
  return 0;
}

}  // namespace

Command visualize_command() {
  return {
      .name = "visualize",
      .summary = "feature visualisation: an input optimised to excite a channel, a unit or a class logit",
      .description =
          "Activation maximisation (Olah et al. 2017): optimises an image with Adam to maximise the mean of a\n"
          "channel (--channel, or a grid with --channels 0,1,2 / 0-7), one unit (--neuron IDX or c,y,x) of --layer\n"
          "(default: the last convolution), or a class logit (--target K). Regularisers: transformation robustness\n"
          "(--jitter, --scale, --rotate, --blur, drawn per step), --l2/--l1 decay and --tv total variation; the image\n"
          "lives in a Fourier-space, colour-decorrelated parametrisation (--param fourier, default) or in pixels\n"
          "(--param pixel). Seeded (--seed). See docs/concepts.md.",
      .flags = {{.name = "model", .metavar = "NAME", .help = "model (default: shapes_cnn, the embedded model)"},
                {.name = "weights", .metavar = "FILE.safetensors", .help = "weights of the model"},
                {.name = "layer", .metavar = "L", .help = "module path (default: the last convolution)"},
                {.name = "channel", .metavar = "C", .help = "maximise the mean of channel C (default 0)"},
                {.name = "channels", .metavar = "LIST", .help = "grid over channels: 0,1,2 or 0-7"},
                {.name = "neuron", .metavar = "IDX|c,y,x", .help = "maximise one unit of the layer"},
                {.name = "target", .metavar = "K", .help = "maximise the model's output K (class logit)"},
                {.name = "steps", .metavar = "N", .help = "Adam steps (default 256)"},
                {.name = "lr", .metavar = "X", .help = "Adam step size (default 0.05)"},
                {.name = "seed", .metavar = "N", .help = "random seed (default 0)"},
                {.name = "param", .metavar = "fourier|pixel", .help = "image parametrisation (default fourier)"},
                {.name = "decay-power", .metavar = "X", .help = "fourier: spectrum scale 1/f^X (default 1)"},
                {.name = "no-decorrelate", .kind = FlagKind::Bool, .help = "no colour decorrelation"},
                {.name = "jitter", .metavar = "PX", .help = "random translation, pixels (default 4)"},
                {.name = "scale", .metavar = "S", .help = "random scale in [1-S, 1+S] (default 0.05)"},
                {.name = "rotate", .metavar = "DEG", .help = "random rotation in [-DEG, DEG] (default 5)"},
                {.name = "blur", .metavar = "SIGMA", .help = "Gaussian blur of the transformed input (default 0)"},
                {.name = "l2", .metavar = "X", .help = "L2 decay weight on x - 0.5 (default 0)"},
                {.name = "l1", .metavar = "X", .help = "L1 decay weight on x - 0.5 (default 0)"},
                {.name = "tv", .metavar = "X", .help = "total variation weight (default 0)"},
                {.name = "mean", .metavar = "M,M,M", .help = "per-channel mean subtracted before the model"},
                {.name = "std", .metavar = "S,S,S", .help = "per-channel std dividing before the model"},
                {.name = "out", .metavar = "FILE.png", .help = "picture (default vis.png)"},
                {.name = "json", .kind = FlagKind::Bool, .help = "print objectives and settings as JSON"}},
      .run = run_visualize};
}

}  // namespace backlight::cli
