#pragma once
/// Felzenszwalb-Huttenlocher graph segmentation (Felzenszwalb & Huttenlocher, "Efficient
/// graph-based image segmentation", IJCV 2004) exactly as scikit-image 0.19's
/// `skimage.segmentation.felzenszwalb` computes it (the segmentation inside XRAI,
/// attribution/perturbation/xrai.h). Hand-written because no C++ library in Debian has skimage's
/// semantics: OpenCV's ximgproc GraphSegmentation (libopencv-contrib-dev) builds a 4-connected
/// graph (skimage: 8-connected), smooths in float32 with cv::GaussianBlur, uses k as given
/// (skimage: k / 255), merges on weight <= threshold (skimage: <) and sorts with std::sort, so
/// its label maps differ (docs/methods.md, "XRAI").
#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace backlight {

struct FelzenszwalbOptions {
  double scale = 1.0;    ///< k of the paper; skimage divides it by 255 (its "reference" scale)
  double sigma = 0.8;    ///< Gaussian smoothing per spatial axis (truncated at 4 sigma, reflect border)
  int64_t min_size = 20; ///< components smaller than this merge into a neighbour (post-processing)
};

/// Segments one image [C, H, W] (any C >= 1, values used as given: skimage's img_as_float64 of a
/// float image) and returns [H, W] labels 0 .. K-1 in float, numbered by each segment's first
/// pixel in row-major order (skimage's numbering: its union-find root is the smallest pixel index).
/// Steps, all in double as skimage: per-channel Gaussian (scipy gaussian_filter, sigma on both
/// spatial axes, kernel radius int(4 sigma + 0.5), mode 'reflect'); 8-connected edges (right,
/// down, down-right, up-right) weighted by the Euclidean distance over all channels; edges sorted
/// by numpy 1.24's argsort (introsort, the same order of ties); Kruskal merging when the edge
/// weight < min over both components of float(Int(C) + k / |C|) (skimage stores it in a C float);
/// then a second pass in the same edge order joins components of which one is smaller than min_size.
Tensor felzenszwalb_segments(const Tensor& image, const FelzenszwalbOptions& options = {});

namespace detail {
/// numpy 1.24's `np.argsort(values)` (default kind: introsort with median-of-3, insertion sort
/// below 16 elements, heapsort past the depth limit): the same permutation, ties included.
std::vector<int64_t> numpy_argsort(const std::vector<double>& values);
/// numpy's pairwise summation of n doubles (the order np.sum and np.mean add float64 values in).
double pairwise_sum(const double* a, int64_t n);
/// a * b rounded before any addition (no FMA contraction), as numpy's and scipy's loops compute it.
double unfused_mul(double a, double b);
/// scipy.ndimage's normalised Gaussian kernel of 2 radius + 1 taps (numpy's pairwise sum).
std::vector<double> scipy_gaussian_kernel(double sigma, int radius);
}  // namespace detail

}  // namespace backlight
