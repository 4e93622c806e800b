#include "attribution/perturbation/segmentation.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "engine/error.h"
#include "engine/parallel.h"

namespace backlight {

Segmentation parse_segmentation(std::string_view text) {
  if (text == "elements") return Segmentation::Elements;
  if (text == "grid") return Segmentation::Grid;
  if (text == "slic") return Segmentation::Slic;
  BL_THROW("unknown segmentation '", text, "' (expected elements, grid or slic)");
}

Tensor grid_segments(int64_t height, int64_t width, int segments) {
  BL_CHECK(height >= 1 && width >= 1 && segments >= 1, "grid_segments: expected H, W, segments >= 1, got ", height,
           ", ", width, ", ", segments);
  const int64_t rows = std::clamp<int64_t>(std::llround(std::sqrt(double(segments) * height / width)), 1, height);
  const int64_t cols = std::clamp<int64_t>((segments + rows - 1) / rows, 1, width);
  Tensor ids = Tensor::empty(Shape{height, width});
  for (int64_t y = 0; y < height; ++y)
    for (int64_t x = 0; x < width; ++x)
      ids.data()[y * width + x] = static_cast<float>((y * rows / height) * cols + x * cols / width);
  return ids;
}

namespace {

// Merges 4-connected pieces of `labels` smaller than min_size into the piece left of / above
// their first pixel in raster order and numbers the result 0 .. K-1 (skimage's
// _enforce_label_connectivity_cython, simplified).
std::vector<int32_t> connected_relabel(const std::vector<int32_t>& labels, int64_t h, int64_t w, int64_t min_size) {
  std::vector<int32_t> out(labels.size(), -1);
  std::vector<int64_t> piece, stack;
  int32_t next = 0;
  for (int64_t start = 0; start < h * w; ++start) {
    if (out[start] >= 0) continue;
    // Label of an adjacent, already numbered piece (left, else above the first pixel).
    int32_t adjacent = -1;
    if (start % w > 0) adjacent = out[start - 1];
    if (adjacent < 0 && start >= w) adjacent = out[start - w];
    piece.clear();
    stack.assign(1, start);
    out[start] = std::numeric_limits<int32_t>::max();  // visiting
    while (!stack.empty()) {
      const int64_t p = stack.back();
      stack.pop_back();
      piece.push_back(p);
      const int64_t y = p / w, x = p % w;
      const int64_t nb[4] = {x > 0 ? p - 1 : -1, x + 1 < w ? p + 1 : -1, y > 0 ? p - w : -1, y + 1 < h ? p + w : -1};
      for (int64_t q : nb)
        if (q >= 0 && out[q] < 0 && labels[q] == labels[start]) {
          out[q] = std::numeric_limits<int32_t>::max();
          stack.push_back(q);
        }
    }
    const int32_t id = static_cast<int64_t>(piece.size()) < min_size && adjacent >= 0 ? adjacent : next++;
    for (int64_t p : piece) out[p] = id;
  }
  return out;
}

}  // namespace

Tensor slic_segments(const Tensor& image, const SlicOptions& o) {
  BL_CHECK_SHAPE(image.dim() == 3, "slic_segments: expected one image [C, H, W], got ", image.shape());
  BL_CHECK(o.segments >= 1 && o.iterations >= 1 && o.compactness >= 0, "slic_segments: expected segments >= 1, ",
           "iterations >= 1 and compactness >= 0, got ", o.segments, ", ", o.iterations, ", ", o.compactness);
  const int64_t c = image.size(0), h = image.size(1), w = image.size(2), hw = h * w;
  const auto [lo_it, hi_it] = std::minmax_element(image.data(), image.data() + image.numel());
  const double range = *hi_it - *lo_it, scale = range > 0 ? 1.0 / range : 0.0;
  auto feat = [&](int64_t ch, int64_t p) { return image.data()[ch * hw + p] * scale; };

  const double step = std::sqrt(double(hw) / std::min<int64_t>(o.segments, hw));
  const int64_t ny = std::max<int64_t>(1, std::llround(h / step)), nx = std::max<int64_t>(1, std::llround(w / step));
  const int64_t k = ny * nx;
  std::vector<double> cy(k), cx(k), cf(k * c);
  for (int64_t i = 0; i < ny; ++i)
    for (int64_t j = 0; j < nx; ++j) {
      const int64_t id = i * nx + j;
      cy[id] = (i + 0.5) * h / ny;
      cx[id] = (j + 0.5) * w / nx;
      const int64_t p = std::min<int64_t>(h - 1, static_cast<int64_t>(cy[id])) * w +
                        std::min<int64_t>(w - 1, static_cast<int64_t>(cx[id]));
      for (int64_t ch = 0; ch < c; ++ch) cf[id * c + ch] = feat(ch, p);
    }
  const double m2 = double(o.compactness) * o.compactness, inv_s2 = 1.0 / (step * step);
  std::vector<int32_t> label(hw, -1);
  std::vector<double> dist(hw);
  for (int it = 0; it < o.iterations; ++it) {
    std::fill(dist.begin(), dist.end(), std::numeric_limits<double>::infinity());
    for (int64_t id = 0; id < k; ++id) {
      const int64_t y0 = std::max<int64_t>(0, static_cast<int64_t>(cy[id] - step)),
                    y1 = std::min<int64_t>(h, static_cast<int64_t>(cy[id] + step) + 1);
      const int64_t x0 = std::max<int64_t>(0, static_cast<int64_t>(cx[id] - step)),
                    x1 = std::min<int64_t>(w, static_cast<int64_t>(cx[id] + step) + 1);
      for (int64_t y = y0; y < y1; ++y)
        for (int64_t x = x0; x < x1; ++x) {
          const int64_t p = y * w + x;
          double dc = 0;
          for (int64_t ch = 0; ch < c; ++ch) {
            const double d = feat(ch, p) - cf[id * c + ch];
            dc += d * d;
          }
          const double dy = y - cy[id], dx = x - cx[id];
          const double d = dc + (dy * dy + dx * dx) * inv_s2 * m2;
          if (d < dist[p]) {
            dist[p] = d;
            label[p] = static_cast<int32_t>(id);
          }
        }
    }
    // Pixels no window reached join the spatially nearest centre.
    for (int64_t p = 0; p < hw; ++p)
      if (label[p] < 0) {
        double best = std::numeric_limits<double>::infinity();
        for (int64_t id = 0; id < k; ++id) {
          const double dy = p / w - cy[id], dx = p % w - cx[id], d = dy * dy + dx * dx;
          if (d < best) best = d, label[p] = static_cast<int32_t>(id);
        }
      }
    std::vector<double> sy(k, 0), sx(k, 0), sf(k * c, 0), cnt(k, 0);
    for (int64_t p = 0; p < hw; ++p) {
      const int64_t id = label[p];
      sy[id] += p / w, sx[id] += p % w, cnt[id] += 1;
      for (int64_t ch = 0; ch < c; ++ch) sf[id * c + ch] += feat(ch, p);
    }
    for (int64_t id = 0; id < k; ++id) {
      if (cnt[id] == 0) continue;  // an empty centre stays where it is
      cy[id] = sy[id] / cnt[id], cx[id] = sx[id] / cnt[id];
      for (int64_t ch = 0; ch < c; ++ch) cf[id * c + ch] = sf[id * c + ch] / cnt[id];
    }
  }
  const std::vector<int32_t> ids = connected_relabel(label, h, w, static_cast<int64_t>(step * step / 4));
  Tensor out = Tensor::empty(Shape{h, w});
  for (int64_t p = 0; p < hw; ++p) out.data()[p] = static_cast<float>(ids[p]);
  return out;
}

Tensor segment_images(const Tensor& images, Segmentation kind, const SlicOptions& options) {
  BL_CHECK_SHAPE(images.dim() == 4, "segmentation: expected images [N, C, H, W], got ", images.shape());
  BL_CHECK(kind != Segmentation::Elements, "segmentation: 'elements' is not a segmentation (use no feature mask)");
  const int64_t n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  Tensor out = Tensor::empty(Shape{n, 1, h, w});
  parallel_for(n, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const Tensor ids = kind == Segmentation::Grid
                             ? grid_segments(h, w, options.segments)
                             : slic_segments(images.slice_batch(i, i + 1).reshape({c, h, w}), options);
      std::copy(ids.data(), ids.data() + h * w, out.data() + i * h * w);
    }
  });
  return out;
}

}  // namespace backlight
