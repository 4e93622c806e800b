// Bad inputs against the backlight binary (issue 14, the CLI half): each class of bad flag value,
// path, output failure and input/model mismatch must end in a precise message and the right exit
// status (2 usage, 1 runtime), never a crash, a wrapped value, a half-written file or a picture
// drawn from NaN.
#include <doctest/doctest.h>

#include <filesystem>
#include <limits>
#include <string>

#include <nlohmann/json.hpp>

#include "models/default_model.h"
#include "models/state_dict.h"
#include "models/zoo.h"
#include "tests/cli/run_cli.h"
#include "tests/cli/temp_dir.h"
#include "io/image_io.h"
#include "io/npy.h"

using namespace backlight;
using backlight::test::contains;
using backlight::test::read_bytes;
using backlight::test::Run;
using backlight::test::run_cli;
using backlight::test::run_cli_after;
using backlight::test::TempDir;

namespace {

std::string q(const std::string& path) { return "'" + path + "'"; }

// Files in a folder (0 when it does not exist).
size_t count_files(const std::string& dir) {
  std::error_code ec;
  size_t n = 0;
  for (auto it = std::filesystem::directory_iterator(dir, ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec))
    n += it->path().filename() != ".backlight-manifest";  // batch mode's resume bookkeeping, not an output
  return n;
}

void expect_usage(const std::string& args, const std::string& message) {
  CAPTURE(args);
  const Run r = run_cli(args);
  CHECK(r.status == 2);
  CHECK_MESSAGE(contains(r.output, message), r.output);
}

void expect_error(const Run& r, const std::string& message) {
  CHECK(r.status == 1);
  CHECK_MESSAGE(contains(r.output, message), r.output);
}

}  // namespace

TEST_SUITE("cli") {

TEST_CASE("reliability: --threads outside 1..4 x hardware threads is a usage error, batch mode too") {
  for (const char* t : {"65536", "40000", "0", "-1", "4294967297", "99999999999999999999"}) {
    expect_usage(std::string("explain --method saliency --threads ") + t, "explain: --threads expects an integer in [1, ");
    expect_usage(std::string("explain --images /nonexistent --threads ") + t, "explain: --threads expects an integer");
  }
  expect_usage("evaluate --threads 65536", "evaluate: --threads expects an integer in [1, ");
  TempDir dir("rel_threads");
  CHECK(run_cli("explain --method saliency --threads 1 --out " + q(dir.file("a.png"))).status == 0);
}

TEST_CASE("reliability: integers beyond their type or sign are usage errors naming the flag") {
  // --steps and --samples stop at the library's limits (attribution/core/limits.h), as usage errors.
  expect_usage("explain --steps 3000000000", "explain: --steps expects an integer in [1, 100000], got '3000000000'");
  expect_usage("explain --steps 1000000000", "explain: --steps expects an integer in [1, 100000]");
  expect_usage("explain --samples 2147483648", "explain: --samples expects an integer in [1, 1000000]");
  expect_usage("explain --samples 1000001", "explain: --samples expects an integer in [1, 1000000]");
  expect_usage("explain --target 99999999999999999999",
               "--target (a class index or top1) expects an integer in [0, 9223372036854775807], got "
               "'99999999999999999999'");
  expect_usage("explain --target -1", "--target (a class index or top1) expects an integer in [0, ");
  expect_usage("explain --seed -5", "explain: --seed expects an integer in [0, 9223372036854775807], got '-5'");
  expect_usage("explain --neuron 3,-4", "explain: --neuron");
  expect_usage("explain --chunk 4294967296", "explain: --chunk expects an integer in [1, 2147483647]");
  expect_usage("explain --max-pixels 0", "explain: --max-pixels expects an integer in [1, ");
}

TEST_CASE("reliability: lists with empty items or trailing garbage are refused") {
  expect_usage("explain --method saliency,,grad_cam", "explain: --method: empty item 2 in 'saliency,,grad_cam'");
  expect_usage("explain --method saliency,", "explain: --method: empty item 2");
  expect_usage("explain --size 64x", "empty item 2 in '64x'");
  expect_usage("explain --size 64x64x", "empty item 3 in '64x64x'");
  expect_usage("explain --size 64xa", "got '64xa'");
  expect_usage("explain --window 3x8x", "empty item 3");
  expect_usage("explain --mean 0.5,,0.5", "explain: --mean: empty item 2");
  expect_usage("evaluate --methods saliency,,lrp", "evaluate: --methods: empty item 2");
}

TEST_CASE("reliability: evaluate validates like explain, and checks --out before the work") {
  expect_usage("evaluate --methods no_such_method", "evaluate: --methods: unknown method 'no_such_method' (accepted: ");
  expect_usage("evaluate --seed -5", "evaluate: --seed expects an integer in [0, ");
  expect_usage("evaluate --images 99999999999", "evaluate: --images expects an integer in [1, ");
  TempDir dir("rel_eval");
  backlight::test::write_bytes(dir.file("file"), "x");
  const Run r = run_cli("evaluate --images 1 --methods saliency --out " + q(dir.file("file")));
  expect_error(r, "evaluate: --out: '" + dir.file("file") + "' exists and is not a folder");
  CHECK_FALSE(contains(r.output, "saliency done"));  // refused before any work
  CHECK(read_bytes(dir.file("file")) == "x");
}

TEST_CASE("reliability: outputs are all or nothing") {
  TempDir dir("rel_out");
  const std::string png = dir.file("o/grid.png");
  // The .npy cannot be written: the PNG must not stay behind either.
  expect_error(run_cli("explain --method saliency --out " + q(png) + " --save /dev/full"),
               "cannot write '/dev/full': No space left on device");
  CHECK(count_files(dir.file("o")) == 0);
  // --save into a path inside a file: refused before the work, nothing written.
  backlight::test::write_bytes(dir.file("plain"), "x");
  const Run inside = run_cli("explain --method saliency --out " + q(png) + " --save " + q(dir.file("plain/x.npy")));
  expect_error(inside, "explain: --save: cannot write '" + dir.file("plain/x.npy") + "': '" + dir.file("plain") +
                           "' is not a folder");
  CHECK_FALSE(contains(inside.output, "saliency done"));
  CHECK(count_files(dir.file("o")) == 0);
  // A write that fails halfway (a file-size limit, as a full disk): exit 1, the errno text, no
  // truncated file and no temporary left.
  const Run full = run_cli_after("ulimit -f 8;", "explain --method saliency --out " + q(png));
  expect_error(full, "cannot write '" + png + "': File too large");
  CHECK(count_files(dir.file("o")) == 0);
  // The picture straight onto the full device.
  expect_error(run_cli("explain --method saliency --out /dev/full"), "No space left on device");
  // Batch mode: an image whose files cannot be written counts as failed, not explained.
  const std::string in = dir.file("in");
  std::filesystem::create_directories(in);
  cli::write_png(in + "/a.png", default_images().at(0).sample.image);
  cli::write_png(in + "/b.png", default_images().at(1).sample.image);
  const Run batch =
      run_cli_after("ulimit -f 8;", "explain --method saliency --images " + q(in) + " --out " + q(dir.file("bo")));
  expect_error(batch, "File too large");
  CHECK(contains(batch.output, "explained 0 of 2 images"));
  CHECK(count_files(dir.file("bo")) == 0);
  // Batch --out onto a file: refused up front.
  expect_error(run_cli("explain --method saliency --images " + q(in) + " --out " + q(dir.file("plain"))),
               "explain: --out: '" + dir.file("plain") + "' exists and is not a folder");
}

TEST_CASE("reliability: --out picks the format by extension; others are usage errors") {
  TempDir dir("rel_fmt");
  CHECK(run_cli("explain --method saliency --out " + q(dir.file("a.jpg"))).status == 0);
  CHECK(read_bytes(dir.file("a.jpg")).substr(0, 3) == "\xFF\xD8\xFF");
  CHECK(run_cli("explain --method saliency --out " + q(dir.file("a.bmp"))).status == 0);
  CHECK(read_bytes(dir.file("a.bmp")).substr(0, 2) == "BM");
  CHECK(run_cli("explain --method saliency --out " + q(dir.file("a.png"))).status == 0);
  CHECK(read_bytes(dir.file("a.png")).substr(1, 3) == "PNG");
  expect_usage("explain --out " + q(dir.file("a.gif")), "accepted extensions: PNG (.png), JPEG (.jpg, .jpeg), BMP");
  expect_usage("explain --out " + q(dir.file("noext")), "unknown picture format");
  CHECK_FALSE(std::filesystem::exists(dir.file("a.gif")));
}

TEST_CASE("reliability: directories and broken links say what they are; batch counts them") {
  TempDir dir("rel_paths");
  const std::string d = dir.file("folder.png");
  std::filesystem::create_directories(d);
  expect_error(run_cli("explain --image " + q(d)), "explain: --image: cannot read '" + d + "': is a directory");
  expect_error(run_cli("explain --input " + q(d)), "explain: --input: cannot read '" + d + "': is a directory");
  expect_error(run_cli("explain --method integrated_gradients --baseline " + q(dir.file("folder.npy"))),
               "no such file");
  std::filesystem::create_directories(dir.file("folder.npy"));
  expect_error(run_cli("explain --method integrated_gradients --baseline " + q(dir.file("folder.npy"))),
               "is a directory");
  const std::string in = dir.file("in");
  std::filesystem::create_directories(in + "/sub.png");
  std::filesystem::create_symlink(in + "/missing.png", in + "/link.png");
  cli::write_png(in + "/a.png", default_images().at(0).sample.image);
  const Run r = run_cli("explain --method saliency --images " + q(in) + " --out " + q(dir.file("out")));
  CHECK(r.status == 1);
  CHECK(contains(r.output, "skipped '" + in + "/link.png': load_image: cannot read '" + in +
                               "/link.png': is a broken symbolic link"));
  CHECK(contains(r.output, "skipped '" + in + "/sub.png': load_image: cannot read '" + in + "/sub.png': is a directory"));
  CHECK(contains(r.output, "explained 1 of 3 images"));
}

TEST_CASE("reliability: the decoded-pixel cap refuses a huge claimed size before decoding") {
  TempDir dir("rel_pixels");
  // PNG signature + an IHDR claiming 16000 x 16000 RGB, then nothing decodable.
  std::string png = "\x89PNG\r\n\x1a\n";
  png += std::string("\0\0\0\x0dIHDR", 8) + std::string("\0\0\x3e\x80\0\0\x3e\x80\x08\x02\0\0\0", 13) + "crc!";
  backlight::test::write_bytes(dir.file("huge.png"), png);
  expect_error(run_cli("explain --image " + q(dir.file("huge.png"))),
               "'" + dir.file("huge.png") +
                   "' is 16000x16000 (256000000 pixels), more than the limit of 50000000 decoded pixels "
                   "(--max-pixels N raises it)");
  cli::write_png(dir.file("small.png"), default_images().at(0).sample.image);  // 64 x 64
  expect_error(run_cli("explain --max-pixels 4000 --image " + q(dir.file("small.png"))),
               "is 64x64 (4096 pixels), more than the limit of 4000");
  CHECK(run_cli("explain --method saliency --max-pixels 4096 --out " + q(dir.file("o.png")) + " --image " +
                q(dir.file("small.png")))
            .status == 0);
  expect_usage("explain --size 60000x60000", "--size 60000x60000 is 3600000000 pixels, more than --max-pixels");
  // The shorter side given: the size is checked before resizing allocates it.
  expect_error(run_cli("explain --size 60000 --image " + q(dir.file("small.png"))),
               "resized by --size to 60000x60000 is more than --max-pixels 50000000 pixels");
}

TEST_CASE("reliability: an input the model cannot take is named with its shape and the expected one") {
  TempDir dir("rel_shape");
  cli::write_png(dir.file("one.png"), Tensor::full({3, 1, 1}, 0.5f));
  const Run tiny = run_cli("explain --method saliency --image " + q(dir.file("one.png")));
  expect_error(tiny, "input '" + dir.file("one.png") + "' has shape [1,3,1,1], which model shapes_cnn cannot run; "
                     "expected [N,3,H,W] with H and W >= ");
  CHECK_FALSE(contains(tiny.output, "backlight: error: maxpool2d"));
  cli::save_npy(dir.file("c1.npy"), Tensor::zeros({1, 64, 64}));
  expect_error(run_cli("explain --method saliency --input " + q(dir.file("c1.npy"))),
               "has shape [1,1,64,64], which model shapes_cnn cannot run; expected 3 channel(s), [N,3,H,W]");
  cli::save_npy(dir.file("zero.npy"), Tensor::zeros({3, 0, 5}));
  expect_error(run_cli("explain --method saliency --input " + q(dir.file("zero.npy"))), "with no zero dimension, got ");
  // A 1-channel zoo model given an RGB picture.
  const ModulePtr lenet = make_model("lenet5");
  save_weights(*lenet, dir.file("lenet5.safetensors"), {{"arch", "lenet5"}, {"num_classes", "10"}});
  expect_error(run_cli("explain --method saliency --weights " + q(dir.file("lenet5.safetensors")) + " --image " +
                       q(dir.file("one.png"))),
               "which model lenet5 cannot run; expected 1 channel(s)");
}

TEST_CASE("reliability: NaN in --baseline or --input names the file and the index") {
  TempDir dir("rel_nan");
  Tensor b = Tensor::zeros({3, 64, 64});
  b.data()[2 * 64 * 64 + 5] = std::numeric_limits<float>::quiet_NaN();
  cli::save_npy(dir.file("base.npy"), b);
  expect_error(run_cli("explain --method integrated_gradients --baseline " + q(dir.file("base.npy"))),
               "explain: --baseline '" + dir.file("base.npy") + "' holds NaN at index [2,0,5]");
  cli::save_npy(dir.file("b32.npy"), Tensor::zeros({3, 32, 32}));
  expect_error(run_cli("explain --method integrated_gradients --baseline " + q(dir.file("b32.npy"))),
               "explain: --baseline '" + dir.file("b32.npy") + "' does not fit input 'builtin:circle' [1,3,64,64]");
  cli::save_npy(dir.file("in.npy"), b);
  expect_error(run_cli("explain --method saliency --input " + q(dir.file("in.npy"))),
               "explain: --input '" + dir.file("in.npy") + "' holds NaN at index [0,2,0,5]");
}

TEST_CASE("reliability: no heatmap from non-finite logits; batch counts the image as failed") {
  TempDir dir("rel_inf");
  // Finite but huge classifier weights: the logits overflow to Inf (a load-time weight check
  // for NaN/Inf does not catch this, the output check does).
  ModulePtr m = default_model();
  std::string last;
  for (const auto& [name, p] : m->named_parameters())
    if (p.dim() == 2) last = name;
  for (auto [name, p] : m->named_parameters())
    if (name == last)
      for (int64_t i = 0; i < p.numel(); ++i) p.data()[i] = 3e38f;
  save_weights(*m, dir.file("inf.safetensors"), {{"arch", "shapes_cnn"}, {"num_classes", "4"}});
  // A weights file's class count is checked like a flag value (it was std::stoll: "stoll").
  save_weights(*m, dir.file("bad_meta.safetensors"), {{"arch", "shapes_cnn"}, {"num_classes", "99999999999999999999"}});
  expect_error(run_cli("explain --method saliency --weights " + q(dir.file("bad_meta.safetensors"))),
               "metadata num_classes must be an integer in [1, 16777216], got '99999999999999999999'");
  const std::string png = dir.file("o.png");
  const Run r = run_cli("explain --method saliency --weights " + q(dir.file("inf.safetensors")) + " --out " + q(png));
  expect_error(r, "explain: the logits of 'builtin:circle' holds +Inf at index [0,");
  CHECK(contains(r.output, "no picture drawn"));
  CHECK_FALSE(std::filesystem::exists(png));
  const std::string in = dir.file("in");
  cli::write_png(in + "/a.png", default_images().at(0).sample.image);
  const Run batch = run_cli("explain --method saliency --weights " + q(dir.file("inf.safetensors")) + " --images " +
                            q(in) + " --out " + q(dir.file("bo")));
  expect_error(batch, "the logits of '" + in + "/a.png' holds");
  CHECK(contains(batch.output, "explained 0 of 1 images"));
  CHECK(count_files(dir.file("bo")) == 0);
}

TEST_CASE("reliability: the summary names the architecture run and the default layer") {
  TempDir dir("rel_report");
  const ModulePtr lenet = make_model("lenet5");
  save_weights(*lenet, dir.file("lenet5.safetensors"), {{"arch", "lenet5"}, {"num_classes", "10"}});
  cli::save_npy(dir.file("x.npy"), Tensor::full({1, 28, 28}, 0.5f));
  const std::string base = "explain --weights " + q(dir.file("lenet5.safetensors")) + " --input " + q(dir.file("x.npy")) +
                           " --out " + q(dir.file("o.png"));
  const Run text = run_cli(base + " --method saliency", true);
  CHECK_MESSAGE(text.status == 0, text.output);
  CHECK(contains(text.output, "model:      lenet5 (weights: " + dir.file("lenet5.safetensors") + ")"));
  CHECK_FALSE(contains(text.output, "shapes_cnn"));
  const Run json = run_cli(base + " --method saliency --json", true);
  REQUIRE(json.status == 0);
  const nlohmann::json j = nlohmann::json::parse(json.output);
  CHECK(j.at("model") == "lenet5");
  CHECK(j.at("weights") == dir.file("lenet5.safetensors"));
  // Grad-CAM without --layer: the layer it used is in the summary and the JSON.
  const Run cam = run_cli("explain --method grad_cam --out " + q(dir.file("c.png")), true);
  CHECK(cam.status == 0);
  CHECK(contains(cam.output, "layer:      features.10 (default: the feature maps entering the final pooling)"));
  const Run cam_json = run_cli("explain --method grad_cam --json --out " + q(dir.file("c.png")), true);
  REQUIRE(cam_json.status == 0);
  const nlohmann::json cj = nlohmann::json::parse(cam_json.output);
  CHECK(cj.at("layer") == "features.10");
  CHECK(cj.at("layer_default") == true);
  CHECK(cj.at("model") == "shapes_cnn");
}

}  // TEST_SUITE
