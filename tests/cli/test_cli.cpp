// The backlight executable end to end: exit statuses, messages and the files `explain` writes.
// BACKLIGHT_CLI is the path of the built binary (tests/CMakeLists.txt).
#include <doctest/doctest.h>

#include "attribution/registry.h"
#include "models/default_model.h"
#include "tests/helpers.h"

#include <nlohmann/json.hpp>
#include <string>

#include "tests/cli/run_cli.h"
#include "tests/cli/temp_dir.h"
#include "io/image_io.h"
#include "io/npy.h"

using namespace backlight;
using backlight::test::contains;
using backlight::test::decode_png;
using backlight::test::Run;
using backlight::test::run_cli;
using backlight::test::TempDir;

TEST_SUITE("cli") {

TEST_CASE("cli: info and --help exit 0") {
  const Run info = run_cli("info");
  CHECK_MESSAGE(info.status == 0, info.output);
  CHECK(contains(info.output, "backlight " BACKLIGHT_VERSION));
  CHECK(contains(info.output, "cuda backend:"));
  const Run json = run_cli("info --json", true);
  CHECK(json.status == 0);
  CHECK(nlohmann::json::parse(json.output).at("version") == BACKLIGHT_VERSION);
  const Run help = run_cli("--help");
  CHECK(help.status == 0);
  CHECK(contains(help.output, "explain"));
  const Run cmd_help = run_cli("explain --help");
  CHECK(cmd_help.status == 0);
  CHECK(contains(cmd_help.output, "--image FILE"));
}

TEST_CASE("cli: usage errors exit 2 and name the offending word") {
  const Run none = run_cli("");
  CHECK(none.status == 2);
  const Run cmd = run_cli("frobnicate");
  CHECK(cmd.status == 2);
  CHECK(contains(cmd.output, "unknown command 'frobnicate'"));
  CHECK(contains(cmd.output, "info, explain"));
  const Run flag = run_cli("explain --bogus-flag");
  CHECK(flag.status == 2);
  CHECK(contains(flag.output, "unknown flag '--bogus-flag'"));
  CHECK(contains(flag.output, "--image"));
  const Run global = run_cli("--bogus-flag");
  CHECK(global.status == 2);
  CHECK(contains(global.output, "unknown flag '--bogus-flag'"));
  const Run target = run_cli("explain --target many");
  CHECK(target.status == 2);
  CHECK(contains(target.output, "--target expects a class index or top1"));
  const Run method = run_cli("explain --method salency");
  CHECK(method.status == 2);
  CHECK(contains(method.output, "unknown method 'salency'"));
  CHECK(contains(method.output, "integrated_gradients"));
  // The class count is the model's: an out-of-range class is a runtime error naming it.
  const Run range = run_cli("explain --target 9 --method saliency");
  CHECK(range.status == 1);
  CHECK(contains(range.output, "class 9 out of range"));
}

TEST_CASE("cli: methods, rules and models list what the library has") {
  const Run m = run_cli("methods");
  CHECK(m.status == 0);
  for (const MethodInfo& info : methods()) CHECK_MESSAGE(contains(m.output, info.name), info.name);
  const Run r = run_cli("rules");
  CHECK(r.status == 0);
  CHECK(contains(r.output, "lrp_epsilon_gamma_box"));
  CHECK(contains(r.output, "--rule-param gamma=0.25"));
  const Run z = run_cli("models");
  CHECK(z.status == 0);
  CHECK(contains(z.output, "resnet18"));
  CHECK(contains(z.output, "shapes_cnn"));
}

TEST_CASE("cli: runtime errors exit 1 with 'backlight: error:' and the path") {
  const Run r = run_cli("explain --image /nonexistent.png");
  CHECK(r.status == 1);
  CHECK(contains(r.output, "backlight: error:"));
  CHECK(contains(r.output, "/nonexistent.png"));
}

TEST_CASE("cli: explain writes the labelled PNG grid and the gradient .npy") {
  TempDir dir("cli");
  const std::string png = dir.file("grid.png"), npy = dir.file("grad.npy");
  const Run r = run_cli("explain --out '" + png + "' --save '" + npy + "'");  // default: 4 methods
  REQUIRE_MESSAGE(r.status == 0, r.output);
  CHECK(contains(r.output, png));

  const std::string bytes = backlight::test::read_bytes(png);
  CHECK(bytes.substr(0, 8) == std::string("\x89PNG\r\n\x1a\n", 8));
  int w = 0, h = 0, comp = 0;
  REQUIRE(stbi_info(png.c_str(), &w, &h, &comp) == 1);
  CHECK(comp == 3);
  // Five 64x64 panels enlarged 3x (192 px) side by side, labels above, a colour bar after.
  CHECK(w > 5 * 192);
  CHECK(w < 5 * 192 + 200);
  CHECK(h > 192);
  CHECK(h < 192 + 100);
  // The heat maps use bwr: saturated red pixels exist (positive evidence), and label ink exists.
  const Tensor img = decode_png(png);
  int red = 0, ink = 0;
  const int64_t plane = img.size(1) * img.size(2);
  for (int64_t i = 0; i < plane; ++i) {
    const float r8 = img.data()[i], g8 = img.data()[plane + i], b8 = img.data()[2 * plane + i];
    red += r8 > 0.9f && g8 < 0.5f && b8 < 0.5f;
    ink += r8 < 0.2f && g8 < 0.2f && b8 < 0.2f;
  }
  CHECK(red > 50);
  CHECK(ink > 50);

  const Tensor g = cli::load_npy(npy);
  CHECK(g.shape() == Shape{1, 3, 64, 64});
  float total = 0;
  for (float v : g.span()) total += std::abs(v);
  CHECK(total > 0.0f);
}

TEST_CASE("cli: explain --image keeps the image size; --json reports the run") {
  TempDir dir("cli");
  const std::string img = dir.file("in.png"), png = dir.file("out.png"), npy = dir.file("g.npy");
  Tensor pixels = Tensor::empty({3, 30, 40});
  for (int64_t i = 0; i < pixels.numel(); ++i) pixels.data()[i] = static_cast<float>(i % 97) / 96.0f;
  cli::write_png(img, pixels);
  const Run r = run_cli("explain --image '" + img + "' --out '" + png + "' --save '" + npy +
                            "' --target 2 --method saliency,grad_cam --json", true);
  REQUIRE_MESSAGE(r.status == 0, r.output);
  const nlohmann::json j = nlohmann::json::parse(r.output);
  CHECK(j.at("target") == nlohmann::json::array({2}));
  CHECK(j.at("output").at(0).size() == 4);
  CHECK(j.at("top5").at(0).size() == 4);
  CHECK(j.at("input_shape") == nlohmann::json::array({1, 3, 30, 40}));
  CHECK(j.at("files").at("png") == png);
  CHECK(j.at("files").at("npy") == npy);
  int w = 0, h = 0, comp = 0;
  REQUIRE(stbi_info(png.c_str(), &w, &h, &comp) == 1);
  CHECK(w > 3 * 40 * 7);  // 30x40 panels enlarged 7x to reach 192 px
  CHECK(h > 30 * 7);
  CHECK(j.at("visual").at("method") == "heat_map");
  CHECK(j.at("visual").at("colormap") == "bwr");
  // --save holds exactly what the library call gives for the first method.
  const Tensor saved = cli::load_npy(npy);
  CHECK(saved.shape() == Shape{1, 3, 30, 40});
  const Tensor image = cli::load_image(img);
  const AttributionResult lib =
      attribute("saliency", *default_model(), image.reshape({1, 3, 30, 40}).clone(), Target::index(2));
  BL_CHECK_CLOSE(saved, lib.attribution, 0, 0);
}

}  // TEST_SUITE
