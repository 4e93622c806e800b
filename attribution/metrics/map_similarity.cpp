#include "attribution/metrics/map_similarity.h"

#include <algorithm>
#include <cmath>

#include "attribution/metrics/faithfulness.h"
#include "attribution/metrics/randomisation.h"
#include "engine/error.h"

namespace backlight {

namespace {

void check_pair(const MapPlane& a, const MapPlane& b, const char* fn) {
  BL_CHECK(a.height == b.height && a.width == b.width, fn, ": expected two maps of one size, got ", a.height, "x",
           a.width, " and ", b.height, "x", b.width);
  BL_CHECK(static_cast<int64_t>(a.values.size()) == a.height * a.width &&
               static_cast<int64_t>(b.values.size()) == b.height * b.width,
           fn, ": a map's value count does not match its height x width");
}

}  // namespace

double ssim(const MapPlane& a, const MapPlane& b, double data_range) {
  check_pair(a, b, "ssim");
  constexpr int kWin = 7, kPad = (kWin - 1) / 2;
  BL_CHECK(a.height >= kWin && a.width >= kWin, "ssim: expected maps of at least 7x7, got ", a.height, "x", a.width);
  BL_CHECK(data_range > 0, "ssim: expected data_range > 0, got ", data_range);
  const double np = kWin * kWin, cov_norm = np / (np - 1);
  const double c1 = (0.01 * data_range) * (0.01 * data_range), c2 = (0.03 * data_range) * (0.03 * data_range);
  const int64_t w = a.width;
  double total = 0;
  int64_t count = 0;
  // Only the windows inside the image count (skimage crops the padded border), so no edge mode.
  for (int64_t y = kPad; y < a.height - kPad; ++y)
    for (int64_t x = kPad; x < w - kPad; ++x) {
      double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
      for (int64_t dy = -kPad; dy <= kPad; ++dy)
        for (int64_t dx = -kPad; dx <= kPad; ++dx) {
          const double u = a.values[(y + dy) * w + x + dx], v = b.values[(y + dy) * w + x + dx];
          sx += u, sy += v, sxx += u * u, syy += v * v, sxy += u * v;
        }
      const double ux = sx / np, uy = sy / np;
      const double vx = cov_norm * (sxx / np - ux * ux), vy = cov_norm * (syy / np - uy * uy);
      const double vxy = cov_norm * (sxy / np - ux * uy);
      total += ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
      ++count;
    }
  return total / static_cast<double>(count);
}

std::vector<double> hog(const MapPlane& p, const HogOptions& o) {
  BL_CHECK(static_cast<int64_t>(p.values.size()) == p.height * p.width,
           "hog: a map's value count does not match its height x width");
  BL_CHECK(o.orientations >= 1 && o.cell >= 1 && o.block >= 1, "hog: expected positive orientations, cell and block, got ",
           o.orientations, ", ", o.cell, ", ", o.block);
  const int64_t h = p.height, w = p.width, cells_r = h / o.cell, cells_c = w / o.cell;
  BL_CHECK(cells_r >= o.block && cells_c >= o.block, "hog: a ", h, "x", w, " map has fewer than ", o.block,
           " cells of ", o.cell, " pixels per side");
  std::vector<double> mag(static_cast<size_t>(h * w)), ori(static_cast<size_t>(h * w));
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      const double gr = (y == 0 || y == h - 1) ? 0.0 : p.values[(y + 1) * w + x] - p.values[(y - 1) * w + x];
      const double gc = (x == 0 || x == w - 1) ? 0.0 : p.values[y * w + x + 1] - p.values[y * w + x - 1];
      mag[y * w + x] = std::hypot(gc, gr);
      // numpy's rad2deg(arctan2) % 180: Python's modulo keeps the result in [0, 180).
      double deg = std::atan2(gr, gc) * 180.0 / M_PI;
      deg = std::fmod(deg, 180.0);
      if (deg < 0) deg += 180.0;
      ori[y * w + x] = deg;
    }
  // Cell histograms: skimage compares orientations against float (single) bin edges.
  const int k = o.orientations;
  const double per_bin = 180.0 / k;
  std::vector<double> hist(static_cast<size_t>(cells_r * cells_c * k), 0.0);
  for (int64_t cr = 0; cr < cells_r; ++cr)
    for (int64_t cc = 0; cc < cells_c; ++cc)
      for (int bin = 0; bin < k; ++bin) {
        const double hi = static_cast<float>(per_bin * (bin + 1)), lo = static_cast<float>(per_bin * bin);
        float total = 0.0f;  // skimage accumulates in float
        for (int64_t y = cr * o.cell; y < (cr + 1) * o.cell; ++y)
          for (int64_t x = cc * o.cell; x < (cc + 1) * o.cell; ++x) {
            const double d = ori[y * w + x];
            if (d >= hi || d < lo) continue;
            total += static_cast<float>(mag[y * w + x]);
          }
        hist[(cr * cells_c + cc) * k + bin] = static_cast<double>(total / static_cast<float>(o.cell * o.cell));
      }
  const int64_t blocks_r = cells_r - o.block + 1, blocks_c = cells_c - o.block + 1;
  const double eps = 1e-5;
  std::vector<double> out;
  out.reserve(static_cast<size_t>(blocks_r * blocks_c * o.block * o.block * k));
  std::vector<double> blk;
  for (int64_t br = 0; br < blocks_r; ++br)
    for (int64_t bc = 0; bc < blocks_c; ++bc) {
      blk.clear();
      for (int64_t r = br; r < br + o.block; ++r)
        for (int64_t c = bc; c < bc + o.block; ++c)
          for (int bin = 0; bin < k; ++bin) blk.push_back(hist[(r * cells_c + c) * k + bin]);
      double ss = 0;
      for (double v : blk) ss += v * v;
      double norm = std::sqrt(ss + eps * eps), ss2 = 0;
      for (double& v : blk) v = std::min(v / norm, 0.2), ss2 += v * v;
      norm = std::sqrt(ss2 + eps * eps);
      for (double v : blk) out.push_back(v / norm);
    }
  return out;
}

double hog_similarity(const MapPlane& a, const MapPlane& b, const HogOptions& o) {
  check_pair(a, b, "hog_similarity");
  return pearson(hog(a, o), hog(b, o));
}

double map_spearman(const MapPlane& a, const MapPlane& b, bool absolute) {
  check_pair(a, b, "map_spearman");
  if (!absolute) return spearman(a.values, b.values);
  std::vector<double> x = a.values, y = b.values;
  for (double& v : x) v = std::fabs(v);
  for (double& v : y) v = std::fabs(v);
  return spearman(x, y);
}

}  // namespace backlight
