#include "models/checkpoints.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "engine/error.h"
#include "models/safetensors.h"
#include "models/state_dict.h"

namespace backlight {

namespace {

std::string decimal(double v) {
  std::ostringstream os;
  os.precision(17);  // round-trips a double exactly
  os << v;
  return os.str();
}

double parse_double(const std::string& text, const std::filesystem::path& file, const char* key) {
  size_t used = 0;
  double v = 0.0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  BL_CHECK(used == text.size() && used > 0 && std::isfinite(v), "list_checkpoints: ", file.string(),
           ": metadata \"", key, "\" should be a number, got '", text, "'");
  return v;
}

int64_t optional_int(const std::map<std::string, std::string>& meta, const std::filesystem::path& file,
                     const char* key) {
  const auto it = meta.find(key);
  if (it == meta.end()) return 0;
  const double v = parse_double(it->second, file, key);
  BL_CHECK(v >= 0 && v == std::floor(v), "list_checkpoints: ", file.string(), ": metadata \"", key,
           "\" should be an integer >= 0, got '", it->second, "'");
  return static_cast<int64_t>(v);
}

}  // namespace

std::filesystem::path checkpoint_path(const std::filesystem::path& dir, int64_t step) {
  char name[64];
  std::snprintf(name, sizeof name, "checkpoint-%08lld.safetensors", static_cast<long long>(step));
  return dir / name;
}

void save_checkpoint(const Module& model, const std::filesystem::path& dir, double lr, int64_t epoch, int64_t step,
                     const std::map<std::string, std::string>& extra) {
  BL_CHECK(lr > 0 && std::isfinite(lr), "save_checkpoint: expected a learning rate > 0, got ", lr);
  BL_CHECK(epoch >= 0 && step >= 0, "save_checkpoint: expected epoch and step >= 0, got ", epoch, " and ", step);
  std::map<std::string, std::string> meta = extra;
  meta["lr"] = decimal(lr);
  meta["epoch"] = std::to_string(epoch);
  meta["step"] = std::to_string(step);
  save_weights(model, checkpoint_path(dir, step), meta);
}

std::vector<CheckpointInfo> list_checkpoints(const std::filesystem::path& dir) {
  std::error_code ec;
  BL_CHECK(std::filesystem::is_directory(dir, ec), "list_checkpoints: '", dir.string(),
           "' is not a folder (expected a folder of checkpoint-*.safetensors files, as written by backlight train "
           "--save-every N --checkpoint-dir DIR)");
  std::vector<CheckpointInfo> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".safetensors") continue;
    const SafeTensorsFile f = read_safetensors(entry.path());
    CheckpointInfo c{.path = entry.path(), .metadata = f.metadata};
    const auto lr = f.metadata.find("lr");
    BL_CHECK(lr != f.metadata.end(), "list_checkpoints: ", entry.path().string(),
             " has no \"lr\" metadata (TracIn weighs every checkpoint by its learning rate; write it with "
             "save_checkpoint or safetensors' metadata={\"lr\": ...})");
    c.lr = parse_double(lr->second, entry.path(), "lr");
    BL_CHECK(c.lr > 0, "list_checkpoints: ", entry.path().string(), ": expected \"lr\" > 0, got ", lr->second);
    c.epoch = optional_int(f.metadata, entry.path(), "epoch");
    c.step = optional_int(f.metadata, entry.path(), "step");
    out.push_back(std::move(c));
  }
  BL_CHECK(!out.empty(), "list_checkpoints: folder '", dir.string(), "' holds no .safetensors file");
  std::sort(out.begin(), out.end(), [](const CheckpointInfo& a, const CheckpointInfo& b) {
    return a.step != b.step ? a.step < b.step : a.path < b.path;
  });
  return out;
}

ModulePtr load_checkpoint(const Module& model, const CheckpointInfo& checkpoint, const std::string& arch) {
  ModulePtr m = model.clone();
  load_weights(*m, checkpoint.path, LoadOptions{.arch = arch});
  return m;
}

}  // namespace backlight
