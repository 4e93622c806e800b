// The built-in bitmap font: glyph shapes, widths, scaling and clipping at the image border.
#include <doctest/doctest.h>

#include <string>

#include "engine/error.h"
#include "render/font.h"

using namespace backlight;
using namespace backlight::cli;

namespace {

int ink(const Tensor& img) {
  int n = 0;
  for (float v : img.span()) n += v > 0.5f;
  return n;
}

}  // namespace

TEST_SUITE("render") {

TEST_CASE("font: glyphs have ink where drawn; unknown characters draw as '?'") {
  // 'l': a 2-pixel serif on row 0, the stem in column 2, a 3-pixel foot on row 6.
  CHECK(glyph_pixel('l', 0, 1));
  CHECK(glyph_pixel('l', 0, 2));
  CHECK_FALSE(glyph_pixel('l', 0, 3));
  for (int r = 1; r < 6; ++r) CHECK(glyph_pixel('l', r, 2));
  CHECK(glyph_pixel('l', 6, 1));
  CHECK(glyph_pixel('l', 6, 3));
  CHECK_FALSE(glyph_pixel('l', 7, 2));
  CHECK(glyph_pixel('g', 7, 1));  // descender row
  for (int r = 0; r < kGlyphHeight; ++r)
    for (int c = 0; c < kGlyphWidth; ++c) {
      CHECK_FALSE(glyph_pixel(' ', r, c));
      CHECK(glyph_pixel('^', r, c) == glyph_pixel('?', r, c));
    }
  CHECK_FALSE(glyph_pixel('a', -1, 0));
  CHECK_FALSE(glyph_pixel('a', 0, kGlyphWidth));
  // Every character a method name, class or label uses has ink.
  // ... and the tokenizer symbols of token views (<pad>, [CLS], ...).
  for (char c : std::string("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+.,:()=%/<>[]!\";&@~")) {
    CAPTURE(c);
    int on = 0;
    for (int r = 0; r < kGlyphHeight; ++r)
      for (int col = 0; col < kGlyphWidth; ++col) on += glyph_pixel(c, r, col);
    CHECK(on > 0);
  }
}

TEST_CASE("font: text_width and draw_text at scale 1 and 2, clipped at the border") {
  CHECK(text_width("") == 0);
  CHECK(text_width("ab") == 2 * kGlyphAdvance - 1);
  CHECK(text_width("ab", 2) == 2 * (2 * kGlyphAdvance - 1));
  Tensor img = Tensor::zeros({3, 10, 20});
  draw_text(img, 0, 0, "l", 1, {1, 1, 1});
  const int one = ink(img) / 3;
  int expected = 0;
  for (int r = 0; r < kGlyphHeight; ++r)
    for (int c = 0; c < kGlyphWidth; ++c) expected += glyph_pixel('l', r, c);
  CHECK(one == expected);
  CHECK(img.at({0, 0, 1}) == 1.0f);
  CHECK(img.at({0, 0, 0}) == 0.0f);
  Tensor big = Tensor::zeros({1, 20, 20});
  draw_text(big, 0, 0, "l", 2, {1, 1, 1});
  CHECK(ink(big) == 4 * expected);
  Tensor clipped = Tensor::zeros({1, 4, 4});
  draw_text(clipped, -2, -3, "W", 3, {1, 1, 1});  // mostly outside: no out-of-bounds writes
  CHECK(ink(clipped) > 0);
  CHECK_THROWS_WITH_AS(draw_text(big, 0, 0, "x", 0, {1, 1, 1}), doctest::Contains("scale >= 1"), Error);
}

}  // TEST_SUITE
