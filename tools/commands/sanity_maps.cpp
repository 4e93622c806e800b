#include "tools/commands/sanity_maps.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"

namespace backlight::cli {

MapPlane sanity_plane(const Tensor& a, int64_t i, bool unit) {
  const int64_t c = a.size(1), h = a.size(2), w = a.size(3);
  MapPlane p{std::vector<double>(static_cast<size_t>(h * w), 0.0), h, w};
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t j = 0; j < h * w; ++j) p.values[static_cast<size_t>(j)] += a.data()[(i * c + ch) * h * w + j];
  if (unit) {
    double mx = 0;
    for (double& v : p.values) v = std::fabs(v), mx = std::max(mx, v);
    if (mx > 0)
      for (double& v : p.values) v /= mx;
  }
  return p;
}

SanitySimilarity sanity_image_similarity(const Tensor& reference, const Tensor& other, int64_t i) {
  BL_CHECK(reference.dim() == 4 && reference.shape() == other.shape() && i >= 0 && i < reference.size(0),
           "sanity_similarity: expected two maps [N, C, H, W] of one shape and an item below N, got ",
           reference.shape(), " and ", other.shape(), ", item ", i);
  const MapPlane a0 = sanity_plane(reference, i, false), a1 = sanity_plane(other, i, false);
  const MapPlane u0 = sanity_plane(reference, i, true), u1 = sanity_plane(other, i, true);
  return {map_spearman(a0, a1, false), map_spearman(a0, a1, true), ssim(u0, u1, 1.0), hog_similarity(u0, u1)};
}

SanitySimilarity sanity_similarity(const Tensor& reference, const Tensor& other) {
  BL_CHECK(reference.dim() == 4 && reference.shape() == other.shape(),
           "sanity_similarity: expected two maps [N, C, H, W] of one shape, got ", reference.shape(), " and ",
           other.shape());
  const int64_t n = reference.size(0);
  SanitySimilarity s;
  for (int64_t i = 0; i < n; ++i) {
    const SanitySimilarity one = sanity_image_similarity(reference, other, i);
    s.spearman += one.spearman / static_cast<double>(n);
    s.spearman_abs += one.spearman_abs / static_cast<double>(n);
    s.ssim += one.ssim / static_cast<double>(n);
    s.hog += one.hog / static_cast<double>(n);
  }
  return s;
}

}  // namespace backlight::cli
