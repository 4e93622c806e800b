// `backlight explain` pictures: every --visual x --sign, every --colormap, the colour bar switch,
// and usage errors naming the flag and the accepted values.
#include <doctest/doctest.h>

#include <string>

#include "models/default_model.h"
#include "tests/cli/run_cli.h"
#include "tests/cli/temp_dir.h"

using namespace backlight;
using backlight::test::contains;
using backlight::test::decode_png;
using backlight::test::Run;
using backlight::test::run_cli;
using backlight::test::TempDir;

TEST_SUITE("cli") {

TEST_CASE("cli/explain: every --visual and --sign writes a valid PNG (masks refuse sign all)") {
  if (!default_model_available()) return;
  TempDir dir("explain_visual");
  for (const char* visual : {"heat_map", "blended_heat_map", "masked_image", "alpha_scaling"})
    for (const char* sign : {"all", "positive", "negative", "absolute_value"}) {
      const std::string v = visual, s = sign;
      CAPTURE(v);
      CAPTURE(s);
      const std::string png = dir.file(v + "_" + s + ".png");
      const Run r = run_cli("explain --method saliency,grad_cam --visual " + v + " --sign " + s +
                            " --out '" + png + "'");
      if ((v == "masked_image" || v == "alpha_scaling") && s == "all") {
        CHECK(r.status == 2);
        CHECK(contains(r.output, "--sign positive, negative or absolute_value"));
        continue;
      }
      REQUIRE_MESSAGE(r.status == 0, r.output);
      const Tensor img = decode_png(png);
      CHECK(img.size(1) > 192);
      CHECK(img.size(2) > 3 * 192);
    }
}

TEST_CASE("cli/explain: every --colormap writes a valid PNG; inferno maps are mostly dark, bwr mostly light") {
  if (!default_model_available()) return;
  TempDir dir("explain_cmap");
  auto dark_share = [](const Tensor& img) {
    const int64_t plane = img.size(1) * img.size(2);
    int64_t dark = 0;
    for (int64_t i = 0; i < plane; ++i)
      dark += img.data()[i] < 0.1f && img.data()[plane + i] < 0.1f && img.data()[2 * plane + i] < 0.15f;
    return static_cast<double>(dark) / static_cast<double>(plane);
  };
  double inferno = 0, bwr = 0;
  for (const char* cmap : {"auto", "bwr", "seismic", "inferno", "viridis"}) {
    const std::string c = cmap;
    CAPTURE(c);
    const std::string png = dir.file(c + ".png");
    const Run r =
        run_cli("explain --method saliency,grad_cam --sign positive --colormap " + c + " --out '" + png + "'");
    REQUIRE_MESSAGE(r.status == 0, r.output);
    const Tensor img = decode_png(png);
    if (c == "auto") inferno = dark_share(img);  // positive + auto = inferno: black where nothing is
    if (c == "bwr") bwr = dark_share(img);
  }
  CHECK(inferno > 0.2);
  CHECK(bwr < 0.05);
  const Run plain = run_cli("explain --method saliency --colorbar=false --out '" + dir.file("nobar.png") + "'");
  REQUIRE(plain.status == 0);
  const Run bar = run_cli("explain --method saliency --out '" + dir.file("bar.png") + "'");
  REQUIRE(bar.status == 0);
  CHECK(decode_png(dir.file("nobar.png")).size(2) < decode_png(dir.file("bar.png")).size(2));
}

TEST_CASE("cli/explain: bad flag values exit 2 naming the flag and what it accepts") {
  struct Case {
    const char* args;
    const char* message;
  };
  const Case cases[] = {
      {"--visual overlay", "--visual: unknown visual method 'overlay' (accepted: heat_map, blended_heat_map"},
      {"--sign both", "--sign: unknown sign 'both' (accepted: all, positive, negative, absolute_value)"},
      {"--colormap jet", "--colormap: unknown colormap 'jet' (accepted: auto, bwr, seismic, inferno, viridis)"},
      {"--outlier-percent 100", "--outlier-percent expects a number in [0,100)"},
      {"--outlier-percent lots", "--outlier-percent expects a number"},
      {"--size 0", "--size (N for the shorter side or HxW, e.g. 224 or 224x224) expects integers in [1, 65536]"},
      {"--size 3x4x5", "--size expects N (shorter side) or HxW"},
      {"--neuron x", "--neuron (indices like 5 or 3,4,4: flat or one per dimension) expects integers in [0, "},
      {"--chunk 0", "--chunk expects an integer in [1, 2147483647], got '0'"},
      {"--steps 0", "--steps expects an integer in [1, 100000], got '0'"},
      {"--samples -1", "--samples expects an integer in [1, 1000000], got '-1'"},
      {"--stdev -0.5", "--stdev expects a non-negative number"},
      {"--threads 0", "--threads expects an integer in [1, "},
      {"--rules no_such_rules", "--rules:"},
      {"--baseline sideways", "--baseline:"},
      {"--window 3x0x4", "--window (sizes like 3x16x16) expects integers in [1, 2147483647] separated by 'x', got '3x0x4'"},
      {"--mean 0.5", "--mean and --std need one value per RGB channel"},
      {"--std 1,0,1", "--std values must be non-zero"},
      {"--image a.png --input b.npy", "give --input FILE.npy or --image/--images, not both"},
      {"--input b.npy --size 8", "--size applies to --image/--images"},
      {"--method feature_permutation", "run it in batch mode"},
      {"--device tpu", "--device expects cpu or cuda"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.args);
    const Run r = run_cli(std::string("explain ") + c.args);
    CHECK(r.status == 2);
    CHECK_MESSAGE(contains(r.output, c.message), r.output);
  }
}

}  // TEST_SUITE
