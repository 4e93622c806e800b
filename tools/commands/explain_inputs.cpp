// Non-image inputs of `backlight explain`: tabular rows and token ids (explain_inputs.h).
#include "tools/commands/explain_inputs.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <numeric>
#include <sstream>

#include "attribution/core/layer.h"
#include "attribution/layer/layer_methods.h"
#include "engine/tape.h"
#include "io/file_checks.h"
#include "io/image_io.h"
#include "io/npy.h"
#include "render/bar_chart.h"
#include "render/token_view.h"
#include "tools/cli/args.h"
#include "tools/cli/finite_check.h"

namespace backlight::cli {

namespace {

// Token ids are not differentiable: these gradient methods run at the embedding output instead
// (Captum's Layer* twins on the embedding layer).
struct TokenTwin {
  const char* method;
  const char* layer_method;
};
constexpr TokenTwin kTokenTwins[] = {
    {"saliency", "layer_gradient_x_activation"},  // multiply_by_inputs = false, |.|
    {"input_x_gradient", "layer_gradient_x_activation"},
    {"integrated_gradients", "layer_integrated_gradients"},
    {"deeplift", "layer_deeplift"},
    {"lrp", "layer_lrp"},
};
// Layer methods that only see the layer (not interpolated ids) and perturbation methods that
// replace whole tokens with the baseline token.
constexpr const char* kTokenLayerMethods[] = {"layer_activation", "layer_gradient_x_activation",
                                              "layer_integrated_gradients", "layer_deeplift", "layer_lrp"};
constexpr const char* kTokenPerturbation[] = {"occlusion", "feature_ablation", "shapley_value_sampling", "kernel_shap",
                                              "lime"};
// Methods that need spatial maps (or a class token): not for tabular rows.
constexpr const char* kSpatialOnly[] = {"rise"};
constexpr size_t kMaxBars = 64;  // a layer of many units shows its largest ones

template <size_t N>
bool one_of(const std::string& name, const char* const (&list)[N]) {
  return std::find_if(std::begin(list), std::end(list), [&](const char* s) { return name == s; }) != std::end(list);
}

std::vector<std::string> accepted_for_tokens() {
  std::vector<std::string> out;
  for (const TokenTwin& t : kTokenTwins) out.push_back(t.method);
  for (const char* m : kTokenLayerMethods) out.push_back(m);
  for (const char* m : kTokenPerturbation) out.push_back(m);
  return out;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// One entry per line; a trailing newline does not add an empty entry; "\r\n" endings accepted.
std::vector<std::string> read_lines(const std::string& path, const std::string& what) {
  std::istringstream in(read_file(path, what));
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(line);
  }
  return out;
}

std::string shape_text(const std::vector<int64_t>& dims, bool batch_free) {
  std::string s = "[";
  for (size_t d = 0; d < dims.size(); ++d) s += (d ? "," : "") + (d == 0 && batch_free ? "N" : std::to_string(dims[d]));
  return s + "]";
}

std::string model_expects(const ExplainConfig& c) {
  if (c.model_input_shape.empty()) return c.model_takes_ids ? "token ids [N,T]" : "float32 input";
  return std::string(c.model_takes_ids ? "int64 token ids " : "float32 input ") + shape_text(c.model_input_shape, true);
}

std::string class_text(int64_t k) { return "class " + std::to_string(k); }

}  // namespace

ExplainInput load_npy_input(const std::string& path, const ExplainConfig& c) {
  const NpyArray a = load_npy_array(path);
  Tensor t = a.values;
  const bool ids = a.dtype != NpyDtype::Float32;
  const std::vector<int64_t> dims = t.shape().to_vector();
  BL_CHECK_SHAPE(t.dim() >= 1 && std::find(dims.begin(), dims.end(), 0) == dims.end(),
                 "explain: --input ", path, ": expected an array with no zero dimension, got ", t.shape());
  const std::string what = "explain: --input '" + path + "' holds " + to_string(a.dtype) + " values " +
                           t.shape().str() + ", but model " + c.model + " takes " + model_expects(c);
  if (ids && !c.model_takes_ids)
    throw UsageError(what + "; expected a float32 .npy (token ids only go to a model whose input is integer ids)");
  if (!ids && c.model_takes_ids)
    throw UsageError(what + "; expected an int64 or int32 .npy of token ids [T] or [N,T] "
                            "(numpy.save(path, ids.astype(numpy.int64)))");
  if (ids) {
    if (t.dim() == 1) t = t.reshape({1, t.size(0)});
    if (t.dim() != 2)
      throw UsageError("explain: --input '" + path + "' holds token ids of shape " + t.shape().str() +
                       "; expected [T] or [N,T] (the first row is explained)");
    return {path, "", Tensor(), t.slice_batch(0, 1).clone(), InputKind::Tokens};
  }
  if (t.dim() == 1) t = t.reshape({1, t.size(0)});
  if (t.dim() == 2) {
    Tensor row = t.slice_batch(0, 1).clone();
    check_finite(row, "explain: --input '" + path + "'");
    return {path, "", Tensor(), row, InputKind::Tabular};
  }
  if (t.dim() == 3) t = t.reshape({1, t.size(0), t.size(1), t.size(2)});
  if (t.dim() != 4)
    throw UsageError("explain: --input '" + path + "' has shape " + t.shape().str() +
                     "; expected [F] or [N,F] (tabular), [T] or [N,T] int64 (token ids), [C,H,W] or [N,C,H,W] (image)");
  Tensor input = t.slice_batch(0, 1).clone();
  check_finite(input, "explain: --input '" + path + "'");
  return {path, "", displayable(input.reshape({input.size(1), input.size(2), input.size(3)})), input, InputKind::Image};
}

void check_input_kind(ExplainConfig& c, const ExplainInput& in) {
  const InputKind kind = in.kind;
  const std::string kind_text = to_string(kind);
  const std::string src = "--input '" + in.source + "' (" + kind_text + " " + in.input.shape().str() + ")";
  auto refuse_flag = [&](bool given, const std::string& flag, const std::string& applies) {
    if (given) throw UsageError("explain: " + flag + " applies to " + applies + ", but the input is " + kind_text);
  };
  refuse_flag(c.tokens_file && kind != InputKind::Tokens, "--tokens", "token ids (--input FILE.npy of int64 ids)");
  refuse_flag(c.baseline_token && kind != InputKind::Tokens, "--baseline-token", "token ids");
  refuse_flag(c.html && kind != InputKind::Tokens, "--html", "token ids");
  refuse_flag(c.feature_names_file && kind != InputKind::Tabular, "--feature-names",
              "tabular rows (--input FILE.npy of float32 [N,F])");
  if (kind == InputKind::Image) return;
  if (!c.methods_given) c.methods = split_list(kExplainDefaultNonImageMethods, ',', "explain: --method");
  for (const std::string& m : c.methods) {
    const MethodInfo info = [&] {
      for (const MethodInfo& i : methods())
        if (i.name == m) return i;
      throw UsageError("explain: unknown method '" + m + "'");
    }();
    if (kind == InputKind::Tokens && !one_of(m, kTokenLayerMethods) && !one_of(m, kTokenPerturbation) &&
        std::none_of(std::begin(kTokenTwins), std::end(kTokenTwins), [&](const TokenTwin& t) { return m == t.method; }))
      throw UsageError("explain: --method " + m + " does not apply to token ids (" + src +
                       "): ids are not differentiable and have no spatial maps; accepted for token ids: " +
                       join(accepted_for_tokens()) + " (docs/cli.md, 'Tabular and text inputs')");
    if (kind == InputKind::Tabular && (info.family == "cam" || info.family == "attention" || one_of(m, kSpatialOnly)))
      throw UsageError("explain: --method " + m + " does not apply to tabular rows (" + src +
                       "): it needs image feature maps [N,C,H,W]; use a gradient, path, layer, neuron or "
                       "perturbation method");
  }
  if (kind == InputKind::Tokens) {
    if (!c.options.noise_tunnel.empty())
      throw UsageError("explain: --noise-tunnel does not apply to token ids (" + src + "): noise on ids is not a text");
    if (c.baseline_npy || c.options.baselines.size() != 1 || c.options.baselines[0].kind != Baseline::Kind::Zero)
      throw UsageError("explain: --baseline does not apply to token ids (" + src +
                       "); use --baseline-token ID (default 0, the padding id)");
    c.options.baselines = {Baseline::constant(static_cast<float>(c.baseline_token.value_or(0)))};
    const float max_id = *std::max_element(in.input.span().begin(), in.input.span().end());
    const float min_id = *std::min_element(in.input.span().begin(), in.input.span().end());
    if (min_id < 0)
      throw UsageError("explain: " + src + " holds the negative id " + std::to_string(static_cast<int64_t>(min_id)) +
                       "; expected ids >= 0");
    if (c.tokens_file) {
      c.token_names = read_lines(*c.tokens_file, "explain: --tokens");
      if (static_cast<float>(c.token_names.size()) <= max_id)
        throw UsageError("explain: --tokens '" + *c.tokens_file + "' has " + std::to_string(c.token_names.size()) +
                         " lines, but " + src + " holds id " + std::to_string(static_cast<int64_t>(max_id)) +
                         "; expected at least " + std::to_string(static_cast<int64_t>(max_id) + 1) +
                         " lines (line i is the string of token id i)");
    }
  }
  if (kind == InputKind::Tabular && c.feature_names_file) {
    c.feature_names = read_lines(*c.feature_names_file, "explain: --feature-names");
    const int64_t f = in.input.size(1);
    if (static_cast<int64_t>(c.feature_names.size()) != f)
      throw UsageError("explain: --feature-names '" + *c.feature_names_file + "' has " +
                       std::to_string(c.feature_names.size()) + " names, but " + src + " has " + std::to_string(f) +
                       " features; expected " + std::to_string(f) + " lines, one name per feature");
  }
}

std::string embedding_layer(const Module& model, const Tensor& input) {
  Tape tape;
  model.forward(tape.input(input));
  for (const Node& n : tape.nodes())
    if (n.kind == OpKind::Embedding && !n.name.empty() && tape.node(layer_output_node(tape, n.name)).output == n.output)
      return n.name;
  BL_THROW("explain: the input is token ids, but the model has no embedding lookup with a module path of its own "
           "(an ONNX Gather from a constant table); name the layer to attribute at with --layer");
}

std::string computed_method(InputKind kind, const std::string& method) {
  if (kind != InputKind::Tokens) return method;
  for (const TokenTwin& t : kTokenTwins)
    if (method == t.method) return t.layer_method;
  return method;
}

AttributionResult attribute_input(InputKind kind, const std::string& method, const Module& model,
                                  const Tensor& inputs, const Target& target, const MethodOptions& options) {
  if (kind != InputKind::Tokens) return attribute(method, model, inputs, target, options);
  AttributionResult res;
  if (method == "saliency") {
    res = layer_gradient_x_activation(
        model, inputs, target, {.layer = options.layer, .multiply_by_inputs = false, .workspace = options.workspace});
    for (float& v : res.attribution.span()) v = std::fabs(v);
  } else {
    res = attribute(computed_method(kind, method), model, inputs, target, options);
  }
  const Tensor& a = res.attribution;
  if (a.shape() == inputs.shape()) return res;  // perturbation methods: one value per token already
  const int64_t n = inputs.size(0), t = inputs.size(1);
  BL_CHECK(a.dim() >= 2 && a.size(0) == n && a.size(1) == t, "explain: ", method, " at layer '", options.layer,
           "' gives ", a.shape(), ", which has no token axis (expected [N,T,...] with T = ", t,
           "); name the embedding or an encoder layer with --layer");
  // Per token: the sum over the embedding (feature) dimensions, as Captum's text tutorials.
  const int64_t per = a.numel() / (n * t);
  Tensor summed = Tensor::zeros({n, t});
  for (int64_t i = 0; i < n * t; ++i)
    for (int64_t k = 0; k < per; ++k) summed.data()[i] += a.data()[i * per + k];
  res.attribution = summed;
  return res;
}

std::vector<std::string> token_strings(const Tensor& ids, const ExplainConfig& c) {
  std::vector<std::string> out;
  for (float v : ids.span()) {
    const auto id = static_cast<int64_t>(v);
    out.push_back(id >= 0 && id < static_cast<int64_t>(c.token_names.size()) ? c.token_names[static_cast<size_t>(id)]
                                                                             : std::to_string(id));
  }
  return out;
}

namespace {

std::vector<std::string> feature_labels(const ExplainConfig& c, int64_t count, int64_t features) {
  std::vector<std::string> out;
  for (int64_t i = 0; i < count; ++i)
    out.push_back(count == features && !c.feature_names.empty() ? c.feature_names[static_cast<size_t>(i)]
                  : count == features                           ? "x" + std::to_string(i)
                                                                : "unit " + std::to_string(i));
  return out;
}

std::string html_path(const ExplainConfig& c) {
  if (c.html) return *c.html;
  return std::filesystem::path(c.out).replace_extension(".html").string();
}

}  // namespace

std::string stage_non_image_outputs(const ExplainInput& in, const ExplainRecord& r, const ExplainConfig& c,
                                    StagedFiles& files) {
  const ImageFormat format = image_format_for(c.out).value_or(ImageFormat::Png);
  const std::string caption = "backlight explain: " + std::filesystem::path(c.model).filename().string();
  if (in.kind == InputKind::Tokens) {
    const TokenPageInfo info{caption, class_text(r.prediction), class_text(r.target)};
    std::vector<TokenRow> rows;
    const std::vector<std::string> tokens = token_strings(in.input, c);
    for (const MethodRun& m : r.methods) rows.push_back({m.method, tokens, m.attribution.to_vector()});
    files.stage(c.out, encode_image(token_picture(rows, info), format, c.out));
    const std::string html = html_path(c);
    files.stage(html, token_html(rows, info));
    return html;
  }
  std::vector<BarPanel> panels;
  const int64_t features = in.input.size(1);
  for (const MethodRun& m : r.methods) {
    const std::vector<float> v = m.attribution.to_vector();
    const std::vector<std::string> names = feature_labels(c, static_cast<int64_t>(v.size()), features);
    std::vector<size_t> order(v.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::string title = m.method;
    if (v.size() > kMaxBars) {  // the largest magnitudes, in their original order
      std::partial_sort(order.begin(), order.begin() + kMaxBars, order.end(),
                        [&](size_t a, size_t b) { return std::fabs(v[a]) > std::fabs(v[b]); });
      order.resize(kMaxBars);
      std::sort(order.begin(), order.end());
      title += " (" + std::to_string(kMaxBars) + " largest of " + std::to_string(v.size()) + ")";
    }
    BarPanel p{title, {}, {}};
    for (size_t i : order) p.names.push_back(names[i]), p.values.push_back(v[i]);
    panels.push_back(std::move(p));
  }
  files.stage(c.out, encode_image(bar_chart(panels, caption + ", prediction " + class_text(r.prediction) +
                                                         ", target " + class_text(r.target)),
                                  format, c.out));
  return "";
}

nlohmann::json non_image_json(const ExplainInput& in, const ExplainRecord& r, const ExplainConfig& c) {
  nlohmann::json j = {{"kind", to_string(in.kind)}};
  if (in.kind == InputKind::Tokens) {
    std::vector<int64_t> ids;
    for (float v : in.input.span()) ids.push_back(static_cast<int64_t>(v));
    j["ids"] = ids;
    j["tokens"] = token_strings(in.input, c);
    j["baseline_token"] = c.baseline_token.value_or(0);
  } else {
    j["features"] = feature_labels(c, in.input.size(1), in.input.size(1));
  }
  nlohmann::json a = nlohmann::json::object(), as = nlohmann::json::object();
  for (const MethodRun& m : r.methods) {
    a[m.method] = m.attribution.to_vector();
    const std::string twin = computed_method(in.kind, m.method);
    if (twin != m.method)
      as[m.method] = twin + (m.method == "saliency" ? " (gradient only, absolute value)" : "") + " at " + c.options.layer;
  }
  j["attributions"] = a;
  if (!as.empty()) j["computed_as"] = as;
  return j;
}

}  // namespace backlight::cli
