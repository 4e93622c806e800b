// `backlight roar` end to end on a tiny job: the JSON curves (every method plus the random and
// sobel baselines, every fraction and seed), the accuracy of a cached model re-measured from its
// file and the cached ranking, the chart, resuming (a rerun trains nothing; a deleted model is the
// only one retrained and gives the same curves), progress on stderr and usage errors.
#include <doctest/doctest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "attribution/metrics/roar.h"
#include "models/data/shapes.h"
#include "models/default_model.h"
#include "models/safetensors.h"
#include "models/state_dict.h"
#include "models/training/accuracy.h"
#include "tests/cli/run_cli.h"
#include "tests/cli/temp_dir.h"

using namespace backlight;
using backlight::test::contains;
using backlight::test::run_cli;
using backlight::test::run_cli_split;
using backlight::test::SplitRun;
using backlight::test::TempDir;

namespace {

std::string tiny_job(const TempDir& dir) {
  return "roar --methods saliency --fractions 30,70 --seeds 1 --mode both --epochs 1 --samples 48 --test-samples 24 "
         "--batch 16 --threads 1 --json --cache '" + dir.file("cache") + "'";
}

}  // namespace

TEST_SUITE("cli") {

TEST_CASE("roar: a tiny job gives curves per method and fraction, re-measurable from the cache, and resumes") {
  const TempDir dir("roar");
  const SplitRun first = run_cli_split(tiny_job(dir) + " --out '" + dir.file("roar.png") + "'", dir.file("err1"));
  REQUIRE_MESSAGE(first.status == 0, first.err);
  const nlohmann::json j = nlohmann::json::parse(first.out);
  CHECK(j["methods"] == nlohmann::json({"saliency", "random", "sobel"}));
  CHECK(j["trainings"] == 1 + 2 * 3 * 2);  // the unmodified model + modes x methods x fractions
  CHECK(j["trained"] == 13);
  REQUIRE(j["curves"].size() == 6);
  for (const auto& c : j["curves"]) {
    REQUIRE(c["points"].size() == 2);
    CHECK(c["points"][0]["percent"] == 30);
    for (const auto& p : c["points"]) {
      CHECK(p["accuracies"].size() == 1);
      CHECK(p["mean"].get<double>() >= 0.0);
      CHECK(p["mean"].get<double>() <= 1.0);
      CHECK(p["std"].get<double>() == 0.0);
    }
  }
  CHECK(contains(first.err, "ETA"));
  CHECK(contains(first.err, "ranked the pixels of 72 images by saliency"));
  const Tensor png = test::decode_png(dir.file("roar.png"));
  CHECK(png.size(2) > png.size(1));  // ROAR and KAR side by side

  // The cached ROAR saliency 70% model, re-tested on test images modified with the cached ranking,
  // has the accuracy the JSON reports.
  const SafeTensorsFile ranking = read_safetensors(dir.file("cache/ranking-saliency.safetensors"));
  const ShapesBatch train = make_shapes_batch(ShapesConfig{}, kShapesCnnDataSeed, 0, 48);
  const ShapesBatch test = make_shapes_batch(ShapesConfig{}, kShapesCnnDataSeed, kShapesHeldOutBegin, 24);
  const Tensor modified = roar_modify(test.images, ranking.at("test"), 0.7, RoarMode::Remove, channel_means(train.images));
  std::mt19937_64 rng(0);
  const ModulePtr model = make_shapes_cnn(rng);
  load_weights(*model, dir.file("cache/roar-saliency-70-seed1.safetensors"));
  const double accuracy = classifier_accuracy(*model, tensor_classifier_data(modified, test.labels));
  nlohmann::json reported;
  for (const auto& c : j["curves"])
    if (c["mode"] == "roar" && c["method"] == "saliency") reported = c["points"][1]["mean"];
  CHECK(accuracy == doctest::Approx(reported.get<double>()).epsilon(1e-12));

  // A rerun trains nothing and reports the same curves.
  const SplitRun again = run_cli_split(tiny_job(dir), dir.file("err2"));
  REQUIRE_MESSAGE(again.status == 0, again.err);
  const nlohmann::json j2 = nlohmann::json::parse(again.out);
  CHECK(j2["trained"] == 0);
  CHECK(j2["cached"] == 13);
  CHECK(!contains(again.err, "ETA"));
  CHECK(j2["curves"] == j["curves"]);
  CHECK(j2["unmodified"] == j["unmodified"]);

  // A lost model (and a truncated one) are retrained, the rest is reused; same results (1 thread).
  std::filesystem::remove(dir.file("cache/kar-sobel-30-seed1.safetensors"));
  test::write_bytes(dir.file("cache/roar-random-70-seed1.safetensors"), "truncated");
  const SplitRun third = run_cli_split(tiny_job(dir), dir.file("err3"));
  REQUIRE_MESSAGE(third.status == 0, third.err);
  const nlohmann::json j3 = nlohmann::json::parse(third.out);
  CHECK(j3["trained"] == 2);
  CHECK(contains(third.err, "kar sobel 30% seed 1"));
  CHECK(contains(third.err, "roar random 70% seed 1"));
  CHECK(j3["curves"] == j["curves"]);

  // Another recipe is another job: its files are not reused.
  const SplitRun other = run_cli_split("roar --methods sobel --fractions 50 --seeds 1 --mode roar --epochs 1 --samples 48 "
                                       "--test-samples 24 --batch 16 --lr 0.001 --threads 1 --json --cache '" +
                                           dir.file("cache") + "'",
                                       dir.file("err4"));
  REQUIRE_MESSAGE(other.status == 0, other.err);
  CHECK(nlohmann::json::parse(other.out)["trained"] == 1 + 2);
}

TEST_CASE("roar: usage errors exit 2 naming the flag") {
  const TempDir dir("roar_usage");
  const auto fails = [&](const std::string& flags, const std::string& text) {
    const test::Run r = run_cli("roar --cache '" + dir.file("c") + "' " + flags);
    CAPTURE(flags);
    CHECK(r.status == 2);
    CHECK_MESSAGE(contains(r.output, text), r.output);
  };
  fails("--methods nope", "unknown method 'nope'");
  fails("--methods saliency,saliency", "lists 'saliency' twice");
  fails("--methods layer_activation", "does not give a map per input pixel");
  fails("--fractions 0,50", "percentages 1..99");
  fails("--fractions 10,10", "lists 10 twice");
  fails("--mode sideways", "--mode accepts roar, kar or both");
  fails("--seeds 0", "--seeds expects an integer");
  fails("--data builtin:cats", "unknown built-in set 'builtin:cats'");
  fails("--data '" + dir.file("nothing") + "'", "builtin:shapes or a folder of class subfolders");
  fails("--out '" + dir.file("x.txt") + "'", "--out");
  fails("--optimizer rmsprop", "roar: --optimizer accepts adam or sgd, got 'rmsprop'");
  fails("--optimizer sgd --momentum 1", "roar: --momentum expects a number in [0, 1), got 1");
  fails("--schedule cyclic", "roar: --schedule accepts constant or cosine, got 'cyclic'");
}

}  // TEST_SUITE
