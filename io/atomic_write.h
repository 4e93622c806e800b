#pragma once
/// Output files written all or nothing. Each file is written to a temporary next to its target
/// (same folder, so the final rename is atomic), every write and the close are checked, and only
/// then is it renamed onto the target. On a failure (a full disk, a file-size limit, a vanished
/// folder) the temporary is removed and the error names the target and the errno text, so a
/// reader never finds a truncated picture or array under the target's name.
///
///   StagedFiles out;                 // several outputs of one run: all or none
///   out.stage("a.png", png_bytes);   // throws on failure (nothing renamed yet)
///   out.stage("a.npy", npy_bytes);
///   out.commit();                    // renames every staged file
///
/// Existing devices and pipes (/dev/null, /dev/stdout) cannot be replaced by a rename: they are
/// written in place when staged, with the same checks.
#include <string>
#include <string_view>
#include <vector>

namespace backlight::cli {

class StagedFiles {
 public:
  StagedFiles() = default;
  StagedFiles(const StagedFiles&) = delete;
  StagedFiles& operator=(const StagedFiles&) = delete;
  /// Removes every temporary that was not committed.
  ~StagedFiles();

  /// Writes `bytes` to a new temporary in `path`'s folder (missing folders are created).
  /// Throws backlight::Error "cannot write '<path>': <errno text>" after removing the temporary.
  void stage(const std::string& path, std::string_view bytes);

  /// Renames every staged temporary onto its target, in staging order. Throws naming the target
  /// on a failed rename (the remaining temporaries are removed).
  void commit();

 private:
  struct Entry {
    std::string temp, path;
  };
  std::vector<Entry> pending_;
};

/// One file, all or nothing (StagedFiles with a single entry).
void write_file_atomic(const std::string& path, std::string_view bytes);

}  // namespace backlight::cli
