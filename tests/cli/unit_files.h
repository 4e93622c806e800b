#pragma once
// The files of a unit cache folder (tools/cluster/unit_cache.h) by unit key, for resume tests that
// damage one unit and check that exactly that one is computed again.
#include <doctest/doctest.h>

#include <cctype>
#include <filesystem>
#include <string>

namespace backlight::test {

/// The file under `folder` holding unit `key` ("acts-1": a file name containing the key, not
/// followed by a digit, so "acts-1" is not "acts-12"); fails the test when there is none.
inline std::string unit_file(const std::string& folder, const std::string& key) {
  namespace fs = std::filesystem;
  REQUIRE_MESSAGE(fs::is_directory(folder), "no unit cache folder ", folder);
  for (const auto& e : fs::recursive_directory_iterator(folder)) {
    if (!e.is_regular_file()) continue;
    const std::string name = e.path().filename().string();
    const size_t at = name.find(key);
    if (at != std::string::npos && (at + key.size() == name.size() || !std::isdigit(static_cast<unsigned char>(name[at + key.size()]))))
      return e.path().string();
  }
  FAIL("no file of unit '", key, "' in ", folder);
  return {};
}

/// Number of files under `folder` whose name starts with `prefix` ("acts-").
inline size_t unit_files(const std::string& folder, const std::string& prefix) {
  namespace fs = std::filesystem;
  size_t n = 0;
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) return 0;
  for (const auto& e : fs::recursive_directory_iterator(folder, ec))
    if (e.is_regular_file(ec) && e.path().filename().string().find(prefix) != std::string::npos) ++n;
  return n;
}

}  // namespace backlight::test
