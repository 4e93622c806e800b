// Token attributions as HTML (Captum's visualize_text) and as a picture of coloured boxes.
#include "render/token_view.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "engine/error.h"
#include "render/font.h"

namespace backlight::cli {

namespace {

constexpr int kScale = 2;          // token text scale: 10x16 pixel glyphs
constexpr int kPadX = 4, kPadY = 3, kGap = 4, kMargin = 10;
constexpr size_t kMaxTokenChars = 24;
constexpr std::array<float, 3> kBlack{0, 0, 0};

// Captum: lightness 100 - 50 s (positive, hue 120) or 100 - 40 |s| (negative, hue 0), sat 75%.
// int() truncation as Python's, so the CSS text equals Captum's for the same score.
struct Hsl {
  int hue, sat, light;
};
Hsl captum_hsl(float score) {
  const float s = std::clamp(std::isfinite(score) ? score : 0.0f, -1.0f, 1.0f);
  if (s > 0) return {120, 75, 100 - static_cast<int>(50 * s)};
  return {0, 75, 100 - static_cast<int>(-40 * s)};
}

float hue_channel(float p, float q, float t) {
  if (t < 0) t += 1;
  if (t > 1) t -= 1;
  if (t < 1.0f / 6) return p + (q - p) * 6 * t;
  if (t < 0.5f) return q;
  if (t < 2.0f / 3) return p + (q - p) * (2.0f / 3 - t) * 6;
  return p;
}

std::string escape_html(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string shown_token(const std::string& t) {
  std::string s = t.size() <= kMaxTokenChars ? t : t.substr(0, kMaxTokenChars - 1) + "~";
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  return s.empty() ? " " : s;
}

void fill_rect(Tensor& img, int x0, int y0, int w, int h, const Rgb& c) {
  const int64_t H = img.size(1), W = img.size(2);
  for (int y = std::max(0, y0); y < std::min<int64_t>(H, y0 + h); ++y)
    for (int x = std::max(0, x0); x < std::min<int64_t>(W, x0 + w); ++x)
      for (int k = 0; k < 3; ++k) img.data()[(k * H + y) * W + x] = c[static_cast<size_t>(k)];
}

void check_row(const TokenRow& r) {
  BL_CHECK(r.tokens.size() == r.attributions.size(), "token view: row '", r.label, "' has ", r.tokens.size(),
           " tokens but ", r.attributions.size(), " attributions (expected one per token)");
}

// One laid-out box (or label) of the picture.
struct Item {
  int x, y;
  std::string text;
  float score;
  bool box;
};

}  // namespace

std::string token_css_color(float score) {
  const Hsl h = captum_hsl(score);
  return "hsl(" + std::to_string(h.hue) + ", " + std::to_string(h.sat) + "%, " + std::to_string(h.light) + "%)";
}

Rgb token_rgb(float score) {
  const Hsl h = captum_hsl(score);
  const float l = static_cast<float>(h.light) / 100, s = static_cast<float>(h.sat) / 100;
  const float hue = static_cast<float>(h.hue) / 360;
  const float q = l < 0.5f ? l * (1 + s) : l + s - l * s, p = 2 * l - q;
  return {hue_channel(p, q, hue + 1.0f / 3), hue_channel(p, q, hue), hue_channel(p, q, hue - 1.0f / 3)};
}

std::vector<float> normalise_scores(std::span<const float> a) {
  float m = 0;
  for (float v : a) m = std::max(m, std::fabs(v));
  std::vector<float> out(a.begin(), a.end());
  if (m > 0)
    for (float& v : out) v /= m;
  return out;
}

std::string token_html(std::span<const TokenRow> rows, const TokenPageInfo& info) {
  std::ostringstream os;
  os << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" << escape_html(info.title)
     << "</title>\n<style>body{font-family:sans-serif} table{border-collapse:collapse} "
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top} "
        "mark{opacity:1.0;line-height:1.75}</style></head>\n<body>\n<h3>"
     << escape_html(info.title) << "</h3>\n<table>\n<tr><th>Predicted Label</th><th>Attribution Label</th>"
     << "<th>Method</th><th>Attribution Score</th><th>Word Importance</th></tr>\n";
  for (const TokenRow& r : rows) {
    check_row(r);
    const std::vector<float> scores = normalise_scores(r.attributions);
    double sum = 0;
    for (float v : r.attributions) sum += v;
    char total[32];
    std::snprintf(total, sizeof total, "%.2f", sum);
    os << "<tr><td><b>" << escape_html(info.prediction) << "</b></td><td><b>" << escape_html(info.target)
       << "</b></td><td><b>" << escape_html(r.label) << "</b></td><td><b>" << total << "</b></td><td>";
    for (size_t i = 0; i < r.tokens.size(); ++i) {
      char raw[32];
      std::snprintf(raw, sizeof raw, "%.6g", static_cast<double>(r.attributions[i]));
      os << "<mark style=\"background-color: " << token_css_color(scores[i]) << "\" title=\"" << raw
         << "\"><font color=\"black\"> " << escape_html(r.tokens[i]) << " </font></mark>";
    }
    os << "</td></tr>\n";
  }
  os << "</table>\n<p>Legend: <mark style=\"background-color: " << token_css_color(-1)
     << "\">&nbsp;negative&nbsp;</mark> <mark style=\"background-color: " << token_css_color(0)
     << "\">&nbsp;neutral&nbsp;</mark> <mark style=\"background-color: " << token_css_color(1)
     << "\">&nbsp;positive&nbsp;</mark> (each row scaled by its largest magnitude)</p>\n</body></html>\n";
  return os.str();
}

Tensor token_picture(std::span<const TokenRow> rows, const TokenPageInfo& info, int width) {
  BL_CHECK(width >= 200, "token_picture: expected a width of at least 200 pixels, got ", width);
  // Title lines are never cut: the picture widens to them.
  width = std::max({width, text_width(info.title, kScale) + 2 * kMargin,
                    text_width("prediction " + info.prediction + ", target " + info.target, kScale) + 2 * kMargin});
  const int line = kGlyphHeight * kScale + 2 * kPadY + kGap;
  std::vector<Item> items;
  int y = kMargin;
  auto label = [&](const std::string& text) {
    items.push_back({kMargin, y, text, 0, false});
    y += kLineHeight * kScale;
  };
  label(info.title);
  label("prediction " + info.prediction + ", target " + info.target);
  for (const TokenRow& r : rows) {
    check_row(r);
    y += kGap;
    label(r.label);
    const std::vector<float> scores = normalise_scores(r.attributions);
    int x = kMargin;
    for (size_t i = 0; i < r.tokens.size(); ++i) {
      const std::string t = shown_token(r.tokens[i]);
      const int w = text_width(t, kScale) + 2 * kPadX;
      if (x > kMargin && x + w > width - kMargin) x = kMargin, y += line;
      items.push_back({x, y, t, scores[i], true});
      x += w + kGap;
    }
    y += line;
  }
  const int legend_y = y + kGap;
  const int height = legend_y + kGlyphHeight * kScale + 12 + kMargin;
  Tensor img = Tensor::full({3, height, width}, 1.0f);
  for (const Item& it : items) {
    if (it.box) {
      const int w = text_width(it.text, kScale) + 2 * kPadX, h = kGlyphHeight * kScale + 2 * kPadY;
      fill_rect(img, it.x, it.y, w, h, {0.6f, 0.6f, 0.6f});
      fill_rect(img, it.x + 1, it.y + 1, w - 2, h - 2, token_rgb(it.score));
      draw_text(img, it.x + kPadX, it.y + kPadY, it.text, kScale, kBlack);
    } else {
      draw_text(img, it.x, it.y, it.text, kScale, kBlack);
    }
  }
  // Legend: -1 (red) .. 0 (white) .. +1 (green), 200 pixels.
  draw_text(img, kMargin, legend_y, "-1", kScale, kBlack);
  const int bar_x = kMargin + text_width("-1", kScale) + 8, bar_w = 200;
  for (int i = 0; i < bar_w; ++i)
    fill_rect(img, bar_x + i, legend_y, 1, kGlyphHeight * kScale, token_rgb(2.0f * static_cast<float>(i) / (bar_w - 1) - 1));
  draw_text(img, bar_x + bar_w + 8, legend_y, "+1", kScale, kBlack);
  return img;
}

}  // namespace backlight::cli
