// .npy round trips and the errors for malformed files.
#include <doctest/doctest.h>

#include <filesystem>

#include <cstdint>
#include <string>

#include "engine/error.h"
#include "tests/cli/temp_dir.h"
#include "io/npy.h"

using namespace backlight;
using namespace backlight::cli;
using backlight::test::TempDir;

namespace {

// A v1.0 file with the given header dict (padded as numpy does) followed by `data`.
std::string npy_bytes(const std::string& dict, const std::string& data) {
  std::string header = dict;
  while ((10 + header.size() + 1) % 64) header += ' ';
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xff);
  out += static_cast<char>(header.size() >> 8);
  return out + header + data;
}

std::string floats(int n) { return std::string(static_cast<size_t>(n) * 4, '\0'); }

}  // namespace

TEST_SUITE("io") {

TEST_CASE("npy: round trip keeps shape and bits, data 64-byte aligned") {
  TempDir dir("npy");
  const Shape shapes[] = {Shape{}, Shape{5}, Shape{2, 3}, Shape{1, 3, 4, 5}, Shape{0, 3}};
  for (const Shape& s : shapes) {
    CAPTURE(s);
    Tensor t = Tensor::empty(s);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<float>(i) * 0.37f - 1.0f;
    if (t.numel() > 1) t.data()[1] = -0.0f;
    const std::string path = dir.file("t.npy");
    save_npy(path, t);
    const std::string bytes = backlight::test::read_bytes(path);
    const size_t header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    CHECK((10 + header_len) % 64 == 0);
    CHECK(bytes.size() == 10 + header_len + static_cast<size_t>(t.numel()) * 4);
    const Tensor back = load_npy(path);
    CHECK(back.shape() == s);
    CHECK(back.to_vector() == t.to_vector());
  }
}

TEST_CASE("npy: header text is what numpy writes") {
  TempDir dir("npy");
  save_npy(dir.file("a.npy"), Tensor::zeros({5}));
  save_npy(dir.file("b.npy"), Tensor::zeros({2, 3}));
  CHECK(backlight::test::read_bytes(dir.file("a.npy")).find("{'descr': '<f4', 'fortran_order': False, 'shape': (5,), }") !=
        std::string::npos);
  CHECK(backlight::test::read_bytes(dir.file("b.npy")).find("'shape': (2, 3), }") != std::string::npos);
}

TEST_CASE("npy: files from numpy with other key order and spacing load") {
  TempDir dir("npy");
  const std::string p = dir.file("np.npy");
  backlight::test::write_bytes(p, npy_bytes("{'shape':(2,2),'fortran_order':False,'descr':'<f4'}", floats(4)));
  CHECK(load_npy(p).shape() == Shape{2, 2});
}

TEST_CASE("npy: malformed files throw errors that say what is wrong") {
  TempDir dir("npy");
  const std::string p = dir.file("bad.npy");
  auto load_with = [&](const std::string& bytes) {
    backlight::test::write_bytes(p, bytes);
    return load_npy(p);
  };
  const std::string ok_dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }";
  CHECK(load_with(npy_bytes(ok_dict, floats(4))).numel() == 4);

  CHECK_THROWS_WITH_AS(load_npy(dir.file("missing.npy")), doctest::Contains("missing.npy': no such file"), Error);
  CHECK_THROWS_WITH_AS(load_with("PK\x03\x04 not numpy at all"), doctest::Contains("is not a .npy file"), Error);
  CHECK_THROWS_WITH_AS(load_with("\x93NUMPY"), doctest::Contains("is not a .npy file"), Error);
  std::string v9 = npy_bytes(ok_dict, floats(4));
  v9[6] = 9;
  CHECK_THROWS_WITH_AS(load_with(v9), doctest::Contains("unsupported format version 9.0"), Error);
  CHECK_THROWS_WITH_AS(load_with(npy_bytes(ok_dict, floats(4)).substr(0, 40)), doctest::Contains("truncated header"),
                       Error);
  CHECK_THROWS_WITH_AS(load_with(npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }", floats(8))),
                       doctest::Contains("expected dtype '<f4' (float32, little-endian), got '<f8'"), Error);
  CHECK_THROWS_WITH_AS(load_with(npy_bytes("{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }", floats(4))),
                       doctest::Contains("got '>f4'"), Error);
  CHECK_THROWS_WITH_AS(load_with(npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", floats(4))),
                       doctest::Contains("expected fortran_order False (C order), got True"), Error);
  CHECK_THROWS_WITH_AS(load_with(npy_bytes("{'descr': '<f4', 'fortran_order': False, }", floats(4))),
                       doctest::Contains("header has no 'shape' entry"), Error);
  CHECK_THROWS_WITH_AS(load_with(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4, }", floats(4))),
                       doctest::Contains("malformed header"), Error);
  CHECK_THROWS_WITH_AS(load_with(npy_bytes(ok_dict, floats(3))),
                       doctest::Contains("shape [4] needs 16 bytes of float32 data, file holds 12"), Error);
  CHECK_THROWS_WITH_AS(load_with(npy_bytes(ok_dict, floats(5))), doctest::Contains("file holds 20"), Error);
  CHECK_THROWS_WITH_AS(
      load_with(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }",
                          floats(4))),
      doctest::Contains("needs more than 2^64 bytes"), Error);
  CHECK_THROWS_WITH_AS(
      load_with(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }", floats(1))),
      doctest::Contains("expected at most 8 dimensions, got 9"), Error);
}

TEST_CASE("npy: a directory is named as such; messages quote at most ~200 characters of the header") {
  TempDir dir("npy_dir");
  std::filesystem::create_directories(dir.file("d.npy"));
  CHECK_THROWS_WITH_AS(load_npy(dir.file("d.npy")), doctest::Contains("d.npy': is a directory, expected a file"), Error);
  const std::string bad = "{'descr': '" + std::string(5000, 'x') + "', 'fortran_order': False, 'shape': (1,), }";
  std::string message;
  try {
    const std::string bytes = npy_bytes(bad, floats(1));
    parse_npy({reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()}, "long.npy");
  } catch (const Error& e) {
    message = e.what();
  }
  CHECK(message.find("expected dtype '<f4'") != std::string::npos);
  CHECK(message.find("characters)") != std::string::npos);
  CHECK(message.size() < 600);
}

TEST_CASE("npy: unwritable path names the path") {
  CHECK_THROWS_WITH_AS(save_npy("/proc/backlight_no_such_dir/x.npy", Tensor::zeros({2})),
                       doctest::Contains("/proc/backlight_no_such_dir"), Error);
}

TEST_CASE("npy: load_npy_array reads int64 and int32 token ids as exact floats, load_npy refuses them") {
  auto le = [](int64_t v, int bytes) {
    std::string out;
    for (int i = 0; i < bytes; ++i) out += static_cast<char>((static_cast<uint64_t>(v) >> (8 * i)) & 0xff);
    return out;
  };
  auto parse = [](const std::string& bytes) {
    return parse_npy_array({reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()}, "ids.npy");
  };
  const std::string i8 = npy_bytes("{'descr': '<i8', 'fortran_order': False, 'shape': (2, 3), }",
                                   le(0, 8) + le(7, 8) + le(16777216, 8) + le(-3, 8) + le(49, 8) + le(1, 8));
  const NpyArray a = parse(i8);
  CHECK(a.dtype == NpyDtype::Int64);
  CHECK(a.values.shape() == Shape{2, 3});
  CHECK(a.values.to_vector() == std::vector<float>{0, 7, 16777216, -3, 49, 1});
  const NpyArray b = parse(npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (3,), }",
                                     le(5, 4) + le(-1, 4) + le(123456, 4)));
  CHECK(b.dtype == NpyDtype::Int32);
  CHECK(b.values.to_vector() == std::vector<float>{5, -1, 123456});
  CHECK(parse(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", floats(4))).dtype ==
        NpyDtype::Float32);
  CHECK_THROWS_WITH_AS(parse(npy_bytes("{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }", le(16777217, 8))),
                       doctest::Contains("integer 16777217 at flat index 0 is outside +-16777216"), Error);
  CHECK_THROWS_WITH_AS(parse(npy_bytes("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }", le(1, 8))),
                       doctest::Contains("needs 16 bytes of int64 data, file holds 8"), Error);
  CHECK_THROWS_WITH_AS(parse(npy_bytes("{'descr': '<u2', 'fortran_order': False, 'shape': (1,), }", "ab")),
                       doctest::Contains("expected dtype '<f4' (float32), '<i8' (int64) or '<i4' (int32)"), Error);
  CHECK_THROWS_WITH_AS(parse_npy({reinterpret_cast<const unsigned char*>(i8.data()), i8.size()}, "ids.npy"),
                       doctest::Contains("expected dtype '<f4' (float32, little-endian), got '<i8'"), Error);
}

}  // TEST_SUITE
