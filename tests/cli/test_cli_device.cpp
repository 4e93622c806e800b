// `backlight explain --device`: cuda without a usable device (or without a CUDA build) is a clear
// runtime error (exit 1); an unknown device is a usage error (exit 2).
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cstdio>
#include <string>

#include "kernels/device.h"

namespace {

struct Run {
  int status = -1;
  std::string output;
};

Run run_cli(const std::string& args) {
  const std::string cmd = std::string("'") + BACKLIGHT_CLI + "' " + args + " 2>&1 </dev/null";
  Run r;
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE_MESSAGE(p, "popen failed for ", cmd);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

}  // namespace

TEST_SUITE("cli") {

TEST_CASE("cli: explain --device cuda without a device is a clear error") {
  if (backlight::cuda_device_count() > 0) {
    MESSAGE("skipped: a CUDA device exists");
    return;
  }
  const Run r = run_cli("explain --device cuda --out /dev/null");
  CHECK(r.status == 1);
  CHECK(r.output.find("device 'cuda' requested") != std::string::npos);
  CHECK(r.output.find("use --device cpu") != std::string::npos);
  const Run bad = run_cli("explain --device gpu --out /dev/null");
  CHECK(bad.status == 2);
  CHECK(bad.output.find("--device expects cpu or cuda") != std::string::npos);
}

}  // TEST_SUITE
