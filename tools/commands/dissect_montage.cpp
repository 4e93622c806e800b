#include "tools/commands/dissect_montage.h"

#include <algorithm>
#include <cstdio>

#include "engine/error.h"
#include "render/grid.h"

namespace backlight::cli {

std::vector<int64_t> ranked_units(const Dissection& d) {
  std::vector<int64_t> r(d.units.size());
  for (size_t i = 0; i < r.size(); ++i) r[i] = static_cast<int64_t>(i);
  std::stable_sort(r.begin(), r.end(), [&](int64_t a, int64_t b) { return d.units[a].iou > d.units[b].iou; });
  return r;
}

namespace {

// The image at mask resolution, darkened outside M_k, with M_k's boundary in yellow.
Tensor overlay(const ConceptImage& im, const std::vector<uint8_t>& mask) {
  const int64_t h = im.mask_height, w = im.mask_width, ih = im.image.size(1), iw = im.image.size(2);
  Tensor out = Tensor::empty(Shape{3, h, w});
  for (int64_t c = 0; c < 3; ++c) {
    const std::vector<double> plane = resize_plane_bilinear(
        std::span<const float>(im.image.data() + c * ih * iw, static_cast<size_t>(ih * iw)), ih, iw, h, w);
    for (int64_t p = 0; p < h * w; ++p)
      out.data()[c * h * w + p] = static_cast<float>(std::clamp(plane[p], 0.0, 1.0)) * (mask[p] ? 1.0f : 0.3f);
  }
  const float yellow[3] = {1.0f, 0.9f, 0.0f};
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      const int64_t p = y * w + x;
      if (!mask[p]) continue;
      const bool edge = y == 0 || x == 0 || y == h - 1 || x == w - 1 || !mask[p - 1] || !mask[p + 1] ||
                        !mask[p - w] || !mask[p + w];
      if (edge)
        for (int64_t c = 0; c < 3; ++c) out.data()[c * h * w + p] = yellow[c];
    }
  return out;
}

Tensor stack_rows(const std::vector<Tensor>& rows) {
  int64_t h = 0, w = 0;
  for (const Tensor& r : rows) h += r.size(1), w = std::max(w, r.size(2));
  Tensor out = Tensor::empty(Shape{3, h, w});
  std::fill(out.data(), out.data() + out.numel(), 1.0f);
  int64_t y0 = 0;
  for (const Tensor& r : rows) {
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < r.size(1); ++y)
        std::copy(r.data() + (c * r.size(1) + y) * r.size(2), r.data() + (c * r.size(1) + y + 1) * r.size(2),
                  out.data() + (c * h + y0 + y) * w);
    y0 += r.size(1);
  }
  return out;
}

}  // namespace

Tensor dissection_montage(const Module& model, const ConceptSource& data, const DissectionOptions& o,
                          const Dissection& d, const std::vector<int64_t>& ranked, int64_t units) {
  BL_CHECK(!ranked.empty() && units >= 1, "dissection_montage: expected at least one unit");
  std::vector<Tensor> rows;
  int64_t panel_h = 0, panel_w = 0;
  for (int64_t r = 0; r < std::min<int64_t>(units, static_cast<int64_t>(ranked.size())); ++r) {
    const UnitDissection& u = d.units[static_cast<size_t>(ranked[r])];
    if (u.top_images.empty()) continue;
    std::vector<ConceptImage> images;
    for (const auto& [v, i] : u.top_images) images.push_back(data.load(i));
    const Tensor a = dissection_activations(model, images, o);
    const int64_t k = a.size(1), h = a.size(2), w = a.size(3);
    std::vector<Panel> panels;
    for (size_t i = 0; i < images.size(); ++i) {
      const ConceptImage& im = images[i];
      const std::span<const float> map(a.data() + (static_cast<int64_t>(i) * k + u.unit) * h * w,
                                       static_cast<size_t>(h * w));
      Tensor p = overlay(im, binarized_unit_map(map, h, w, u.threshold, im.mask_height, im.mask_width));
      if (panel_h == 0) panel_h = p.size(1), panel_w = p.size(2);
      if (p.size(1) != panel_h || p.size(2) != panel_w) {  // mixed resolutions: one size for the grid
        Tensor q = Tensor::empty(Shape{3, panel_h, panel_w});
        for (int64_t c = 0; c < 3; ++c) {
          const std::vector<double> s = resize_plane_bilinear(
              std::span<const float>(p.data() + c * p.size(1) * p.size(2), static_cast<size_t>(p.size(1) * p.size(2))),
              p.size(1), p.size(2), panel_h, panel_w);
          for (int64_t j = 0; j < panel_h * panel_w; ++j) q.data()[c * panel_h * panel_w + j] = static_cast<float>(s[j]);
        }
        p = q;
      }
      std::string label;
      if (i == 0) {
        char buf[160];
        std::snprintf(buf, sizeof buf, "unit %lld %s IoU %.3f", static_cast<long long>(u.unit),
                      u.best_concept >= 0 ? d.concepts[static_cast<size_t>(u.best_concept)].name.c_str() : "-", u.iou);
        label = buf;
      }
      panels.push_back({p, label});
    }
    while (static_cast<int64_t>(panels.size()) < o.top_images) {  // a dataset with fewer images: blank panels
      Tensor blank = Tensor::empty(Shape{3, panel_h, panel_w});
      std::fill(blank.data(), blank.data() + blank.numel(), 1.0f);
      panels.push_back({blank, ""});
    }
    rows.push_back(make_grid(panels, {.min_panel_size = 96, .gap = 4}));
  }
  BL_CHECK(!rows.empty(), "dissection_montage: no unit has top images");
  return stack_rows(rows);
}

}  // namespace backlight::cli
