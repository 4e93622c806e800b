#pragma once
/// Baselines (references) for path and difference methods: IG, DeepLIFT, GradientSHAP, occlusion.
#include <cstdint>

#include "engine/tensor.h"

namespace backlight {

struct Baseline {
  enum class Kind { Zero, Constant, Blur, Uniform, Given };
  Kind kind = Kind::Zero;
  float value = 0.0f;               ///< Constant
  float sigma = 5.0f;               ///< Blur: Gaussian sigma in pixels over the two last axes
  float low = 0.0f, high = 1.0f;    ///< Uniform noise range
  uint64_t seed = 0;                ///< Uniform noise seed (Philox: same draws on CPU and CUDA)
  Tensor tensor;                    ///< Given: [N, ...] or [1, ...] or the input's per-item shape

  static Baseline zero() { return {}; }
  static Baseline constant(float v);
  static Baseline blur(float sigma);
  static Baseline uniform(float low, float high, uint64_t seed);
  static Baseline given(Tensor t);
  /// "zero", "blur", "uniform", "constant:<v>" (the CLI's --baseline), else throws naming the text.
  static Baseline parse(std::string_view text, uint64_t seed = 0);
};

/// The baseline for a batch of inputs [N, ...], same shape. Throws naming both shapes when a
/// given tensor does not fit.
Tensor make_baseline(const Baseline& b, const Tensor& inputs);
/// The same on the device of `ws` (inputs on that device or the host): zero and constant
/// baselines are filled there; the others are made on the host (blur from a host copy of the
/// inputs, one sync) and copied over once. With a host workspace: make_baseline(b, inputs).
Tensor make_baseline(const Baseline& b, const Tensor& inputs, const Workspace& ws);

}  // namespace backlight
