// The summary commands resume under MPI (tools/cluster/unit_cache.h, docs/cluster.md): one rank of
// `evaluate` is killed mid-run, the job fails naming it, and the rerun (3 ranks) loads the chunks
// both ranks had finished, recomputes the rest and writes the uninterrupted single-process table
// bit for bit.
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "models/default_model.h"
#include "tests/cli/run_cli.h"
#include "tests/cli/temp_dir.h"
#include "tests/cluster/mpirun.h"

namespace {

size_t count_units(const std::string& cache) {
  size_t n = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(cache, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
    n += it->path().extension() == ".unit";
  return n;
}

// evaluation.json without what differs between the runs: rank count, resumed units, timings.
nlohmann::json evaluation(const std::string& dir) {
  nlohmann::json j = nlohmann::json::parse(read_bytes(dir + "/evaluation.json"));
  j.erase("ranks");
  j.erase("resumed");
  for (auto& m : j["methods"]) m.erase("seconds_per_image");
  return j;
}

}  // namespace

TEST_SUITE("mpi") {

TEST_CASE("mpi/evaluate: a rank killed mid-run; the rerun resumes and gives the uninterrupted table bit for bit") {
  if (!backlight::test::mpirun_available() || !backlight::default_model_available()) return;
  TempDir dir("mpi_resume_evaluate");
  constexpr int kChunks = 12;
  const auto args = [&](const std::string& out) {
    return "evaluate --images " + std::to_string(kChunks) +
           " --chunk 1 --methods saliency,integrated_gradients --metrics deletion,infidelity --curve-steps 16 "
           "--infidelity-samples 32 --threads 1 --out '" + out + "'";
  };
  const SplitRun reference = run_cli_split(args(dir.file("ref")), dir.file("err_ref.txt"));
  REQUIRE_MESSAGE(reference.status == 0, reference.err);

  const std::string out = dir.file("killed"), cache = out + "/.backlight-cache";
  backlight::test::kill_mid_run({.args = args(out),
                                 .log_file = dir.file("killed_log.txt"),
                                 .marker = out,
                                 .ready = [&] { return count_units(cache) >= 2; },
                                 .poll = std::chrono::milliseconds(10),
                                 .timeout = std::chrono::seconds(60)});
  const size_t kept = count_units(cache);
  CHECK(kept < static_cast<size_t>(kChunks));
  CHECK_FALSE(fs::exists(out + "/evaluation.json"));

  // The rerun uses another rank count: units are defined by --chunk, so each of 3 ranks loads its
  // share of what the 2 ranks kept.
  const MpiRun rerun = mpirun_cli(3, args(out), dir.file("err_rerun.txt"));
  REQUIRE_MESSAGE(rerun.status == 0, rerun.all);
  const nlohmann::json j = nlohmann::json::parse(read_bytes(out + "/evaluation.json"));
  CHECK(j.at("resumed").get<size_t>() >= 2);  // at least the two seen before the kill
  CHECK(j.at("resumed").get<size_t>() <= kept);
  CHECK_MESSAGE(contains(rerun.all, "evaluate: resuming: " + std::to_string(j.at("resumed").get<size_t>()) + " of " +
                                        std::to_string(kChunks) + " units"),
                rerun.all);
  CHECK_MESSAGE(contains(rerun.all, "earlier run stopped while rank 1 was computing chunk-"), rerun.all);
  CHECK(j.at("ranks") == 3);
  CHECK(evaluation(out) == evaluation(dir.file("ref")));  // every mean and standard error, to the bit
}

}  // TEST_SUITE
