// The table picture (render/table_picture.h): size grows with the text, ink in every cell, errors.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "engine/error.h"
#include "render/font.h"
#include "render/table_picture.h"

using namespace backlight;
using namespace backlight::cli;

namespace {

// Dark pixels (text) in rows [y0, y1) of channel 0.
int ink_rows(const Tensor& img, int y0, int y1) {
  int n = 0;
  const int64_t w = img.size(2);
  for (int y = y0; y < y1; ++y)
    for (int64_t x = 0; x < w; ++x) n += img.data()[y * w + x] < 0.3f;
  return n;
}

}  // namespace

TEST_SUITE("render") {

TEST_CASE("table_picture: one ruled row per table row, text in each, wider cells for longer text") {
  const std::vector<std::string> header{"method", "deletion"};
  const Tensor small = table_picture(header, {{"saliency", "0.1 +- 0.01"}});
  const Tensor two = table_picture(header, {{"saliency", "0.1 +- 0.01"}, {"lrp", "0.2 +- 0.02"}});
  REQUIRE(small.dim() == 3);
  CHECK(small.size(0) == 3);
  CHECK(two.size(1) > small.size(1));  // one more row
  CHECK(two.size(2) == small.size(2));
  const Tensor wide = table_picture(header, {{"saliency", "0.123456789 +- 0.0123456789"}});
  CHECK(wide.size(2) > small.size(2));
  // Both rows of `two` hold text: the body rows sit below the header.
  const int row_h = kGlyphHeight + 2 * 6 + 1;
  const int top = 10;  // margin, no title
  CHECK(ink_rows(two, top, top + row_h) > 0);
  CHECK(ink_rows(two, top + row_h, top + 2 * row_h) > 0);
  CHECK(ink_rows(two, top + 2 * row_h, top + 3 * row_h) > 0);
  for (float v : two.span()) CHECK_UNARY(v >= 0.0f && v <= 1.0f);
  const Tensor titled = table_picture(header, {{"a", "b"}}, {.title = "a title"});
  CHECK(titled.size(1) > table_picture(header, {{"a", "b"}}).size(1));
}

TEST_CASE("table_picture: errors name the problem") {
  CHECK_THROWS_WITH_AS(table_picture({}, {}), doctest::Contains("at least one column"), Error);
  CHECK_THROWS_WITH_AS(table_picture({"a", "b"}, {{"x"}}), doctest::Contains("row 0 has 1 cells, expected 2"), Error);
  CHECK_THROWS_WITH_AS(table_picture({"a"}, {}, {.scale = 9}), doctest::Contains("scale 1..4"), Error);
}

}  // TEST_SUITE
