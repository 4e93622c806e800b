// safetensors reader/writer: round trips, a file written by Python's safetensors, and one test
// per kind of corruption (each must give its own error naming the file and the tensor).
#include "models/safetensors.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "engine/error.h"
#include "models/float16.h"
#include "tests/helpers.h"

using namespace backlight;
namespace fs = std::filesystem;

namespace {

/// A fresh directory per test case, removed afterwards.
struct TempDir {
  fs::path dir;
  explicit TempDir(const std::string& tag) {
    dir = fs::temp_directory_path() / ("backlight_st_" + tag + "_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  fs::path operator/(const std::string& name) const { return dir / name; }
};

/// Writes a file by hand: 8-byte length (`claimed_len`, default the real one), header, data.
void write_raw(const fs::path& p, const std::string& header, const std::string& data, int64_t claimed_len = -1) {
  std::ofstream os(p, std::ios::binary);
  const uint64_t n = claimed_len < 0 ? header.size() : static_cast<uint64_t>(claimed_len);
  os.write(reinterpret_cast<const char*>(&n), 8);
  os << header << data;
}

std::string bytes_of(std::initializer_list<float> v) {
  return std::string(reinterpret_cast<const char*>(std::data(v)), v.size() * sizeof(float));
}

bool same_bits(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return false;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const float x = a.data()[i], y = b.data()[i];
    if (std::isnan(x) && std::isnan(y)) continue;
    if (std::bit_cast<uint32_t>(x) != std::bit_cast<uint32_t>(y)) return false;
  }
  return true;
}

// Two F32 tensors "a" [2] and "b" [1]: a valid baseline the corruption tests start from.
const std::string kGoodHeader =
    R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})";

}  // namespace

TEST_SUITE("models") {

TEST_CASE("safetensors: F32 round trip is bit-identical, keeps order, metadata and zero-copy storage") {
  TempDir tmp("roundtrip");
  std::mt19937_64 rng(test::kSeed);
  std::vector<std::pair<std::string, Tensor>> in = {
      {"z.weight", test::randn({3, 4, 2}, rng)},
      {"a.bias", Tensor::from({3}, {-0.0f, INFINITY, 1e-42f})},
      {"scalar", Tensor::from(Shape{}, {7.5f})},
      {"empty", Tensor::zeros({0, 5})},
      {"m.running_var", test::uniform({5}, rng, 0.1f, 2.0f)},
  };
  const std::map<std::string, std::string> meta = {{"format", "pt"}, {"note", "äöü \"quoted\""}};
  write_safetensors(tmp / "x.safetensors", in, meta);
  CHECK_FALSE(fs::exists(tmp / "x.safetensors.tmp"));
  CHECK(fs::file_size(tmp / "x.safetensors") % 4 == 0);

  SafeTensorsFile f = read_safetensors(tmp / "x.safetensors");
  REQUIRE(f.tensors.size() == in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    CAPTURE(in[i].first);
    CHECK(f.tensors[i].first == in[i].first);
    CHECK(same_bits(f.tensors[i].second, in[i].second));
    CHECK(f.dtypes.at(in[i].first) == "F32");
  }
  CHECK(f.metadata == meta);
  CHECK(f.at("scalar").dim() == 0);
  // Zero-copy tensors share the mapping's control block: the 4 non-empty F32 tensors.
  CHECK(f.at("z.weight").use_count() == 4);
  // The tensors outlive the file object; writing into one never touches the file.
  Tensor w = f.at("z.weight");
  { SafeTensorsFile drop = std::move(f); }
  w.data()[0] = 123.0f;
  const SafeTensorsFile again = read_safetensors(tmp / "x.safetensors");
  CHECK(same_bits(again.at("z.weight"), in[0].second));
}

TEST_CASE("safetensors: F16 / BF16 writing rounds to nearest even and reads back as the rounded floats") {
  TempDir tmp("narrow");
  const Tensor x = Tensor::from({6}, {1.0f, 0.1f, -65519.0f, 70000.0f, 1e-7f, 3.14159f});
  for (SafeTensorsDtype dt : {SafeTensorsDtype::F16, SafeTensorsDtype::BF16}) {
    const std::vector<std::pair<std::string, Tensor>> in = {{"x", x}};
    write_safetensors(tmp / "h.safetensors", in, {}, {.dtype = dt});
    const SafeTensorsFile f = read_safetensors(tmp / "h.safetensors");
    const bool half = dt == SafeTensorsDtype::F16;
    CHECK(f.dtypes.at("x") == (half ? "F16" : "BF16"));
    for (int64_t i = 0; i < x.numel(); ++i) {
      const float v = x.data()[i];
      const float expect = half ? half_to_float(float_to_half(v)) : bf16_to_float(float_to_bf16(v));
      CHECK(f.at("x").data()[i] == expect);
    }
  }
}

TEST_CASE("safetensors: reads a file written by Python's safetensors, F16/BF16/F64/ints converted exactly") {
  const SafeTensorsFile f = read_safetensors(BACKLIGHT_TEST_DATA "/safetensors/python_dtypes.safetensors");
  CHECK(f.metadata.at("format") == "pt");
  CHECK(f.dtypes.at("f16_special") == "F16");
  CHECK(f.dtypes.at("bf16_special") == "BF16");
  CHECK(f.dtypes.at("f64_values") == "F64");
  CHECK(f.dtypes.at("i64_scalar") == "I64");
  int compared = 0;
  for (const auto& [name, t] : f.tensors) {
    if (name.rfind("expected.", 0) == 0 || name.rfind("narrow_", 0) == 0) continue;
    CAPTURE(name);
    const Tensor& expect = f.at("expected." + name);
    CHECK(same_bits(t, expect));
    ++compared;
  }
  CHECK(compared == 11);
  // The special values spelled out: min subnormal, inf, NaN, -0.
  const Tensor& h = f.at("f16_special");
  CHECK(h.data()[6] == std::ldexp(1.0f, -24));
  CHECK(h.data()[11] == INFINITY);
  CHECK(std::isnan(h.data()[13]));
  CHECK(std::signbit(h.data()[1]));
  CHECK(f.at("i64_scalar").item() == 12345.0f);
  CHECK(f.at("f32_empty").shape() == Shape{0, 3});
}

TEST_CASE("safetensors: a misaligned F32 tensor is copied, values intact") {
  TempDir tmp("misaligned");
  const std::string header =
      R"({"u":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"f":{"dtype":"F32","shape":[2],"data_offsets":[1,9]}})";
  std::string hdr = header + std::string((8 - header.size() % 8) % 8, ' ');
  write_raw(tmp / "m.safetensors", hdr, std::string(1, '\x07') + bytes_of({1.5f, -2.25f}));
  const SafeTensorsFile f = read_safetensors(tmp / "m.safetensors");
  CHECK(f.at("u").item() == 7.0f);
  CHECK(f.at("f").to_vector() == std::vector<float>{1.5f, -2.25f});
  CHECK(f.at("f").use_count() == 1);  // its own storage, not the mapping's
}

TEST_CASE("safetensors: every kind of corruption gives its own error naming file and tensor") {
  TempDir tmp("corrupt");
  const fs::path p = tmp / "bad.safetensors";
  const std::string data12 = bytes_of({1.0f, 2.0f, 3.0f});
  auto read = [&] { return read_safetensors(p); };

  SUBCASE("baseline is valid") {
    write_raw(p, kGoodHeader, data12);
    CHECK(read().at("b").item() == 3.0f);
  }
  SUBCASE("missing file") {
    CHECK_THROWS_WITH_AS(read_safetensors(tmp / "nope.safetensors"), doctest::Contains("nope.safetensors: cannot open"),
                         Error);
  }
  SUBCASE("shorter than the length field") {
    std::ofstream(p, std::ios::binary) << "abc";
    CHECK_THROWS_WITH_AS(read(), doctest::Contains("too short for the 8-byte header length"), Error);
  }
  SUBCASE("truncated data: last tensor out of range") {
    write_raw(p, kGoodHeader, data12.substr(0, 10));
    CHECK_THROWS_WITH_AS(read(), doctest::Contains("tensor \"b\": data_offsets [8, 12] out of range of the data "
                                                   "section of 10 bytes (file truncated?)"),
                         Error);
  }
  SUBCASE("truncated inside the header / header length larger than the file") {
    write_raw(p, kGoodHeader.substr(0, 20), "", static_cast<int64_t>(kGoodHeader.size()));
    CHECK_THROWS_WITH_AS(read(), doctest::Contains("is larger than the 20 bytes after the length field"), Error);
  }
  SUBCASE("header length above the cap") {
    write_raw(p, "", "", static_cast<int64_t>(kSafeTensorsMaxHeader) + 1);
    fs::resize_file(p, 8 + kSafeTensorsMaxHeader + 1);  // sparse: nothing is read
    CHECK_THROWS_WITH_AS(read(), doctest::Contains("exceeds the cap of 100000000 bytes"), Error);
  }
  SUBCASE("header length too short by the padding: trailing bytes after the tensors") {
    write_raw(p, kGoodHeader + "    ", data12, static_cast<int64_t>(kGoodHeader.size()) + 2);
    CHECK_THROWS_WITH_AS(read(), doctest::Contains("has 14 bytes but the tensors end at byte 12 (wrong header length?)"),
                         Error);
  }
  SUBCASE("header length too long: JSON runs into the data") {
    write_raw(p, kGoodHeader, data12, static_cast<int64_t>(kGoodHeader.size()) + 4);
    CHECK_THROWS_WITH_AS(read(), doctest::Contains("bad.safetensors: header is not valid JSON"), Error);
  }
  SUBCASE("bad JSON") {
    write_raw(p, R"({"a":{"dtype":"F32",,}})", "");
    CHECK_THROWS_WITH_AS(read(), doctest::Contains("header is not valid JSON"), Error);
  }
  SUBCASE("header not an object") {
    write_raw(p, "[1,2]", "");
    CHECK_THROWS_WITH_AS(read(), doctest::Contains("expected the header to be a JSON object, got array"), Error);
  }
  SUBCASE("overlapping offsets") {
    write_raw(p,
              R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
              data12);
    CHECK_THROWS_WITH_AS(read(), doctest::Contains("tensors \"a\" [0, 8) and \"b\" [4, 12) have overlapping data_offsets"),
                         Error);
  }
  SUBCASE("offsets out of range") {
    write_raw(p,
              R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[1000,1004]}})",
              data12);
    CHECK_THROWS_WITH_AS(read(), doctest::Contains("tensor \"b\": data_offsets [1000, 1004] out of range"), Error);
  }
  SUBCASE("offsets end before begin") {
    write_raw(p, R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", data12);
    CHECK_THROWS_WITH_AS(read(), doctest::Contains("tensor \"a\": data_offsets [8, 0] end before begin"), Error);
  }
  SUBCASE("negative offsets") {
    write_raw(p, R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[-4,4]}})", data12);
    CHECK_THROWS_WITH_AS(read(), doctest::Contains("tensor \"a\": expected \"data_offsets\": [begin, end]"), Error);
  }
  SUBCASE("unknown dtype") {
    write_raw(p, R"({"a":{"dtype":"F31","shape":[3],"data_offsets":[0,12]}})", data12);
    CHECK_THROWS_WITH_AS(read(), doctest::Contains("tensor \"a\": unknown dtype \"F31\""), Error);
  }
  SUBCASE("known but unsupported dtype") {
    write_raw(p, R"({"a":{"dtype":"F8_E4M3","shape":[12],"data_offsets":[0,12]}})", data12);
    CHECK_THROWS_WITH_AS(read(), doctest::Contains("tensor \"a\": dtype F8_E4M3 is not supported"), Error);
  }
  SUBCASE("size mismatch") {
    write_raw(p, R"({"a":{"dtype":"F16","shape":[2,2],"data_offsets":[0,12]}})", data12);
    CHECK_THROWS_WITH_AS(read(), doctest::Contains("tensor \"a\": size mismatch: shape [2,2] of F16 needs 8 bytes, "
                                                   "data_offsets [0, 12] hold 12"),
                         Error);
  }
  SUBCASE("negative dimension") {
    write_raw(p, R"({"a":{"dtype":"F32","shape":[-3],"data_offsets":[0,12]}})", data12);
    CHECK_THROWS_WITH_AS(read(), doctest::Contains("tensor \"a\": expected non-negative integer dimensions"), Error);
  }
  SUBCASE("element count overflow") {
    write_raw(p, R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,12]}})", data12);
    CHECK_THROWS_WITH_AS(read(), doctest::Contains("tensor \"a\": element count of shape"), Error);
  }
  SUBCASE("byte size overflow") {
    write_raw(p, R"({"a":{"dtype":"F64","shape":[2305843009213693952,2],"data_offsets":[0,12]}})", data12);
    CHECK_THROWS_WITH_AS(read(), doctest::Contains("tensor \"a\": byte size of shape"), Error);
  }
  SUBCASE("too many dimensions") {
    write_raw(p, R"({"a":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,3],"data_offsets":[0,12]}})", data12);
    CHECK_THROWS_WITH_AS(read(), doctest::Contains("tensor \"a\": expected at most 8 dimensions"), Error);
  }
  SUBCASE("missing field") {
    write_raw(p, R"({"a":{"dtype":"F32","data_offsets":[0,12]}})", data12);
    CHECK_THROWS_WITH_AS(read(), doctest::Contains("tensor \"a\": expected an array \"shape\", got none"), Error);
  }
  SUBCASE("duplicate names") {
    write_raw(p,
              R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
              data12);
    CHECK_THROWS_WITH_AS(read(), doctest::Contains("tensor name \"a\" appears more than once"), Error);
  }
  SUBCASE("metadata with a non-string value") {
    write_raw(p, R"({"__metadata__":{"format":1},"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}})", data12);
    CHECK_THROWS_WITH_AS(read(), doctest::Contains("expected string values in \"__metadata__\", key \"format\""),
                         Error);
  }
}

TEST_CASE("safetensors: random corruption (byte flips, truncation, length field) reads or throws Error") {
  // Deterministic mutation loop over a small valid file; run under ASan/UBSan this also shows the
  // reader never touches bytes outside the file.
  TempDir tmp("fuzz");
  std::mt19937_64 rng(test::kSeed);
  const std::vector<std::pair<std::string, Tensor>> in = {{"w", test::randn({3, 2}, rng)}, {"b", test::randn({2}, rng)}};
  write_safetensors(tmp / "good.safetensors", in, {{"k", "v"}}, {.dtype = SafeTensorsDtype::F16});
  std::string good;
  {
    std::ifstream is(tmp / "good.safetensors", std::ios::binary);
    good.assign(std::istreambuf_iterator<char>(is), {});
  }
  int ok = 0, rejected = 0;
  for (int iter = 0; iter < 240; ++iter) {
    std::string m = good;
    switch (iter % 3) {
      case 0:  // flip a byte in the length field or header
        m[rng() % std::min<size_t>(m.size(), 8 + 96)] ^= static_cast<char>(1 + rng() % 255);
        break;
      case 1:  // truncate
        m.resize(rng() % m.size());
        break;
      default: {  // arbitrary length field
        const uint64_t n = rng() % (m.size() + 16);
        std::memcpy(m.data(), &n, 8);
      }
    }
    const fs::path p = tmp / ("mutant" + std::to_string(iter) + ".safetensors");  // O_TRUNC is slow on some FS
    std::ofstream(p, std::ios::binary) << m;
    try {
      (void)read_safetensors(p);
      ++ok;
    } catch (const Error&) {
      ++rejected;
    }
  }
  CHECK(ok + rejected == 240);
  CHECK(rejected > 160);
}

TEST_CASE("safetensors: lookup and writer errors name what was expected") {
  TempDir tmp("errors");
  const std::vector<std::pair<std::string, Tensor>> dup = {{"a", Tensor::zeros({1})}, {"a", Tensor::zeros({2})}};
  CHECK_THROWS_WITH_AS(write_safetensors(tmp / "d.safetensors", dup), doctest::Contains("\"a\" appears twice"),
                       Error);
  const std::vector<std::pair<std::string, Tensor>> meta = {{"__metadata__", Tensor::zeros({1})}};
  CHECK_THROWS_WITH_AS(write_safetensors(tmp / "m.safetensors", meta),
                       doctest::Contains("expected a tensor name other than"), Error);
  const std::vector<std::pair<std::string, Tensor>> ok = {{"w", Tensor::zeros({2})}};
  CHECK_THROWS_WITH_AS(write_safetensors(tmp / "no_such_dir" / "x.safetensors", ok), doctest::Contains("cannot open"),
                       Error);
  write_safetensors(tmp / "ok.safetensors", ok);
  const SafeTensorsFile f = read_safetensors(tmp / "ok.safetensors");
  CHECK(f.find("v") == nullptr);
  CHECK_THROWS_WITH_AS(f.at("v"), doctest::Contains("expected a tensor named \"v\", the file has: w"), Error);
}

}  // TEST_SUITE
