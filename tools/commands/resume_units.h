#pragma once
/// Resume for the summary commands whose work is units fixed by their flags (`similarity`,
/// `dissect`, `tcav`): --cache DIR and --fresh, the shared unit cache (tools/cluster/unit_cache.h)
/// behind the library's UnitStore (attribution/core/unit_store.h), and the report of what a rerun
/// took from an earlier one. Units are keyed by what they hold, not by rank, so a rerun may use
/// another number of ranks.
#include <cstdint>
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

/// The --cache DIR and --fresh flag specs (appended to a command's table).
std::vector<FlagSpec> unit_cache_flags();

class ResumeUnits : public UnitStore {
 public:
  /// The cache of this job: --cache DIR, else derived from --out (unit_cache_folder); nullptr when
  /// the command writes no file and no --cache was given. The job's fingerprint covers every flag
  /// except --threads, --json, --out, --cache, --fresh and `ignored` (flags that change no unit).
  /// The leader names on stderr what an earlier run had in flight.
  static std::unique_ptr<ResumeUnits> open(const Args& args, std::span<const std::string_view> ignored,
                                           const Cluster& cluster);
  ResumeUnits(std::string folder, std::string fingerprint, int rank, bool fresh);

  std::optional<std::string> load(const std::string& key) const override { return cache_.load(key); }
  void store(const std::string& key, std::string_view bytes) override { cache_.store(key, bytes); }
  const std::string& folder() const { return folder_; }
  const UnitCache& cache() const { return cache_; }

 private:
  std::string folder_;
  UnitCache cache_;
};

/// Job-wide units and how many were loaded instead of computed (sums over the ranks: every rank
/// calls it). When some were, the leader prints "<command>: resuming: N of M units from FOLDER".
/// Returns N (0 without a cache).
int64_t report_resumed(const Cluster& cluster, const ResumeUnits* units, int64_t units_here, int64_t resumed_here,
                       const std::string& command);

}  // namespace backlight::cli
