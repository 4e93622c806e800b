// A summary command killed mid-run resumes from the units it kept (tools/commands/resume_units.h):
// `dissect` under mpirun -n 2 loses rank 1 to SIGKILL, the job fails naming it, and the rerun
// loads the kept batches and ends with the uninterrupted single-process dissection, bit for bit.
#include <doctest/doctest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "models/default_model.h"
#include "tests/cli/run_cli.h"
#include "tests/cli/temp_dir.h"
#include "tests/cli/unit_files.h"
#include "tests/cluster/mpirun.h"

using backlight::test::contains;
using backlight::test::mpirun_cli;
using backlight::test::MpiRun;
using backlight::test::read_bytes;
using backlight::test::run_cli_split;
using backlight::test::SplitRun;
using backlight::test::TempDir;

namespace fs = std::filesystem;

namespace {

// dissect --json without timings, the rank count, the picture path and the resumed count.
nlohmann::json dissection(const std::string& out) {
  nlohmann::json j = nlohmann::json::parse(out);
  for (const char* key : {"seconds", "ranks", "png", "resumed"}) j.erase(key);
  return j;
}

// Kills MPI rank `rank` of the job whose command line names `marker` (found in /proc).
bool kill_rank(const std::string& marker, int rank) {
  const std::string want = "OMPI_COMM_WORLD_RANK=" + std::to_string(rank);
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string pid = e.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string cmdline = read_bytes("/proc/" + pid + "/cmdline");
    if (cmdline.find(marker) == std::string::npos || cmdline.find("mpirun") != std::string::npos) continue;
    if (read_bytes("/proc/" + pid + "/environ").find(want) == std::string::npos) continue;
    return ::kill(std::stoi(pid), SIGKILL) == 0;
  }
  return false;
}

}  // namespace

TEST_SUITE("mpi") {

TEST_CASE("mpi/dissect: a rank killed mid-run fails the job; the rerun resumes to the uninterrupted result") {
  if (!backlight::test::mpirun_available()) return;
  TempDir dir("mpi_dissect_kill");
  // resnet18 (random weights) at 224: slow enough per batch that the kill lands in pass 1.
  const std::string common = "dissect --model resnet18 --layer layer4 --threads 1 --count 32 --batch 2 --json --out ";
  const SplitRun reference = run_cli_split(common + "'" + dir.file("ref.png") + "'", dir.file("err_ref.txt"));
  REQUIRE_MESSAGE(reference.status == 0, reference.err);

  const std::string out = dir.file("killed.png"), cache = out + ".backlight-cache";
  const std::string cmd = backlight::test::mpirun_command(2, common + "'" + out + "'") + " >'" +
                          dir.file("killed_out.txt") + "' 2>&1 </dev/null";
  FILE* job = ::popen(cmd.c_str(), "r");
  REQUIRE(job);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  bool killed = false;
  while (!killed && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (backlight::test::unit_files(cache, "acts-") >= 4) killed = kill_rank(out, 1);
  }
  const int st = ::pclose(job);
  REQUIRE_MESSAGE(killed, "rank 1 was not found to kill");
  const std::string log = read_bytes(dir.file("killed_out.txt"));
  CHECK(st != 0);
  CHECK_MESSAGE(contains(log, "rank 1"), log);  // mpirun names the rank that died
  CHECK_FALSE(fs::exists(out));                  // the job did not finish

  const MpiRun rerun = mpirun_cli(2, common + "'" + out + "'", dir.file("err_rerun.txt"));
  REQUIRE_MESSAGE(rerun.status == 0, rerun.all);
  CHECK(contains(rerun.all, "resuming: "));
  const int64_t resumed = nlohmann::json::parse(rerun.out).at("resumed").get<int64_t>();
  CHECK(resumed >= 2);
  CHECK(resumed < 32);  // 16 activation and 16 count units: the killed run did not finish pass 3
  CHECK(dissection(rerun.out) == dissection(reference.out));
}

}  // TEST_SUITE
