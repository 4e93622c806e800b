// `backlight evaluate` end to end: table on stdout, JSON + markdown files, usage errors.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "models/default_model.h"
#include "tests/cli/temp_dir.h"

using backlight::test::TempDir;

namespace {

int run_evaluate(const std::string& args, std::string& output) {
  const std::string cmd = std::string("'") + BACKLIGHT_CLI + "' evaluate " + args + " 2>/dev/null </dev/null";
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

TEST_CASE("evaluate: prints the methods x metrics table and writes JSON and markdown") {
  if (!backlight::default_model_available()) return;
  const TempDir dir("evaluate");
  std::string out;
  REQUIRE(run_evaluate("--images 2 --methods saliency,grad_cam --out '" + dir.file("ev") + "'", out) == 0);
  CHECK(out.find("| saliency |") != std::string::npos);
  CHECK(out.find("| grad_cam |") != std::string::npos);
  std::ifstream f(dir.file("ev/evaluation.json"));
  REQUIRE(f.good());
  const nlohmann::json j = nlohmann::json::parse(f);
  REQUIRE(j["methods"].size() == 2);
  for (const auto& m : j["methods"]) {
    CHECK(m["pointing_game"].get<double>() >= 0.0);
    CHECK(m["deletion_auc"].get<double>() <= 1.0);
    CHECK(m["insertion_auc"].get<double>() >= 0.0);
  }
  CHECK(std::ifstream(dir.file("ev/evaluation.md")).good());
  std::string bad;
  CHECK(run_evaluate("--images 0", bad) == 2);
  // Usage errors like explain's (one set of validators): exit 2 before any work.
  CHECK(run_evaluate("--images 1 --methods no_such_method", bad) == 2);
}

TEST_CASE("evaluate: --metrics all gives mean and standard error per method and metric, and a chart") {
  if (!backlight::default_model_available()) return;
  const TempDir dir("evaluate_all");
  std::string out;
  REQUIRE(run_evaluate("--images 3 --methods saliency --metrics all --pixel-step 64 --sensitivity-n-samples 4 "
                       "--sensitivity-n-fractions 0.01,0.1 --faithfulness-subsets 8 --sensitivity-samples 2 "
                       "--infidelity-samples 2 --curve-steps 8 --chart '" + dir.file("chart.png") + "' --out '" +
                           dir.file("ev") + "'",
                       out) == 0);
  CHECK(out.find("sensitivity_n") != std::string::npos);
  CHECK(out.find("pixel_faithfulness") != std::string::npos);
  std::ifstream f(dir.file("ev/evaluation.json"));
  REQUIRE(f.good());
  const nlohmann::json j = nlohmann::json::parse(f);
  REQUIRE(j["metrics"].size() == 14);
  const auto& m = j["methods"][0]["metrics"];
  for (const std::string name : {"pointing_game", "relevance_mass", "relevance_rank", "mask_iou", "deletion", "insertion",
                                 "infidelity", "sensitivity_max", "fragility", "fragility_spearman",
                                 "faithfulness_correlation", "sensitivity_n", "pixel_faithfulness", "randomisation"}) {
    CAPTURE(name);
    REQUIRE(m.contains(name));
    CHECK(std::isfinite(m[name]["mean"].get<double>()));
    CHECK(m[name]["se"].get<double>() >= 0.0);
  }
  CHECK(m["fragility"]["mean"].get<double>() >= 0.0);  // top-k intersection
  CHECK(m["fragility"]["mean"].get<double>() <= 1.0);
  for (const std::string name : {"faithfulness_correlation", "sensitivity_n", "pixel_faithfulness", "randomisation",
                                 "fragility_spearman"}) {
    CHECK(m[name]["mean"].get<double>() >= -1.0);
    CHECK(m[name]["mean"].get<double>() <= 1.0);
  }
  CHECK(m["pointing_game"]["mean"].get<double>() == j["methods"][0]["pointing_game"].get<double>());
  std::ifstream png(dir.file("chart.png"), std::ios::binary);
  char magic[4] = {};
  png.read(magic, 4);
  CHECK(std::string(magic + 1, 3) == "PNG");
  std::string bad;
  CHECK(run_evaluate("--images 1 --metrics no_such_metric", bad) == 2);
  CHECK(run_evaluate("--images 1 --metrics deletion,deletion", bad) == 2);
  CHECK(run_evaluate("--images 1 --metrics infidelity --infidelity-stdev -1", bad) == 2);
  CHECK(run_evaluate("--images 1 --metrics sensitivity_n --sensitivity-n-fractions 0.5,2", bad) == 2);
  CHECK(run_evaluate("--images 1 --chart '" + dir.file("chart.txt") + "'", bad) == 2);
  CHECK(run_evaluate("--images 1 --metrics fragility --fragility-attack top_k", bad) == 2);
  CHECK(run_evaluate("--images 1 --methods saliency,occlusion --metrics fragility --fragility-attack topk", bad) == 2);
  CHECK(run_evaluate("--images 1 --metrics fragility --fragility-epsilon -0.1", bad) == 2);
  CHECK(run_evaluate("--images 1 --chunk 0", bad) == 2);
}

TEST_CASE("evaluate: --out also draws the table as evaluation.png; fragility follows its budget") {
  if (!backlight::default_model_available()) return;
  const TempDir dir("evaluate_png");
  std::string out;
  const std::string common = "--images 2 --methods saliency --metrics fragility,fragility_spearman,sensitivity_max "
                             "--sensitivity-samples 2 --threads 1 ";
  REQUIRE(run_evaluate(common + "--fragility-epsilon 0 --out '" + dir.file("zero") + "'", out) == 0);
  std::ifstream png(dir.file("zero/evaluation.png"), std::ios::binary);
  char magic[4] = {};
  png.read(magic, 4);
  CHECK(std::string(magic + 1, 3) == "PNG");
  std::ifstream f0(dir.file("zero/evaluation.json"));
  const nlohmann::json zero = nlohmann::json::parse(f0);
  CHECK(zero["methods"][0]["metrics"]["fragility"]["mean"].get<double>() == 1.0);  // nothing moved
  CHECK(zero["methods"][0]["metrics"]["fragility_spearman"]["mean"].get<double>() == doctest::Approx(1.0));
  REQUIRE(run_evaluate(common + "--fragility-epsilon 0.3 --fragility-top-k 50 --out '" + dir.file("big") + "'", out) == 0);
  std::ifstream f1(dir.file("big/evaluation.json"));
  const nlohmann::json big = nlohmann::json::parse(f1);
  CHECK(big["methods"][0]["metrics"]["fragility"]["mean"].get<double>() < 1.0);
  CHECK(big["methods"][0]["metrics"]["fragility_spearman"]["mean"].get<double>() < 0.999);
  // Ghorbani et al.'s top-k attack (one step): runs through the same flags.
  REQUIRE(run_evaluate(common + "--fragility-attack topk --fragility-steps 1 --fragility-softplus-beta 5 --out '" +
                           dir.file("topk") + "'",
                       out) == 0);
  std::ifstream f2(dir.file("topk/evaluation.json"));
  const nlohmann::json topk = nlohmann::json::parse(f2);
  CHECK(topk["methods"][0]["metrics"]["fragility"]["mean"].get<double>() < 1.0);
}

}  // TEST_SUITE
