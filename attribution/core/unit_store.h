#pragma once
/// Finished units of work of a dataset scan, kept across runs so that a rerun of the same job
/// resumes: library scans that take an optional `UnitStore*` (dissect, layer_similarity) ask
/// load(key) before computing unit `key` (a batch's activations, a pass's per-batch counts) and
/// call store(key, bytes) once it is computed. A unit's bytes are what the scan's fixed-order
/// reduction consumes, so a resumed run gives the uninterrupted run's result bit for bit.
///
/// The CLI implements it over its cache folder (tools/cluster/unit_cache.h: atomic files, a
/// manifest with sizes and checksums, a fingerprint of the job's flags); the library only names
/// the units. Keys are unique within one job; which job the units belong to is the store's
/// business. nullptr: nothing is kept (no resume).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace backlight {

class UnitStore {
 public:
  virtual ~UnitStore() = default;
  /// The key of unit `number` of a kind ("acts", 12): "acts-12" by default; a store may add what
  /// identifies the unit's inputs beyond the job's flags (a digest of the files a batch reads).
  virtual std::string key(std::string_view kind, int64_t number) const {
    return std::string(kind) + "-" + std::to_string(number);
  }
  /// The bytes of unit `key` from an earlier run of the same job, when complete and intact.
  virtual std::optional<std::string> load(const std::string& key) const = 0;
  /// The bytes load() gave for `key` were not usable (another layout): the unit is computed again.
  virtual void discard(const std::string& key) { (void)key; }
  /// This process starts computing `key` (a later run can name what was in flight).
  virtual void begin(const std::string& key) { (void)key; }
  /// Records unit `key` as complete (may be called from several threads).
  virtual void store(const std::string& key, std::string_view bytes) = 0;
};

}  // namespace backlight
