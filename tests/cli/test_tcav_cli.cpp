// `backlight tcav` end to end: the built-in demo and user folders (images, .npy stacks, a random
// pool), the JSON per concept and layer, the picture, usage and runtime errors with their exit statuses.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "io/image_io.h"
#include "io/npy.h"
#include "models/data/shapes.h"
#include "models/default_model.h"
#include "tests/cli/run_cli.h"
#include "tests/cli/temp_dir.h"

using backlight::test::TempDir;

namespace {

int run_tcav(const std::string& args, std::string& output, bool with_stderr = true) {
  const backlight::test::Run r = backlight::test::run_cli("tcav " + args, !with_stderr);
  output += r.output;
  return r.status;
}

// Every result: runs scores in [0, 1], mean/std of them, p-values in [0, 1], the flag from p_corrected.
void check_results(const nlohmann::json& j, size_t concepts, size_t layers, int runs) {
  REQUIRE(j["results"].size() == concepts * layers);
  CHECK(j["bonferroni_tests"] == concepts * layers);
  for (const auto& r : j["results"]) {
    CAPTURE(r.dump());
    REQUIRE(r["scores"].size() == static_cast<size_t>(runs));
    double sum = 0;
    for (const auto& s : r["scores"]) {
      CHECK(s.get<double>() >= 0.0);
      CHECK(s.get<double>() <= 1.0);
      sum += s.get<double>();
    }
    CHECK(r["mean"].get<double>() == doctest::Approx(sum / runs));
    const double p = r["p_value"], pc = r["p_corrected"];
    CHECK(p >= 0.0);
    CHECK(p <= 1.0);
    CHECK(pc == doctest::Approx(std::min(1.0, p * static_cast<double>(concepts * layers))));
    CHECK(r["significant"].get<bool>() == (pc < j["significance"].get<double>()));
    CHECK(r["cav_accuracy"].size() == static_cast<size_t>(runs));
  }
  REQUIRE(j["random"].size() == layers);
  CHECK(j["random"][0]["scores"].size() == static_cast<size_t>(runs));
}

}  // namespace

TEST_SUITE("cli") {

TEST_CASE("tcav: the built-in demo writes the chart and JSON with every run") {
  if (!backlight::default_model_available()) return;
  const TempDir dir("tcav_demo");
  std::string out;
  REQUIRE(run_tcav("--demo-concepts circle,red --layers features.8,features.9 --set-size 10 --random-sets 3 "
                   "--count 12 --target circle --json --out '" + dir.file("t.png") + "'",
                   out, false) == 0);
  const nlohmann::json j = nlohmann::json::parse(out);
  CHECK(j["demo"] == true);
  CHECK(j["target"] == 0);
  CHECK(j["target_name"] == "circle");
  CHECK(j["runs"] == 3);
  CHECK(j["inputs"] == 12);
  CHECK(j["classifier"] == "logistic");
  CHECK(j["test"] == "student");
  check_results(j, 2, 2, 3);
  CHECK(j["results"][0]["concept"] == "circle");
  CHECK(j["results"][1]["layer"] == "features.9");
  CHECK(std::filesystem::file_size(dir.file("t.png")) > 1000);
  // The same run with the sgd classifier: seeded, so twice the same JSON.
  std::string a, b;
  const std::string sgd = "--demo-concepts cross --layers features.9 --set-size 8 --random-sets 2 --count 6 "
                          "--classifier sgd --seed 5 --json --out '" + dir.file("s.png") + "'";
  REQUIRE(run_tcav(sgd + " --fresh", a, false) == 0);
  REQUIRE(run_tcav(sgd + " --fresh", b, false) == 0);
  CHECK(a == b);
  CHECK(nlohmann::json::parse(a)["classifier"] == "sgd");
  CHECK(nlohmann::json::parse(a)["resumed"] == 0);
}

TEST_CASE("tcav: user folders (images and .npy stacks) and random sets drawn from a pool") {
  if (!backlight::default_model_available()) return;
  const TempDir dir("tcav_dirs");
  for (const char* d : {"concept", "pool", "inputs"}) std::filesystem::create_directories(dir.file(d));
  using namespace backlight;
  // Concept: circles as one .npy stack [6, 3, 48, 48] (resized to 64x64) plus two PNGs.
  const ShapesBatch c = make_shapes_batch(ShapesConfig{.height = 48, .width = 48}, 21, 0, 40);
  int64_t kept = 0;
  Tensor stack = Tensor::empty(Shape{6, 3, 48, 48});
  for (int64_t i = 0; i < 40 && kept < 8; ++i) {
    if (c.labels[static_cast<size_t>(i)] != 0) continue;
    const Tensor img = c.images.slice_batch(i, i + 1);
    if (kept < 6) std::copy(img.data(), img.data() + img.numel(), stack.data() + kept * img.numel());
    else cli::write_image(dir.file("concept/c" + std::to_string(kept) + ".png"), img.reshape({3, 48, 48}));
    ++kept;
  }
  REQUIRE(kept == 8);
  cli::save_npy(dir.file("concept/stack.npy"), stack);
  const ShapesBatch pool = make_shapes_batch(ShapesConfig{.height = 64, .width = 64}, 22, 0, 20);
  for (int64_t i = 0; i < 20; ++i)
    cli::write_image(dir.file("pool/p" + std::to_string(i) + ".png"), pool.images.slice_batch(i, i + 1).reshape({3, 64, 64}));
  const ShapesBatch in = make_shapes_batch(ShapesConfig{.height = 64, .width = 64}, 23, 0, 5);
  cli::save_npy(dir.file("inputs/in.npy"), in.images);
  std::string out;
  REQUIRE(run_tcav("--concept 'circles=" + dir.file("concept") + "' --random '" + dir.file("pool") +
                       "' --random-sets 3 --set-size 8 --inputs '" + dir.file("inputs") +
                       "' --layers features.9 --target 0 --batch 3 --json --out '" + dir.file("u.png") + "'",
                   out, false) == 0);
  const nlohmann::json j = nlohmann::json::parse(out);
  CHECK(j["demo"] == false);
  CHECK(j["inputs"] == 5);
  CHECK(j["concepts"][0] == "circles");
  check_results(j, 1, 1, 3);
  // --runs 2 of three sets uses the first two.
  out.clear();
  REQUIRE(run_tcav("--concept 'circles=" + dir.file("concept") + "' --random '" + dir.file("pool") +
                       "' --random-sets 3 --set-size 8 --runs 2 --inputs '" + dir.file("inputs") +
                       "' --layers features.8 --json --out '" + dir.file("v.png") + "'",
                   out, false) == 0);
  check_results(nlohmann::json::parse(out), 1, 1, 2);
}

TEST_CASE("tcav: usage errors exit 2, runtime errors exit 1") {
  if (!backlight::default_model_available()) return;
  const TempDir dir("tcav_err");
  std::filesystem::create_directories(dir.file("d"));
  const backlight::ShapesBatch b = backlight::make_shapes_batch(backlight::ShapesConfig{}, 3, 0, 3);
  for (int64_t i = 0; i < 3; ++i)
    backlight::cli::write_image(dir.file("d/" + std::to_string(i) + ".png"), b.images.slice_batch(i, i + 1).reshape({3, 64, 64}));
  const std::string d = "'" + dir.file("d") + "'";
  std::string out;
  CHECK(run_tcav("--classifier svm", out) == 2);
  CHECK(out.find("logistic, sgd") != std::string::npos);
  out.clear();
  CHECK(run_tcav("--concept " + d, out) == 2);  // without --random/--inputs
  CHECK(out.find("together") != std::string::npos);
  out.clear();
  CHECK(run_tcav("--concept nodir --random " + d + " --inputs " + d, out) == 2);
  CHECK(out.find("NAME=DIR") != std::string::npos);
  out.clear();
  CHECK(run_tcav("--concept a=" + d + " --random " + d + " --random " + d + " --runs 3 --inputs " + d +
                     " --layers features.9",
                 out) == 2);
  CHECK(out.find("needs as many random sets") != std::string::npos);
  out.clear();
  CHECK(run_tcav("--test paired", out) == 2);
  out.clear();
  CHECK(run_tcav("--out '" + dir.file("x.txt") + "'", out) == 2);
  out.clear();
  CHECK(run_tcav("--demo-concepts circle,stripes", out) == 2);
  CHECK(out.find("circle, square, triangle, cross, red, green, blue") != std::string::npos);
  out.clear();
  CHECK(run_tcav("--concept a=" + d + " --random " + d + " --random " + d + " --inputs " + d +
                     " --layers features.99 --out '" + dir.file("e.png") + "'",
                 out) == 1);
  CHECK(out.find("features.99") != std::string::npos);
  out.clear();
  CHECK(run_tcav("--concept a='" + dir.file("missing") + "' --random " + d + " --random " + d + " --inputs " + d +
                     " --layers features.9",
                 out) == 1);
  CHECK(out.find("missing") != std::string::npos);
}

}  // TEST_SUITE
