#include "io/file_checks.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "engine/error.h"

namespace backlight::cli {

namespace fs = std::filesystem;

namespace {

// The nearest existing ancestor of `p` (p itself when it exists); "." for a relative path
// whose first component is missing.
fs::path nearest_existing(fs::path p) {
  std::error_code ec;
  if (p.empty()) return ".";
  while (!fs::exists(p, ec)) {
    if (!p.has_relative_path() || p.parent_path() == p) return p;
    p = p.parent_path();
    if (p.empty()) return ".";
  }
  return p;
}

// "" when `dir` is a folder we may create entries in, else why not.
std::string unwritable_folder(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return "'" + dir.string() + "' is not a folder";
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    return "folder '" + dir.string() + "' is not writable: " + std::strerror(errno);
  return "";
}

}  // namespace

std::string unreadable_reason(const std::string& path) {
  std::error_code ec;
  const fs::file_status link = fs::symlink_status(path, ec);
  if (!fs::exists(link)) return "no such file";
  const fs::file_status st = fs::status(path, ec);
  if (fs::is_symlink(link) && !fs::exists(st)) {
    const fs::path target = fs::read_symlink(path, ec);
    return "is a broken symbolic link (to '" + target.string() + "')";
  }
  if (fs::is_directory(st)) return "is a directory, expected a file";
  if (!fs::is_regular_file(st) && !fs::is_character_file(st) && !fs::is_fifo(st)) return "is not a regular file";
  if (::access(path.c_str(), R_OK) != 0) return std::strerror(errno);
  return "";
}

void check_input_file(const std::string& path, std::string_view what) {
  const std::string why = unreadable_reason(path);
  BL_CHECK(why.empty(), what, ": cannot read '", path, "': ", why);
}

std::string read_file(const std::string& path, std::string_view what) {
  check_input_file(path, what);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  BL_CHECK(fd >= 0, what, ": cannot open '", path, "': ", std::strerror(errno));
  std::string out;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      BL_THROW(what, ": reading '", path, "' failed: ", std::strerror(err));
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

void check_output_file(const std::string& path, std::string_view what) {
  BL_CHECK(!path.empty(), what, ": expected a file path, got ''");
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  BL_CHECK(!fs::is_directory(st), what, ": '", path, "' is a directory, expected a file path");
  if (fs::exists(st) && !fs::is_regular_file(st)) {  // a device or pipe: written in place
    BL_CHECK(::access(path.c_str(), W_OK) == 0, what, ": cannot write '", path, "': ", std::strerror(errno));
    return;
  }
  fs::path parent = fs::path(path).parent_path();
  if (parent.empty()) parent = ".";
  const fs::path base = nearest_existing(parent);
  const std::string why = unwritable_folder(base);
  BL_CHECK(why.empty(), what, ": cannot write '", path, "': ", why);
}

void check_output_dir(const std::string& path, std::string_view what) {
  BL_CHECK(!path.empty(), what, ": expected a folder path, got ''");
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  BL_CHECK(!fs::exists(st) || fs::is_directory(st), what, ": '", path,
           "' exists and is not a folder (expected a folder for the output files)");
  const fs::path base = nearest_existing(path);
  const std::string why = unwritable_folder(base);
  BL_CHECK(why.empty(), what, ": cannot write into '", path, "': ", why);
}

}  // namespace backlight::cli
