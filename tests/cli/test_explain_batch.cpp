// `backlight explain` batch mode: a folder (or several --image), one output per image, corrupt
// files reported and skipped, the same results as one run per image.
#include <doctest/doctest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "models/default_model.h"
#include "tests/cli/run_cli.h"
#include "tests/cli/temp_dir.h"
#include "tests/helpers.h"
#include "io/image_io.h"
#include "io/npy.h"

using namespace backlight;
using backlight::test::contains;
using backlight::test::decode_png;
using backlight::test::Run;
using backlight::test::run_cli;
using backlight::test::run_cli_split;
using backlight::test::SplitRun;
using backlight::test::TempDir;

namespace {

// a.png, b.png (64x64 shapes), c.png (48x48: its own group).
void write_inputs(const std::string& folder) {
  std::filesystem::create_directories(folder);
  cli::write_png(folder + "/a.png", default_images().at(0).sample.image);
  cli::write_png(folder + "/b.png", default_images().at(1).sample.image);
  Tensor small = Tensor::empty({3, 48, 48});
  const Tensor src = default_images().at(2).sample.image;  // a 48x48 crop of the triangle (a copy:
                                                          // the vector is a temporary)
  for (int64_t k = 0; k < 3; ++k)
    for (int64_t y = 0; y < 48; ++y)
      for (int64_t x = 0; x < 48; ++x) small.data()[(k * 48 + y) * 48 + x] = src.at({k, y + 8, x + 8});
  cli::write_png(folder + "/c.png", small);
}

}  // namespace

TEST_SUITE("cli") {

TEST_CASE("cli/explain batch: a folder with a corrupt image writes the others and exits 1") {
  if (!default_model_available()) return;
  TempDir dir("explain_batch");
  const std::string in = dir.file("in"), out = dir.file("out"), npy = dir.file("npy");
  write_inputs(in);
  backlight::test::write_bytes(in + "/bad.png", "not a png at all");
  backlight::test::write_bytes(in + "/notes.txt", "ignored: not an image extension");
  const SplitRun r = run_cli_split("explain --images '" + in + "' --out '" + out + "' --save '" + npy +
                                       "' --method saliency,grad_cam --json",
                                   dir.file("err.txt"));
  CHECK(r.status == 1);
  CHECK(contains(r.err, in + "/bad.png"));
  CHECK(contains(r.err, "cannot decode"));
  const nlohmann::json j = nlohmann::json::parse(r.out);
  CHECK(j.at("mode") == "batch");
  CHECK(j.at("images") == 4);
  CHECK(j.at("failed") == 1);
  REQUIRE(j.at("results").size() == 4);
  int ok = 0;
  for (const nlohmann::json& rec : j.at("results")) {
    if (rec.at("status") == "error") {
      CHECK(rec.at("input") == in + "/bad.png");
      CHECK(contains(rec.at("error").get<std::string>(), "cannot decode"));
      continue;
    }
    ++ok;
    const std::string png = rec.at("files").at("png");
    CHECK(decode_png(png).size(1) > 48);
    CHECK(rec.at("methods").size() == 2);
    CHECK(rec.at("output").at(0).size() == 4);
  }
  CHECK(ok == 3);
  for (const char* stem : {"a", "b", "c"}) {
    CAPTURE(stem);
    CHECK(std::filesystem::exists(out + "/" + stem + ".png"));
  }
  CHECK_FALSE(std::filesystem::exists(out + "/bad.png"));
  CHECK(cli::load_npy(npy + "/a.npy").shape() == Shape{1, 3, 64, 64});
  CHECK(cli::load_npy(npy + "/c.npy").shape() == Shape{1, 3, 48, 48});
}

TEST_CASE("cli/explain batch: grouped method calls give the per-image results") {
  if (!default_model_available()) return;
  TempDir dir("explain_group");
  const std::string in = dir.file("in");
  write_inputs(in);
  for (const char* method : {"integrated_gradients", "lrp", "occlusion"}) {
    const std::string m = method;
    CAPTURE(m);
    // Occlusion's values are differences of logits (|logit| ~ 30 here): a batch of 3 images takes
    // other GEMM tiles than one image, and float32 rounding of the logits (~4e-6 at that scale)
    // carries into the differences. Measured with OMP_NUM_THREADS=1: 3.8e-6 absolute.
    const double atol = m == "occlusion" ? 2e-5 : 1e-6;
    const Run batch = run_cli("explain --images '" + in + "' --chunk 3 --steps 8 --method " + m + " --out '" +
                              dir.file("out_" + m) + "' --save '" + dir.file("npy_" + m) + "'");
    REQUIRE_MESSAGE(batch.status == 0, batch.output);
    CHECK(contains(batch.output, "explained 3 of 3 images"));
    for (const std::string stem : {"a", "b", "c"}) {
      CAPTURE(stem);
      const std::string single = dir.file(m + "_" + stem + ".npy");
      const Run one = run_cli("explain --image '" + in + "/" + stem + ".png' --steps 8 --method " + m + " --out '" +
                              dir.file("one.png") + "' --save '" + single + "'");
      REQUIRE_MESSAGE(one.status == 0, one.output);
      BL_CHECK_CLOSE(cli::load_npy(dir.file("npy_" + m) + "/" + stem + ".npy"), cli::load_npy(single), atol, 1e-4);
    }
  }
}

TEST_CASE("cli/explain batch: several --image flags; usage and runtime errors") {
  if (!default_model_available()) return;
  TempDir dir("explain_batch_flags");
  const std::string in = dir.file("in");
  write_inputs(in);
  const Run two = run_cli("explain --image '" + in + "/a.png' --image '" + in + "/c.png' --method saliency --out '" +
                          dir.file("two") + "'");
  REQUIRE_MESSAGE(two.status == 0, two.output);
  CHECK(std::filesystem::exists(dir.file("two/a.png")));
  CHECK(std::filesystem::exists(dir.file("two/c.png")));
  const Run png_out = run_cli("explain --images '" + in + "' --out '" + dir.file("x.png") + "'");
  CHECK(png_out.status == 2);
  CHECK(contains(png_out.output, "--out names a folder"));
  const Run both = run_cli("explain --images '" + in + "' --image '" + in + "/a.png'");
  CHECK(both.status == 2);
  CHECK(contains(both.output, "--images"));
  const Run missing = run_cli("explain --images '" + dir.file("nowhere") + "' --out '" + dir.file("o") + "'");
  CHECK(missing.status == 1);
  CHECK(contains(missing.output, dir.file("nowhere")));
}

}  // TEST_SUITE
