// `backlight influence`: setup, units and gathering of the job (influence_job.h).
#include "tools/commands/influence_job.h"

#include <iostream>
#include <mutex>
#include <random>

#include "engine/parallel.h"
#include "models/default_model.h"
#include "models/zoo.h"
#include "tools/commands/flag_checks.h"

namespace backlight::cli {
namespace {

// The architecture the checkpoints are loaded into.
ModulePtr architecture(const std::string& name, const std::map<std::string, std::string>& meta) {
  int64_t classes = kNumShapeClasses;
  if (const auto it = meta.find("num_classes"); it != meta.end()) classes = std::stoll(it->second);
  if (name == "shapes_cnn") {
    std::mt19937_64 rng(0);  // every tensor is replaced by a checkpoint's
    return make_shapes_cnn(rng, classes);
  }
  for (const ModelInfo& mi : zoo_models())
    if (mi.name == name) return make_model(name, {.num_classes = classes});
  throw UsageError("influence: --model: unknown model '" + name + "' (see 'backlight models')");
}

}  // namespace

InfluenceSetup influence_setup(const Args& args) {
  InfluenceSetup s;
  const auto dir = args.get("checkpoints");
  if (!dir) throw UsageError("influence: --checkpoints DIR is required (written by backlight train --save-every N)");
  const auto train = args.get("train");
  if (!train) throw UsageError("influence: --train builtin:shapes|DIR is required");
  s.options.method = [&] {
    try {
      return tracin_method_from_string(args.get_or("method", "tracincp"));
    } catch (const Error& e) {
      throw UsageError(std::string("influence: --method: ") + e.what());
    }
  }();
  if (const auto layers = args.get_list("layers")) s.options.layers = *layers;
  s.options.batch_size = positive_flag(args, "batch", 4096).value_or(64);
  s.options.projection_dim = positive_flag(args, "projection-dim", 1 << 20).value_or(16);
  s.options.seed = seed_flag(args).value_or(0);
  s.top = positive_flag(args, "top", 1000).value_or(10);
  if (const auto t = threads_flag(args)) set_num_threads(*t);
  s.infos = list_checkpoints(*dir);
  s.arch = args.get_or("model", s.infos[0].metadata.count("arch") ? s.infos[0].metadata.at("arch") : "shapes_cnn");
  s.model = architecture(s.arch, s.infos[0].metadata);
  for (const CheckpointInfo& c : s.infos)
    s.checkpoints.push_back({c.lr, [m = s.model, c] { return load_checkpoint(*m, c); }});
  s.train = training_set(*train, s.infos[0].metadata, positive_flag(args, "train-limit", INT32_MAX).value_or(0));
  return s;
}

InfluenceUnits units_of(const Cluster& cluster, const InfluenceSetup& s, std::span<const std::string> tests) {
  InfluenceUnits u{.batch = s.options.batch_size, .n = s.train.source.size};
  u.total = (u.n + u.batch - 1) / u.batch;
  for (int64_t b = cluster.rank(); b < u.total; b += cluster.size()) u.batches.push_back(b);
  u.digest = influence_job_digest(s.infos, tests);
  return u;
}

std::string batch_key(const InfluenceSetup& s, const InfluenceUnits& u, int64_t b) {
  std::vector<std::string> names;
  for (int64_t i = u.begin(b); i < u.end(b); ++i) names.push_back(s.train.name(i));
  return influence_batch_key(u.digest, b, names);
}

bool batch_read(const InfluenceSetup& s, const InfluenceUnits& u, int64_t b) {
  std::lock_guard<std::mutex> lock(s.train.skipped->mutex);
  const auto it = s.train.skipped->errors.lower_bound(u.begin(b));
  return it == s.train.skipped->errors.end() || it->first >= u.end(b);
}

Progress tracin_progress(const std::string& label, const Cluster& cluster, const InfluenceSetup& s,
                         const InfluenceUnits& u, const std::vector<int64_t>& pending) {
  int64_t remaining = 0;  // examples still to score
  for (int64_t b : pending) remaining += u.end(b) - u.begin(b);
  ProgressOptions o;
  o.enabled = cluster.leader();
  return Progress(cluster.distributed() ? label + " (rank 0 of " + std::to_string(cluster.size()) + ")" : label,
                  std::max<int64_t>(1, remaining * static_cast<int64_t>(s.checkpoints.size())), o);
}

void pack_skipped(Packer& p, const SkippedExamples& skipped) {
  p.put<uint64_t>(skipped.errors.size());
  for (const auto& [i, e] : skipped.errors) {
    p.put<int64_t>(i);
    p.put_string(e);
  }
}

void unpack_skipped(Unpacker& u, std::map<int64_t, std::string>& into) {
  const uint64_t n = u.get<uint64_t>();
  for (uint64_t k = 0; k < n; ++k) {
    const int64_t i = u.get<int64_t>();
    into[i] = u.get_string();
  }
}

nlohmann::json skipped_json(const InfluenceSetup& s, const std::map<int64_t, std::string>& skipped) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& [i, e] : skipped) j.push_back({{"index", i}, {"source", s.train.name(i)}, {"error", e}});
  return j;
}

int finish_skipped(const std::map<int64_t, std::string>& skipped, int64_t n) {
  if (skipped.empty()) return 0;
  std::cerr << "influence: " << skipped.size() << " of " << n
            << " training examples could not be read (reported above) and were left out\n";
  return 1;
}

}  // namespace backlight::cli
