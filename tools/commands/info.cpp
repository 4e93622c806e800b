// `backlight info`: what this binary is and what it can run on.
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "engine/parallel.h"
#include "engine/cuda/device.h"
#include "tools/cluster/cluster.h"
#include "tools/commands/command.h"

#ifndef BACKLIGHT_BUILD_TYPE
#define BACKLIGHT_BUILD_TYPE "unknown"
#endif
#ifndef BACKLIGHT_SANITIZERS
#define BACKLIGHT_SANITIZERS ""
#endif

namespace backlight::cli {
namespace {

std::string compiler() {
#if defined(__clang__)
  return "Clang " __clang_version__;
#elif defined(__GNUC__)
  return "GCC " __VERSION__;
#else
  return "unknown";
#endif
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

int run_info(const Args& args) {
  const std::string sanitizers = BACKLIGHT_SANITIZERS;
  const std::string devices = trim(cuda_device_summary());
  if (args.flag("json")) {
    const nlohmann::json j = {
        {"version", BACKLIGHT_VERSION},
        {"build_type", BACKLIGHT_BUILD_TYPE},
        {"sanitizers", sanitizers},
        {"compiler", compiler()},
        {"cpu_threads", num_threads()},
        {"hardware_threads", std::thread::hardware_concurrency()},
        {"cuda_compiled", cuda_compiled()},
        {"cuda_devices", cuda_device_count()},
        {"cuda_summary", devices},
        {"mpi_compiled", mpi_compiled()},
        {"mpi_library", mpi_library_version()},
        {"mpi_launched", launched_by_mpi()},
        {"mpi_ranks", launched_size()},
    };
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::string indented;  // one device per line, aligned under the first
  for (char ch : devices) indented += ch == '\n' ? std::string("\n              ") : std::string(1, ch);
  std::cout << "backlight " BACKLIGHT_VERSION "\n"
            << "build type:   " BACKLIGHT_BUILD_TYPE "\n"
            << "sanitizers:   " << (sanitizers.empty() ? "none" : sanitizers) << "\n"
            << "compiler:     " << compiler() << "\n"
            << "cpu threads:  " << num_threads() << " (OpenMP; OMP_NUM_THREADS overrides), "
            << std::thread::hardware_concurrency() << " hardware threads\n"
            << "cuda backend: " << (cuda_compiled() ? "compiled in" : "not compiled in") << "\n"
            << "cuda devices: " << indented << "\n"
            << "mpi:          "
            << (mpi_compiled() ? "compiled in (" + mpi_library_version() + ")" : std::string("not compiled in")) << "; "
            << (launched_by_mpi() ? "launched as " + std::to_string(launched_size()) + " ranks"
                                  : std::string("not launched by mpirun/srun (1 rank)"))
            << "\n";
  return 0;
}

}  // namespace

Command info_command() {
  return {.name = "info",
          .summary = "print version, build, threads and CUDA devices",
          .flags = {{.name = "json", .kind = FlagKind::Bool, .help = "print a JSON object instead of text"}},
          .run = run_info};
}

}  // namespace backlight::cli
