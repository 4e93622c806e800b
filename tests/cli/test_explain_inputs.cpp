// `backlight explain --model FILE.onnx --input x.npy` on non-image inputs, end to end: token ids
// (per-token attributions equal Captum's LayerIntegratedGradients / LayerGradientXActivation on
// the embedding, summed per token; HTML and PNG outputs; perturbation with the baseline token)
// and tabular rows (Captum parity through --save, the bar chart), and the usage errors for
// inputs, methods and flags that do not fit (exit 2, naming what was wrong and what was expected).
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "engine/cuda/device.h"
#include "io/npy.h"
#include "models/safetensors.h"
#include "tests/cli/run_cli.h"
#include "tests/helpers.h"

using namespace backlight;
using backlight::test::contains;
using backlight::test::run_cli;
using backlight::test::TempDir;

namespace {

const std::string kDir = BACKLIGHT_TEST_DATA "/onnx/";
const std::string kText = "--model '" + kDir + "text_encoder.onnx' ";
const std::string kTabular = "--model '" + kDir + "tabular_relu_mlp.onnx' ";

const SafeTensorsFile& refs() {
  static const SafeTensorsFile f = read_safetensors(kDir + "onnx_inputs.safetensors");
  return f;
}

// Row `row` of a fixture [N, ...] as [1, ...].
Tensor fixture_row(const std::string& key, int64_t row) {
  const Tensor* t = refs().find(key);
  REQUIRE_MESSAGE(t, "onnx_inputs.safetensors has no tensor ", key);
  return t->slice_batch(row, row + 1).clone();
}

// A little-endian int64 .npy (what numpy.save writes for token ids).
void save_ids(const std::string& path, const Tensor& ids) {
  std::string shape = "(";
  for (int d = 0; d < ids.dim(); ++d) shape += (d ? ", " : "") + std::to_string(ids.size(d));
  std::string header = "{'descr': '<i8', 'fortran_order': False, 'shape': " + shape + (ids.dim() == 1 ? ",)" : ")") + ", }";
  while ((10 + header.size() + 1) % 64) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  out += header;
  for (float v : ids.span()) {
    const auto x = static_cast<int64_t>(v);
    out.append(reinterpret_cast<const char*>(&x), 8);
  }
  test::write_bytes(path, out);
}

double rel_err(const Tensor& got, const Tensor& want) {
  REQUIRE_MESSAGE(got.shape() == want.shape(), got.shape().str(), " vs ", want.shape().str());
  double worst = 0;
  for (int64_t i = 0; i < want.numel(); ++i)
    worst = std::max(worst, std::fabs(static_cast<double>(got.data()[i]) - want.data()[i]));
  return worst / test::max_abs(want);
}

// A vocabulary of 50 lines: "<pad>", "w1", ..., "w49".
std::string vocab(int lines = 50) {
  std::string v = "<pad>\n";
  for (int i = 1; i < lines; ++i) v += "w" + std::to_string(i) + "\n";
  return v;
}

}  // namespace

TEST_SUITE("cli") {
  TEST_CASE("explain inputs: token ids - per-token attributions at the embedding equal Captum's layer methods") {
    const TempDir dir("explain_tokens");
    save_ids(dir.file("ids.npy"), fixture_row("text.ids", 0));
    const std::string base = kText + "--input '" + dir.file("ids.npy") + "' --target 2 --steps " +
                             refs().metadata.at("ig_steps") + " --out '" + dir.file("t.png") + "' --save '" +
                             dir.file("a.npy") + "' ";
    struct Case {
      std::string flags, ref;
    };
    for (const Case& c : {Case{"--method integrated_gradients", "text.lig"},
                          Case{"--method integrated_gradients --baseline-token 7", "text.lig_b7"},
                          Case{"--method input_x_gradient", "text.lgxa"}, Case{"--method saliency", "text.lgrad_abs"},
                          Case{"--method layer_integrated_gradients --layer embedding", "text.lig"}}) {
      CAPTURE(c.flags);
      const backlight::test::Run r = run_cli("explain " + base + c.flags);
      REQUIRE_MESSAGE(r.status == 0, r.output);
      CHECK(rel_err(cli::load_npy(dir.file("a.npy")), fixture_row(c.ref, 0)) <= 1e-4);
    }
  }

  TEST_CASE("explain inputs: token ids - HTML page, PNG, JSON; perturbation replaces tokens with the baseline token") {
    const TempDir dir("explain_tokens_out");
    const Tensor ids = fixture_row("text.ids", 1);  // ends with 4 padding tokens (id 0)
    save_ids(dir.file("ids.npy"), ids);
    test::write_bytes(dir.file("vocab.txt"), vocab());
    const backlight::test::Run r =
        run_cli("explain " + kText + "--input '" + dir.file("ids.npy") + "' --tokens '" + dir.file("vocab.txt") +
                    "' --method occlusion,integrated_gradients,lrp --out '" + dir.file("t.png") + "' --save '" +
                    dir.file("occ.npy") + "' --json",
                /*stdout_only=*/true);
    REQUIRE_MESSAGE(r.status == 0, r.output);
    const nlohmann::json j = nlohmann::json::parse(r.output);
    CHECK(j["input_kind"] == "token ids");
    CHECK(j["layer"] == "embedding");
    CHECK(j["tokens"].size() == 16);
    CHECK(j["tokens"][15] == "<pad>");
    CHECK(j["tokens"][0] == "w" + std::to_string(static_cast<int>(ids.data()[0])));
    CHECK(j["attributions"]["integrated_gradients"].size() == 16);
    CHECK(j["computed_as"]["integrated_gradients"] == "layer_integrated_gradients at embedding");
    CHECK(j["files"]["html"] == dir.file("t.html"));
    // Occluding a padding token with the baseline token (0) changes nothing: exactly 0 there.
    const Tensor occ = cli::load_npy(dir.file("occ.npy"));
    REQUIRE(occ.shape() == Shape{1, 16});
    for (int64_t i = 12; i < 16; ++i) CHECK(occ.data()[i] == 0.0f);
    double mass = 0;
    for (int64_t i = 0; i < 12; ++i) mass += std::fabs(occ.data()[i]);
    CHECK(mass > 0);
    // The HTML page: every token, escaped, coloured spans, one row per method.
    const std::string html = test::read_bytes(dir.file("t.html"));
    CHECK(contains(html, "&lt;pad&gt;"));
    CHECK(contains(html, "> w" + std::to_string(static_cast<int>(ids.data()[3])) + " <"));
    CHECK(contains(html, "<b>integrated_gradients</b>"));
    CHECK(contains(html, "<b>occlusion</b>"));
    CHECK(contains(html, "hsl(0, 75%, 100%)"));  // the padding tokens' zero occlusion score
    // The picture: decodable, 3 rows of 16 boxes at least 800 pixels wide.
    const Tensor png = test::decode_png(dir.file("t.png"));
    CHECK(png.size(2) >= 800);
    CHECK(png.size(1) >= 150);
    CHECK(png.size(1) <= 600);
  }

  TEST_CASE("explain inputs: tabular rows - Captum parity through --save, bar chart with feature names") {
    const TempDir dir("explain_tabular");
    cli::save_npy(dir.file("x.npy"), fixture_row("tabular_relu_mlp.input", 0));
    std::string names;
    for (int i = 0; i < 8; ++i) names += "feature_" + std::to_string(i) + "\n";
    test::write_bytes(dir.file("names.txt"), names);
    for (const auto& [method, key] : std::vector<std::pair<std::string, std::string>>{
             {"saliency", "saliency"}, {"integrated_gradients", "ig"}, {"deeplift", "deeplift"}}) {
      CAPTURE(method);
      const backlight::test::Run r =
          run_cli("explain " + kTabular + "--input '" + dir.file("x.npy") + "' --target 1 --steps " +
                      refs().metadata.at("ig_steps") + " --method " + method + ",occlusion --feature-names '" +
                      dir.file("names.txt") + "' --out '" + dir.file("bars.png") + "' --save '" + dir.file("a.npy") +
                      "' --json",
                  /*stdout_only=*/true);
      REQUIRE_MESSAGE(r.status == 0, r.output);
      CHECK(rel_err(cli::load_npy(dir.file("a.npy")), fixture_row("tabular_relu_mlp." + key, 0)) <= 1e-4);
      const nlohmann::json j = nlohmann::json::parse(r.output);
      CHECK(j["input_kind"] == "tabular");
      CHECK(j["features"][7] == "feature_7");
      CHECK(j["attributions"][method].size() == 8);
      const Tensor png = test::decode_png(dir.file("bars.png"));
      CHECK(png.size(2) >= 800);
      CHECK(png.size(1) >= 2 * 8 * 22);  // two panels of 8 bars
      CHECK(png.size(1) <= 1000);
    }
  }

  TEST_CASE("explain inputs: inputs, methods and flags that do not fit are usage errors naming what was expected") {
    const TempDir dir("explain_inputs_errors");
    save_ids(dir.file("ids.npy"), fixture_row("text.ids", 0));
    cli::save_npy(dir.file("row.npy"), fixture_row("tabular_relu_mlp.input", 0));
    cli::save_npy(dir.file("float_ids.npy"), fixture_row("text.ids", 0));
    test::write_bytes(dir.file("short.txt"), vocab(10));
    test::write_bytes(dir.file("names.txt"), "a\nb\nc\n");
    const std::string out = " --out '" + dir.file("o.png") + "'";
    const std::string ids = "--input '" + dir.file("ids.npy") + "' ";
    const std::string row = "--input '" + dir.file("row.npy") + "' ";
    struct Case {
      std::string args, message;
    };
    for (const Case& c : {
             Case{kText + "--input '" + dir.file("float_ids.npy") + "'",
                  "holds float32 values [1,16], but model " + kDir + "text_encoder.onnx takes int64 token ids [N,16]; "
                  "expected an int64 or int32 .npy of token ids"},
             Case{kTabular + ids, "holds int64 values [1,16], but model " + kDir +
                                      "tabular_relu_mlp.onnx takes float32 input [N,8]; expected a float32 .npy"},
             Case{kText + ids + "--tokens '" + dir.file("short.txt") + "'",
                  "has 10 lines, but --input '" + dir.file("ids.npy") + "' (token ids [1,16]) holds id"},
             Case{kTabular + row + "--feature-names '" + dir.file("names.txt") + "'",
                  "has 3 names, but --input '" + dir.file("row.npy") + "' (tabular [1,8]) has 8 features; expected 8 "
                  "lines, one name per feature"},
             Case{kText + ids + "--method grad_cam",
                  "--method grad_cam does not apply to token ids (--input '" + dir.file("ids.npy") +
                      "' (token ids [1,16])): ids are not differentiable and have no spatial maps; accepted for token "
                      "ids: saliency"},
             Case{kText + ids + "--method guided_backprop", "--method guided_backprop does not apply to token ids"},
             Case{kTabular + row + "--method grad_cam",
                  "--method grad_cam does not apply to tabular rows (--input '" + dir.file("row.npy") +
                      "' (tabular [1,8])): it needs image feature maps [N,C,H,W]"},
             Case{kTabular + row + "--tokens '" + dir.file("short.txt") + "'",
                  "--tokens applies to token ids (--input FILE.npy of int64 ids), but the input is tabular"},
             Case{kText + ids + "--feature-names '" + dir.file("names.txt") + "'",
                  "--feature-names applies to tabular rows (--input FILE.npy of float32 [N,F]), but the input is token ids"},
             Case{kText + ids + "--baseline blur", "--baseline does not apply to token ids"},
             Case{kText + ids + "--noise-tunnel smoothgrad --method saliency", "--noise-tunnel does not apply to token ids"},
             Case{kText + ids + "--html '" + dir.file("page.txt") + "'", "--html expects a FILE.html"},
             Case{kText + "--image x.png --tokens '" + dir.file("short.txt") + "'",
                  "--tokens applies to --input FILE.npy"},
             Case{kText, "takes token ids; give them with --input FILE.npy"},
         }) {
      CAPTURE(c.args);
      const backlight::test::Run r = run_cli("explain " + c.args + out);
      CHECK(r.status == 2);
      CHECK_MESSAGE(contains(r.output, c.message), r.output);
    }
  }

  TEST_CASE("explain inputs: --device cuda with an imported model and no device is a clear runtime error") {
    if (cuda_device_count() > 0) {
      MESSAGE("skipped: a CUDA device exists");
      return;
    }
    const TempDir dir("explain_inputs_cuda");
    save_ids(dir.file("ids.npy"), fixture_row("text.ids", 0));
    const backlight::test::Run r = run_cli("explain " + kText + "--input '" + dir.file("ids.npy") + "' --device cuda --out '" +
                                           dir.file("o.png") + "'");
    CHECK(r.status == 1);
    CHECK_MESSAGE(contains(r.output, "explain: device 'cuda' requested, but"), r.output);
    CHECK_MESSAGE(contains(r.output, "use --device cpu"), r.output);
  }
}
