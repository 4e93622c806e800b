// `backlight explain --method xrai` end to end: region maps saved as .npy, --base-method,
// --visual top_regions, batch mode, and usage errors.
#include <doctest/doctest.h>

#include <filesystem>
#include <set>
#include <string>

#include "io/image_io.h"
#include "io/npy.h"
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

TEST_CASE("cli/explain: --method xrai saves a region map; --base-method changes it; top_regions PNG") {
  if (!default_model_available()) return;
  TempDir dir("explain_xrai");
  const std::string in = dir.file("a.png");
  cli::write_png(in, default_images().at(0).sample.image);
  const Run r = run_cli("explain --image '" + in + "' --method xrai --steps 8 --visual top_regions --top-percent 10" +
                        " --out '" + dir.file("x.png") + "' --save '" + dir.file("x.npy") + "'");
  REQUIRE_MESSAGE(r.status == 0, r.output);
  const Tensor map = cli::load_npy(dir.file("x.npy"));
  REQUIRE(map.dim() == 4);
  CHECK(map.size(0) == 1);
  CHECK(map.size(1) == 1);
  const int64_t pixels = map.size(2) * map.size(3);
  const std::set<float> values(map.data(), map.data() + pixels);
  CHECK(values.size() >= 2);
  CHECK(values.size() < size_t(pixels) / 8);  // one value per region
  CHECK(decode_png(dir.file("x.png")).size(2) > 2 * map.size(3));

  const Run s = run_cli("explain --image '" + in + "' --method xrai --base-method saliency --out '" +
                        dir.file("s.png") + "' --save '" + dir.file("s.npy") + "'");
  REQUIRE_MESSAGE(s.status == 0, s.output);
  const Tensor other = cli::load_npy(dir.file("s.npy"));
  REQUIRE(other.shape() == map.shape());
  int64_t different = 0;
  for (int64_t i = 0; i < pixels; ++i) different += other.data()[i] != map.data()[i];
  CHECK(different > 0);
}

TEST_CASE("cli/explain: xrai in batch mode equals single runs; usage errors exit 2") {
  if (!default_model_available()) return;
  TempDir dir("explain_xrai_batch");
  const std::string in = dir.file("in");
  std::filesystem::create_directories(in);
  cli::write_png(in + "/a.png", default_images().at(0).sample.image);
  cli::write_png(in + "/b.png", default_images().at(1).sample.image);
  const Run batch = run_cli("explain --images '" + in + "' --method xrai --steps 8 --out '" + dir.file("out") +
                            "' --save '" + dir.file("npy") + "'");
  REQUIRE_MESSAGE(batch.status == 0, batch.output);
  const Run one = run_cli("explain --image '" + in + "/b.png' --method xrai --steps 8 --out '" + dir.file("b.png") +
                          "' --save '" + dir.file("b.npy") + "'");
  REQUIRE_MESSAGE(one.status == 0, one.output);
  const Tensor a = cli::load_npy(dir.file("npy") + "/b.npy"), b = cli::load_npy(dir.file("b.npy"));
  REQUIRE(a.shape() == b.shape());
  int64_t different = 0;
  for (int64_t i = 0; i < a.numel(); ++i) different += a.data()[i] != b.data()[i];
  CHECK(different == 0);

  const Run bad = run_cli("explain --method xrai --base-method nope --out '" + dir.file("e.png") + "'");
  CHECK(bad.status == 2);
  CHECK(contains(bad.output, "unknown method 'nope'"));
  const Run self = run_cli("explain --method xrai --base-method xrai --out '" + dir.file("e.png") + "'");
  CHECK(self.status == 2);
  const Run top = run_cli("explain --method xrai --visual top_regions --top-percent 0 --out '" + dir.file("e.png") + "'");
  CHECK(top.status == 2);
  CHECK(contains(top.output, "--top-percent"));
}

}  // TEST_SUITE
