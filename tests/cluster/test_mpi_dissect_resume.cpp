// A summary command killed mid-run resumes from the units it kept (tools/commands/resume_units.h):
// `dissect` under mpirun -n 2 loses rank 1 to SIGKILL, the job fails naming it, and the rerun
// loads the kept batches and ends with the uninterrupted single-process dissection, bit for bit.
#include <doctest/doctest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "models/default_model.h"
#include "tests/cli/run_cli.h"
#include "tests/cli/temp_dir.h"
#include "tests/cli/unit_files.h"
#include "tests/cluster/mpirun.h"

TEST_SUITE("mpi") {

TEST_CASE("mpi/dissect: a rank killed mid-run fails the job; the rerun resumes to the uninterrupted result") {
  if (!backlight::test::mpirun_available()) return;
  TempDir dir("mpi_dissect_kill");
  // resnet18 (random weights) at 224: slow enough per batch that the kill lands in pass 1.
  const std::string common = "dissect --model resnet18 --layer layer4 --threads 1 --count 32 --batch 2 --json --out ";
  const SplitRun reference = run_cli_split(common + "'" + dir.file("ref.png") + "'", dir.file("err_ref.txt"));
  REQUIRE_MESSAGE(reference.status == 0, reference.err);

  const std::string out = dir.file("killed.png"), cache = out + ".backlight-cache";
  backlight::test::kill_mid_run({.args = common + "'" + out + "'",
                                 .log_file = dir.file("killed_out.txt"),
                                 .marker = out,
                                 .ready = [&] { return backlight::test::unit_files(cache, "acts-") >= 4; }});
  CHECK_FALSE(fs::exists(out));  // the job did not finish

  const MpiRun rerun = mpirun_cli(2, common + "'" + out + "'", dir.file("err_rerun.txt"));
  REQUIRE_MESSAGE(rerun.status == 0, rerun.all);
  CHECK(contains(rerun.all, "resuming: "));
  const int64_t resumed = nlohmann::json::parse(rerun.out).at("resumed").get<int64_t>();
  CHECK(resumed >= 2);
  CHECK(resumed < 32);  // 16 activation and 16 count units: the killed run did not finish pass 3
  CHECK(dissection(rerun.out) == dissection(reference.out));
}

}  // TEST_SUITE
