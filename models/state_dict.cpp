#include "models/state_dict.h"

#include <set>
#include <sstream>
#include <unordered_map>

#include "engine/error.h"
#include "models/weight_check.h"

namespace backlight {

namespace {

bool is_num_batches_tracked(std::string_view key) {
  constexpr std::string_view kSuffix = "num_batches_tracked";
  return key.size() >= kSuffix.size() && key.substr(key.size() - kSuffix.size()) == kSuffix &&
         (key.size() == kSuffix.size() || key[key.size() - kSuffix.size() - 1] == '.');
}

std::string describe(const Module& m) {
  return m.path().empty() ? m.type_name() + " (root)" : m.type_name() + " '" + m.path() + "'";
}

void list(std::ostringstream& os, const char* what, const std::vector<std::string>& items) {
  if (items.empty()) return;
  os << "\n  " << what << " (" << items.size() << "): ";
  for (size_t i = 0; i < items.size(); ++i) os << (i ? ", " : "") << items[i];
}

}  // namespace

LoadReport load_state_dict(Module& model, std::span<const std::pair<std::string, Tensor>> tensors, bool strict) {
  const auto expected = model.state_dict();
  std::unordered_map<std::string_view, const Tensor*> given;
  std::vector<std::string> duplicates, undefined, unexpected, missing, wrong_shapes;
  for (const auto& [key, t] : tensors) {
    if (!given.emplace(key, &t).second) duplicates.push_back(key);
    if (!t.defined()) undefined.push_back(key);
  }
  std::set<std::string_view> known;
  LoadReport report;
  std::vector<std::pair<std::string, Tensor>> assign;
  for (const auto& [key, current] : expected) {
    known.insert(key);
    const auto it = given.find(key);
    if (it == given.end()) {
      if (!is_num_batches_tracked(key)) missing.push_back(key);
      continue;
    }
    const Tensor& t = *it->second;
    if (!t.defined()) continue;
    Tensor value = t;
    if (is_num_batches_tracked(key) && t.numel() == 1 && current.numel() == 1) value = t.reshape(current.shape());
    if (value.shape() != current.shape()) {
      wrong_shapes.push_back(key + " expected " + current.shape().str() + ", got " + t.shape().str());
      continue;
    }
    assign.emplace_back(key, value);
  }
  for (const auto& [key, t] : tensors)
    if (!known.count(key)) unexpected.push_back(key);

  const size_t problems = duplicates.size() + undefined.size() + wrong_shapes.size() +
                          (strict ? missing.size() + unexpected.size() : 0);
  if (problems) {
    std::ostringstream os;
    os << "load_state_dict: " << problems << (problems == 1 ? " problem" : " problems") << " loading "
       << tensors.size() << " tensors into " << describe(model) << " (" << expected.size() << " keys)";
    if (strict) {
      list(os, "missing keys", missing);
      list(os, "unexpected keys", unexpected);
    }
    list(os, "wrong shapes", wrong_shapes);
    list(os, "duplicate keys", duplicates);
    list(os, "keys without a tensor", undefined);
    throw Error(os.str());
  }
  for (auto& [key, value] : assign) {
    BL_CHECK(model.set_tensor(key, value), "load_state_dict: internal error: cannot set '", key, "'");
    report.loaded.push_back(key);
  }
  report.missing = std::move(missing);
  report.unexpected = std::move(unexpected);
  return report;
}

LoadReport load_weights(Module& model, const SafeTensorsFile& file, const LoadOptions& options) {
  const auto meta = [&](const char* key) {
    const auto it = file.metadata.find(key);
    return it == file.metadata.end() ? std::string() : it->second;
  };
  const std::string arch = meta("arch"), format = meta("format");
  BL_CHECK(format.empty() || format.rfind("backlight-", 0) != 0 || format == kWeightsFormat, "load_weights: ",
           file.path, ": unsupported format '", format, "' (this build reads '", kWeightsFormat, "')");
  BL_CHECK(options.arch.empty() || arch.empty() || arch == options.arch, "load_weights: ", file.path,
           " holds weights for architecture '", arch, "', but the model is '", options.arch, "'");
  if (!options.allow_nonfinite_weights) check_weight_values(file.tensors, file.path);
  try {
    return load_state_dict(model, file.tensors, options.strict);
  } catch (const Error& e) {
    throw Error("load_weights: " + file.path + (arch.empty() ? std::string() : " (arch '" + arch + "')") + ": " +
                e.what());
  }
}

LoadReport load_weights(Module& model, const std::filesystem::path& path, const LoadOptions& options) {
  return load_weights(model, read_safetensors(path), options);
}

void save_weights(const Module& model, const std::filesystem::path& path,
                  const std::map<std::string, std::string>& metadata, SafeTensorsWriteOptions options) {
  std::map<std::string, std::string> meta = metadata;
  meta["format"] = kWeightsFormat;  // always ours, whatever `metadata` says
  const auto tensors = model.state_dict();
  write_safetensors(path, tensors, meta, options);
}

}  // namespace backlight
