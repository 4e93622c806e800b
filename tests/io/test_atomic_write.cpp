// All-or-nothing outputs and the path checks made before a run (issue 14).
#include <doctest/doctest.h>

#include <sys/resource.h>

#include <csignal>
#include <cmath>
#include <filesystem>
#include <limits>
#include <string>

#include "engine/error.h"
#include "tests/cli/temp_dir.h"
#include "io/atomic_write.h"
#include "io/file_checks.h"

using namespace backlight;
using namespace backlight::cli;
using backlight::test::read_bytes;
using backlight::test::TempDir;

namespace {

// Entries of a folder (temporaries included).
size_t entries(const std::string& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++n;
  return n;
}

}  // namespace

TEST_SUITE("io") {

TEST_CASE("atomic_write: staged files appear only on commit, replace old contents, leave no temporaries") {
  TempDir dir("atomic");
  write_file_atomic(dir.file("sub/a.txt"), "hello");  // missing folders are created
  CHECK(read_bytes(dir.file("sub/a.txt")) == "hello");
  {
    StagedFiles files;
    files.stage(dir.file("sub/a.txt"), "new");
    files.stage(dir.file("sub/b.txt"), "bee");
    CHECK(read_bytes(dir.file("sub/a.txt")) == "hello");  // not yet
    CHECK_FALSE(std::filesystem::exists(dir.file("sub/b.txt")));
    files.commit();
  }
  CHECK(read_bytes(dir.file("sub/a.txt")) == "new");
  CHECK(read_bytes(dir.file("sub/b.txt")) == "bee");
  CHECK(entries(dir.file("sub")) == 2);
  {
    StagedFiles abandoned;  // e.g. a later output failed: nothing of this one stays
    abandoned.stage(dir.file("sub/c.txt"), "sea");
  }
  CHECK_FALSE(std::filesystem::exists(dir.file("sub/c.txt")));
  CHECK(entries(dir.file("sub")) == 2);
}

TEST_CASE("atomic_write: a failing write is reported with the errno text and leaves nothing behind") {
  TempDir dir("atomic_fail");
  // A device that is always full: written in place, the error is ENOSPC.
  CHECK_THROWS_WITH_AS(write_file_atomic("/dev/full", "x"),
                       doctest::Contains("cannot write '/dev/full': No space left on device"), Error);
  // A path inside a file: no folder can be created there.
  write_file_atomic(dir.file("file"), "x");
  CHECK_THROWS_WITH_AS(write_file_atomic(dir.file("file/out.png"), "x"), doctest::Contains("file/out.png"), Error);
  // A file-size limit hit halfway through (as a full disk would): EFBIG, the partial file removed,
  // the earlier staged file of the same run not committed either.
  struct rlimit old{};
  REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0);
  auto* old_handler = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = old;
  small.rlim_cur = 4096;
  REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
  std::string message;
  {
    StagedFiles files;
    try {
      files.stage(dir.file("small.txt"), "fits");
      files.stage(dir.file("big.bin"), std::string(100000, 'x'));
      files.commit();
    } catch (const Error& e) {
      message = e.what();
    }
  }
  setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
  CHECK(message.find("cannot write '" + dir.file("big.bin") + "': File too large") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.file("big.bin")));
  CHECK_FALSE(std::filesystem::exists(dir.file("small.txt")));
  CHECK(entries(dir.file("")) == 1);  // only "file"
}

TEST_CASE("file_checks: inputs say what the path is; outputs are checked before any work") {
  TempDir dir("file_checks");
  write_file_atomic(dir.file("f.txt"), "x");
  std::filesystem::create_directories(dir.file("d"));
  std::filesystem::create_symlink(dir.file("gone"), dir.file("broken"));
  CHECK(unreadable_reason(dir.file("f.txt")).empty());
  CHECK(unreadable_reason(dir.file("nope")) == "no such file");
  CHECK(unreadable_reason(dir.file("d")) == "is a directory, expected a file");
  CHECK(unreadable_reason(dir.file("broken")).find("is a broken symbolic link") == 0);
  CHECK_THROWS_WITH_AS(check_input_file(dir.file("d"), "explain: --image"),
                       doctest::Contains(("explain: --image: cannot read '" + dir.file("d") + "': is a directory").c_str()), Error);

  check_output_file(dir.file("new/deeper/x.png"), "t");  // creatable
  check_output_file(dir.file("f.txt"), "t");              // replaced
  check_output_file("/dev/null", "t");                    // a device, written in place
  CHECK_THROWS_WITH_AS(check_output_file(dir.file("d"), "explain: --out"),
                       doctest::Contains("is a directory, expected a file path"), Error);
  CHECK_THROWS_WITH_AS(check_output_file(dir.file("f.txt/x.png"), "explain: --out"),
                       doctest::Contains("f.txt' is not a folder"), Error);
  check_output_dir(dir.file("d"), "t");
  check_output_dir(dir.file("new/folder"), "t");
  CHECK_THROWS_WITH_AS(check_output_dir(dir.file("f.txt"), "evaluate: --out"),
                       doctest::Contains("f.txt' exists and is not a folder"), Error);
  CHECK_THROWS_WITH_AS(check_output_dir(dir.file("f.txt/sub"), "evaluate: --out"),
                       doctest::Contains("is not a folder"), Error);
  CHECK_FALSE(std::filesystem::exists(dir.file("new")));  // checks create nothing
}

}  // TEST_SUITE
