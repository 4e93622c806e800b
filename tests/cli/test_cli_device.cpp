// `backlight explain --device`: cuda without a usable device (or without a CUDA build) is a clear
// runtime error (exit 1); an unknown device is a usage error (exit 2).
#include <doctest/doctest.h>

#include <string>

#include "engine/cuda/device.h"
#include "tests/cli/run_cli.h"

using backlight::test::Run;
using backlight::test::run_cli;

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
