// backlight._core.Model and the ways to get one: zoo(), load() (by file type), state dicts.
#include <nanobind/stl/filesystem.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <filesystem>
#include <system_error>

#include "engine/canonize.h"
#include "engine/error.h"
#include "engine/tape.h"
#include "models/safetensors.h"
#include "models/state_dict.h"
#include "models/zoo.h"
#include "python/src/bind.h"

// The ONNX importer (issue 16) arrives on its own branch; once it is in the tree, load() reads
// .onnx files and from_torch works without another change here.
#if __has_include("models/onnx/model.h")
#include "models/onnx/model.h"
#define BACKLIGHT_PYTHON_ONNX 1
#else
#define BACKLIGHT_PYTHON_ONNX 0
#endif

namespace backlight::python {

namespace {

Model from_zoo(const std::string& name, int64_t num_classes, uint64_t seed, const std::vector<int64_t>& mlp_sizes) {
  const ModelInfo info = zoo_model_info(name);
  ModelConfig cfg{.num_classes = num_classes, .seed = seed, .mlp_sizes = mlp_sizes};
  Model m{make_model(name, cfg), info.name, info.input, num_classes > 0 ? num_classes : info.num_classes};
  if (name == "mlp" && !mlp_sizes.empty()) m.input = {mlp_sizes.front()};
  return m;
}

void check_readable(const std::filesystem::path& path, const char* who) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    throw FileError(std::string(who) + ": " + path.string() + ": no such file");
  if (!std::filesystem::is_regular_file(path, ec))
    throw FileError(std::string(who) + ": " + path.string() + ": not a regular file");
}

// Problems with a file's contents (truncated, corrupt, wrong metadata) are file errors too.
template <class F>
auto file_errors(F&& f) {
  try {
    return f();
  } catch (const FileError&) {
    throw;
  } catch (const std::exception& e) {
    throw FileError(e.what());
  }
}

// The seam every file format goes through: the importer for a new format (ONNX, issue 16) is one
// branch here, and backlight.load / backlight.from_torch need no other change.
Model load_file(const std::filesystem::path& path, int64_t num_classes, const std::vector<int64_t>& mlp_sizes) {
  check_readable(path, "load");
  const std::string ext = path.extension().string();
  if (ext == ".onnx") {
#if BACKLIGHT_PYTHON_ONNX
    return file_errors([&] {
      OnnxModelInfo info;
      Model m;
      m.module = load_onnx_model(path, {}, &info);
      if (info.input_shape.size() > 1) m.input.assign(info.input_shape.begin() + 1, info.input_shape.end());
      m.num_classes = info.num_classes;
      return m;
    });
#else
    throw std::logic_error("load: " + path.string() +
                           ": ONNX import is not available in this build yet (it comes with the ONNX importer)");
#endif
  }
  return file_errors([&] {
    ModelConfig cfg{.num_classes = num_classes, .mlp_sizes = mlp_sizes};
    Model m;
    m.module = load_model(path, cfg);
    const SafeTensorsFile file = read_safetensors(path);  // header only is parsed again; data is mapped
    const auto it = file.metadata.find("arch");
    if (it != file.metadata.end()) {
      const ModelInfo info = zoo_model_info(it->second);
      m.arch = info.name;
      m.input = info.input;
      m.num_classes = info.num_classes;
    }
    if (const auto nc = file.metadata.find("num_classes"); nc != file.metadata.end())
      m.num_classes = std::stoll(nc->second);
    if (const auto ms = file.metadata.find("mlp_sizes"); ms != file.metadata.end() && m.arch == "mlp")
      m.input = {std::stoll(ms->second.substr(ms->second.find_first_of("0123456789")))};
    return m;
  });
}

}  // namespace

void bind_model(nb::module_& m) {
  nb::class_<Model>(m, "Model", "A network on the tape engine (see backlight.Model)")
      .def_ro("arch", &Model::arch, "Zoo architecture name, '' when unknown.")
      .def_ro("input_shape", &Model::input, "Default per-item input shape, e.g. [3, 224, 224] ([] when unknown).")
      .def_ro("num_classes", &Model::num_classes, "Number of outputs (0 when unknown).")
      .def("forward", [](const Model& self, const InArray& x) {
             Tensor in = to_tensor(x, "inputs");
             Tensor out;
             {
               nb::gil_scoped_release nogil;
               apply_num_threads();
               Tape tape(TapeOptions{.record = false});
               out = self.module->forward(tape.input(in)).value();
             }
             return to_numpy(out);
           }, nb::arg("inputs"), "Model output for inputs [N, ...] (float32) -> [N, classes].")
      .def("layers", [](const Model& self) {
             std::vector<std::pair<std::string, std::string>> out;
             for (const auto& [path, mod] : self.module->named_modules())
               if (!path.empty()) out.emplace_back(path, mod->type_name());
             return out;
           }, "(module path, type) of every layer, as torch's named_modules() without the root.")
      .def("type_name", [](const Model& self) { return self.module->type_name(); })
      .def("state_dict", [](const Model& self) {
             nb::dict d;
             for (auto& [k, t] : self.module->state_dict()) d[k.c_str()] = to_numpy(t);
             return d;
           }, "Parameters and buffers by torch's state_dict keys (numpy views of the model's tensors).")
      .def("load_state_dict", [](Model& self, const std::vector<std::pair<std::string, InArray>>& tensors,
                                 bool strict) {
             std::vector<std::pair<std::string, Tensor>> ts;
             for (const auto& [k, a] : tensors) ts.emplace_back(k, to_tensor(a, k.c_str(), true).clone());
             const LoadReport r = load_state_dict(*self.module, ts, strict);
             return std::make_pair(r.missing, r.unexpected);
           }, nb::arg("tensors"), nb::arg("strict") = true,
           "Copies (key, float32 array) pairs into the model; returns (missing, unexpected) keys.");

  // True once load() reads .onnx files (issue 16's importer); backlight.from_torch checks it.
  m.attr("has_onnx") = BACKLIGHT_PYTHON_ONNX != 0;
#if BACKLIGHT_PYTHON_ONNX
  m.def("load_onnx_bytes", [](nb::bytes data, const std::vector<int64_t>& input_shape) {
    const auto* p = static_cast<const uint8_t*>(data.data());
    std::span<const uint8_t> bytes(p, data.size());
    return file_errors([&] {
      OnnxModelInfo info;
      Model m;
      m.module = load_onnx_model_from_bytes(bytes, "from_torch", input_shape, &info);
      if (input_shape.size() > 1) m.input.assign(input_shape.begin() + 1, input_shape.end());
      m.num_classes = info.num_classes;
      return m;
    });
  }, nb::arg("data"), nb::arg("input_shape"), "A model from ONNX bytes (backlight.from_torch).");
#endif
  m.def("zoo", [](const std::string& name, int64_t num_classes, uint64_t seed, const std::vector<int64_t>& mlp_sizes) {
          return from_zoo(name, num_classes, seed, mlp_sizes);
        }, nb::arg("name"), nb::arg("num_classes") = 0, nb::arg("seed") = 0,
        nb::arg("mlp_sizes") = std::vector<int64_t>{},
        "A zoo architecture with its random initialisation (seeded).");
  m.def("merge_batchnorm", [](const Model& self, const std::vector<int64_t>& input_shape) {
          Model out = self;
          out.workspace = Workspace();  // a model of its own: its own pool
          nb::gil_scoped_release nogil;
          out.module = merge_batchnorm(*self.module, Shape(input_shape));
          return out;
        }, nb::arg("model"), nb::arg("input_shape"),
        "A copy with every BatchNorm folded into the conv/linear before it (Zennit's canonizers); the\n"
        "model itself is untouched. input_shape: [1, ...] of one item.");
  m.def("release_memory", [](const Model& self) { self.workspace.trim(); }, nb::arg("model"),
        "Returns the buffers cached by the model's attribution calls to the system.");
  m.def("cached_bytes", [](const Model& self) { return self.workspace.stats().bytes_cached; }, nb::arg("model"),
        "Bytes the model's buffer pool holds for reuse.");
  m.def("zoo_models", []() {
    std::vector<std::tuple<std::string, std::string, std::vector<int64_t>, int64_t>> out;
    for (const ModelInfo& i : zoo_models()) out.emplace_back(i.name, i.description, i.input, i.num_classes);
    return out;
  }, "(name, description, input shape, classes) of every zoo architecture.");
  m.def("load_weights", [](Model& self, const std::filesystem::path& path) {
    check_readable(path, "load_weights");
    file_errors([&] { return load_weights(*self.module, path, {.strict = true, .arch = self.arch}); });
  }, nb::arg("model"), nb::arg("path"), "Loads a .safetensors file into the model (strict).");
  m.def("load", [](const std::filesystem::path& path, int64_t num_classes, const std::vector<int64_t>& mlp_sizes) {
    return load_file(path, num_classes, mlp_sizes);
  }, nb::arg("path"), nb::arg("num_classes") = 0, nb::arg("mlp_sizes") = std::vector<int64_t>{},
        "A model from a file: .safetensors with an 'arch' in its metadata (tools/convert_torch.py).");
}

}  // namespace backlight::python
