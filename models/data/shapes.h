#pragma once
/// Synthetic "shapes" dataset with pixel-exact ground truth, for training the default model and
/// for measuring how well an attribution map localises the evidence.
///
/// Each sample is an RGB image of one *target* shape (circle, square, triangle or cross: the
/// class) on a textured background (smooth value noise or sinusoidal stripes), with 1-3 smaller
/// *distractor* shapes of the other classes. The target's mask (1 on every pixel of the target,
/// 0 elsewhere) is exact: the target is drawn last and never overlaps a distractor, so every
/// mask pixel shows the target colour (plus the small pixel noise added everywhere).
///
/// What varies, all drawn per sample: target class, size, position, rotation and colour;
/// distractor count, classes (never the target's), sizes, positions and colours; background kind,
/// colours, texture; pixel noise. Distractors are clearly smaller (by default at most 0.10 of the
/// image side in half-extent, targets at least 0.15), so the class is decided by the one large
/// shape; colour carries no class information. A distractor that finds no free place after a
/// few tries is left out, so rarely an image has fewer than distractors_min.
///
/// Determinism: a sample depends only on (cfg, seed, index): every random number is a Philox
/// draw keyed by `seed` on stream `index` (engine/philox.h), so samples can be generated in any
/// order, in parallel, or one at a time, and are identical on every machine. Labels are exactly
/// balanced over each aligned block of 4 indices (a per-block random permutation of the classes).
#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "engine/tensor.h"

namespace backlight {

/// The classes, in label order.
enum class ShapeKind : int64_t { Circle = 0, Square = 1, Triangle = 2, Cross = 3 };

inline constexpr int64_t kNumShapeClasses = 4;

/// "circle", "square", "triangle", "cross" (index = label).
inline constexpr std::array<std::string_view, kNumShapeClasses> kShapeClassNames = {"circle", "square", "triangle",
                                                                                   "cross"};

/// Generator settings. Sizes are fractions of min(height, width).
struct ShapesConfig {
  int64_t height = 64;
  int64_t width = 64;
  /// Target half-extent (circumradius of the shape) range.
  float target_min = 0.15f;
  float target_max = 0.25f;
  /// Distractor half-extent range; keep distractor_max well below target_min.
  float distractor_min = 0.06f;
  float distractor_max = 0.10f;
  int64_t distractors_min = 1;
  int64_t distractors_max = 3;
  /// Largest rotation of squares, triangles and crosses, radians either way.
  float max_rotation = 0.4f;
  /// Uniform pixel noise amplitude added everywhere (then clamped to [0, 1]).
  float pixel_noise = 0.03f;
};

/// One drawn shape, as placed (network dissection builds its concept masks from these).
struct ShapeInstance {
  ShapeKind kind = ShapeKind::Circle;
  float cx = 0, cy = 0;    ///< centre, pixels (x to the right, y down)
  float radius = 0;        ///< circumradius, pixels
  float angle = 0;         ///< rotation, radians
  std::array<float, 3> color{};  ///< RGB in [0, 1] before the pixel noise
};

/// Background kinds (ShapesSample::background).
enum class ShapesBackground : int64_t { Noise = 0, Stripes = 1 };

/// One sample.
struct ShapesSample {
  Tensor image;       ///< [3, H, W], float in [0, 1], RGB
  Tensor mask;        ///< [1, H, W], 1 on the target's pixels, else 0
  int64_t label = 0;  ///< the target's ShapeKind as an integer
  /// Every drawn shape in drawing order: distractors first, the target last.
  std::vector<ShapeInstance> shapes{};
  ShapesBackground background = ShapesBackground::Noise;
};

/// A batch of consecutive indices.
struct ShapesBatch {
  Tensor images;                ///< [N, 3, H, W]
  std::vector<int64_t> labels;  ///< N labels
  Tensor masks;                 ///< [N, 1, H, W]
};

/// Sample `index` (>= 0) of the dataset `seed`. Pure function of (cfg, seed, index). Throws
/// backlight::Error naming the field when `cfg` is invalid (image smaller than 16x16, empty or
/// inverted ranges, a target that cannot fit).
ShapesSample make_shapes_sample(const ShapesConfig& cfg, uint64_t seed, int64_t index);

/// Samples begin, begin+1, ..., begin+count-1 (generated in parallel; identical to calling
/// make_shapes_sample for each). count >= 1.
ShapesBatch make_shapes_batch(const ShapesConfig& cfg, uint64_t seed, int64_t begin, int64_t count);

/// Which shape each pixel of `s` (a sample of `cfg`) shows: [H * W] indices into s.shapes, -1 for
/// background, later shapes winning where they cover earlier ones (the drawing order). The
/// target's pixels are exactly those of s.mask.
std::vector<int32_t> shapes_owner_map(const ShapesConfig& cfg, const ShapesSample& s);

}  // namespace backlight
