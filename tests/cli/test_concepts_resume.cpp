// Resume and bad items for the summary commands `dissect`, `similarity` and `tcav`
// (tools/commands/resume_units.h): a rerun loads the units an earlier run kept (a damaged or
// missing unit is computed again, only that one) and gives the uninterrupted run's JSON; an
// unreadable image is reported, left out (exit 1), and the result is the run without it (to float
// rounding: the batch that held it has one input fewer).
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "io/image_io.h"
#include "models/data/shapes.h"
#include "models/default_model.h"
#include "tests/cli/run_cli.h"
#include "tests/cli/shapes_images.h"
#include "tests/cli/temp_dir.h"
#include "tests/cli/unit_files.h"

using namespace backlight;
using backlight::test::contains;
using backlight::test::json_without;
using backlight::test::read_bytes;
using backlight::test::run_cli_split;
using backlight::test::SplitRun;
using backlight::test::TempDir;
using backlight::test::unit_file;
using backlight::test::write_shapes_images;
using backlight::test::write_bytes;

namespace fs = std::filesystem;

namespace {

// The JSON without what differs between runs of one job (time, resumed count, picture path).
nlohmann::json stable(const std::string& out) {
  return json_without(out, {"seconds", "resumed", "png", "data", "inputs"});
}

// Truncates a file to half its size (a unit a kill interrupted mid-write).
void truncate_half(const std::string& path) {
  const std::string bytes = read_bytes(path);
  write_bytes(path, bytes.substr(0, bytes.size() / 2));
}

// `count` shapes images img0.png .. in `folder` (32 x 40, resized by the commands).
void write_small_images(const std::string& folder, int64_t count, uint64_t seed) {
  write_shapes_images(folder, "img", count, seed, {.height = 32, .width = 40});
}

}  // namespace

TEST_SUITE("cli") {

TEST_CASE("cli/dissect resume: a damaged or missing unit is computed again, only it; the JSON is unchanged") {
  if (!default_model_available()) return;
  TempDir dir("dissect_resume");
  // 3 batches: units acts-0..2 (activations) and iou-0..2 (counts).
  const std::string args = "dissect --threads 1 --count 10 --batch 4 --json --out '" + dir.file("d.png") + "'";
  const std::string cache = dir.file("d.png.backlight-cache");
  const SplitRun first = run_cli_split(args, dir.file("e1.txt"));
  REQUIRE_MESSAGE(first.status == 0, first.err);
  CHECK(nlohmann::json::parse(first.out).at("resumed") == 0);
  const nlohmann::json expected = stable(first.out);

  truncate_half(unit_file(cache, "acts-1"));
  fs::remove(unit_file(cache, "iou-2"));
  const SplitRun second = run_cli_split(args, dir.file("e2.txt"));
  REQUIRE_MESSAGE(second.status == 0, second.err);
  CHECK(nlohmann::json::parse(second.out).at("resumed") == 4);  // of 6: acts-1 and iou-2 computed again
  CHECK_MESSAGE(contains(second.err, "resuming: 4 of 6 units from " + cache), second.err);
  CHECK(stable(second.out) == expected);  // thresholds, IoU, top images: bit for bit

  // Everything kept now; --exact reads the kept activations for its extra pass.
  const SplitRun third = run_cli_split(args, dir.file("e3.txt"));
  REQUIRE(third.status == 0);
  CHECK(nlohmann::json::parse(third.out).at("resumed") == 6);
  CHECK(stable(third.out) == expected);
  // --fresh ignores the kept units; another --batch is another job.
  const SplitRun fresh = run_cli_split(args + " --fresh", dir.file("e4.txt"));
  REQUIRE(fresh.status == 0);
  CHECK(nlohmann::json::parse(fresh.out).at("resumed") == 0);
  CHECK(stable(fresh.out) == expected);
  const SplitRun other = run_cli_split("dissect --threads 1 --count 10 --batch 5 --json --out '" + dir.file("d.png") + "'",
                                       dir.file("e5.txt"));
  REQUIRE(other.status == 0);
  CHECK(nlohmann::json::parse(other.out).at("resumed") == 0);
  // --cache DIR elsewhere: the same job, kept there.
  const SplitRun elsewhere = run_cli_split(args + " --cache '" + dir.file("c") + "'", dir.file("e6.txt"));
  REQUIRE(elsewhere.status == 0);
  CHECK(nlohmann::json::parse(elsewhere.out).at("resumed") == 0);
  CHECK(fs::is_directory(dir.file("c")));
  CHECK(stable(elsewhere.out) == expected);
}

TEST_CASE("cli/dissect: an unreadable image is reported and left out; the result is the dataset's without it") {
  if (!default_model_available()) return;
  TempDir dir("dissect_bad");
  // Two datasets over the same files: "with" lists a broken image (third of six), "without" does not.
  const std::string files = dir.file("files");
  write_small_images(files, 6, 11);
  std::string with = "image,mask,concept,category\n", without = with;
  for (int i = 0; i < 6; ++i) {
    const std::string img = "img" + std::to_string(i) + ".png";
    // Mask: the bright pixels of the image's red channel.
    Tensor im = cli::load_image(files + "/" + img, 1 << 20);
    Tensor mask = Tensor::zeros(Shape{3, im.size(1), im.size(2)});
    for (int64_t p = 0; p < im.size(1) * im.size(2); ++p)
      for (int64_t c = 0; c < 3; ++c) mask.data()[c * im.size(1) * im.size(2) + p] = im.data()[p] > 0.5f ? 1.0f : 0.0f;
    cli::write_image(files + "/mask" + std::to_string(i) + ".png", mask);
    const std::string row = "../files/" + img + ",../files/mask" + std::to_string(i) + ".png,bright,colour\n";
    with += row, without += row;
    if (i == 1) with += "../files/broken.png,../files/mask0.png,bright,colour\n";
  }
  write_bytes(files + "/broken.png", "not a png");
  fs::create_directories(dir.file("with"));
  fs::create_directories(dir.file("without"));
  write_bytes(dir.file("with/index.csv"), with);
  write_bytes(dir.file("without/index.csv"), without);
  const std::string common = "dissect --threads 1 --batch 4 --top-images 2 --json --fresh --out ";
  const SplitRun bad = run_cli_split(common + "'" + dir.file("a.png") + "' --data '" + dir.file("with") + "'", dir.file("e1.txt"));
  CHECK(bad.status == 1);
  CHECK_MESSAGE(contains(bad.err, "dissect: skipped '../files/broken.png'"), bad.err);
  const SplitRun good = run_cli_split(common + "'" + dir.file("b.png") + "' --data '" + dir.file("without") + "'", dir.file("e2.txt"));
  REQUIRE_MESSAGE(good.status == 0, good.err);
  const nlohmann::json jb = stable(bad.out), jg = stable(good.out);
  REQUIRE(jb.at("skipped").size() == 1);
  CHECK(jb["skipped"][0].at("image") == "../files/broken.png");
  CHECK(jb.at("images") == 6);
  // As if the image were not listed: the same units, concepts and top images by name; values to
  // float rounding (the batch that held it has one image fewer, and a batched forward's last bits
  // depend on its batch).
  REQUIRE(jb.at("units").size() == jg.at("units").size());
  CHECK(jb.at("detectors") == jg.at("detectors"));
  for (size_t k = 0; k < jg["units"].size(); ++k) {
    const nlohmann::json &a = jb["units"][k], &b = jg["units"][k];
    CHECK(a.at("concept") == b.at("concept"));
    CHECK(a.at("threshold").get<double>() == doctest::Approx(b.at("threshold").get<double>()).epsilon(1e-5));
    CHECK(a.at("iou").get<double>() == doctest::Approx(b.at("iou").get<double>()).epsilon(1e-5));
    REQUIRE(a.at("top_images").size() == b.at("top_images").size());
    for (size_t t = 0; t < b["top_images"].size(); ++t) CHECK(a["top_images"][t].at("image") == b["top_images"][t].at("image"));
  }
  CHECK(fs::exists(dir.file("a.png")));
  // The batch with the broken image was not kept: a rerun reads it again (and reports it again).
  const SplitRun again = run_cli_split(common.substr(0, common.find(" --fresh")) + " --out '" + dir.file("a.png") + "' --data '" +
                                           dir.file("with") + "'",
                                       dir.file("e3.txt"));
  CHECK(again.status == 1);
  CHECK(contains(again.err, "skipped '../files/broken.png'"));
}

TEST_CASE("cli/similarity resume: feature and example space, one unit computed again, the matrix bit for bit") {
  if (!default_model_available()) return;
  TempDir dir("similarity_resume");
  // Feature space (90 inputs, layers narrower) and example space.
  int round = 0;
  for (const std::string layers : {"avgpool,classifier.0 --count 90 --measure svcca", "features.10,classifier.0 --count 9"}) {
    CAPTURE(layers);
    const std::string png = dir.file("s" + std::to_string(++round) + ".png");
    const std::string args = "similarity --threads 1 --batch 8 --json --layers " + layers + " --out '" + png + "'";
    const std::string cache = png + ".backlight-cache";
    const SplitRun first = run_cli_split(args + " --fresh", dir.file("e1.txt"));
    REQUIRE_MESSAGE(first.status == 0, first.err);
    const nlohmann::json expected = stable(first.out);
    truncate_half(unit_file(cache, "rows-1"));
    const SplitRun second = run_cli_split(args, dir.file("e2.txt"));
    REQUIRE_MESSAGE(second.status == 0, second.err);
    const int64_t batches = (expected.at("examples").get<int64_t>() + 7) / 8;
    CHECK(nlohmann::json::parse(second.out).at("resumed") == batches - 1);
    CHECK(contains(second.err, "resuming: " + std::to_string(batches - 1) + " of " + std::to_string(batches) + " units"));
    CHECK(stable(second.out) == expected);
  }
  // The measure changes no unit: cka over the kept rows of the last job.
  const SplitRun cka = run_cli_split("similarity --threads 1 --batch 8 --json --layers features.10,classifier.0 --count 9 "
                                     "--measure cka_rbf --out '" + dir.file("s2.png") + "'",
                                     dir.file("e3.txt"));
  REQUIRE(cka.status == 0);
  CHECK(nlohmann::json::parse(cka.out).at("resumed") == 2);
}

TEST_CASE("cli/similarity: an unreadable input is reported and left out; the result is the folder's without it") {
  if (!default_model_available()) return;
  TempDir dir("similarity_bad");
  write_small_images(dir.file("good"), 7, 5);
  fs::copy(dir.file("good"), dir.file("with"));
  write_bytes(dir.file("with/img3b.png"), "not a png");  // sorted between img3 and img4
  {
    const std::string common = "similarity --threads 1 --batch 3 --json --fresh --layers features.10,classifier.0 --out ";
    const SplitRun bad = run_cli_split(common + "'" + dir.file("a.png") + "' --inputs '" + dir.file("with") + "'", dir.file("e1.txt"));
    CHECK(bad.status == 1);
    CHECK_MESSAGE(contains(bad.err, "similarity: skipped '" + dir.file("with") + "/img3b.png'"), bad.err);
    const SplitRun good = run_cli_split(common + "'" + dir.file("b.png") + "' --inputs '" + dir.file("good") + "'", dir.file("e2.txt"));
    REQUIRE_MESSAGE(good.status == 0, good.err);
    const nlohmann::json jb = nlohmann::json::parse(bad.out), jg = nlohmann::json::parse(good.out);
    CHECK(jb.at("skipped").size() == 1);
    CHECK(jb.at("examples") == 7);
    REQUIRE(jb.at("matrix").size() == jg.at("matrix").size());
    for (size_t r = 0; r < jg["matrix"].size(); ++r)
      for (size_t c = 0; c < jg["matrix"][r]["values"].size(); ++c)
        CHECK(std::fabs(jb["matrix"][r]["values"][c].get<double>() - jg["matrix"][r]["values"][c].get<double>()) <= 1e-6);
  }
}

TEST_CASE("cli/tcav resume: activations, CAVs and input batches kept; one lost CAV is trained again") {
  if (!default_model_available()) return;
  TempDir dir("tcav_resume");
  // 1 concept + 2 random sets of 8 in batches of 4 (6 activation units), 3 layers x 2 x 2 CAVs
  // (12), 8 inputs (2): 20 units.
  const std::string args = "tcav --threads 1 --demo-concepts circle --random-sets 2 --set-size 8 --count 8 --batch 4 "
                           "--json --out '" + dir.file("t.png") + "'";
  const std::string cache = dir.file("t.png.backlight-cache");
  const SplitRun first = run_cli_split(args, dir.file("e1.txt"));
  REQUIRE_MESSAGE(first.status == 0, first.err);
  CHECK(nlohmann::json::parse(first.out).at("resumed") == 0);
  const nlohmann::json expected = stable(first.out);
  fs::remove(unit_file(cache, "cav-5"));
  truncate_half(unit_file(cache, "act-2"));
  const SplitRun second = run_cli_split(args, dir.file("e2.txt"));
  REQUIRE_MESSAGE(second.status == 0, second.err);
  CHECK(nlohmann::json::parse(second.out).at("resumed") == 18);
  CHECK(contains(second.err, "resuming: 18 of 20 units"));
  CHECK(stable(second.out) == expected);  // scores, CAV accuracies, p-values: bit for bit
}

}  // TEST_SUITE
