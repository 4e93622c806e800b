#include "models/zoo.h"

#include <algorithm>
#include <charconv>
#include <functional>
#include <random>

#include "engine/error.h"
#include "models/alexnet.h"
#include "models/mobilenet.h"
#include "models/onnx/model.h"
#include "models/resnet.h"
#include "models/small.h"
#include "models/state_dict.h"
#include "models/vgg.h"
#include "models/vit.h"

namespace backlight {

namespace {

using Builder = std::function<ModulePtr(const ModelConfig&, int64_t num_classes, std::mt19937_64&)>;

struct Entry {
  ModelInfo info;
  Builder build;
};

ModulePtr build_vit(const VisionTransformerConfig& base, const VitConfig& o, int64_t num_classes,
                    std::mt19937_64& rng) {
  VisionTransformerConfig c = base;
  auto pick = [](int64_t v, int64_t fallback) { return v > 0 ? v : fallback; };
  c.image_size = pick(o.image_size, c.image_size);
  c.patch_size = pick(o.patch_size, c.patch_size);
  c.num_layers = pick(o.num_layers, c.num_layers);
  c.num_heads = pick(o.num_heads, c.num_heads);
  c.hidden_dim = pick(o.hidden_dim, c.hidden_dim);
  c.mlp_dim = pick(o.mlp_dim, c.mlp_dim);
  c.num_classes = num_classes;
  return std::make_shared<VisionTransformer>(c, rng);
}

// The zoo table, built on each call (a few dozen small values; no static registry).
std::vector<Entry> zoo_table() {
  std::vector<Entry> t;
  const std::vector<int64_t> mnist{1, 28, 28}, imagenet{3, 224, 224};
  t.push_back({{"mlp", "multi-layer perceptron: Flatten, Linear+ReLU per hidden size, Linear", mnist, 10, false},
               [](const ModelConfig& c, int64_t nc, std::mt19937_64& rng) {
                 return make_mlp(c.mlp_sizes.empty() ? std::vector<int64_t>{784, 256, 128} : c.mlp_sizes, nc, rng);
               }});
  t.push_back({{"mnist_cnn", "3 conv+relu+maxpool stages (32, 64, 128 channels), fc 1152-256-classes", mnist, 10,
                false},
               [](const ModelConfig&, int64_t nc, std::mt19937_64& rng) { return make_mnist_cnn(nc, rng); }});
  t.push_back({{"lenet5", "LeNet-5 with ReLU and max pooling (conv 6, 16; fc 120, 84)", mnist, 10, false},
               [](const ModelConfig&, int64_t nc, std::mt19937_64& rng) { return make_lenet5(nc, rng); }});
  t.push_back({{"alexnet", "AlexNet (torchvision)", imagenet, 1000, true},
               [](const ModelConfig&, int64_t nc, std::mt19937_64& rng) { return make_alexnet(nc, rng); }});
  for (int depth : {11, 13, 16, 19})
    for (bool bn : {false, true}) {
      const std::string name = "vgg" + std::to_string(depth) + (bn ? "_bn" : "");
      t.push_back({{name, "VGG-" + std::to_string(depth) + (bn ? " with batch norm" : "") + " (torchvision)",
                    imagenet, 1000, true},
                   [depth, bn](const ModelConfig&, int64_t nc, std::mt19937_64& rng) {
                     return make_vgg(depth, bn, nc, rng);
                   }});
    }
  for (int depth : {18, 34, 50})
    t.push_back({{"resnet" + std::to_string(depth),
                  "ResNet-" + std::to_string(depth) + (depth >= 50 ? " (Bottleneck, v1.5)" : " (BasicBlock)") +
                      " (torchvision)",
                  imagenet, 1000, true},
                 [depth](const ModelConfig&, int64_t nc, std::mt19937_64& rng) {
                   return make_resnet(depth, nc, rng);
                 }});
  t.push_back({{"mobilenet_v2", "MobileNetV2 (torchvision; width_mult knob)", imagenet, 1000, true},
               [](const ModelConfig& c, int64_t nc, std::mt19937_64& rng) {
                 return std::make_shared<MobileNetV2>(nc, c.width_mult, rng);
               }});
  t.push_back({{"vit_b_16", "ViT-B/16 (torchvision): 12 layers, hidden 768, 12 heads, mlp 3072", imagenet, 1000,
                false},
               [](const ModelConfig& c, int64_t nc, std::mt19937_64& rng) {
                 return build_vit(VisionTransformerConfig{}, c.vit, nc, rng);
               }});
  t.push_back({{"vit_tiny",
                "small ViT, same code as vit_b_16: image 32, patch 8, 2 layers, hidden 64, 4 heads, mlp 128",
                {3, 32, 32}, 10, false},
               [](const ModelConfig& c, int64_t nc, std::mt19937_64& rng) {
                 return build_vit(VisionTransformerConfig{.image_size = 32,
                                                          .patch_size = 8,
                                                          .num_layers = 2,
                                                          .num_heads = 4,
                                                          .hidden_dim = 64,
                                                          .mlp_dim = 128},
                                  c.vit, nc, rng);
               }});
  return t;
}

std::string known_names(const std::vector<Entry>& table) {
  std::string s;
  for (const Entry& e : table) s += (s.empty() ? "" : ", ") + e.info.name;
  return s;
}

const Entry& find_entry(const std::vector<Entry>& table, std::string_view name, const char* fn) {
  for (const Entry& e : table)
    if (e.info.name == name) return e;
  BL_THROW(fn, ": unknown model '", name, "'; known models: ", known_names(table));
}

int64_t parse_int(const std::string& s, const std::string& what, const std::string& file) {
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  BL_CHECK(ec == std::errc() && end == s.data() + s.size(), "load_model: ", file, ": metadata \"", what,
           "\" is not an integer: '", s, "'");
  return v;
}

}  // namespace

std::vector<ModelInfo> zoo_models() {
  std::vector<ModelInfo> out;
  for (Entry& e : zoo_table()) out.push_back(std::move(e.info));
  return out;
}

ModelInfo zoo_model_info(std::string_view name) {
  const auto table = zoo_table();
  return find_entry(table, name, "zoo_model_info").info;
}

ModulePtr make_model(std::string_view name, const ModelConfig& cfg) {
  const auto table = zoo_table();
  const Entry& e = find_entry(table, name, "make_model");
  BL_CHECK(cfg.num_classes >= 0, "make_model: expected num_classes >= 0 (0 = default), got ", cfg.num_classes);
  std::mt19937_64 rng(cfg.seed);
  return e.build(cfg, cfg.num_classes > 0 ? cfg.num_classes : e.info.num_classes, rng);
}

ModulePtr load_model(const std::filesystem::path& path, ModelConfig cfg) {
  if (path.extension() == ".onnx") return load_onnx_model(path);  // models/onnx/model.h
  const SafeTensorsFile file = read_safetensors(path);
  const auto meta = [&](const char* key) {
    const auto it = file.metadata.find(key);
    return it == file.metadata.end() ? std::string() : it->second;
  };
  const std::string arch = meta("arch");
  BL_CHECK(!arch.empty(), "load_model: ", file.path,
           " has no \"arch\" metadata (write it with tools/convert_torch.py or save_weights); use make_model and "
           "load_weights instead");
  if (const std::string nc = meta("num_classes"); !nc.empty()) {
    const int64_t n = parse_int(nc, "num_classes", file.path);
    BL_CHECK(cfg.num_classes == 0 || cfg.num_classes == n, "load_model: ", file.path, " holds ", n,
             " classes, the configuration asks for ", cfg.num_classes);
    cfg.num_classes = n;
  }
  if (const std::string sizes = meta("mlp_sizes"); !sizes.empty() && cfg.mlp_sizes.empty()) {
    size_t begin = 0;
    while (begin <= sizes.size()) {
      const size_t comma = std::min(sizes.find(',', begin), sizes.size());
      cfg.mlp_sizes.push_back(parse_int(sizes.substr(begin, comma - begin), "mlp_sizes", file.path));
      begin = comma + 1;
    }
  }
  if (const std::string s = meta("image_size"); !s.empty() && cfg.vit.image_size == 0)
    cfg.vit.image_size = parse_int(s, "image_size", file.path);
  ModulePtr model = make_model(arch, cfg);
  load_weights(*model, file,
               LoadOptions{.strict = true, .arch = arch, .allow_nonfinite_weights = cfg.allow_nonfinite_weights});
  return model;
}

}  // namespace backlight
