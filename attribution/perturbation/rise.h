#pragma once
/// RISE: Randomized Input Sampling for Explanation (Petsiuk et al., BMVC 2018). Captum has no
/// RISE; this follows the paper and its reference code (eclique/RISE):
///   - mask i: a grid of cells x cells binary values, each 1 with probability p; bilinearly
///     upsampled (align_corners = false, edges clamped, as skimage resize order 1) to
///     ((cells + 1) * ch, (cells + 1) * cw) with cell size ch = ceil(H / cells), cw = ceil(W / cells),
///     then cropped to H x W at a random shift (dy, dx) in [0, ch) x [0, cw)
///   - score s_i = target value of x * M_i + baseline * (1 - M_i) (the paper: x * M_i, i.e. a
///     zero baseline), M_i broadcast over the non-spatial dimensions
///   - saliency = sum_i s_i M_i / (N * p)                       (E[M] = p normalisation)
/// The paper scores class probabilities; with a class target the score here is the model output
/// (logit) - pass Target::function with a softmax to use probabilities.
///
/// Inputs [N, ..., H, W] (rank >= 3; the last two axes are spatial). The same masks serve every
/// item (as the reference code). The result has the input's shape with every non-spatial
/// dimension 1 ([N, 1, H, W] for images, like the CAM methods). Mask i depends only on
/// (seed, i) (Philox): the result does not depend on the batch size or thread count. Masks are
/// generated batch by batch, never all at once.
#include "attribution/core/baseline.h"
#include "attribution/core/progress.h"
#include "attribution/core/result.h"
#include "attribution/core/target.h"
#include "engine/module.h"

namespace backlight {

struct RiseOptions {
  int masks = 2000;               ///< N (the paper uses 4000-8000 for ImageNet models)
  int cells = 7;                  ///< s: the low-resolution grid is s x s
  float keep_probability = 0.5f;  ///< p
  Baseline baseline = Baseline::zero();
  int masks_per_eval = 0;  ///< masks per forward (x N items); 0: about 64 rows
  uint64_t seed = 0;
  ProgressOptions progress;
  const Workspace* workspace = nullptr;
};
AttributionResult rise(const Module& model, const Tensor& inputs, const Target& target,
                       const RiseOptions& options = {});

/// Mask i of a RISE run as [H, W] (what rise() multiplies the input with), for tests and
/// visualisation.
Tensor rise_mask(int64_t height, int64_t width, int cells, float keep_probability, uint64_t seed, int64_t index);

}  // namespace backlight
