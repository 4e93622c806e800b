#pragma once
// `backlight influence` as one job over the processes of a Cluster (tools/cluster/cluster.h; one
// process is the job of size 1): the flags read into an InfluenceSetup, this rank's training
// batches (InfluenceUnits: batch b is rank b % ranks's), the batches still to score (those an
// earlier run kept are loaded instead), the waves they run in (influence_units.h) and the
// training examples that could not be read, gathered on rank 0. influence.cpp runs the two modes
// (test examples, --self-influence) on top of it and reports.
#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>

#include "attribution/core/packing.h"
#include "attribution/core/progress.h"
#include "attribution/influence/tracin.h"
#include "engine/module.h"
#include "models/checkpoints.h"
#include "tools/cli/args.h"
#include "tools/cluster/cluster.h"
#include "tools/cluster/unit_cache.h"
#include "tools/commands/influence_data.h"
#include "tools/commands/influence_units.h"

namespace backlight::cli {

/// What the flags name: the checkpoints loaded into one architecture, the training set, the
/// TracIn options and --top.
struct InfluenceSetup {
  std::string arch;
  ModulePtr model;
  std::vector<CheckpointInfo> infos;
  std::vector<TracInCheckpoint> checkpoints;
  TrainingSet train;
  TracInOptions options;
  int64_t top = 10;
};

/// Reads --checkpoints, --train, --method, --layers, --batch, --projection-dim, --seed, --top,
/// --threads, --model and --train-limit (sets the thread count). Throws UsageError for a missing
/// or bad flag.
InfluenceSetup influence_setup(const Args& args);

/// This rank's units: training batches b (examples [b * batch, (b + 1) * batch)) with
/// b % ranks == rank, and what their keys are made of (influence_units.h).
struct InfluenceUnits {
  std::vector<int64_t> batches;  ///< this rank's, ascending
  int64_t total = 0, batch = 0, n = 0;
  std::string digest;  ///< checkpoints and test examples
  int64_t begin(int64_t b) const { return b * batch; }
  int64_t end(int64_t b) const { return std::min(n, (b + 1) * batch); }
};

/// This rank's units of a job over the test examples `tests` (none for --self-influence).
InfluenceUnits units_of(const Cluster& cluster, const InfluenceSetup& s, std::span<const std::string> tests);

/// Batch b's unit key (influence_batch_key over the batch's example names).
std::string batch_key(const InfluenceSetup& s, const InfluenceUnits& u, int64_t b);

/// Whether every example of batch b was read (a batch with an unreadable one is not stored: a
/// rerun tries it again).
bool batch_read(const InfluenceSetup& s, const InfluenceUnits& u, int64_t b);

/// This rank's batches still to score, ascending. `load(b, bytes)` takes the unit an earlier run
/// kept for batch b and says whether it was whole (one that was not is discarded and scored again).
template <class Load>
std::vector<int64_t> pending_batches(const InfluenceSetup& s, const InfluenceUnits& u, UnitCache& cache, Load load) {
  std::vector<int64_t> pending;
  for (int64_t b : u.batches) {
    const std::string key = batch_key(s, u, b);
    if (const std::optional<std::string> bytes = cache.load(key)) {
      if (load(b, *bytes)) continue;
      cache.discard(key);
    }
    pending.push_back(b);
  }
  return pending;
}

/// The progress bar (shown by the leader) of scoring `pending`: one unit per example and
/// checkpoint. `label` ("tracin") gains "(rank 0 of N)" in a job of several processes.
Progress tracin_progress(const std::string& label, const Cluster& cluster, const InfluenceSetup& s,
                         const InfluenceUnits& u, const std::vector<int64_t>& pending);

/// Runs the pending batches in waves (influence_units.h): per wave `compute()` (one library call
/// over the wave's batches), then `finish(b)` for each of its batches. The first error, "" if none.
template <class Compute, class Finish>
std::string run_waves(InfluenceSetup& s, const InfluenceUnits& u, const std::vector<int64_t>& pending,
                      UnitCache& cache, Progress& progress, Compute compute, Finish finish) {
  for (const std::vector<int64_t>& wave : influence_waves(pending, cache.enabled())) {
    const std::set<int64_t> in(wave.begin(), wave.end());
    const int64_t base = progress.done();
    s.options.batch_filter = [&in](int64_t b) { return in.count(b) > 0; };
    s.options.progress = [&progress, base](int64_t done, int64_t) { progress.advance(base + done - progress.done()); };
    try {
      for (int64_t b : wave) cache.begin(batch_key(s, u, b));
      compute();
      for (int64_t b : wave) finish(b);
    } catch (const std::exception& e) {
      s.options.batch_filter = nullptr;
      return e.what();
    }
  }
  s.options.batch_filter = nullptr;  // it named this function's waves
  return "";
}

/// The examples this rank could not read, for the gather on rank 0; unpack_skipped adds a
/// rank's to `into`.
void pack_skipped(Packer& p, const SkippedExamples& skipped);
void unpack_skipped(Unpacker& u, std::map<int64_t, std::string>& into);

/// The examples that could not be read as JSON: [{index, source, error}, ...].
nlohmann::json skipped_json(const InfluenceSetup& s, const std::map<int64_t, std::string>& skipped);

/// What the leader says at the end about unreadable training examples (of `n`); the exit status.
int finish_skipped(const std::map<int64_t, std::string>& skipped, int64_t n);

}  // namespace backlight::cli
