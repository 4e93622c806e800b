// Token views (render/token_view.h): Captum visualize_text colours, HTML escaping, coloured boxes.
#include <doctest/doctest.h>

#include <cmath>

#include "engine/error.h"
#include "render/token_view.h"

using namespace backlight;
using namespace backlight::cli;

TEST_SUITE("render") {
  TEST_CASE("token view: Captum's _get_color, clipped, with Python's int() truncation") {
    CHECK(token_css_color(0.5f) == "hsl(120, 75%, 75%)");
    CHECK(token_css_color(-0.5f) == "hsl(0, 75%, 80%)");
    CHECK(token_css_color(0.0f) == "hsl(0, 75%, 100%)");
    CHECK(token_css_color(3.0f) == "hsl(120, 75%, 50%)");
    CHECK(token_css_color(-3.0f) == "hsl(0, 75%, 60%)");
    CHECK(token_css_color(0.33f) == "hsl(120, 75%, 84%)");  // 100 - int(16.5)
    const Rgb white = token_rgb(0.0f), green = token_rgb(1.0f), red = token_rgb(-1.0f);
    CHECK(white[0] == doctest::Approx(1.0f));
    CHECK(white[1] == doctest::Approx(1.0f));
    CHECK(green[1] > green[0]);  // hsl(120, 75%, 50%) = (0.125, 0.875, 0.125)
    CHECK(green[0] == doctest::Approx(0.125f));
    CHECK(red[0] == doctest::Approx(0.9f));  // hsl(0, 75%, 60%) = (0.9, 0.3, 0.3)
    CHECK(red[1] == doctest::Approx(0.3f));
    CHECK(normalise_scores(std::vector<float>{1, -4, 2}) == std::vector<float>{0.25f, -1, 0.5f});
    CHECK(normalise_scores(std::vector<float>{0, 0}) == std::vector<float>{0, 0});
  }

  TEST_CASE("token view: HTML escapes tokens, colours each by its normalised score; count mismatch throws") {
    const std::vector<TokenRow> rows{{"ig", {"<b>", "a&b", "x"}, {2.0f, -4.0f, 0.0f}}};
    const std::string html = token_html(rows, {"title <1>", "class 1", "class 2"});
    CHECK(html.find("&lt;b&gt;") != std::string::npos);
    CHECK(html.find("<b>") != std::string::npos);  // the table's own bold labels only
    CHECK(html.find("a&amp;b") != std::string::npos);
    CHECK(html.find("title &lt;1&gt;") != std::string::npos);
    CHECK(html.find("background-color: hsl(120, 75%, 75%)\" title=\"2\"") != std::string::npos);  // 2 / 4
    CHECK(html.find("background-color: hsl(0, 75%, 60%)\" title=\"-4\"") != std::string::npos);
    CHECK(html.find("<td><b>-2.00</b></td>") != std::string::npos);  // attribution score: the sum
    const std::vector<TokenRow> bad{{"ig", {"a", "b"}, {1.0f}}};
    CHECK_THROWS_WITH_AS(token_html(bad, {}), doctest::Contains("row 'ig' has 2 tokens but 1 attributions"), Error);
  }

  TEST_CASE("token view: the picture draws each token as a box in its score's colour, wrapping lines") {
    std::vector<TokenRow> rows{{"m", {}, {}}};
    for (int i = 0; i < 40; ++i) rows[0].tokens.push_back("tok" + std::to_string(i)), rows[0].attributions.push_back(i == 0 ? 1.0f : 0.0f);
    const Tensor img = token_picture(rows, {"t", "p", "q"}, 400);
    CHECK(img.size(0) == 3);
    CHECK(img.size(2) == 400);
    CHECK(img.size(1) > 5 * 26);  // 40 boxes of ~50 pixels wrap onto several lines
    // The first box starts at (10, y0): its inside (after the 1-pixel border) is full green.
    const int64_t H = img.size(1), W = img.size(2);
    const Rgb green = token_rgb(1.0f);
    bool found = false;
    for (int64_t y = 0; y < H && !found; ++y)
      found = std::fabs(img.data()[(0 * H + y) * W + 12] - green[0]) < 1e-6f &&
              std::fabs(img.data()[(1 * H + y) * W + 12] - green[1]) < 1e-6f;
    CHECK(found);
  }
}
