#include "tools/commands/counterfactual_render.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "engine/error.h"
#include "render/font.h"
#include "render/grid.h"

namespace backlight::cli {
namespace {

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

// [C,H,W] item -> [3,H,W] (grey for C != 3), min-max scaled into [0,1] when outside it.
Tensor shown(const float* p, int64_t c, int64_t h, int64_t w, float lo, float hi) {
  const int64_t hw = h * w;
  Tensor out = Tensor::empty({3, h, w});
  const bool scale = lo < 0 || hi > 1;
  for (int64_t k = 0; k < 3; ++k)
    for (int64_t i = 0; i < hw; ++i) {
      float v = 0;
      if (c == 3) v = p[k * hw + i];
      else
        for (int64_t j = 0; j < c; ++j) v += p[j * hw + i] / float(c);
      out.data()[k * hw + i] = scale ? (hi > lo ? (v - lo) / (hi - lo) : 0.5f) : v;
    }
  return out;
}

bool changed(double a, double b, double tol) { return std::fabs(a - b) > tol; }

}  // namespace

Tensor render_cf_images(const CfReport& r) {
  const Tensor& x = r.x;
  const Tensor& c = r.result.counterfactuals;
  BL_CHECK_SHAPE(x.dim() == 4, "counterfactual: a picture of images needs [1,C,H,W], got ", x.shape());
  const int64_t ch = x.size(1), h = x.size(2), w = x.size(3), n = x.numel();
  float lo = INFINITY, hi = -INFINITY;
  for (const Tensor* t : {&x, &c})
    for (float v : t->span()) lo = std::min(lo, v), hi = std::max(hi, v);
  std::vector<Panel> panels{{shown(x.data(), ch, h, w, lo, hi), "original: class " + std::to_string(r.original_class)}};
  for (int64_t i = 0; i < c.size(0); ++i) {
    const float* ci = c.data() + i * n;
    panels.push_back({shown(ci, ch, h, w, lo, hi),
                      "cf " + std::to_string(i + 1) + ": class " + std::to_string(r.result.prediction[size_t(i)]) + " " +
                          fmt(100 * r.result.probability[size_t(i)]) + "%"});
    double amp = 0;
    for (int64_t j = 0; j < n; ++j) amp = std::max(amp, std::fabs(double(ci[j]) - x.data()[j]));
    std::vector<float> d(static_cast<size_t>(n));
    for (int64_t j = 0; j < n; ++j) d[size_t(j)] = amp > 0 ? float(0.5 + (double(ci[j]) - x.data()[j]) / (2 * amp)) : 0.5f;
    panels.push_back({shown(d.data(), ch, h, w, 0, 1), "difference x" + fmt(amp > 0 ? 0.5 / amp : 1.0)});
  }
  return make_grid(panels);
}

Tensor render_cf_table(const CfReport& r) {
  const Tensor& x = r.x;
  const Tensor& c = r.result.counterfactuals;
  const int64_t f = x.numel(), k = c.size(0);
  const double tol = 1e-3;
  auto name = [&](int64_t j) { return r.names.empty() ? "feature " + std::to_string(j) : r.names[size_t(j)]; };
  std::vector<int64_t> rows;
  for (int64_t j = 0; j < f; ++j)
    for (int64_t i = 0; i < k; ++i)
      if (changed(c.data()[i * f + j], x.data()[j], tol)) {
        rows.push_back(j);
        break;
      }
  // cells[row][col]; col 0 names, col 1 the original, then one column per counterfactual.
  std::vector<std::vector<std::string>> cells;
  std::vector<std::string> head{"feature", "original"};
  for (int64_t i = 0; i < k; ++i) head.push_back("cf " + std::to_string(i + 1));
  cells.push_back(head);
  for (int64_t j : rows) {
    std::vector<std::string> row{name(j), fmt(x.data()[j])};
    for (int64_t i = 0; i < k; ++i) {
      const float v = c.data()[i * f + j];
      row.push_back(changed(v, x.data()[j], tol) ? fmt(v) : "-");
    }
    cells.push_back(row);
  }
  std::vector<std::string> pred{"class", std::to_string(r.original_class)};
  for (int64_t i = 0; i < k; ++i)
    pred.push_back(std::to_string(r.result.prediction[size_t(i)]) + (r.result.valid[size_t(i)] ? "" : " (invalid)"));
  cells.push_back(pred);
  const CfMetrics& m = r.result.metrics;
  const std::string footer = "validity " + fmt(m.validity) + "  proximity " + fmt(m.proximity) + " (" +
                             to_string(r.metric.kind) + ")  sparsity " + fmt(m.sparsity) + "  diversity " +
                             fmt(m.diversity);
  const int scale = 2, pad = 8, line = kLineHeight * scale + 6;
  std::vector<int> widths(cells[0].size(), 0);
  for (const auto& row : cells)
    for (size_t col = 0; col < row.size(); ++col) widths[col] = std::max(widths[col], text_width(row[col], scale));
  int width = pad;
  for (int wd : widths) width += wd + 2 * pad;
  width = std::max(width, text_width(footer, scale) + 2 * pad);
  const int height = int(cells.size() + 1) * line + 2 * pad;
  Tensor img = Tensor::empty({3, height, width});
  std::fill(img.data(), img.data() + img.numel(), 1.0f);
  for (size_t rix = 0; rix < cells.size(); ++rix) {
    int xpos = pad;
    const int y = pad + int(rix) * line;
    const bool header = rix == 0 || rix + 1 == cells.size();
    for (size_t col = 0; col < cells[rix].size(); ++col) {
      const bool value = !header && col >= 2 && cells[rix][col] != "-";
      const std::array<float, 3> color = header ? std::array<float, 3>{0.1f, 0.1f, 0.5f}
                                         : value ? std::array<float, 3>{0.8f, 0.1f, 0.1f}
                                                 : std::array<float, 3>{0.1f, 0.1f, 0.1f};
      draw_text(img, xpos, y, cells[rix][col], scale, color);
      xpos += widths[col] + 2 * pad;
    }
  }
  draw_text(img, pad, pad + int(cells.size()) * line, footer, scale, {0.2f, 0.2f, 0.2f});
  return img;
}

nlohmann::json cf_json(const CfReport& r) {
  const Tensor& x = r.x;
  const Tensor& c = r.result.counterfactuals;
  const int64_t f = x.numel(), k = c.size(0);
  const CfMetrics& m = r.result.metrics;
  nlohmann::json j = {{"desired_class", r.result.desired_class}, {"original_class", r.original_class}, {"k", k},
                      {"metrics", {{"validity", m.validity}, {"proximity", m.proximity},
                                   {"proximity_l1", m.proximity_l1}, {"proximity_l2", m.proximity_l2},
                                   {"changed_features", m.changed_features}, {"sparsity", m.sparsity},
                                   {"diversity", m.diversity}, {"dpp_diversity", m.dpp_diversity}}}};
  nlohmann::json list = nlohmann::json::array();
  for (int64_t i = 0; i < k; ++i) {
    const float* ci = c.data() + i * f;
    nlohmann::json e = {{"prediction", r.result.prediction[size_t(i)]},
                        {"probability", r.result.probability[size_t(i)]},
                        {"valid", bool(r.result.valid[size_t(i)])},
                        {"distance", r.metric.distance(ci, x.data(), f)}};
    if (r.tabular) {
      nlohmann::json ch = nlohmann::json::array();
      for (int64_t jx = 0; jx < f; ++jx)
        if (changed(ci[jx], x.data()[jx], 1e-3))
          ch.push_back({{"feature", jx}, {"name", r.names.empty() ? "" : r.names[size_t(jx)]},
                        {"from", x.data()[jx]}, {"to", ci[jx]}});
      e["changes"] = ch;
      e["values"] = std::vector<float>(ci, ci + f);
    }
    list.push_back(e);
  }
  j["counterfactuals"] = list;
  return j;
}

}  // namespace backlight::cli
