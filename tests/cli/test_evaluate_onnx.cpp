// `backlight evaluate --model FILE.onnx --input x.npy`: metrics on imported models (tabular rows
// and images; no localisation without masks), and its usage errors.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "io/npy.h"
#include "models/safetensors.h"
#include "tests/cli/run_cli.h"

using namespace backlight;
using backlight::test::contains;
using backlight::test::run_cli;
using backlight::test::TempDir;

namespace {
const std::string kDir = BACKLIGHT_TEST_DATA "/onnx/";
}

TEST_SUITE("cli") {
  TEST_CASE("evaluate: imported tabular and image models score on --input rows/images, targets top-1") {
    const TempDir dir("evaluate_onnx");
    const SafeTensorsFile refs = read_safetensors(kDir + "onnx_parity.safetensors");
    cli::save_npy(dir.file("rows.npy"), *refs.find("tabular_mlp.input"));   // [2, 12]
    cli::save_npy(dir.file("imgs.npy"), refs.find("small_cnn.input")->slice_batch(0, 1).clone());  // [1,3,32,32]
    struct Case {
      std::string model, input, methods;
      size_t rows;
    };
    for (const Case& c : {Case{"tabular_mlp.onnx", "rows.npy", "saliency,integrated_gradients,occlusion", 3},
                          Case{"small_cnn.onnx", "imgs.npy", "saliency,grad_cam", 2}}) {
      CAPTURE(c.model);
      const std::string out = dir.file("ev_" + c.input);
      const backlight::test::Run r = run_cli("evaluate --model '" + kDir + c.model + "' --input '" + dir.file(c.input) +
                                             "' --methods " + c.methods + " --out '" + out + "'");
      REQUIRE_MESSAGE(r.status == 0, r.output);
      CHECK(contains(r.output, "| saliency | - | - | "));  // no masks: no localisation
      const nlohmann::json j = nlohmann::json::parse(test::read_bytes(out + "/evaluation.json"));
      CHECK(j["methods"].size() == c.rows);
      CHECK(j["targets"] == "top1");
      for (const auto& m : j["methods"]) {
        CHECK(m["pointing_game"].is_null());
        CHECK(m["deletion_auc"].get<double>() >= 0.0);
        CHECK(m["deletion_auc"].get<double>() <= 1.0);
        CHECK(m["insertion_auc"].get<double>() >= 0.0);
        CHECK(m["infidelity"].get<double>() >= 0.0);
      }
    }
  }

  TEST_CASE("evaluate: imported-model usage errors name what was expected") {
    const TempDir dir("evaluate_onnx_errors");
    const SafeTensorsFile refs = read_safetensors(kDir + "onnx_parity.safetensors");
    cli::save_npy(dir.file("rows.npy"), *refs.find("tabular_mlp.input"));
    const std::string tab = "evaluate --model '" + kDir + "tabular_mlp.onnx' ";
    struct Case {
      std::string args, message;
    };
    for (const Case& c : {Case{tab, "needs --input FILE.npy (float32 images [N,C,H,W] or rows [N,F] to score on)"},
                          Case{tab + "--input '" + dir.file("rows.npy") + "' --methods grad_cam",
                               "--methods grad_cam does not apply to tabular rows"},
                          Case{"evaluate --model resnet18", "--model accepts shapes_cnn (the default, on generated "
                                                            "shapes images) or FILE.onnx, got 'resnet18'"},
                          Case{"evaluate --input '" + dir.file("rows.npy") + "'", "--input applies to --model FILE.onnx"}}) {
      CAPTURE(c.args);
      const backlight::test::Run r = run_cli(c.args);
      CHECK(r.status == 2);
      CHECK_MESSAGE(contains(r.output, c.message), r.output);
    }
  }
}
