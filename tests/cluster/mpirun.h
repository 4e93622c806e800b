#pragma once
// Running the built `backlight` under Open MPI's mpirun from the "mpi" test suite. BACKLIGHT_MPIRUN
// is mpirun's path when backlight is built with MPI (tests/CMakeLists.txt); without it the suite's
// tests say why they are skipped. Included by the tests in tests/cluster/ only: it also brings the
// names they all use (the using-declarations at the end).
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <thread>

#include "tests/cli/run_cli.h"
#include "tests/cli/temp_dir.h"

namespace backlight::test {

inline bool mpirun_available() {
#ifdef BACKLIGHT_MPIRUN
  return true;
#else
  MESSAGE("skipped: backlight built without MPI (-DBACKLIGHT_MPI=OFF or no libopenmpi-dev/openmpi-bin)");
  return false;
#endif
}

/// The shell command running `backlight <args>` as `ranks` MPI processes on this machine. As root
/// Open MPI needs its two run-as-root switches; --oversubscribe lets more ranks than cores run;
/// the single-copy mechanism is switched off because containers often forbid the ptrace-based one.
inline std::string mpirun_command(int ranks, const std::string& args) {
#ifdef BACKLIGHT_MPIRUN
  return std::string("OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 '") +
         BACKLIGHT_MPIRUN + "' -n " + std::to_string(ranks) +
         " --bind-to none --mca btl self,vader --mca btl_vader_single_copy_mechanism none '" + BACKLIGHT_CLI + "' " +
         args;
#else
  (void)ranks;
  return args;
#endif
}

struct MpiRun {
  int status = -1;
  std::string out;  ///< stdout (rank 0 writes the summary)
  std::string all;  ///< stdout then stderr
};

/// Runs `backlight <args>` as `ranks` processes; stdout and stderr captured separately.
inline MpiRun mpirun_cli(int ranks, const std::string& args, const std::string& err_file) {
  const std::string cmd = mpirun_command(ranks, args) + " 2>'" + err_file + "' </dev/null";
  MpiRun r;
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE_MESSAGE(p, "popen failed for ", cmd);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  FILE* e = std::fopen(err_file.c_str(), "rb");
  r.all = r.out;
  if (e) {
    while ((n = std::fread(buf, 1, sizeof buf, e)) > 0) r.all.append(buf, n);
    std::fclose(e);
  }
  return r;
}

/// Kills (SIGKILL) the MPI rank `rank` of the job whose command line names `marker` (found in
/// /proc by the rank's OMPI_COMM_WORLD_RANK); false when no such process is running.
inline bool kill_rank(const std::string& marker, int rank) {
  const auto slurp = [](const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  };
  const std::string want = "OMPI_COMM_WORLD_RANK=" + std::to_string(rank);
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    const std::string pid = e.path().filename().string();
    if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string cmdline = slurp("/proc/" + pid + "/cmdline");
    if (cmdline.find(marker) == std::string::npos || cmdline.find("mpirun") != std::string::npos) continue;
    const std::string environ = slurp("/proc/" + pid + "/environ");
    if (environ.find(want + '\0') == std::string::npos && environ.find(want) == std::string::npos) continue;
    return ::kill(std::stoi(pid), SIGKILL) == 0;
  }
  return false;
}

/// `dissect --json` output without what differs between runs of one job: timings, rank count,
/// picture path, resumed count.
inline nlohmann::json dissection(const std::string& out) {
  return json_without(out, {"seconds", "ranks", "png", "resumed"});
}

/// A job to start and kill one rank of mid-run (kill_mid_run).
struct MidRunKill {
  int ranks = 2;
  std::string args{};      ///< `backlight <args>`
  std::string log_file{};  ///< gets the job's stdout and stderr
  std::string marker{};    ///< names the job on its ranks' command lines (kill_rank)
  int rank = 1;            ///< the rank to kill
  std::function<bool()> ready{};  ///< polled; the rank is killed once it holds (the job is far enough)
  std::chrono::milliseconds poll{20};
  std::chrono::seconds timeout{120};  ///< for `ready` to hold and the rank to be found
};

/// Starts the job in the background, polls `job.ready` every `job.poll`, SIGKILLs `job.rank` once
/// it holds, and waits for mpirun. Requires that the rank was killed before the timeout, and
/// checks that the job failed and that mpirun's log names the rank; returns the log.
inline std::string kill_mid_run(const MidRunKill& job) {
  const std::string cmd = mpirun_command(job.ranks, job.args) + " >'" + job.log_file + "' 2>&1 </dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE_MESSAGE(p, "popen failed for ", cmd);
  const auto deadline = std::chrono::steady_clock::now() + job.timeout;
  bool killed = false;
  while (!killed && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(job.poll);
    if (job.ready()) killed = kill_rank(job.marker, job.rank);
  }
  const int st = ::pclose(p);
  REQUIRE_MESSAGE(killed, "rank ", job.rank, " was not found to kill");
  const std::string log = read_bytes(job.log_file);
  CHECK(st != 0);
  CHECK_MESSAGE(contains(log, "rank " + std::to_string(job.rank)), log);  // mpirun names the rank that died
  return log;
}

}  // namespace backlight::test

using backlight::test::contains;
using backlight::test::dissection;
using backlight::test::mpirun_cli;
using backlight::test::MpiRun;
using backlight::test::read_bytes;
using backlight::test::run_cli_split;
using backlight::test::SplitRun;
using backlight::test::TempDir;

namespace fs = std::filesystem;
