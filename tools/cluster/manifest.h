#pragma once
/// The resume manifest of a dataset run: which items' outputs are complete, so that rerunning the
/// same command after a kill, a lost node or a bad item redoes only what is missing.
///
/// Lives in OUT/.backlight-manifest/: one append-only JSON-lines file per rank ("rank3.jsonl").
/// Each line is one event of one item, written with a single write(2) in append mode after the
/// item's files were committed (io/atomic_write.h), so a kill leaves at worst one truncated last
/// line, which the reader skips:
///   {"event":"start","key":"cat","fingerprint":"9f..","rank":1}
///   {"event":"done","key":"cat","fingerprint":"9f..","rank":1,
///    "input":{"size":1234,"mtime_ns":...},"files":[{"path":"out/cat.png","size":5678,"fnv1a64":"..."}],
///    "record":{...}}
/// Every line also carries "t", its wall-clock time in ns: events of all ranks' files are replayed in
/// that order, so the latest completion of a key wins whichever rank (and rank count) wrote it.
/// The fingerprint identifies the job (command, flags, and the size and modification time of the
/// files they name: model, weights, ...): entries of another job are ignored, so changing a flag
/// recomputes everything. An entry counts as complete only while its input is unchanged and its
/// files exist with the recorded sizes and checksums.
///
/// Checksums are 64-bit FNV-1a: a few lines here rather than a library, because they only guard
/// against truncated or overwritten outputs, not against an adversary.
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tools/cli/args.h"

namespace backlight::cli {

uint64_t fnv1a64(std::string_view bytes, uint64_t hash = 0xcbf29ce484222325ull);

/// The job's fingerprint: the command, every flag's values except `ignored` (flags that do not
/// change any output: --threads, --json, ...), and for values naming existing files their size and
/// modification time. Hex string.
std::string args_fingerprint(const Args& args, std::span<const std::string_view> ignored);

/// Size and modification time of a file (nullopt when it cannot be read): an input's identity.
std::optional<nlohmann::json> file_identity(const std::string& path);

/// One committed output file of an item.
struct ManifestFile {
  std::string path;
  uint64_t size = 0;
  uint64_t fnv1a64 = 0;
};

/// A complete item recorded by an earlier run.
struct ManifestEntry {
  std::string key;
  nlohmann::json input;  ///< file_identity of the item's input (null when it has none)
  std::vector<ManifestFile> files;
  nlohmann::json record;  ///< what the command reports for the item (its JSON record)
};

class Manifest {
 public:
  /// Reads every rank's file in OUT/.backlight-manifest/ (earlier runs with any number of ranks)
  /// and keeps the entries of `fingerprint`. `rank` names the file this process appends to.
  /// Throws naming the folder when it cannot be created.
  Manifest(const std::string& out_dir, std::string fingerprint, int rank);

  /// The latest "done" entry of every key from earlier runs (by its time "t").
  const std::map<std::string, ManifestEntry>& previous() const { return previous_; }
  /// Keys that an earlier run started and never finished, with the rank that had them (what was
  /// in flight when that run stopped).
  const std::vector<std::pair<int, std::string>>& interrupted() const { return interrupted_; }

  /// Records that this rank starts `key` (thread-safe).
  void start(const std::string& key);
  /// Records `key` as complete with its committed `paths`, read back for sizes and checksums
  /// (thread-safe). Throws naming the manifest on a failed write.
  void done(const std::string& key, const nlohmann::json& input, std::span<const std::string> paths,
            const nlohmann::json& record);

  /// Whether the entry's input is unchanged (same identity) and its files exist with the recorded
  /// sizes; with `checksums` also their FNV-1a sums (reads the files).
  static bool intact(const ManifestEntry& entry, const nlohmann::json& input_now, bool checksums);

  const std::string& folder() const { return folder_; }

 private:
  void append(const nlohmann::json& line);
  std::string folder_, fingerprint_, file_;
  int rank_;
  std::map<std::string, ManifestEntry> previous_;
  std::vector<std::pair<int, std::string>> interrupted_;
  std::mutex mutex_;
};

}  // namespace backlight::cli
