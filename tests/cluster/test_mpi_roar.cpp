// `backlight roar` as one job over several MPI processes (docs/cluster.md): the trainings are
// shared over the ranks, rank 0 reports, and the curves equal a single-process run's (1 thread per
// process: every training is deterministic); 3 ranks on fewer trainings than ranks per method too.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "tests/cli/run_cli.h"
#include "tests/cli/temp_dir.h"
#include "tests/cluster/mpirun.h"

namespace {

std::string job(const TempDir& dir, const std::string& cache) {
  return "roar --methods saliency --fractions 50 --seeds 2 --epochs 1 --samples 32 --test-samples 16 --batch 16 "
         "--threads 1 --json --cache '" + dir.file(cache) + "'";
}

}  // namespace

TEST_SUITE("mpi") {

TEST_CASE("mpi/roar: 2 and 3 ranks give the single-process curves; each rank trains its share") {
  if (!backlight::test::mpirun_available()) return;
  const TempDir dir("mpi_roar");
  const SplitRun single = run_cli_split(job(dir, "single"), dir.file("err0"));
  REQUIRE_MESSAGE(single.status == 0, single.err);
  const nlohmann::json one = nlohmann::json::parse(single.out);
  CHECK(one["trainings"] == 2 + 3 * 2);  // unmodified x 2 seeds + 3 methods x 1 fraction x 2 seeds
  for (int ranks : {2, 3}) {
    CAPTURE(ranks);
    const MpiRun r = mpirun_cli(ranks, job(dir, "ranks" + std::to_string(ranks)), dir.file("err" + std::to_string(ranks)));
    REQUIRE_MESSAGE(r.status == 0, r.all);
    const nlohmann::json j = nlohmann::json::parse(r.out);  // rank 0 alone prints
    CHECK(j["ranks"] == ranks);
    CHECK(j["trained"] == one["trained"]);
    CHECK(j["curves"] == one["curves"]);
    CHECK(j["unmodified"] == one["unmodified"]);
    CHECK(contains(r.all, "rank 1 of " + std::to_string(ranks)));
  }
}

}  // TEST_SUITE
