// `backlight dissect` and `backlight visualize` end to end (JSON, PNG, exit statuses), the
// concept-mask dataset readers (tools/cli/concept_data.h), and similarity's inputs
// (tools/commands/input_batches.h: .npy stacks, mixed folders, --mean/--std).
#include <doctest/doctest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/error.h"
#include "io/image_io.h"
#include "io/npy.h"
#include "models/data/shapes.h"
#include "models/default_model.h"
#include "tests/cli/run_cli.h"
#include "tests/cli/temp_dir.h"
#include "tools/cli/concept_data.h"

using backlight::test::TempDir;
using namespace backlight::test;

TEST_SUITE("cli") {

TEST_CASE("concept_data: builtin shapes masks follow the drawn shapes") {
  const backlight::cli::ShapesConcepts data(6, 64, 64);
  REQUIRE(data.concepts().size() == 13);
  CHECK(data.concepts()[0].name == "circle");
  CHECK(data.concepts()[4].category == "part");
  CHECK(data.concepts()[11].name == "noise");
  for (int64_t i = 0; i < 6; ++i) {
    const backlight::ConceptImage im = data.load(i);
    const backlight::ShapesSample s = backlight::make_shapes_sample({}, backlight::kShapesCnnDataSeed,
                                                                    backlight::kShapesHeldOutBegin + i);
    CHECK(im.name == data.name(i));
    // The target's object mask contains every target pixel; object and texture masks partition the image.
    std::vector<int> cover(64 * 64, 0);
    for (const auto& [c, m] : im.masks) {
      if (c == static_cast<int>(s.label))
        for (int64_t p = 0; p < 64 * 64; ++p) CHECK((s.mask.data()[p] == 0 || m[p] == 1));
      if (c < 4 || c >= 11)
        for (int64_t p = 0; p < 64 * 64; ++p) cover[p] += m[p];
    }
    for (int v : cover) REQUIRE(v == 1);
  }
  CHECK(backlight::cli::hue_name(1, 0, 0) == "red");
  CHECK(backlight::cli::hue_name(0.1f, 0.2f, 0.9f) == "blue");
  CHECK(backlight::cli::hue_name(0.9f, 0.9f, 0.1f) == "yellow");
}

TEST_CASE("concept_data: folder index errors name file and line") {
  const TempDir dir("concept_data");
  write_bytes(dir.file("index.csv"), "image,mask,concept\n");
  CHECK_THROWS_WITH_AS(backlight::cli::FolderConcepts(dir.file(""), 1 << 20),
                       doctest::Contains("line 1: expected the header"), backlight::Error);
  write_bytes(dir.file("index.csv"), "image,mask,concept,category\na.png,m.png,red,colour\na.png,n.png,red,object\n");
  CHECK_THROWS_WITH_AS(backlight::cli::FolderConcepts(dir.file(""), 1 << 20),
                       doctest::Contains("line 3: concept 'red' has category 'object' here but 'colour'"),
                       backlight::Error);
  write_bytes(dir.file("index.csv"), "image,mask,concept,category\na.png,m.png,red\n");
  CHECK_THROWS_WITH_AS(backlight::cli::FolderConcepts(dir.file(""), 1 << 20),
                       doctest::Contains("line 2: expected 4 fields"), backlight::Error);
  CHECK_THROWS_WITH_AS(backlight::cli::FolderConcepts(dir.file("nope"), 1 << 20), doctest::Contains("is not a folder"),
                       backlight::Error);
}

TEST_CASE("dissect: JSON per unit, summary, montage; exit statuses") {
  if (!backlight::default_model_available()) return;
  const TempDir dir("dissect");
  const Run r = run_cli("dissect --count 24 --batch 8 --json --out '" + dir.file("d.png") + "'", true);
  REQUIRE(r.status == 0);
  const nlohmann::json j = nlohmann::json::parse(r.output);
  CHECK(j["layer"] == "features.9");
  CHECK(j["images"] == 24);
  CHECK(j["passes"] == 2);
  REQUIRE(j["units"].size() == 64);
  int detectors = 0;
  for (const auto& u : j["units"]) {
    CHECK(u["iou"].get<double>() >= 0);
    CHECK(u["detector"].get<bool>() == (u["iou"].get<double>() > 0.04));
    detectors += u["detector"].get<bool>();
  }
  CHECK(j["detectors"] == detectors);
  CHECK(j["detectors_per_category"].contains("object"));
  CHECK(std::filesystem::file_size(dir.file("d.png")) > 1000);

  CHECK(run_cli("dissect --no-such-flag").status == 2);
  CHECK(run_cli("dissect --quantile 2 --out '" + dir.file("e.png") + "'").status == 2);
  CHECK(run_cli("dissect --data builtin:shapes --count 4 --layer nope --out '" + dir.file("e.png") + "'").status == 1);
  CHECK(run_cli("dissect --data '" + dir.file("missing") + "' --out '" + dir.file("e.png") + "'").status == 1);
  CHECK(run_cli("dissect --model nope").status == 2);
  CHECK(contains(run_cli("dissect --help").output, "--iou-threshold"));
}

TEST_CASE("visualize: channel grid and logit; exit statuses") {
  if (!backlight::default_model_available()) return;
  const TempDir dir("visualize");
  const Run r = run_cli("visualize --channels 0-2 --steps 20 --json --out '" + dir.file("v.png") + "'", true);
  REQUIRE(r.status == 0);
  const nlohmann::json j = nlohmann::json::parse(r.output);
  REQUIRE(j["results"].size() == 3);
  CHECK(j["results"][2]["channel"] == 2);
  CHECK(j["layer"] == "features.9");
  CHECK(std::filesystem::file_size(dir.file("v.png")) > 1000);
  const Run t = run_cli("visualize --target 1 --steps 10 --param pixel --json --out '" + dir.file("t.png") + "'", true);
  REQUIRE(t.status == 0);
  CHECK(nlohmann::json::parse(t.output)["objective"] == "logit");
  CHECK(run_cli("visualize --channel 1 --target 2").status == 2);
  CHECK(run_cli("visualize --channels 3-1").status == 2);
  CHECK(run_cli("visualize --param wavelet").status == 2);
  CHECK(run_cli("visualize --neuron 0,0,99 --steps 1 --out '" + dir.file("n.png") + "'").status == 2);
  CHECK(run_cli("visualize --channel 500 --steps 1 --out '" + dir.file("n.png") + "'").status == 1);
}

TEST_CASE("similarity: .npy stack inputs and --mean/--std") {
  if (!backlight::default_model_available()) return;
  const TempDir dir("similarity_npy");
  const backlight::ShapesBatch b =
      backlight::make_shapes_batch({}, backlight::kShapesCnnDataSeed, backlight::kShapesHeldOutBegin, 12);
  backlight::cli::save_npy(dir.file("x.npy"), b.images);
  const Run a = run_cli("similarity --inputs '" + dir.file("x.npy") + "' --layers features.6,features.9 --json --out '" +
                            dir.file("a.png") + "'",
                        true);
  const Run s = run_cli("similarity --count 12 --layers features.6,features.9 --json --out '" + dir.file("s.png") + "'",
                        true);
  REQUIRE(a.status == 0);
  REQUIRE(s.status == 0);
  const auto ma = nlohmann::json::parse(a.output)["matrix"], ms = nlohmann::json::parse(s.output)["matrix"];
  CHECK(ma[0]["values"][1].get<double>() == doctest::Approx(ms[0]["values"][1].get<double>()).epsilon(1e-6));
  const Run n = run_cli("similarity --count 12 --mean 0.5,0.5,0.5 --std 0.25,0.25,0.25 --layers features.6,features.9 "
                        "--json --out '" + dir.file("n.png") + "'",
                        true);
  REQUIRE(n.status == 0);
  CHECK(nlohmann::json::parse(n.output)["matrix"][0]["values"][1].get<double>() != ms[0]["values"][1].get<double>());
  CHECK(run_cli("similarity --inputs '" + dir.file("x.npy") + "' --mean 0,0,0").status == 2);
  CHECK(run_cli("similarity --std 1,0,1").status == 2);
}

TEST_CASE("similarity: folders mixing images and .npy files; --mean/--std reach images, never .npy values") {
  if (!backlight::default_model_available()) return;
  const TempDir dir("similarity_mixed");
  std::filesystem::create_directories(dir.file("npy"));
  std::filesystem::create_directories(dir.file("png"));
  std::filesystem::create_directories(dir.file("bad"));
  const backlight::ShapesBatch b =
      backlight::make_shapes_batch({}, backlight::kShapesCnnDataSeed, backlight::kShapesHeldOutBegin, 8);
  backlight::cli::save_npy(dir.file("npy/a.npy"), b.images.slice_batch(0, 5));                      // [5, 3, 64, 64]
  backlight::cli::save_npy(dir.file("npy/b.npy"), b.images.slice_batch(5, 6).reshape({3, 64, 64}));  // one example
  for (int64_t i = 0; i < 4; ++i)
    backlight::cli::write_image(dir.file("png/" + std::to_string(i) + ".png"),
                                b.images.slice_batch(i, i + 1).reshape({3, 64, 64}));
  const std::string layers = " --layers features.6,features.9 --batch 4 --json --out '" + dir.file("o.png") + "'";
  auto value = [&](const std::string& args) {
    const Run r = run_cli("similarity " + args + layers, true);
    REQUIRE(r.status == 0);
    const nlohmann::json j = nlohmann::json::parse(r.output);
    return std::make_pair(j["examples"].get<int64_t>(), j["matrix"][0]["values"][1].get<double>());
  };
  const std::string norm = " --mean 0.5,0.5,0.5 --std 0.25,0.25,0.25";
  const auto npy_plain = value("--inputs '" + dir.file("npy") + "'");
  const auto npy_norm = value("--inputs '" + dir.file("npy") + "'" + norm);
  CHECK(npy_plain.first == 6);
  CHECK(npy_norm.second == npy_plain.second);  // .npy values are used as stored
  const auto png_plain = value("--inputs '" + dir.file("png") + "'");
  const auto png_norm = value("--inputs '" + dir.file("png") + "'" + norm);
  CHECK(png_plain.first == 4);
  CHECK(png_norm.second != png_plain.second);
  backlight::cli::save_npy(dir.file("bad/x.npy"), backlight::Tensor::full(backlight::Shape{4, 1, 8, 8}, 0.5f));
  const Run bad = run_cli("similarity --inputs '" + dir.file("bad") + "'" + layers);
  CHECK(bad.status == 1);
  CHECK(contains(bad.output, "expected [3, H, W] or [N, 3, H, W]"));
}

}  // TEST_SUITE
