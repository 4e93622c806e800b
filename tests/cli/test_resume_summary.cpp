// The summary commands resume (tools/cluster/unit_cache.h): after a run, one unit's file is cut or
// removed; the rerun loads the others, recomputes only that one, and its results equal the first
// run's bit for bit (`evaluate` chunks, `sanity` chunks and figure, `influence` training batches).
#include <doctest/doctest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "models/default_model.h"
#include "tests/cli/run_cli.h"
#include "tests/cli/temp_dir.h"

using namespace backlight;
using backlight::test::contains;
using backlight::test::read_bytes;
using backlight::test::run_cli_split;
using backlight::test::SplitRun;
using backlight::test::TempDir;
using backlight::test::write_bytes;

namespace fs = std::filesystem;

namespace {

// The unit files under a cache folder whose names start with `prefix` ("chunk-1", "batch-2-").
std::vector<std::string> units(const std::string& cache, const std::string& prefix) {
  std::vector<std::string> out;
  if (!fs::exists(cache)) return out;
  for (const auto& e : fs::recursive_directory_iterator(cache))
    if (e.path().extension() == ".unit" && e.path().filename().string().rfind(prefix, 0) == 0) out.push_back(e.path().string());
  return out;
}

// The one unit file of `prefix`; fails the test when there is not exactly one.
std::string unit(const std::string& cache, const std::string& prefix) {
  const std::vector<std::string> u = units(cache, prefix);
  REQUIRE_MESSAGE(u.size() == 1, "expected one unit '", prefix, "' under ", cache, ", found ", u.size());
  return u[0];
}

void truncate_file(const std::string& path) {
  const std::string bytes = read_bytes(path);
  REQUIRE(bytes.size() > 8);
  write_bytes(path, bytes.substr(0, bytes.size() / 2));
}

// evaluation.json without what a rerun changes: the seconds of the recomputed chunks, "resumed".
nlohmann::json evaluation(const std::string& dir) {
  nlohmann::json j = nlohmann::json::parse(read_bytes(dir + "/evaluation.json"));
  j.erase("resumed");
  for (auto& m : j["methods"]) m.erase("seconds_per_image");
  return j;
}

nlohmann::json without_resumed(const std::string& out) { return backlight::test::json_without(out, {"resumed"}); }

}  // namespace

TEST_SUITE("cli") {

TEST_CASE("cli/evaluate resumes: a cut or missing chunk is recomputed alone, the table is the same to the bit") {
  if (!default_model_available()) return;
  const TempDir dir("resume_evaluate");
  const std::string out = dir.file("ev"), cache = out + "/.backlight-cache";
  const std::string args = "evaluate --images 5 --chunk 2 --methods saliency,grad_cam --metrics "
                           "pointing_game,deletion,infidelity --curve-steps 8 --infidelity-samples 2 --threads 1 --out '" +
                           out + "'";
  const SplitRun first = run_cli_split(args, dir.file("e1.txt"));
  REQUIRE_MESSAGE(first.status == 0, first.err);
  const nlohmann::json reference = evaluation(out);
  CHECK(nlohmann::json::parse(read_bytes(out + "/evaluation.json")).at("resumed") == 0);
  REQUIRE(units(cache, "chunk-").size() == 3);

  truncate_file(unit(cache, "chunk-1"));
  const SplitRun second = run_cli_split(args, dir.file("e2.txt"));
  REQUIRE_MESSAGE(second.status == 0, second.err);
  CHECK(nlohmann::json::parse(read_bytes(out + "/evaluation.json")).at("resumed") == 2);
  CHECK(contains(second.err, "evaluate: resuming: 2 of 3 units from " + cache));
  CHECK(contains(second.err, "images 2..3: saliency"));       // chunk 1, recomputed
  CHECK_FALSE(contains(second.err, "images 0..1: saliency"));  // chunk 0, loaded
  CHECK(evaluation(out) == reference);                         // every mean and standard error, to the bit

  fs::remove(unit(cache, "chunk-2"));
  const SplitRun third = run_cli_split(args, dir.file("e3.txt"));
  REQUIRE(third.status == 0);
  CHECK(nlohmann::json::parse(read_bytes(out + "/evaluation.json")).at("resumed") == 2);
  CHECK(evaluation(out) == reference);

  // Everything complete: nothing is computed. Another seed is another job; --fresh recomputes.
  const SplitRun fourth = run_cli_split(args, dir.file("e4.txt"));
  REQUIRE(fourth.status == 0);
  CHECK(nlohmann::json::parse(read_bytes(out + "/evaluation.json")).at("resumed") == 3);
  CHECK_FALSE(contains(fourth.err, "images "));
  const SplitRun other = run_cli_split(args + " --seed 7", dir.file("e5.txt"));
  REQUIRE(other.status == 0);
  CHECK(nlohmann::json::parse(read_bytes(out + "/evaluation.json")).at("resumed") == 0);
  CHECK(evaluation(out)["methods"] != reference["methods"]);  // other noise: the test can fail
  const SplitRun fresh = run_cli_split(args + " --fresh", dir.file("e6.txt"));
  REQUIRE(fresh.status == 0);
  CHECK(nlohmann::json::parse(read_bytes(out + "/evaluation.json")).at("resumed") == 0);
  CHECK(evaluation(out) == reference);
  // Without --out there is nothing to keep; --cache DIR keeps the units anyway.
  const SplitRun kept = run_cli_split("evaluate --images 2 --chunk 1 --methods saliency --metrics deletion --curve-steps 8 "
                                      "--threads 1 --cache '" + dir.file("c") + "'",
                                      dir.file("e7.txt"));
  REQUIRE(kept.status == 0);
  CHECK(units(dir.file("c"), "chunk-").size() == 2);
}

TEST_CASE("cli/sanity resumes: similarities and figure equal the first run's, also when the figure's chunk is loaded") {
  if (!default_model_available()) return;
  const TempDir dir("resume_sanity");
  const std::string png = dir.file("s.png"), cache = png + ".backlight-cache";
  const std::string args = "sanity --images 3 --chunk 1 --methods saliency,grad_cam --threads 1 --json --out '" + png + "'";
  const SplitRun first = run_cli_split(args, dir.file("e1.txt"));
  REQUIRE_MESSAGE(first.status == 0, first.err);
  CHECK(nlohmann::json::parse(first.out).at("resumed") == 0);
  const nlohmann::json reference = without_resumed(first.out);
  const std::string figure = read_bytes(png);
  REQUIRE(units(cache, "chunk-").size() == 3);

  // Chunk 1 cut: recomputed alone.
  truncate_file(unit(cache, "chunk-1"));
  const SplitRun second = run_cli_split(args, dir.file("e2.txt"));
  REQUIRE_MESSAGE(second.status == 0, second.err);
  CHECK(nlohmann::json::parse(second.out).at("resumed") == 2);
  CHECK(without_resumed(second.out) == reference);
  CHECK(read_bytes(png) == figure);

  // The figure's maps gone: chunk 0 is loaded, its maps are computed again - the same figure.
  fs::remove(unit(cache, "figure-0"));
  const SplitRun third = run_cli_split(args, dir.file("e3.txt"));
  REQUIRE_MESSAGE(third.status == 0, third.err);
  CHECK(nlohmann::json::parse(third.out).at("resumed") == 3);
  CHECK(without_resumed(third.out) == reference);
  CHECK(read_bytes(png) == figure);
  CHECK(units(cache, "figure-0").size() == 1);  // kept again
  const SplitRun fourth = run_cli_split(args, dir.file("e4.txt"));
  REQUIRE(fourth.status == 0);
  CHECK(read_bytes(png) == figure);  // from the cached maps
  // Another mode is another job.
  const SplitRun other = run_cli_split(args + " --mode independent", dir.file("e5.txt"));
  REQUIRE(other.status == 0);
  CHECK(nlohmann::json::parse(other.out).at("resumed") == 0);
  CHECK(nlohmann::json::parse(other.out)["methods"] != reference["methods"]);
}

TEST_CASE("cli/influence resumes: a damaged training batch is recomputed alone; rankings equal to the bit") {
  if (!default_model_available()) return;
  const TempDir dir("resume_influence");
  const SplitRun train = run_cli_split("train --init default --samples 48 --epochs 1 --batch 16 --lr 0.0003 "
                                       "--flip-labels 0.2 --seed 1 --held-out 16 --save-every 1 --checkpoint-dir '" +
                                           dir.file("ck") + "' --out '" + dir.file("final.safetensors") + "'",
                                       dir.file("train.txt"));
  REQUIRE_MESSAGE(train.status == 0, train.err);
  const std::string common = "influence --checkpoints '" + dir.file("ck") + "' --train builtin:shapes --batch 8 --threads 1 --json";

  // Proponents and opponents, cache beside --out: 6 batches of 8.
  const std::string png = dir.file("p.png"), cache = png + ".backlight-cache";
  const std::string test = common + " --test builtin:circle --top 5 --out '" + png + "'";
  const SplitRun first = run_cli_split(test, dir.file("e1.txt"));
  REQUIRE_MESSAGE(first.status == 0, first.err);
  const nlohmann::json reference = without_resumed(first.out);
  const std::string picture = read_bytes(png);
  REQUIRE(units(cache, "batch-").size() == 6);
  std::string bytes = read_bytes(unit(cache, "batch-3-"));
  bytes[bytes.size() / 2] ^= 0x40;  // same size: only the checksum notices
  write_bytes(unit(cache, "batch-3-"), bytes);
  const SplitRun second = run_cli_split(test, dir.file("e2.txt"));
  REQUIRE_MESSAGE(second.status == 0, second.err);
  CHECK(nlohmann::json::parse(second.out).at("resumed") == 5);
  CHECK(contains(second.err, "influence: resuming: 5 of 6 units"));
  CHECK(without_resumed(second.out) == reference);
  CHECK(read_bytes(png) == picture);

  // Self-influence with --cache DIR (no --out).
  const std::string self = common + " --self-influence --top 10 --cache '" + dir.file("self") + "'";
  const SplitRun s1 = run_cli_split(self, dir.file("e3.txt"));
  REQUIRE_MESSAGE(s1.status == 0, s1.err);
  fs::remove(unit(dir.file("self"), "batch-0-"));
  const SplitRun s2 = run_cli_split(self, dir.file("e4.txt"));
  REQUIRE_MESSAGE(s2.status == 0, s2.err);
  CHECK(nlohmann::json::parse(s2.out).at("resumed") == 5);
  CHECK(without_resumed(s2.out) == without_resumed(s1.out));
  CHECK(nlohmann::json::parse(s1.out).at("self_influence").size() == 10);
}

}  // TEST_SUITE
