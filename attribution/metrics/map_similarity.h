#pragma once
/// Similarities between two attribution maps of one image, as in the sanity checks of Adebayo
/// et al. 2018 ("Sanity Checks for Saliency Maps", NeurIPS, section 3): Spearman rank correlation
/// with and without absolute values, SSIM and the similarity of HOG features. Maps are one
/// channel-summed [H, W] plane each, row-major. CPU, no model involved.
#include <cstdint>
#include <vector>

namespace backlight {

/// A map plane: H x W values, row-major.
struct MapPlane {
  std::vector<double> values;
  int64_t height = 0, width = 0;
};

/// Structural similarity (Wang, Bovik, Sheikh, Simoncelli 2004, "Image quality assessment: from
/// error visibility to structural similarity"), as scikit-image 0.19's structural_similarity
/// with its defaults: 7x7 uniform window, K1 = 0.01, K2 = 0.03, sample covariances (N / (N - 1)),
/// averaged over the pixels whose window lies inside the image (skimage crops (win - 1) / 2 at
/// each edge). `data_range` is the value range (skimage: max - min of the dtype, 2 for floats;
/// Adebayo et al. normalise maps to [0, 1] first, range 1). Throws when the planes differ in size,
/// are smaller than 7x7 or data_range <= 0.
double ssim(const MapPlane& a, const MapPlane& b, double data_range);

struct HogOptions {
  int orientations = 9;     ///< bins over [0, 180) degrees
  int cell = 8;             ///< pixels per cell (square)
  int block = 3;            ///< cells per block (square)
};

/// Histogram of oriented gradients (Dalal and Triggs 2005) as scikit-image 0.19's `hog` with
/// defaults (feature_vector=True, block_norm='L2-Hys', no transform_sqrt): gradients by central
/// differences without the 1/2 (0 on the border rows/columns), per cell the summed magnitude of
/// pixels whose unsigned orientation falls in each bin (no interpolation) / cell area, blocks of
/// `block` x `block` cells L2-normalised, clipped at 0.2, renormalised (eps 1e-5). Order:
/// block row, block column, cell row, cell column, orientation. Throws when the plane holds
/// fewer than `block` cells per side.
std::vector<double> hog(const MapPlane& plane, const HogOptions& options = {});

/// HOG similarity (Adebayo et al.): Pearson correlation of hog(a) and hog(b).
double hog_similarity(const MapPlane& a, const MapPlane& b, const HogOptions& options = {});

/// Spearman rank correlation of the maps' values (absolute values first when `absolute`).
double map_spearman(const MapPlane& a, const MapPlane& b, bool absolute);

}  // namespace backlight
