// Deeply nested and oversized JSON in safetensors headers: a clear error, never a stack overflow
// (issue 14). 80,000 levels used to segfault while an error path serialised the JSON.
#include "models/json_limits.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "engine/error.h"
#include "models/embedded_weights.h"
#include "models/safetensors.h"

using namespace backlight;

namespace {

std::vector<unsigned char> image(const std::string& header, const std::string& data = "") {
  const uint64_t n = header.size();
  std::string all(8, '\0');
  std::memcpy(all.data(), &n, 8);
  all += header;
  all += data;
  return std::vector<unsigned char>(all.begin(), all.end());
}

std::string nest(int depth, const std::string& inner = "1") {
  return std::string(static_cast<size_t>(depth), '[') + inner + std::string(static_cast<size_t>(depth), ']');
}

}  // namespace

TEST_SUITE("models") {

TEST_CASE("json limits: 80,000-deep nesting in a shape, __metadata__ or an unused key is an error, not a crash") {
  const int deep = 80'000;
  const std::string a = R"("a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]})";
  const std::string cases[] = {
      R"({"a":{"dtype":"F32","shape":)" + nest(deep) + R"(,"data_offsets":[0,4]}})",
      R"({"__metadata__":{"k":)" + nest(deep) + "}," + a + "}",
      R"({"junk":)" + nest(deep, "{}") + "," + a + "}",
      R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":)" + std::string(deep, '{') + "}",  // unbalanced
  };
  for (const std::string& header : cases) {
    const std::vector<unsigned char> bytes = image(header, std::string(4, '\0'));
    CHECK_THROWS_WITH_AS(parse_safetensors(bytes, "deep.safetensors"),
                         doctest::Contains("deep.safetensors: header: JSON nests deeper than 64 levels"), Error);
    CHECK_THROWS_WITH_AS(read_safetensors_bytes(bytes, "deep"), doctest::Contains("JSON nests deeper than 64 levels"),
                         Error);
  }
}

TEST_CASE("json limits: the depth limit counts brackets outside strings only and accepts 64 levels") {
  CHECK_NOTHROW(check_json_depth(nest(64), "t"));
  CHECK_THROWS_WITH_AS(check_json_depth(nest(65), "t"), doctest::Contains("t: JSON nests deeper than 64 levels (at byte 64"),
                       Error);
  CHECK_NOTHROW(check_json_depth("{\"" + std::string(1000, '[') + "\\\"[[\":1}", "t"));
  // A shape nested 10 levels (under the limit) is a normal shape error, quoted briefly.
  const std::string header = R"({"a":{"dtype":"F32","shape":)" + nest(10) + R"(,"data_offsets":[0,4]}})";
  CHECK_THROWS_WITH_AS(parse_safetensors(image(header, std::string(4, '\0')), "f"),
                       doctest::Contains("expected non-negative integer dimensions, got shape [[[[[[[[[[1]]]]]]]]]]"), Error);
}

TEST_CASE("json limits: messages quote at most 200 characters of user JSON and names") {
  const std::string big(100'000, '7');
  const std::string header = R"({"a":{"dtype":"F32","shape":[)" + big + R"(],"data_offsets":[0,4]}})";
  try {
    parse_safetensors(image(header, std::string(4, '\0')), "f");
    FAIL("expected an error");
  } catch (const Error& e) {
    const std::string msg = e.what();
    CHECK(msg.size() < 1000);
    CHECK(msg.find("characters in all)") != std::string::npos);
  }
  const std::string name(50'000, 'n');
  const std::string header2 = "{\"" + name + R"(":{"dtype":"X","shape":[1],"data_offsets":[0,4]}})";
  try {
    parse_safetensors(image(header2, std::string(4, '\0')), "f");
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).size() < 1000);
  }
  CHECK(truncate_for_message("abc", 200) == "abc");
  CHECK(truncate_for_message(std::string(300, 'x'), 200) == std::string(200, 'x') + "... (300 characters in all)");
  // Never cut inside a UTF-8 sequence: 'é' is 2 bytes.
  CHECK(truncate_for_message("a\xc3\xa9" + std::string(10, 'x'), 2) == "a... (13 characters in all)");
}

TEST_CASE("json limits: float or huge data_offsets are errors in both readers (fuzz finding: UB in get<uint64_t>)") {
  for (const std::string offsets : {"[0,99999999999999999999999]", "[0,4.0]", "[-1,4]"}) {
    const std::string header = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":)" + offsets + "}}";
    const std::vector<unsigned char> bytes = image(header, std::string(4, '\0'));
    CHECK_THROWS_WITH_AS(parse_safetensors(bytes, "f"), doctest::Contains("data_offsets"), Error);
    CHECK_THROWS_WITH_AS(read_safetensors_bytes(bytes, "f"),
                         doctest::Contains("expected data_offsets [begin, end] of non-negative integers"), Error);
  }
}

}  // TEST_SUITE
