#include "models/onnx/model.h"

#include <map>
#include <set>
#include <sstream>

#include "engine/error.h"
#include "engine/modules/norm.h"
#include "models/onnx/build.h"
#include "models/onnx/fold.h"
#include "models/onnx/program.h"
#include "models/onnx/supported.h"

namespace backlight {

using onnx::Known;
using onnx::Program;
using onnx::Step;

Var OnnxModule::forward(const Var&) const {
  BL_THROW("OnnxModule '", path(), "': the modules of an imported ONNX model hold weights; run the root model");
}

OnnxModel::OnnxModel(std::shared_ptr<const Program> program) : program_(std::move(program)) {}

Var OnnxModel::forward(const Var& x) const {
  const Program& p = *program_;
  Tape& tape = x.tape();
  std::vector<onnx::Value> env(p.slot_names.size());
  for (size_t s = 0; s < env.size(); ++s)
    if (p.known[s] == Known::AtLoad) env[s].c = p.constants[s];
  env[p.input_slot].var = x;
  std::vector<onnx::Value> in;
  for (const Step& step : p.steps) {
    if (step.known == Known::AtLoad || step.absorbed) continue;
    in.clear();
    for (int s : step.in) in.push_back(s >= 0 ? env[s] : onnx::Value{});
    const Module* layer = nullptr;
    if (step.weighted) {
      layer = step.path.empty() ? this : find(step.path);
      BL_CHECK(layer, "OnnxModel: no module '", step.path, "' holds the weights of ", step.node.describe());
    }
    std::vector<onnx::Value> out;
    try {
      out = onnx::run_step(step, in, layer, tape);
    } catch (const ShapeError& e) {
      throw ShapeError(p.source + ": " + step.node.describe() + " (module '" + step.path + "'): " + e.what());
    } catch (const Error& e) {
      const std::string msg = e.what();
      if (msg.rfind("onnx:", 0) == 0) BL_THROW(p.source, ": ", msg.substr(6));
      BL_THROW(p.source, ": ", step.node.describe(), " (module '", step.path, "'): ", msg);
    }
    for (size_t i = 0; i < step.out.size() && i < out.size(); ++i)
      if (step.out[i] >= 0) env[step.out[i]] = out[i];
  }
  const onnx::Value& y = env[p.output_slot];
  BL_CHECK(y.var.defined(), p.source, ": the graph output '", p.slot_names[p.output_slot],
           "' is a constant, not computed from the input");
  return y.var;
}

namespace {

// The importer's validating forward pass allocates no tensor above 1 GiB at the load shape
// (docs/models.md): ample for real networks at batch 1 (ViT-H attention maps, 1024 x 1024
// segmentation activations are a few hundred MB), small enough for the fuzzer's 2 GB budget.
constexpr size_t kLoadTensorLimit = size_t{1} << 30;

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  std::stringstream ss(path);
  for (std::string part; std::getline(ss, part, '.');) parts.push_back(part.empty() ? "_" : part);
  return parts;
}

// The module at `path` under root, creating generic OnnxModules on the way; the last one is
// made by `leaf` when absent. nullptr when the path runs through a module that cannot hold
// children (then the caller picks another path).
Module* ensure_module(OnnxModel& root, const std::string& path, const std::function<ModulePtr()>& leaf) {
  Module* m = &root;
  const std::vector<std::string> parts = split_path(path);
  for (size_t i = 0; i < parts.size(); ++i) {
    Module* next = nullptr;
    for (const auto& [name, child] : m->children())
      if (name == parts[i]) next = child.get();
    if (!next) {
      ModulePtr fresh = i + 1 == parts.size() ? leaf() : std::make_shared<OnnxModule>();
      if (auto* r = dynamic_cast<OnnxModel*>(m)) next = &r->add_child(parts[i], fresh);
      else if (auto* o = dynamic_cast<OnnxModule*>(m)) next = &o->add_child(parts[i], fresh);
      else return nullptr;
    }
    m = next;
  }
  return m;
}

std::vector<float> parse_floats(const std::string& s) {
  std::vector<float> v;
  std::stringstream ss(s);
  for (std::string part; std::getline(ss, part, ',');) v.push_back(std::stof(part));
  return v;
}

std::vector<int64_t> parse_dims(const std::string& s) {
  std::vector<int64_t> v;
  std::stringstream ss(s);
  for (std::string part; std::getline(ss, part, 'x');) v.push_back(std::stoll(part));
  return v;
}

std::string join_dims(std::span<const int64_t> d) {
  std::string s;
  for (int64_t x : d) s += (s.empty() ? "" : "x") + std::to_string(x);
  return s;
}

ModulePtr build_model(onnx::Graph g, std::vector<int64_t> input_shape, OnnxModelInfo* info) {
  Program p = onnx::build_program(g);
  // Weights: plan the module of every weighted step (a second call of a module shares its
  // weights; a different tensor under an already used name gets its own path "<path>_<k>").
  std::vector<std::vector<onnx::Weight>> weights(p.steps.size());
  std::map<std::string, std::map<std::string, int>> owner;  // path -> local name -> slot
  std::map<std::string, bool> is_bn;
  std::vector<int> weight_uses(p.slot_names.size(), 0), all_uses(p.slot_names.size(), 0);
  for (Step& s : p.steps) {
    for (int slot : s.in)
      if (slot >= 0 && !s.absorbed) ++all_uses[slot];
    if (s.known != Known::OnTape || s.absorbed || !onnx::has_weights(s, p)) continue;
    s.weighted = true;
    auto w = onnx::step_weights(s, p);
    const bool bn = s.node.op_type == "BatchNormalization";
    auto fits = [&](const std::string& path) {
      if (is_bn.count(path) && (is_bn[path] || bn)) {
        for (const onnx::Weight& x : w)
          if (owner[path].count(x.name) && owner[path][x.name] != x.slot) return false;
        return is_bn[path] == bn;
      }
      for (const onnx::Weight& x : w)
        if (owner[path].count(x.name) && owner[path][x.name] != x.slot) return false;
      return !bn || owner[path].empty();
    };
    // A weight whose state-dict name extends the node's scope names the module better: torch's
    // MultiheadAttention calls out_proj functionally, so its MatMul sits in scope "self_attn" but
    // reads "self_attn.out_proj.weight".
    const std::string& origin = p.origin[w[0].slot];
    if (origin.ends_with(".weight")) {
      const std::string prefix = origin.substr(0, origin.size() - 7);
      if (prefix != s.path && (s.path.empty() || prefix.starts_with(s.path + "."))) s.path = prefix;
    }
    std::string path = s.path;
    for (int k = 1; !fits(path); ++k) path = s.path + "_" + std::to_string(k);
    s.path = path;
    is_bn[path] = bn;
    for (const onnx::Weight& x : w) {
      owner[path][x.name] = x.slot;
      ++weight_uses[x.slot];
    }
    weights[&s - p.steps.data()] = std::move(w);
  }
  // Weights now live in modules: drop their constant copies unless something else reads them.
  for (size_t slot = 0; slot < p.constants.size(); ++slot)
    if (weight_uses[slot] > 0 && all_uses[slot] == weight_uses[slot] && static_cast<int>(slot) != p.output_slot)
      p.constants[slot].reset();

  auto program = std::make_shared<const Program>(std::move(p));
  auto model = std::make_shared<OnnxModel>(program);
  for (size_t k = 0; k < program->steps.size(); ++k) {
    const Step& s = program->steps[k];
    if (weights[k].empty()) continue;
    const bool bn = s.node.op_type == "BatchNormalization";
    const int64_t channels = weights[k][0].value.numel();
    const auto dims_it = g.value_dims.find(s.node.inputs[0]);
    const bool rank4 = dims_it == g.value_dims.end() || dims_it->second.size() == 4;
    const float eps = onnx::attr_float(s.node, "epsilon", 1e-5f);
    std::string type = onnx::torch_type(s, *program);
    if (dims_it != g.value_dims.end() && dims_it->second.size() == 3 && (type == "Conv2d" || type == "ConvTranspose2d"))
      type = type == "Conv2d" ? "Conv1d" : "ConvTranspose1d";  // 1-D layers run as 2-D ones on [N,C,1,L]
    Module* m = ensure_module(*model, s.path, [&]() -> ModulePtr {
      if (bn && rank4) return std::make_shared<BatchNorm2d>(channels, eps);
      if (bn) return std::make_shared<BatchNorm1d>(channels, eps);
      return std::make_shared<OnnxModule>(type);
    });
    BL_CHECK(m, g.source, ": ", s.node.describe(), ": module path '", s.path, "' runs through a BatchNorm");
    if (auto* o = dynamic_cast<OnnxModule*>(m)) {
      if (o->type_name() == "Module") o->set_type(type);
      for (const onnx::Weight& w : weights[k]) {
        if (o->has_parameter(w.name)) continue;  // a second call of the module
        if (w.buffer) o->add_buffer(w.name, w.value); else o->add_param(w.name, w.value);
      }
    } else if (auto* r = dynamic_cast<OnnxModel*>(m)) {
      for (const onnx::Weight& w : weights[k])
        if (!r->has_parameter(w.name)) r->add_param(w.name, w.value);
    } else {
      for (const onnx::Weight& w : weights[k]) {  // an engine BatchNorm: same names, same shapes
        Tensor& slot = w.buffer ? m->buffer(w.name) : m->parameter(w.name);
        BL_CHECK(slot.shape() == w.value.shape(), g.source, ": ", s.node.describe(), ": ", w.name, " has shape ",
                 w.value.shape().str(), ", expected ", slot.shape().str());
        slot = w.value;
      }
    }
  }
  model->set_path("");

  // Validating dry run at the load shape (also gives the layer listing). Sizes in the file are
  // untrusted (a fuzzed Pad or Resize asked for terabytes): no tensor above kLoadTensorLimit here.
  const Workspace limited = Workspace::with_tensor_limit(kLoadTensorLimit);
  Tape tape(TapeOptions{}, limited);
  Tensor x = Tensor::zeros(Shape(input_shape), &limited);
  const Var y = model->forward(tape.input(x));
  if (info) {
    info->input_shape = input_shape;
    info->input_is_int = g.input_is_int;
    info->producer = g.producer;
    info->opset = g.opset;
    info->metadata = g.metadata;
    info->num_classes = y.shape().rank() >= 1 ? y.shape()[-1] : 1;
    const auto md = [&](const char* key) -> const std::string* {
      const auto it = g.metadata.find(key);
      return it == g.metadata.end() ? nullptr : &it->second;
    };
    try {
      if (const auto* v = md("backlight.num_classes")) info->num_classes = std::stoll(*v);
      if (const auto* v = md("backlight.mean")) info->mean = parse_floats(*v);
      if (const auto* v = md("backlight.std")) info->std = parse_floats(*v);
      if (const auto* v = md("backlight.image_size")) info->image_size = parse_dims(*v);
    } catch (const std::exception&) {
      BL_THROW(g.source, ": malformed backlight.* metadata (numbers expected)");
    }
    for (const Node& n : tape.nodes())
      info->layers.push_back({n.name, std::string(to_string(n.kind)), "", tape.value(n.output).tensor.shape().to_vector()});
  }
  return model;
}

std::vector<int64_t> default_input_shape(const onnx::Graph& g) {
  const auto it = g.metadata.find("backlight.input_shape");
  if (it != g.metadata.end()) {
    try {
      return parse_dims(it->second);
    } catch (const std::exception&) {
      BL_THROW(g.source, ": malformed metadata backlight.input_shape '", it->second, "' (expected e.g. 1x3x224x224)");
    }
  }
  BL_CHECK(!g.input_dims.empty(), g.source, ": the input '", g.input,
           "' has no shape in the file; give one (--input-shape / load_onnx_model(path, shape))");
  std::vector<int64_t> d = g.input_dims;
  for (int64_t& x : d)
    if (x <= 0) x = 1;
  return d;
}

void check_input_shape(const onnx::Graph& g, const std::vector<int64_t>& shape) {
  BL_CHECK(!shape.empty() && shape.size() <= 8, g.source, ": input shape must have 1 to 8 dims");
  int64_t n = 1;
  for (int64_t d : shape) {
    BL_CHECK(d > 0 && d < (int64_t{1} << 24), g.source, ": input shape ", join_dims(shape), " has a bad dimension");
    n *= d;
    BL_CHECK(n < (int64_t{1} << 30), g.source, ": input shape ", join_dims(shape), " is too large");
  }
  if (!g.input_dims.empty()) {
    BL_CHECK(g.input_dims.size() == shape.size(), g.source, ": the model's input '", g.input, "' has rank ",
             g.input_dims.size(), ", the given shape ", join_dims(shape), " has rank ", shape.size());
    for (size_t i = 1; i < shape.size(); ++i)
      BL_CHECK(g.input_dims[i] <= 0 || g.input_dims[i] == shape[i], g.source, ": the model's input '", g.input,
               "' has dim ", i, " = ", g.input_dims[i], ", the given shape ", join_dims(shape), " has ", shape[i]);
  }
}

ModulePtr load_any(const std::function<onnx::Graph(const onnx::ShapeChooser&)>& parse, std::vector<int64_t> shape,
                   OnnxModelInfo* info) {
  onnx::Graph g = parse([&](const onnx::Graph& partial) {
    if (shape.empty()) shape = default_input_shape(partial);
    check_input_shape(partial, shape);
    return shape;
  });
  return build_model(std::move(g), shape, info);
}

}  // namespace

ModulePtr load_onnx_model(const std::filesystem::path& path, std::vector<int64_t> input_shape, OnnxModelInfo* info) {
  return load_any([&](const onnx::ShapeChooser& c) { return onnx::read_onnx_file(path, c); }, std::move(input_shape),
                  info);
}

ModulePtr load_onnx_model_from_bytes(std::span<const uint8_t> bytes, std::string_view source,
                                     std::vector<int64_t> input_shape, OnnxModelInfo* info) {
  return load_any([&](const onnx::ShapeChooser& c) { return onnx::parse_onnx(bytes, source, {}, c); },
                  std::move(input_shape), info);
}

std::vector<std::pair<std::string, std::string>> onnx_supported_ops() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const onnx::OpSupport& o : onnx::supported_ops())
    out.emplace_back(std::string(o.op), std::string(o.tape_op) + (o.notes.empty() ? "" : ": " + std::string(o.notes)));
  return out;
}

}  // namespace backlight
