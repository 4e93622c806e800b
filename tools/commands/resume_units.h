#pragma once
/// Resume for the summary commands whose units are batches fixed by their flags (`similarity`,
/// `dissect`, `tcav`): the shared unit cache (tools/cluster/unit_cache.h; --cache DIR and --fresh,
/// unit_cache_flags()) behind the library's UnitStore (attribution/core/unit_store.h), and the
/// report of what a rerun took from an earlier one. Units are keyed by what they hold, never by
/// rank, so a rerun may use another number of ranks.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "attribution/core/unit_store.h"
#include "tools/cli/args.h"
#include "tools/cluster/cluster.h"
#include "tools/cluster/unit_cache.h"

namespace backlight::cli {

class ResumeUnits : public UnitStore {
 public:
  /// The cache of this job (open_unit_cache: a collective), or nullptr when the command keeps none
  /// (no --cache and no file output). `not_in_fingerprint`: flags that change no unit (besides
  /// --threads, --json, --out, --cache, --fresh).
  static std::unique_ptr<ResumeUnits> open(const Args& args, const Cluster& cluster,
                                           std::span<const std::string_view> not_in_fingerprint);
  explicit ResumeUnits(UnitCache cache) : cache_(std::move(cache)) {}

  /// What a unit reads beyond the job's flags, by kind and number (e.g. the files of batch j of a
  /// --data DIR): its files_digest is added to the key, so a changed, added or removed file makes
  /// another key and the unit is computed again. Empty (the default): nothing is added.
  std::function<std::vector<std::string>(std::string_view kind, int64_t number)> inputs;

  std::string key(std::string_view kind, int64_t number) const override;
  std::optional<std::string> load(const std::string& key) const override { return cache_.load(key); }
  void discard(const std::string& key) override { cache_.discard(key); }
  void begin(const std::string& key) override { cache_.begin(key); }
  void store(const std::string& key, std::string_view bytes) override { cache_.store(key, bytes); }
  const UnitCache& cache() const { return cache_; }

 private:
  UnitCache cache_;
};

/// Collective (every rank calls it): the job's units and how many were loaded instead of computed,
/// summed over the ranks. The leader names on stderr what an earlier run had in flight and, when
/// some units were loaded, prints "<command>: resuming: N of M units from FOLDER". Returns N (0
/// without a cache).
int64_t report_resumed_units(const Cluster& cluster, const ResumeUnits* units, int64_t units_here,
                             int64_t resumed_here, const std::string& command);

}  // namespace backlight::cli
