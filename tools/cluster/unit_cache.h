#pragma once
/// Resuming the summary commands (evaluate, sanity, influence, similarity, dissect, tcav). Their
/// work comes in units fixed by flags, not by the rank count (chunks of --chunk images, batches of
/// --batch examples), and their reductions run in a fixed order over the units' results. So a
/// finished unit's result bytes can be kept: a rerun of the same job loads them instead of
/// computing them again, and the reduction gives the uninterrupted run's results bit for bit. A
/// job killed mid-way, or a node lost, costs only the units in flight.
///
/// Layout of a cache folder (one per job output, shared by every rank; several jobs may share it):
///   FOLDER/.backlight-manifest/rank<r>.jsonl   the resume manifest (tools/cluster/manifest.h): per
///                                              unit a "start" and a "done" line with the unit
///                                              file's size and FNV-1a checksum
///   FOLDER/<fingerprint>/<key>.unit            one unit's bytes, written atomically (io/atomic_write.h)
/// A unit counts as complete only when its "done" line is there (written after the file was renamed
/// into place) and the file has the recorded size and checksum; anything else is computed again.
///
/// Use, on every rank of the job (units are usually packed with attribution/core/packing.h):
///   UnitCache cache = open_unit_cache(args, cluster, "evaluate");   // collective
///   for (each unit k of this rank)
///     if (auto bytes = cache.load(key(k))) use(*bytes); else pending.push_back(k);
///   report_resumed(cache, cluster, "evaluate", units);                // collective
///   for (k : pending) { cache.begin(key(k)); r = compute(k); cache.store(key(k), pack(r)); }
#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tools/cli/args.h"
#include "tools/cluster/cluster.h"
#include "tools/cluster/manifest.h"

namespace backlight::cli {

/// The folder where a summary command keeps finished units: --cache DIR if given; else derived from
/// its output: --out naming a folder -> DIR/.backlight-cache, --out naming a file ->
/// FILE.backlight-cache; nullopt when the command writes no file (JSON on stdout only, or --out is
/// a device such as /dev/null) and no --cache was given (no resume). --out names a folder when it
/// is an existing folder or when the flag's metavar is DIR (evaluate). The command must declare
/// --cache.
std::optional<std::string> unit_cache_folder(const Args& args, std::string_view out_flag = "out");

/// The finished units of one job. Default-constructed: disabled (load finds nothing, begin and
/// store keep nothing), so commands use one code path with or without a cache. Movable.
class UnitCache {
 public:
  UnitCache() = default;
  /// Opens `folder` (created when missing; throws naming it when it cannot be). fingerprint:
  /// args_fingerprint(args, ignored flags) - units of other fingerprints are ignored; rank: this
  /// process's rank (the manifest file it appends to); fresh (--fresh): ignore earlier units (new
  /// ones are still stored, so a later rerun resumes from this run).
  /// Every rank of a job must have constructed its UnitCache before any rank calls begin() or
  /// store() (reading the manifest races with appends otherwise): open_unit_cache waits for that.
  UnitCache(std::string folder, std::string fingerprint, int rank, bool fresh);

  bool enabled() const { return state_ != nullptr; }
  /// The cache folder ("" when disabled).
  const std::string& folder() const { return folder_; }

  /// The bytes of unit `key` (e.g. "chunk-3", "pass1-batch-12") from an earlier run of the same
  /// job, when complete and intact; else nullopt. Keys are [A-Za-z0-9_.-], not starting with '.'
  /// (throws otherwise). Thread-safe; counts towards resumed().
  std::optional<std::string> load(const std::string& key) const;
  /// The caller could not use the bytes load() just returned for `key` (not what this build
  /// writes): they do not count as resumed, and the unit is computed (and stored) again.
  void discard(const std::string& key);
  /// Records that this rank starts computing `key` (a later run's interrupted() names it when no
  /// store follows). Optional; thread-safe.
  void begin(const std::string& key);
  /// Records unit `key` as complete: its bytes atomically, then the manifest line. Thread-safe.
  /// Throws naming the file on a failed write.
  void store(const std::string& key, std::string_view bytes);

  /// Units loaded instead of computed by this process in this run (loads not discarded).
  size_t resumed() const { return state_ ? state_->resumed.load() : 0; }
  /// "rank 1: chunk-7": units an earlier run of this job began and did not finish (what was in
  /// flight when it stopped), sorted; empty with --fresh.
  std::vector<std::string> interrupted() const;

 private:
  struct State {
    Manifest manifest;
    std::atomic<size_t> resumed{0};
    State(const std::string& folder, std::string fingerprint, int rank) : manifest(folder, std::move(fingerprint), rank) {}
  };
  std::string path(const std::string& key) const;  // checks the key
  std::string folder_, units_;                     // units_: FOLDER/<fingerprint>
  bool fresh_ = false;
  std::unique_ptr<State> state_;
};

/// The cache a summary command's flags ask for, opened on every rank of `cluster` (a collective:
/// every rank constructs it, then all wait for each other). Disabled when unit_cache_folder gives
/// nothing. The fingerprint leaves out --cache, --fresh, --threads, --json, `out_flag` (an output
/// file that exists after a run would change the fingerprint) and `not_in_fingerprint` (other
/// output flags: evaluate's --chart).
UnitCache open_unit_cache(const Args& args, const Cluster& cluster,
                          std::span<const std::string_view> not_in_fingerprint = {},
                          std::string_view out_flag = "out");

/// Collective: the units every rank resumed, summed (returned on every rank). Rank 0 says on
/// stderr "<command>: resuming: N of M units from FOLDER (--fresh recomputes them)" when N > 0,
/// and names each unit an earlier run had in flight ("<command>: resuming: an earlier run stopped
/// while rank 1 was computing chunk-7").
size_t report_resumed(const UnitCache& cache, const Cluster& cluster, std::string_view command, size_t total_units);

/// A short hex digest of `names` and, for those naming files, their sizes and modification times
/// (file_identity). A unit that reads files its job's fingerprint does not cover (the images of a
/// --data DIR, the checkpoints of a folder) adds it to its key ("chunk-3-9f0c..."): a changed,
/// added or removed input file then makes another key, and the unit is computed again.
std::string files_digest(std::span<const std::string> names);

/// The --cache and --fresh flags of a resumable summary command (append them to its flag table).
std::vector<FlagSpec> unit_cache_flags();

}  // namespace backlight::cli
