#include "tools/commands/explain_job.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <tuple>
#include <sstream>

#include "attribution/core/baseline.h"
#include "attribution/cam/cam.h"
#include "attribution/core/layer.h"
#include "attribution/gradient/lrp_relevance.h"
#include "attribution/on_device.h"
#include "models/default_model.h"
#include "models/zoo.h"
#include "tools/cli/finite_check.h"
#include "tools/commands/explain_inputs.h"
#include "render/grid.h"
#include "render/heatmap.h"
#include "io/image_io.h"
#include "io/npy.h"
#include "render/resize.h"

namespace backlight::cli {

namespace {

// Resize (--size) and normalise (--mean/--std) an image [3,H,W] in [0,1].
ExplainInput prepare_image(Tensor chw, std::string source, const ExplainConfig& c) {
  int64_t h = chw.size(1), w = chw.size(2);
  if (c.size_shorter > 0) std::tie(h, w) = shorter_side_size(h, w, c.size_shorter);
  else if (c.size_h > 0) h = c.size_h, w = c.size_w;
  // Checked before resizing allocates it: --size 60000 on a small image would be 43 GB.
  BL_CHECK(h <= c.max_pixels / std::max<int64_t>(w, 1), "explain: '", source, "' resized by --size to ", w, "x", h,
           " is more than --max-pixels ", c.max_pixels, " pixels");
  if (c.size_shorter > 0 || c.size_h > 0) chw = resize_image(chw, h, w);
  const int64_t hw = chw.size(1) * chw.size(2);
  Tensor input = Tensor::empty({1, 3, chw.size(1), chw.size(2)});
  for (int64_t k = 0; k < 3; ++k)
    for (int64_t i = 0; i < hw; ++i) input.data()[k * hw + i] = (chw.data()[k * hw + i] - c.mean[k]) / c.stdev[k];
  return {std::move(source), "", std::move(chw), std::move(input)};
}

// Attribution [1,C,h,w] (input, layer or CAM map) -> signed [H,W] at the image's size: channel
// sum, bilinear upsampling for smaller maps. nullopt when it is not a spatial map ([1,K]).
std::optional<Tensor> display_map(const Tensor& attr, int64_t h, int64_t w) {
  if (attr.dim() != 4) return std::nullopt;
  const int64_t c = attr.size(1), ah = attr.size(2), aw = attr.size(3);
  Tensor summed = Tensor::zeros({1, 1, ah, aw});
  for (int64_t k = 0; k < c; ++k)
    for (int64_t i = 0; i < ah * aw; ++i) summed.data()[i] += attr.data()[k * ah * aw + i];
  if (ah != h || aw != w) summed = upsample_bilinear(summed, h, w);
  return summed.reshape({h, w});
}

// Flat index of the largest value of item 0 of the layer's output.
std::vector<int64_t> most_active_unit(const Module& model, const Tensor& input, const std::string& layer) {
  Tape tape;
  model.forward(tape.input(input));
  const Tensor& a = tape.value(tape.node(layer_output_node(tape, layer)).output).tensor;
  const int64_t per_item = a.numel() / a.size(0);
  const float* p = a.data();
  return {static_cast<int64_t>(std::max_element(p, p + per_item) - p)};
}

MethodInfo method_info(const std::string& name) {
  for (const MethodInfo& m : methods())
    if (m.name == name) return m;
  BL_THROW("explain: unknown method '", name, "'");
}

// The channel count the model's first convolution reads (dim 1 of the first 4-D parameter), or
// 0 when it has none (an MLP flattens whatever it gets).
int64_t first_conv_channels(const Module& model) {
  for (const auto& [name, p] : model.named_parameters())
    if (p.dim() == 4) return p.size(1);
  return 0;
}

bool runs_on(const Module& model, const Tensor& x) {
  try {
    Tape tape(TapeOptions{.record = false});
    model.forward(tape.input(x));
    return true;
  } catch (const Error&) {
    return false;
  }
}

// What the model accepts, for the message when an input does not fit: the zoo's fixed size, or
// the smallest square size that runs (tried on zeros: doubling, then bisection).
std::string expected_input(const Module& model, const std::string& arch, int64_t channels) {
  for (const ModelInfo& mi : zoo_models())
    if (mi.name == arch && !mi.flexible_input && mi.input.size() == 3)
      return "[N," + std::to_string(mi.input[0]) + "," + std::to_string(mi.input[1]) + "," +
             std::to_string(mi.input[2]) + "] (the architecture's fixed input size)";
  int64_t ok = 0;
  for (int64_t s = 1; s <= 1024 && !ok; s *= 2)
    if (runs_on(model, Tensor::zeros({1, channels, s, s}))) ok = s;
  if (!ok) return "[N," + std::to_string(channels) + ",H,W] of some other size (none from 1x1 to 1024x1024 runs)";
  int64_t lo = ok / 2, hi = ok;  // lo fails (or is 0), hi runs
  while (hi - lo > 1) {
    const int64_t mid = (lo + hi) / 2;
    (runs_on(model, Tensor::zeros({1, channels, mid, mid})) ? hi : lo) = mid;
  }
  return "[N," + std::to_string(channels) + ",H,W] with H and W >= " + std::to_string(hi) + " (square sizes tried)";
}

[[noreturn]] void throw_input_mismatch(const Module& model, std::span<const ExplainInput> inputs,
                                       const ExplainConfig& c, const std::string& why) {
  const Tensor& x = inputs[0].input;
  const int64_t want_c = first_conv_channels(model);
  const int64_t channels = want_c > 0 ? want_c : (x.dim() == 4 ? x.size(1) : 3);
  std::string names = "'" + inputs[0].source + "'";
  if (inputs.size() > 1) names += " (and " + std::to_string(inputs.size() - 1) + " more of the same size)";
  std::ostringstream os;
  os << "explain: input " << names << " has shape " << x.shape() << ", which model " << c.model
     << " cannot run; expected ";
  if (!c.model_input_shape.empty() && (x.dim() != 4 || c.model_input_shape.size() != 4)) {
    os << "shape [N";  // the file's own input shape (non-image inputs: no sizes to try)
    for (size_t d = 1; d < c.model_input_shape.size(); ++d) os << "," << c.model_input_shape[d];
    os << "]" << (c.model_takes_ids ? " of token ids" : "");
  } else if (want_c > 0 && x.dim() == 4 && x.size(1) != want_c)
    os << want_c << " channel(s), [N," << want_c << ",H,W]";
  else
    os << expected_input(model, c.model, channels);
  os << " (the model failed with: " << why << ")";
  BL_THROW(os.str());
}

std::string class_name(int64_t k, std::span<const std::string_view> names) {
  if (k >= 0 && k < static_cast<int64_t>(names.size())) return std::string(names[static_cast<size_t>(k)]);
  return "class " + std::to_string(k);
}

}  // namespace

std::string to_string(InputKind kind) {
  switch (kind) {
    case InputKind::Image: return "image";
    case InputKind::Tabular: return "tabular";
    case InputKind::Tokens: return "token ids";
  }
  return "?";
}

ExplainInput load_image_input(const std::string& path, const ExplainConfig& config) {
  return prepare_image(load_image(path, config.max_pixels), path, config);
}

// [C,H,W] of any values -> [3,H,W] in [0,1] for display: min-max scaled when outside [0,1];
// one channel repeated, other channel counts averaged.
Tensor displayable(const Tensor& chw) {
  const int64_t c = chw.size(0), hw = chw.size(1) * chw.size(2);
  const auto [lo_it, hi_it] = std::minmax_element(chw.span().begin(), chw.span().end());
  const float lo = *lo_it, hi = *hi_it;
  const bool scale = lo < 0.0f || hi > 1.0f;
  Tensor out = Tensor::empty({3, chw.size(1), chw.size(2)});
  for (int64_t i = 0; i < hw; ++i) {
    float mean = 0;
    for (int64_t k = 0; k < c; ++k) mean += chw.data()[k * hw + i] / static_cast<float>(c);
    for (int64_t k = 0; k < 3; ++k) {
      float v = c == 3 ? chw.data()[k * hw + i] : mean;
      if (scale) v = hi > lo ? (v - lo) / (hi - lo) : 0.5f;
      out.data()[k * hw + i] = v;
    }
  }
  return out;
}

ExplainInput builtin_input(const ExplainConfig& config) {
  const DefaultImage img = default_images().at(0);
  return prepare_image(img.sample.image.clone(), "builtin:" + img.name, config);
}

std::string default_layer(const Module& model, const Tensor& input) {
  Tape tape;
  model.forward(tape.input(input));
  const int value = cam_layer_value(tape, "");
  const int producer = tape.value(value).producer;
  const std::string name = producer >= 0 ? tape.node(producer).name : "";
  // The name must lead back to the same value (a module that records more nodes after it would not).
  BL_CHECK(!name.empty() && tape.node(layer_output_node(tape, name)).output == value,
           "explain: no --layer given and the model's default feature maps have no module path of their own; "
           "name a layer with --layer");
  return name;
}

void resolve_default_layer(ExplainConfig& c, const Module& model, const ExplainInput& first) {
  if (c.layer_given) return;
  bool needed = false, cam = false;
  for (const std::string& name : c.methods) {
    const MethodInfo m = method_info(name);
    needed |= m.needs_layer || m.needs_neuron;
    cam |= m.family == "cam";
  }
  if (!needed && !cam) return;
  if (needed) {
    c.options.layer = default_layer(model, first.input);
  } else {
    // CAM methods find the same feature maps themselves; naming them is only for the report, so a
    // model whose maps have no module path of their own still runs.
    try {
      c.options.layer = default_layer(model, first.input);
    } catch (const Error&) {
      return;
    }
  }
  if (!c.json)
    std::cerr << "explain: no --layer given; using '" << c.options.layer
              << "' (the feature maps entering the final pooling)\n";
}

bool groupable(const MethodInfo& m, const ExplainConfig& c) {
  if (m.name == "feature_permutation") return true;
  if (!c.options.noise_tunnel.empty()) return false;
  for (const char* random : {"gradient_shap", "layer_gradient_shap", "neuron_gradient_shap", "shapley_value_sampling",
                             "kernel_shap", "lime", "rise"})
    if (m.name == random) return false;
  for (const Baseline& b : c.options.baselines)
    if (b.kind == Baseline::Kind::Uniform) return false;
  return !(m.needs_neuron && !c.neuron_given);
}

namespace {

// LRP-family results carry conservation per item: copy item i's, and say on stderr when the rule
// set lost or created relevance beyond kLrpConservationTolerance (docs/rules.md).
std::optional<Conservation> conservation_of(const AttributionResult& res, int64_t i, const std::string& method,
                                            const std::string& source) {
  if (!res.conservation_error.defined()) return std::nullopt;
  Conservation c{res.rule_set, res.relevance_start.data()[i], res.relevance_sum.data()[i],
                 res.conservation_error.data()[i]};
  if (!(c.relative_error <= kLrpConservationTolerance))
    std::cerr << "explain: warning: " << method << " (rules " << c.rule_set << ") on " << source
              << " does not conserve relevance: the input relevance sums to " << c.sum << " for a start of "
              << c.start << " (relative error " << c.relative_error << ", tolerance " << kLrpConservationTolerance
              << "; see docs/rules.md, 'Conservation')\n";
  return c;
}

}  // namespace

std::vector<ExplainRecord> explain_group(const Module& model, std::span<const ExplainInput> inputs,
                                         const ExplainConfig& config, const Workspace& ws,
                                         const Workspace* cuda_ws) {
  BL_CHECK(!inputs.empty(), "explain_group: expected at least one input");
  const int64_t n = static_cast<int64_t>(inputs.size());
  const Shape item = inputs[0].input.shape();
  std::vector<int64_t> batch_dims = item.to_vector();
  batch_dims[0] = n;
  Tensor batch = Tensor::empty(Shape(batch_dims));
  for (int64_t i = 0; i < n; ++i) {
    const Tensor& x = inputs[static_cast<size_t>(i)].input;
    BL_CHECK_SHAPE(x.shape() == item, "explain_group: inputs of one group must share a shape, got ", item, " and ",
                   x.shape());
    std::copy_n(x.data(), x.numel(), batch.data() + i * x.numel());
  }
  // Logits first, from one inference pass over the group (cheap next to any method): an input the
  // model cannot take fails here with its file, its shape and what the model expects, instead of
  // deep inside a method.
  Tensor logits;
  try {
    Tape tape(TapeOptions{.record = false}, ws);
    logits = model.forward(tape.input(batch)).value().clone();
  } catch (const Error& e) {
    throw_input_mismatch(model, inputs, config, e.what());
  }
  // A baseline file of the wrong size fails here naming the file, not inside the first method.
  if (config.baseline_npy && !config.options.baselines.empty()) {
    try {
      make_baseline(config.options.baselines[0], batch);
    } catch (const Error& e) {
      BL_THROW("explain: --baseline '", *config.baseline_npy, "' does not fit input '", inputs[0].source, "' ", item,
               ": ", e.what());
    }
  }
  MethodOptions options = config.options;
  options.workspace = &ws;
  const Target target = config.target_class ? Target::index(*config.target_class) : Target::top1();

  std::vector<ExplainRecord> recs(static_cast<size_t>(n));
  bool any_neuron = false;
  for (const std::string& m : config.methods) any_neuron |= method_info(m).needs_neuron;
  for (int64_t i = 0; i < n; ++i) {
    ExplainRecord& r = recs[static_cast<size_t>(i)];
    r.source = inputs[static_cast<size_t>(i)].source;
    r.stem = inputs[static_cast<size_t>(i)].stem;
    r.input_shape = item.to_vector();
    if (any_neuron)
      r.neuron = config.neuron_given ? options.neuron
                                     : most_active_unit(model, inputs[static_cast<size_t>(i)].input, options.layer);
  }
  for (const std::string& name : config.methods) {
    const MethodInfo info = method_info(name);
    const InputKind kind = inputs[0].kind;
    const bool on_cuda = cuda_ws && runs_on_cuda(computed_method(kind, name), options.noise_tunnel);
    options.workspace = on_cuda ? cuda_ws : &ws;
    if (cuda_ws && !on_cuda)
      std::cerr << "explain: " << name << (options.noise_tunnel.empty() ? "" : " with the noise tunnel")
                << " runs on the CPU (no CUDA path yet)\n";
    if (n == 1 || groupable(info, config)) {
      if (info.needs_neuron) options.neuron = recs[0].neuron;  // given, or the only image's
      const auto start = std::chrono::steady_clock::now();
      const AttributionResult res = attribute_input(kind, name, model, batch, target, options);
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      for (int64_t i = 0; i < n; ++i)
        recs[static_cast<size_t>(i)].methods.push_back({name, s / static_cast<double>(n),
                                                        res.attribution.slice_batch(i, i + 1).clone(),
                                                        conservation_of(res, i, name, recs[static_cast<size_t>(i)].source)});
    } else {
      for (int64_t i = 0; i < n; ++i) {
        ExplainRecord& r = recs[static_cast<size_t>(i)];
        if (info.needs_neuron) options.neuron = r.neuron;
        const auto start = std::chrono::steady_clock::now();
        const AttributionResult res =
            attribute_input(kind, name, model, inputs[static_cast<size_t>(i)].input, target, options);
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        r.methods.push_back({name, s, res.attribution.clone(), conservation_of(res, 0, name, r.source)});
      }
    }
  }
  const int64_t classes = logits.numel() / n;
  for (int64_t i = 0; i < n; ++i) {
    ExplainRecord& r = recs[static_cast<size_t>(i)];
    r.output = logits.slice_batch(i, i + 1).clone();
    std::vector<int64_t> order(static_cast<size_t>(classes));
    for (int64_t k = 0; k < classes; ++k) order[static_cast<size_t>(k)] = k;
    const float* row = r.output.data();
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return row[a] > row[b]; });
    order.resize(std::min<size_t>(5, order.size()));
    r.top5 = order;
    r.prediction = order.empty() ? -1 : order[0];
    r.target = config.target_class ? *config.target_class : r.prediction;
    for (const MethodRun& m : r.methods) r.seconds += m.seconds;
    // No picture from NaN or Inf: a non-finite map draws as a plausible blank heat map.
    try {
      check_finite(r.output, "explain: the logits of '" + r.source + "'");
      for (const MethodRun& m : r.methods)
        check_finite(m.attribution, "explain: the " + m.method + " attribution of '" + r.source + "'");
    } catch (const Error& e) {
      r.error = std::string(e.what()) + "; no picture drawn";
    }
  }
  return recs;
}

Tensor render_record(const ExplainInput& input, const ExplainRecord& record, const ExplainConfig& config,
                     std::span<const std::string_view> class_names) {
  const int64_t h = input.shown.size(1), w = input.shown.size(2);
  std::string label = "input: " + class_name(record.prediction, class_names);
  if (record.target != record.prediction) label += ", target " + class_name(record.target, class_names);
  std::vector<Panel> panels{{input.shown, label}};
  for (const MethodRun& m : record.methods) {
    const std::optional<Tensor> map = display_map(m.attribution, h, w);
    if (!map) {  // e.g. a layer method on a fully connected layer: nothing to draw over the image
      panels.push_back({Tensor::full({3, h, w}, 0.85f), m.method + " (not a spatial map)"});
      continue;
    }
    panels.push_back({visualize_attribution(*map, input.shown, config.visual), m.method});
  }
  GridOptions grid;
  if (config.colorbar && uses_colormap(config.visual.method))
    grid.colorbar = ColorBar{.map = resolve_colormap(config.visual), .sign = config.visual.sign};
  return make_grid(panels, grid);
}

nlohmann::json record_json(const ExplainRecord& r) {
  if (!r.error.empty()) return {{"input", r.source}, {"status", "error"}, {"error", r.error}};
  nlohmann::json methods = nlohmann::json::array();
  for (const MethodRun& m : r.methods) {
    methods.push_back({{"method", m.method}, {"seconds", m.seconds}, {"shape", m.attribution.shape().to_vector()}});
    if (m.conservation) {
      const Conservation& c = *m.conservation;
      const auto number = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
      methods.back()["conservation"] = {{"rule_set", c.rule_set},
                                        {"start", number(c.start)},
                                        {"sum", number(c.sum)},
                                        {"relative_error", number(c.relative_error)},
                                        {"tolerance", kLrpConservationTolerance},
                                        {"conserved", c.relative_error <= kLrpConservationTolerance}};
    }
  }
  nlohmann::json j = {
      {"input", r.source},
      {"status", "ok"},
      {"input_shape", r.input_shape},
      {"output", {r.output.to_vector()}},
      {"prediction", {r.prediction}},
      {"top5", {r.top5}},
      {"target", {r.target}},
      {"methods", methods},
      {"seconds", r.seconds},
      {"files", {{"png", r.png}, {"npy", r.npy ? nlohmann::json(*r.npy) : nullptr}}},
  };
  if (!r.neuron.empty()) j["neuron"] = r.neuron;
  return j;
}

nlohmann::json visual_json(const ExplainConfig& c) {
  nlohmann::json v = {{"method", to_string(c.visual.method)},
                      {"sign", to_string(c.visual.sign)},
                      {"outlier_percent", c.visual.outlier_percent}};
  v["colormap"] = uses_colormap(c.visual.method) ? nlohmann::json(to_string(resolve_colormap(c.visual))) : nullptr;
  return v;
}

}  // namespace backlight::cli
