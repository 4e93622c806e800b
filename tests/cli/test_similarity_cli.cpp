// `backlight similarity` end to end: heatmap PNG, JSON matrix with layer names, usage and runtime
// errors with their exit statuses.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "io/image_io.h"
#include "models/data/shapes.h"
#include "models/default_model.h"
#include "tests/cli/temp_dir.h"

using backlight::test::TempDir;

namespace {

// stdout only, or stdout and stderr together (for error texts).
int run_similarity(const std::string& args, std::string& output, bool with_stderr = true) {
  const std::string cmd = std::string("'") + BACKLIGHT_CLI + "' similarity " + args +
                          (with_stderr ? " 2>&1" : " 2>/dev/null") + " </dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE_MESSAGE(p, "popen failed for ", cmd);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) output.append(buf, n);
  const int st = ::pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

}  // namespace

TEST_SUITE("cli") {

TEST_CASE("similarity: writes the heatmap and the JSON matrix with layer names") {
  if (!backlight::default_model_available()) return;
  const TempDir dir("similarity");
  std::string out;
  REQUIRE(run_similarity("--layers features.2,features.10,classifier.0 --layers-b features.10,classifier.0 --count 40 "
                         "--batch 16 --json --out '" + dir.file("sim.png") + "'",
                         out, false) == 0);
  const nlohmann::json j = nlohmann::json::parse(out);
  CHECK(j["measure"] == "cka");
  CHECK(j["examples"] == 40);
  REQUIRE(j["matrix"].size() == 3);
  CHECK(j["matrix"][1]["layer"] == "features.10");
  REQUIRE(j["matrix"][1]["values"].size() == 2);
  CHECK(j["matrix"][1]["values"][0].get<double>() == doctest::Approx(1.0).epsilon(1e-6));  // features.10 vs itself
  CHECK(j["matrix"][0]["values"][0].get<double>() < 0.99);
  CHECK(j["layers_b"][1] == "classifier.0");
  CHECK(std::filesystem::file_size(dir.file("sim.png")) > 1000);
}

TEST_CASE("similarity: reads a folder of images (resized to the model's input)") {
  if (!backlight::default_model_available()) return;
  const TempDir dir("similarity_dir");
  std::filesystem::create_directories(dir.file("imgs"));
  const backlight::ShapesBatch b = backlight::make_shapes_batch(backlight::ShapesConfig{.height = 32, .width = 40}, 9, 0, 5);
  for (int64_t i = 0; i < 5; ++i)
    backlight::cli::write_image(dir.file("imgs/" + std::to_string(i) + ".png"), b.images.slice_batch(i, i + 1).reshape({3, 32, 40}));
  std::string out;
  REQUIRE(run_similarity("--inputs '" + dir.file("imgs") + "' --layers features.10,classifier.0 --measure cka_rbf "
                         "--batch 2 --json --out '" + dir.file("s.png") + "'",
                         out, false) == 0);
  const nlohmann::json j = nlohmann::json::parse(out);
  CHECK(j["examples"] == 5);
  CHECK(j["space"] == "example");
  CHECK(j["matrix"][0]["values"][0].get<double>() == doctest::Approx(1.0).epsilon(1e-6));
}

TEST_CASE("similarity: usage errors exit 2, runtime errors exit 1") {
  if (!backlight::default_model_available()) return;
  const TempDir dir("similarity_err");
  std::string out;
  CHECK(run_similarity("--measure kca --out '" + dir.file("a.png") + "'", out) == 2);
  CHECK(out.find("cka, cka_rbf, cca, svcca, pwcca") != std::string::npos);
  out.clear();
  CHECK(run_similarity("--count 1", out) == 2);
  out.clear();
  CHECK(run_similarity("--model nope", out) == 2);
  out.clear();
  CHECK(run_similarity("--layers features.0,,features.2", out) == 2);
  out.clear();
  CHECK(run_similarity("--out '" + dir.file("x.txt") + "'", out) == 2);
  out.clear();
  CHECK(run_similarity("--layers features.99 --count 8 --out '" + dir.file("b.png") + "'", out) == 1);
  CHECK(out.find("features.99") != std::string::npos);
  out.clear();
  CHECK(run_similarity("--measure cca --layers features.0 --count 8 --out '" + dir.file("c.png") + "'", out) == 1);
  CHECK(out.find("more examples than features") != std::string::npos);
  out.clear();
  CHECK(run_similarity("--inputs '" + dir.file("missing") + "'", out) == 1);
}

}  // TEST_SUITE
