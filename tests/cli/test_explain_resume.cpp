// Batch mode resumes (tools/cluster/manifest.h): a rerun of the same command skips the images whose
// outputs are complete and intact, redoes the rest; other flags, or --fresh, redo everything.
#include <doctest/doctest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "io/image_io.h"
#include "models/default_model.h"
#include "tests/cli/run_cli.h"
#include "tests/cli/temp_dir.h"

using namespace backlight;
using backlight::test::contains;
using backlight::test::read_bytes;
using backlight::test::run_cli_split;
using backlight::test::SplitRun;
using backlight::test::TempDir;

TEST_SUITE("cli") {

TEST_CASE("cli/explain batch: a rerun resumes, redoing only missing or damaged outputs") {
  if (!default_model_available()) return;
  TempDir dir("explain_resume");
  const std::string in = dir.file("in"), out = dir.file("out");
  std::filesystem::create_directories(in);
  const auto images = default_images();
  for (size_t i = 0; i < 3; ++i) cli::write_png(in + "/img" + std::to_string(i) + ".png", images.at(i).sample.image);
  const std::string args = "explain --images '" + in + "' --out '" + out + "' --save '" + out +
                           "' --method saliency --json";
  const SplitRun first = run_cli_split(args, dir.file("e1.txt"));
  REQUIRE_MESSAGE(first.status == 0, first.err);
  CHECK(nlohmann::json::parse(first.out).at("resumed") == 0);
  const std::string npy1 = read_bytes(out + "/img1.npy");

  // Damage one output (same size: only the checksum notices) and remove another.
  std::string damaged = npy1;
  damaged.back() ^= 1;
  backlight::test::write_bytes(out + "/img1.npy", damaged);
  std::filesystem::remove(out + "/img2.png");
  const SplitRun second = run_cli_split(args, dir.file("e2.txt"));
  REQUIRE_MESSAGE(second.status == 0, second.err);
  const nlohmann::json j = nlohmann::json::parse(second.out);
  CHECK(j.at("resumed") == 1);  // img0 only
  CHECK(j["results"][0].value("resumed", false));
  CHECK_FALSE(j["results"][1].value("resumed", false));
  CHECK(contains(second.err, "resuming: 1 of 3 images are complete"));
  CHECK(read_bytes(out + "/img1.npy") == npy1);
  CHECK(std::filesystem::exists(out + "/img2.png"));

  // Another method is another job; --fresh ignores the manifest.
  const SplitRun other = run_cli_split(
      "explain --images '" + in + "' --out '" + out + "' --save '" + out + "' --method grad_cam --json", dir.file("e3.txt"));
  REQUIRE(other.status == 0);
  CHECK(nlohmann::json::parse(other.out).at("resumed") == 0);
  const SplitRun fresh = run_cli_split(args + " --fresh", dir.file("e4.txt"));
  REQUIRE(fresh.status == 0);
  CHECK(nlohmann::json::parse(fresh.out).at("resumed") == 0);
}

}  // TEST_SUITE
