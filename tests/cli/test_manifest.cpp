// The resume manifest of dataset runs (tools/cluster/manifest.h) and the single-process Cluster.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/cli/temp_dir.h"
#include "tools/cli/args.h"
#include "tools/cluster/cluster.h"
#include "tools/cluster/manifest.h"

using namespace backlight;
using namespace backlight::cli;
using backlight::test::TempDir;
using backlight::test::write_bytes;

namespace {

std::vector<FlagSpec> specs() {
  return {{.name = "method", .metavar = "M"},
          {.name = "weights", .metavar = "FILE"},
          {.name = "threads", .metavar = "N"},
          {.name = "json", .kind = FlagKind::Bool}};
}

std::string fingerprint_of(std::vector<std::string> words) {
  static constexpr std::string_view kIgnored[] = {"threads", "json"};
  return args_fingerprint(parse_args("explain", words, specs()), kIgnored);
}

}  // namespace

TEST_SUITE("cli") {

TEST_CASE("cli/manifest: FNV-1a 64 matches the published test vectors") {
  CHECK(fnv1a64("") == 0xcbf29ce484222325ull);
  CHECK(fnv1a64("a") == 0xaf63dc4c8601ec8cull);
  CHECK(fnv1a64("foobar") == 0x85944171f73967e8ull);
}

TEST_CASE("cli/manifest: the fingerprint follows the flags that change outputs and the files they name") {
  TempDir dir("manifest_fp");
  const std::string w = dir.file("w.safetensors");
  write_bytes(w, "weights v1");
  const std::string base = fingerprint_of({"--method", "saliency", "--weights", w});
  CHECK(base == fingerprint_of({"--weights", w, "--method", "saliency"}));                  // order does not matter
  CHECK(base == fingerprint_of({"--method", "saliency", "--weights", w, "--threads", "2", "--json"}));  // ignored
  CHECK(base != fingerprint_of({"--method", "grad_cam", "--weights", w}));
  write_bytes(w, "weights v2, longer");  // same path, other file
  CHECK(base != fingerprint_of({"--method", "saliency", "--weights", w}));
}

TEST_CASE("cli/manifest: done items survive, unfinished ones are reported, other jobs and torn lines are ignored") {
  TempDir dir("manifest_rw");
  const std::string out = dir.file("out");
  std::filesystem::create_directories(out);
  const std::string a = out + "/a.png", in = dir.file("a_in.png");
  write_bytes(a, "picture of a");
  write_bytes(in, "input a");
  {
    Manifest m(out, "job1", 0);
    CHECK(m.previous().empty());
    m.start("a");
    const std::string files[] = {a};
    m.done("a", *file_identity(in), files, {{"status", "ok"}, {"input", in}});
    m.start("b");  // never finished: the job "died" here
  }
  {
    Manifest other(out, "job1", 1);  // another rank, another run: sees rank 0's lines
    REQUIRE(other.previous().count("a") == 1);
    const ManifestEntry& e = other.previous().at("a");
    CHECK(e.record.at("status") == "ok");
    REQUIRE(e.files.size() == 1);
    CHECK(e.files[0].size == 12);
    CHECK(e.files[0].fnv1a64 == fnv1a64("picture of a"));
    REQUIRE(other.interrupted().size() == 1);
    CHECK(other.interrupted()[0] == std::pair<int, std::string>(0, "b"));
    CHECK(Manifest::intact(e, *file_identity(in), true));
  }
  // A torn last line (a kill mid-write) and a line of another job are skipped.
  std::ofstream(out + "/.backlight-manifest/rank0.jsonl", std::ios::app)
      << R"({"event":"done","key":"c","fingerprint":"job1","files":[)";
  CHECK(Manifest(out, "job1", 0).previous().count("c") == 0);
  CHECK(Manifest(out, "job2", 0).previous().empty());
}

TEST_CASE("cli/manifest: an output changed or removed after its entry was written is not complete") {
  TempDir dir("manifest_intact");
  const std::string out = dir.file("out"), a = dir.file("out/a.npy"), in = dir.file("in.png");
  std::filesystem::create_directories(out);
  write_bytes(a, "0123456789");
  write_bytes(in, "input");
  Manifest m(out, "job", 0);
  const std::string files[] = {a};
  m.done("a", *file_identity(in), files, {{"status", "ok"}});
  const ManifestEntry e = Manifest(out, "job", 0).previous().at("a");
  CHECK(Manifest::intact(e, *file_identity(in), true));
  write_bytes(a, "0123456780");  // same size, other bytes: only the checksum sees it
  CHECK(Manifest::intact(e, *file_identity(in), false));
  CHECK_FALSE(Manifest::intact(e, *file_identity(in), true));
  write_bytes(a, "012");
  CHECK_FALSE(Manifest::intact(e, *file_identity(in), false));
  std::filesystem::remove(a);
  CHECK_FALSE(Manifest::intact(e, *file_identity(in), false));
  write_bytes(a, "0123456789");
  write_bytes(in, "input, edited since");  // the input changed: explain it again
  CHECK_FALSE(Manifest::intact(e, *file_identity(in), true));
}

TEST_CASE("cli/cluster: one process is rank 0 of 1 and every collective returns its input") {
  if (launched_by_mpi()) return;  // this test binary is never started by mpirun; the mpi suite is
  Cluster c("test");
  CHECK(c.rank() == 0);
  CHECK(c.size() == 1);
  CHECK(c.leader());
  CHECK_FALSE(c.distributed());
  CHECK(c.shard(4) == std::vector<size_t>{0, 1, 2, 3});
  const int64_t counts[] = {3, -1};
  CHECK(c.sum(counts) == std::vector<int64_t>{3, -1});
  CHECK(c.all(true));
  CHECK_FALSE(c.all(false));
  CHECK(c.gather("x") == std::vector<std::string>{"x"});
  CHECK(c.all_gather("y") == std::vector<std::string>{"y"});
  CHECK(launched_size() == 1);
}

}  // TEST_SUITE
