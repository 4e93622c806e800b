#pragma once
// Running the built `backlight` under Open MPI's mpirun from the "mpi" test suite. BACKLIGHT_MPIRUN
// is mpirun's path when backlight is built with MPI (tests/CMakeLists.txt); without it the suite's
// tests say why they are skipped.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

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

}  // namespace backlight::test
