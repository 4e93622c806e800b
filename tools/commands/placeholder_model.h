#pragma once
/// PLACEHOLDER for `backlight explain` until models/ provides the embedded default model (and
/// the default image): a tiny fixed-weight CNN and a synthetic test image, enough to run the
/// whole pipeline (forward, backward, heatmap, files) end to end. Delete this file when the
/// real default model lands; nothing outside tools/commands/ uses it.
#include <cstdint>

#include "engine/tape.h"
#include "engine/tensor.h"

namespace backlight::cli {

/// conv2d(3->8, 3x3, pad 1) -> relu -> conv2d(8->8, 3x3, pad 1) -> relu -> mean over H,W ->
/// linear(8->4). Weights are He-normal draws from std::mt19937_64(seed); module names follow
/// PyTorch ("conv1", "conv2", "fc"). Fully convolutional before the mean, so any H,W works.
class PlaceholderCnn {
 public:
  static constexpr int kClasses = 4;
  static constexpr uint64_t kSeed = 0x6261636b6c696768ULL;  // "backligh" in ASCII

  explicit PlaceholderCnn(uint64_t seed = kSeed);
  /// x [N,3,H,W] on any tape -> logits [N,4]. Parameters are added to x's tape.
  Var forward(const Var& x) const;

 private:
  Tensor conv1_w_, conv1_b_, conv2_w_, conv2_b_, fc_w_, fc_b_;
};

/// A deterministic synthetic RGB image [3,h,w] in [0,1]: horizontal and vertical ramps in red
/// and green, and a bright disc with a darker square in blue, so maps have structure to show.
Tensor test_pattern(int64_t h = 64, int64_t w = 64);

}  // namespace backlight::cli
