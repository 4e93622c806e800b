// `backlight counterfactual` end to end: tabular (the credit MLP of tests/data/counterfactual/)
// with names, immutables and ranges; images on the embedded model; --save shape; exit statuses.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/npy.h"
#include "tests/cli/run_cli.h"
#include "tests/cli/temp_dir.h"
#include "tests/helpers.h"

using namespace backlight;
using backlight::cli::load_npy;
using backlight::cli::save_npy;
using backlight::test::contains;
using backlight::test::Run;
using backlight::test::run_cli;
using backlight::test::TempDir;

namespace {
const std::string kDir = BACKLIGHT_TEST_DATA "/counterfactual/";
}

TEST_SUITE("cli") {

TEST_CASE("cli/counterfactual: tabular dice with names, immutables and ranges; --save [k, F]; table picture") {
  TempDir dir("cf_tab");
  const Tensor q = load_npy(kDir + "credit_queries.npy");
  Tensor x = Tensor::empty({4});
  for (int j = 0; j < 4; ++j) x.data()[j] = q.data()[j];
  save_npy(dir.file("x.npy"), x);
  {
    std::ofstream r(dir.file("ranges.txt"));
    r << "# feature low high\nsavings 0 0.95\nincome 0 1\n";
  }
  const Run r = run_cli("counterfactual --model '" + kDir + "credit_mlp.onnx' --input '" + dir.file("x.npy") +
                            "' --target 1 --k 3 --mad-data '" + kDir + "credit_data.npy' --feature-names '" + kDir +
                            "credit_names.txt' --immutable debt,3 --ranges '" + dir.file("ranges.txt") +
                            "' --lower-bound 0 --upper-bound 1 --max-iter 1000 --min-iter 200 --json --out '" +
                            dir.file("cf.png") + "' --save '" + dir.file("cf.npy") + "'",
                        true);
  REQUIRE_MESSAGE(r.status == 0, r.output);
  const auto j = nlohmann::json::parse(r.output);
  CHECK(j["method"] == "dice");
  CHECK(j["distance"] == "mad");
  CHECK(j["metrics"]["validity"].get<double>() == 1.0);
  for (const char* m : {"proximity", "sparsity", "diversity", "changed_features", "dpp_diversity"})
    CHECK(j["metrics"].contains(m));
  const Tensor saved = load_npy(dir.file("cf.npy"));
  REQUIRE(saved.shape() == Shape{3, 4});
  for (int64_t i = 0; i < 3; ++i) {
    CHECK(saved.data()[i * 4 + 2] == x.data()[2]);  // debt
    CHECK(saved.data()[i * 4 + 3] == x.data()[3]);  // tenure (by index)
    CHECK(saved.data()[i * 4 + 1] <= 0.95f);
    for (const auto& c : j["counterfactuals"][size_t(i)]["changes"]) {
      CHECK(c["name"] != "debt");
      CHECK(c["name"] != "tenure");
    }
  }
  const Tensor png = backlight::test::decode_png(dir.file("cf.png"));
  CHECK(png.size(2) > png.size(1));  // a table wider than tall
}

TEST_CASE("cli/counterfactual: images (wachter and dice) on the embedded model") {
  TempDir dir("cf_img");
  const Run w = run_cli("counterfactual --method wachter --target 1 --max-iter 80 --json --save '" + dir.file("w.npy") + "'",
                        true);
  REQUIRE_MESSAGE(w.status == 0, w.output);
  const auto jw = nlohmann::json::parse(w.output);
  CHECK(jw["counterfactuals"][0]["valid"] == true);
  CHECK(load_npy(dir.file("w.npy")).shape() == Shape{1, 3, 64, 64});
  const Run d = run_cli("counterfactual --target 2 --k 2 --max-iter 40 --min-iter 40 --learning-rate 0.01 --out '" +
                            dir.file("d.png") + "' --save '" + dir.file("d.npy") + "'",
                        true);
  REQUIRE_MESSAGE(d.status == 0, d.output);
  CHECK(contains(d.output, "validity"));
  const Tensor saved = load_npy(dir.file("d.npy"));
  CHECK(saved.shape() == Shape{2, 3, 64, 64});
  for (float v : saved.span()) CHECK_FALSE((v < 0 || v > 1));
  const Tensor png = backlight::test::decode_png(dir.file("d.png"));
  CHECK(png.size(2) > 4 * png.size(1) / 2);  // original + 2 x (counterfactual, difference)
}

TEST_CASE("cli/counterfactual: usage errors exit 2, runtime errors 1, help lists the flags") {
  CHECK(run_cli("counterfactual").status == 2);                               // --target missing
  CHECK(run_cli("counterfactual --target 1 --method gd").status == 2);
  CHECK(run_cli("counterfactual --target 1 --distance mad").status == 2);     // no --mad-data
  CHECK(run_cli("counterfactual --target 1 --method wachter --k 3").status == 2);
  CHECK(run_cli("counterfactual --target 1 --min-iter 10 --max-iter 5").status == 2);
  const Run cls = run_cli("counterfactual --target 9 --max-iter 2");
  CHECK(cls.status == 1);
  CHECK(contains(cls.output, "0..3"));
  const Run imm = run_cli("counterfactual --model '" + kDir + "credit_mlp.onnx' --input '" + kDir +
                          "credit_data.npy' --target 1");  // [300, 4]: not one input
  CHECK(imm.status != 0);
  const Run help = run_cli("counterfactual --help", true);
  CHECK(help.status == 0);
  for (const char* f : {"--target", "--k", "--diversity", "--proximity", "--distance", "--mad-data", "--feature-names",
                        "--immutable", "--ranges", "--save", "--json"})
    CHECK(contains(help.output, f));
}

}  // TEST_SUITE
