#include "io/atomic_write.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <thread>

#include "engine/error.h"

namespace backlight::cli {

namespace fs = std::filesystem;

namespace {

// Writes all of `bytes` to `fd` and closes it; returns 0 or the first errno.
int write_all_and_close(int fd, std::string_view bytes) {
  size_t done = 0;
  int err = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = n < 0 ? errno : EIO;
      break;
    }
    done += static_cast<size_t>(n);
  }
  // close() reports delayed write errors (NFS, some full disks): it counts as part of the write.
  if (::close(fd) != 0 && err == 0) err = errno;
  return err;
}

}  // namespace

StagedFiles::~StagedFiles() {
  for (const Entry& e : pending_) ::unlink(e.temp.c_str());
}

void StagedFiles::stage(const std::string& path, std::string_view bytes) {
  const fs::path target(path);
  std::error_code ec;
  const fs::file_status st = fs::status(target, ec);
  BL_CHECK(!fs::is_directory(st), "cannot write '", path, "': it is a directory");
  if (fs::exists(st) && !fs::is_regular_file(st)) {  // device or pipe: no rename possible
    const int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
    BL_CHECK(fd >= 0, "cannot write '", path, "': ", std::strerror(errno));
    const int err = write_all_and_close(fd, bytes);
    BL_CHECK(err == 0, "cannot write '", path, "': ", std::strerror(err));
    return;
  }
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  fs::create_directories(dir, ec);
  BL_CHECK(!ec, "cannot write '", path, "': cannot create folder '", dir.string(), "': ", ec.message());
  // A fresh name in the target's folder; O_EXCL never reuses an existing file, 0666 & ~umask
  // gives the permissions any new output would have.
  std::random_device rd;
  const std::string stem = "." + target.filename().string() + ".tmp-" + std::to_string(::getpid()) + "-";
  std::string temp;
  int fd = -1;
  for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
    temp = (dir / (stem + std::to_string(rd()))).string();
    fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST) break;
  }
  BL_CHECK(fd >= 0, "cannot write '", path, "': cannot create a temporary file in '", dir.string(),
           "': ", std::strerror(errno));
  const int err = write_all_and_close(fd, bytes);
  if (err != 0) {
    ::unlink(temp.c_str());
    BL_THROW("cannot write '", path, "': ", std::strerror(err), " (", bytes.size(),
             " bytes; the partial file was removed)");
  }
  pending_.push_back({temp, path});
}

void StagedFiles::commit() {
  while (!pending_.empty()) {
    const Entry e = pending_.front();
    if (::rename(e.temp.c_str(), e.path.c_str()) != 0)
      BL_THROW("cannot write '", e.path, "': renaming the finished temporary failed: ", std::strerror(errno));
    pending_.erase(pending_.begin());
  }
}

void write_file_atomic(const std::string& path, std::string_view bytes) {
  StagedFiles files;
  files.stage(path, bytes);
  files.commit();
}

}  // namespace backlight::cli
