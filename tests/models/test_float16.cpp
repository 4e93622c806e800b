// half / bfloat16 conversions: exhaustive widening round trips, rounding against torch's results.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>

#include "models/float16.h"
#include "models/safetensors.h"

using namespace backlight;

TEST_SUITE("models") {

TEST_CASE("float16: every half bit pattern widens exactly and narrows back to itself") {
  int nans = 0;
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = half_to_float(static_cast<uint16_t>(h));
    const bool is_nan = ((h >> 10) & 0x1F) == 0x1F && (h & 0x3FF);
    if (is_nan) {
      CHECK(std::isnan(f));
      CHECK(std::isnan(half_to_float(float_to_half(f))));
      ++nans;
      continue;
    }
    CAPTURE(h);
    REQUIRE(float_to_half(f) == h);
  }
  CHECK(nans == 2 * 1023);
  // Spot values: subnormals, extremes.
  CHECK(half_to_float(0x0001) == std::ldexp(1.0f, -24));
  CHECK(half_to_float(0x03FF) == std::ldexp(1023.0f, -24));
  CHECK(half_to_float(0x7BFF) == 65504.0f);
  CHECK(half_to_float(0x7C00) == INFINITY);
  CHECK(std::signbit(half_to_float(0x8000)));
}

TEST_CASE("float16: every bfloat16 bit pattern widens exactly and narrows back to itself") {
  for (uint32_t b = 0; b < 0x10000; ++b) {
    const float f = bf16_to_float(static_cast<uint16_t>(b));
    if (std::isnan(f)) {
      CHECK(std::isnan(bf16_to_float(float_to_bf16(f))));
      continue;
    }
    CAPTURE(b);
    REQUIRE(float_to_bf16(f) == b);
  }
}

TEST_CASE("float16: narrowing rounds to nearest even exactly like torch") {
  const SafeTensorsFile f = read_safetensors(BACKLIGHT_TEST_DATA "/safetensors/python_dtypes.safetensors");
  const Tensor& in = f.at("narrow_input");
  const Tensor& h = f.at("narrow_f16");  // torch's .half(), widened exactly by the reader
  const Tensor& b = f.at("narrow_bf16");
  REQUIRE(in.numel() > 80);
  for (int64_t i = 0; i < in.numel(); ++i) {
    const float x = in.data()[i];
    CAPTURE(i);
    CAPTURE(x);
    CHECK(std::bit_cast<uint32_t>(half_to_float(float_to_half(x))) == std::bit_cast<uint32_t>(h.data()[i]));
    CHECK(std::bit_cast<uint32_t>(bf16_to_float(float_to_bf16(x))) == std::bit_cast<uint32_t>(b.data()[i]));
  }
  // The edges, spelled out.
  CHECK(float_to_half(1.0f + std::ldexp(1.0f, -11)) == 0x3C00);      // tie -> even
  CHECK(float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)) == 0x3C02);  // tie -> even (up)
  CHECK(float_to_half(65519.0f) == 0x7BFF);
  CHECK(float_to_half(65520.0f) == 0x7C00);
  CHECK(float_to_half(std::ldexp(1.0f, -25)) == 0x0000);
  CHECK(float_to_half(-std::ldexp(1.5f, -24)) == 0x8002);
  CHECK(float_to_bf16(1.0f + std::ldexp(1.0f, -8)) == 0x3F80);
}

}  // TEST_SUITE
