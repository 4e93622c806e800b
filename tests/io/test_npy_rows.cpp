// read_npy_info / load_npy_rows: a stack read in pieces equals the whole file; header-only checks.
#include <doctest/doctest.h>

#include <fstream>

#include "engine/error.h"
#include "io/npy.h"
#include "tests/cli/temp_dir.h"

using namespace backlight;

TEST_SUITE("io") {

TEST_CASE("npy rows: pieces of a stack equal the whole, errors name the file") {
  const test::TempDir dir("npy_rows");
  Tensor t = Tensor::empty(Shape{5, 3, 2, 2});
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<float>(i) * 0.5f;
  cli::save_npy(dir.file("s.npy"), t);
  const cli::NpyInfo info = cli::read_npy_info(dir.file("s.npy"));
  CHECK(info.shape == Shape{5, 3, 2, 2});
  CHECK(info.data_offset % 64 == 0);
  const Tensor mid = cli::load_npy_rows(dir.file("s.npy"), info, 1, 4);
  REQUIRE(mid.shape() == Shape{3, 3, 2, 2});
  for (int64_t i = 0; i < mid.numel(); ++i) CHECK(mid.data()[i] == t.data()[12 + i]);
  CHECK_THROWS_WITH_AS(cli::load_npy_rows(dir.file("s.npy"), info, 3, 6), doctest::Contains("outside the first axis"),
                       Error);
  { std::ofstream(dir.file("bad.npy")) << "not numpy"; }
  CHECK_THROWS_WITH_AS(cli::read_npy_info(dir.file("bad.npy")), doctest::Contains("bad.npy"), Error);
  // A truncated data section is found from the header alone.
  std::string bytes = cli::npy_bytes(t);
  bytes.resize(bytes.size() - 4);
  { std::ofstream(dir.file("short.npy"), std::ios::binary) << bytes; }
  CHECK_THROWS_WITH_AS(cli::read_npy_info(dir.file("short.npy")), doctest::Contains("bytes of float32 data"), Error);
}

}  // TEST_SUITE
