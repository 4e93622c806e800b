// `backlight train` end to end on a tiny run: exit statuses, the weights file (loadable into
// shapes_cnn, with its metadata) and the default images it writes.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "models/default_model.h"
#include "models/state_dict.h"
#include "tests/cli/run_cli.h"
#include "tests/cli/temp_dir.h"
#include "io/image_io.h"

using namespace backlight;
using backlight::test::TempDir;

using backlight::test::contains;
using backlight::test::Run;
using backlight::test::run_cli;

TEST_SUITE("cli") {

TEST_CASE("cli/train: a tiny run writes loadable weights, metadata and the default images") {
  TempDir dir("train");
  const std::string out = dir.file("w.safetensors");
  const Run r = run_cli("train --epochs 1 --samples 64 --batch 32 --held-out 16 --seed 3 --threads 1 --out '" + out +
                        "' --images '" + dir.file("images") + "'");
  REQUIRE_MESSAGE(r.status == 0, r.output);
  CHECK(contains(r.output, "epoch 1/1: loss "));
  CHECK(contains(r.output, "held-out accuracy "));

  std::mt19937_64 rng(0);
  const ModulePtr model = make_shapes_cnn(rng);
  const SafeTensorsFile file = read_safetensors(out);
  load_weights(*model, file, LoadOptions{.arch = "shapes_cnn"});
  CHECK(file.metadata.at("data_seed") == "3");
  CHECK(file.metadata.at("train_indices") == "[0, 64)");
  CHECK(contains(file.metadata.at("command"), "--epochs 1 --seed 3 --samples 64"));
  CHECK(file.metadata.at("schedule") == "constant");
  CHECK(file.metadata.at("warmup") == "0");
  for (const DefaultImage& im : default_images())
    CHECK(cli::load_image(dir.file("images/" + im.name + ".png")).shape() == Shape{3, 64, 64});
}

TEST_CASE("cli/train: bad flags exit 2 naming the flag") {
  const Run model = run_cli("train --model resnet18 --out x.safetensors");
  CHECK(model.status == 2);
  CHECK(contains(model.output, "--model accepts shapes_cnn, got 'resnet18'"));
  const Run no_out = run_cli("train --epochs 1");
  CHECK(no_out.status == 2);
  CHECK(contains(no_out.output, "--out FILE.safetensors is required"));
  const Run zero = run_cli("train --batch 0 --out x.safetensors");
  CHECK(zero.status == 2);
  CHECK(contains(zero.output, "train: --batch expects an integer in [1, 2147483647], got '0'"));
  const Run threads = run_cli("train --threads 65536 --out x.safetensors");
  CHECK(threads.status == 2);
  CHECK(contains(threads.output, "train: --threads expects an integer in [1, "));
  const Run seed = run_cli("train --seed -5 --out x.safetensors");
  CHECK(seed.status == 2);
  CHECK(contains(seed.output, "train: --seed expects an integer in [0, 9223372036854775807], got '-5'"));
  const Run huge = run_cli("train --samples 2000000 --out x.safetensors");
  CHECK(huge.status == 2);
  CHECK(contains(huge.output, "below the held-out range"));
  const Run schedule = run_cli("train --schedule step --out x.safetensors");
  CHECK(schedule.status == 2);
  CHECK(contains(schedule.output, "train: --schedule accepts constant or cosine, got 'step'"));
  const Run momentum = run_cli("train --momentum 0.9 --out x.safetensors");
  CHECK(momentum.status == 2);
  CHECK(contains(momentum.output, "train: --momentum applies to --optimizer sgd"));
  const Run warmup = run_cli("train --warmup -3 --out x.safetensors");
  CHECK(warmup.status == 2);
  CHECK(contains(warmup.output, "train: --warmup expects an integer in [0, "));
}

}  // TEST_SUITE
