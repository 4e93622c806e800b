// Empty IDAT chunks are dropped before stb_image decodes a PNG (io/png_empty_idat.h): same pixels,
// and no memcpy into stb's null buffer (two fuzz findings, kept as seeds in tools/fuzz/seeds/image).
#include <doctest/doctest.h>

#include <string>

#include "engine/tensor.h"
#include "io/image_io.h"
#include "io/png_empty_idat.h"

using namespace backlight;
using namespace backlight::cli;

namespace {

std::span<const unsigned char> as_bytes(const std::string& s) {
  return {reinterpret_cast<const unsigned char*>(s.data()), s.size()};
}

}  // namespace

TEST_SUITE("io") {

TEST_CASE("io/png: empty IDAT chunks are dropped and change no pixel") {
  Tensor img = Tensor::empty({3, 3, 4});
  for (int64_t i = 0; i < img.numel(); ++i) img.data()[i] = static_cast<float>(i % 7) / 6.0f;
  const std::string png = encode_image(img, ImageFormat::Png, "x.png");
  CHECK_FALSE(without_empty_idat(as_bytes(png)).has_value());  // nothing to drop
  CHECK_FALSE(without_empty_idat(as_bytes(std::string("not a png"))).has_value());
  // Signature (8) + IHDR (12 + 13) = 33 bytes; an empty IDAT goes right after, as the fuzzer found.
  const std::string empty_idat("\0\0\0\0IDAT\xae\x42\x60\x82", 12);
  const std::string with_empty = png.substr(0, 33) + empty_idat + png.substr(33) ;
  const auto cleaned = without_empty_idat(as_bytes(with_empty));
  REQUIRE(cleaned.has_value());
  CHECK(*cleaned == png);
  const Tensor a = decode_image(as_bytes(png), "a.png", 1 << 20);
  const Tensor b = decode_image(as_bytes(with_empty), "b.png", 1 << 20);
  REQUIRE(a.shape() == b.shape());
  for (int64_t i = 0; i < a.numel(); ++i) CHECK(a.data()[i] == b.data()[i]);
  // A truncated chunk length ends the walk; the decoder reports the file.
  CHECK_THROWS(decode_image(as_bytes(with_empty.substr(0, 40)), "t.png", 1 << 20));
  // An empty IDAT whose CRC is cut off (the second fuzz finding: 33 + 8 + 1 bytes) is dropped
  // too, and the file is refused with the decoder's message, not a memcpy into a null buffer.
  const auto cut = without_empty_idat(as_bytes(with_empty.substr(0, 42)));
  REQUIRE(cut.has_value());
  CHECK(*cut == png.substr(0, 33));
  CHECK_THROWS_WITH(decode_image(as_bytes(with_empty.substr(0, 42)), "c.png", 1 << 20),
                    doctest::Contains("c.png"));
}

}  // TEST_SUITE
