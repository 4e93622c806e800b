// The unit cache of the resumable summary commands (tools/cluster/unit_cache.h): finished units
// read back as stored, only for the same job, never when their file was cut or changed; --fresh;
// what an earlier run had in flight; where the cache lives.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "engine/error.h"
#include "tests/cli/temp_dir.h"
#include "tools/cli/args.h"
#include "tools/cluster/unit_cache.h"

using namespace backlight;
using namespace backlight::cli;
using backlight::test::read_bytes;
using backlight::test::TempDir;
using backlight::test::write_bytes;

namespace {

// The one unit file under the cache folder (FOLDER/<fingerprint>/<key>.unit).
std::string unit_file(const std::string& folder, const std::string& fingerprint, const std::string& key) {
  return folder + "/" + fingerprint + "/" + key + ".unit";
}

Args command_line(std::vector<std::string> words, const std::string& out_metavar) {
  std::vector<FlagSpec> specs{{.name = "out", .metavar = out_metavar}, {.name = "threads", .metavar = "N"}};
  for (FlagSpec& f : unit_cache_flags()) specs.push_back(std::move(f));
  return parse_args("sanity", words, specs);
}

}  // namespace

TEST_SUITE("cli") {

TEST_CASE("cli/unit_cache: a stored unit reads back in a later run of the same job, and only then") {
  const TempDir dir("unit_cache");
  const std::string folder = dir.file("cache");
  std::string bytes("chunk 3's values\0with a zero byte", 32);
  {
    UnitCache c(folder, "job1", 0, false);
    CHECK(c.enabled());
    CHECK_FALSE(c.load("chunk-3"));  // nothing yet
    c.begin("chunk-3");
    c.store("chunk-3", bytes);
    c.store("chunk-4", "four");
    CHECK(c.resumed() == 0);
  }
  UnitCache again(folder, "job1", 1, false);  // another rank count may resume it
  const auto got = again.load("chunk-3");
  REQUIRE(got);
  CHECK(*got == bytes);
  CHECK(again.load("chunk-4").value_or("") == "four");
  CHECK_FALSE(again.load("chunk-5"));
  CHECK(again.resumed() == 2);
  again.discard("chunk-4");  // the caller could not use it
  CHECK(again.resumed() == 1);
  CHECK(again.interrupted().empty());  // chunk-3 was begun and stored

  // Another job (another fingerprint) in the same folder sees none of them.
  const UnitCache other(folder, "job2", 0, false);
  CHECK_FALSE(other.load("chunk-3"));
  // --fresh ignores them (and stores anew).
  UnitCache fresh(folder, "job1", 0, true);
  CHECK_FALSE(fresh.load("chunk-3"));
  CHECK(fresh.resumed() == 0);
}

TEST_CASE("cli/unit_cache: a cut, changed or missing unit file is not loaded; storing it again repairs it") {
  const TempDir dir("unit_cache_bad");
  const std::string folder = dir.file("c");
  {
    UnitCache c(folder, "fp", 0, false);
    c.store("a", "0123456789");
    c.store("b", "abcdefghij");
    c.store("gone", "x");
  }
  write_bytes(unit_file(folder, "fp", "a"), "01234");        // truncated
  write_bytes(unit_file(folder, "fp", "b"), "abcdefghiJ");   // same size, one byte changed
  std::filesystem::remove(unit_file(folder, "fp", "gone"));
  {
    UnitCache c(folder, "fp", 0, false);
    CHECK_FALSE(c.load("a"));
    CHECK_FALSE(c.load("b"));
    CHECK_FALSE(c.load("gone"));
    CHECK(c.resumed() == 0);
    c.store("a", "0123456789");  // recomputed
  }
  UnitCache c(folder, "fp", 0, false);
  CHECK(c.load("a").value_or("") == "0123456789");
  CHECK(read_bytes(unit_file(folder, "fp", "a")) == "0123456789");
}

TEST_CASE("cli/unit_cache: units begun and never stored are named as in flight; keys are checked") {
  const TempDir dir("unit_cache_flight");
  const std::string folder = dir.file("c");
  {
    UnitCache r0(folder, "fp", 0, false);
    UnitCache r1(folder, "fp", 1, false);
    r0.begin("chunk-0");
    r0.store("chunk-0", "done");
    r1.begin("chunk-1");  // killed here
    r1.begin("chunk-3");
    r1.store("chunk-3", "done");
  }
  const UnitCache later(folder, "fp", 0, false);
  CHECK(later.interrupted() == std::vector<std::string>{"rank 1: chunk-1"});
  CHECK(UnitCache(folder, "fp", 0, true).interrupted().empty());  // --fresh: nothing to resume
  CHECK(UnitCache(folder, "other", 0, false).interrupted().empty());
  UnitCache c(folder, "fp", 0, false);
  CHECK_THROWS_AS(c.store("../escape", "x"), Error);
  CHECK_THROWS_AS(c.store(".hidden", "x"), Error);
  CHECK_THROWS_AS((void)c.load("a b"), Error);
}

TEST_CASE("cli/unit_cache: the latest store of a unit wins, whichever rank wrote it") {
  const TempDir dir("unit_cache_latest");
  const std::string folder = dir.file("c");
  {
    UnitCache rank1(folder, "fp", 1, false);  // a 2-rank run: rank 1 keeps chunk-1
    rank1.store("chunk-1", "from the 2-rank run");
  }
  {
    UnitCache fresh(folder, "fp", 0, true);  // --fresh, one process: rank 0 keeps it anew
    fresh.store("chunk-1", "from the 1-process run");
  }
  // rank0.jsonl is read before rank1.jsonl, but the later completion is the one on disk.
  UnitCache later(folder, "fp", 0, false);
  CHECK(later.load("chunk-1").value_or("") == "from the 1-process run");
}

TEST_CASE("cli/unit_cache: a disabled cache keeps nothing") {
  UnitCache off;
  CHECK_FALSE(off.enabled());
  off.begin("chunk-0");
  off.store("chunk-0", "x");
  CHECK_FALSE(off.load("chunk-0"));
  CHECK(off.resumed() == 0);
  CHECK(off.interrupted().empty());
}

TEST_CASE("cli/unit_cache: the folder is --cache, else beside --out; none for stdout only or a device") {
  const TempDir dir("unit_cache_folder");
  CHECK(unit_cache_folder(command_line({"--cache", "/tmp/c", "--out", "x.png"}, "FILE.png")) == "/tmp/c");
  CHECK(unit_cache_folder(command_line({"--out", dir.file("fig.png")}, "FILE.png")) == dir.file("fig.png") + ".backlight-cache");
  CHECK(unit_cache_folder(command_line({"--out", dir.file("eval")}, "DIR")) == dir.file("eval") + "/.backlight-cache");
  std::filesystem::create_directories(dir.file("existing"));
  CHECK(unit_cache_folder(command_line({"--out", dir.file("existing")}, "FILE.png")) ==
        dir.file("existing") + "/.backlight-cache");
  CHECK_FALSE(unit_cache_folder(command_line({"--threads", "2"}, "FILE.png")));
  CHECK_FALSE(unit_cache_folder(command_line({"--out", "/dev/null"}, "FILE.png")));
}

TEST_CASE("cli/unit_cache: files_digest follows the names and the files' sizes") {
  const TempDir dir("unit_cache_digest");
  const std::string a = dir.file("a.png");
  write_bytes(a, "one");
  const std::vector<std::string> names{a, "builtin:shapes#3"};
  const std::string before = files_digest(names);
  CHECK(before.size() == 16);
  CHECK(files_digest(names) == before);
  CHECK(files_digest(std::vector<std::string>{"builtin:shapes#3", a}) != before);
  write_bytes(a, "three");
  CHECK(files_digest(names) != before);
}

}  // TEST_SUITE
