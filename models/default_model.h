#pragma once
/// The embedded default model: `shapes_cnn`, a small CNN trained by backlight itself on the
/// synthetic shapes dataset (models/data/shapes.h), whose weights are compiled into the
/// library (models/weights/shapes_cnn.safetensors, embedded at build time by
/// cmake/EmbedFile.cmake). No download and no file is needed at run time, so examples, the CLI
/// and tests always have a trained model whose evidence is known pixel-exactly (the target mask).
///
/// Reproduce the weights (see docs/models.md, "Default model", for the measured accuracy/time):
///   backlight train --model shapes_cnn --epochs 4 --samples 12800 --seed 1 --threads 1
///                   --out models/weights/shapes_cnn.safetensors --images models/images
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "models/data/shapes.h"
#include "engine/module.h"

namespace backlight {

/// Dataset seed the embedded weights were trained on (training used indices [0, samples)).
inline constexpr uint64_t kShapesCnnDataSeed = 1;
/// First index of the held-out range of dataset kShapesCnnDataSeed: indices from here on are never
/// used for training (the train command and the tests evaluate there).
inline constexpr int64_t kShapesHeldOutBegin = 1'000'000;

/// shapes_cnn ("ShapesCNN"), input [N, 3, 64, 64] in [0, 1] (any H, W >= 8 runs: global pooling),
/// 4 classes in kShapeClassNames order (circle, square, triangle, cross):
///   features   0 Conv2d(3, 16, 3, padding=1),  1 ReLU, 2 MaxPool2d(2),
///              3 Conv2d(16, 32, 3, padding=1), 4 ReLU, 5 MaxPool2d(2),
///              6 Conv2d(32, 64, 3, padding=1), 7 ReLU, 8 MaxPool2d(2),
///              9 Conv2d(64, 64, 3, padding=1), 10 ReLU                    -> [N, 64, 8, 8]
///   avgpool    AdaptiveAvgPool2d(1)                                       -> [N, 64, 1, 1]
///   flatten    -> [N, 64]
///   classifier 0 Linear(64, 4)
/// The last conv sees 38x38 pixels, enough for a whole target (<= 34 pixels across).
/// Random init from `rng`: convs He-uniform (kaiming_uniform_, a = 0) with zero bias, the Linear
/// PyTorch's default. default_model() gives the trained one.
ModulePtr make_shapes_cnn(std::mt19937_64& rng, int64_t num_classes = kNumShapeClasses);

/// The trained shapes_cnn with the embedded weights (a fresh copy per call: callers may modify
/// it). Throws backlight::Error if the library was built without the weights file.
ModulePtr default_model();

/// True when the weights were embedded at build time.
bool default_model_available();

/// Metadata stored with the embedded weights ("arch", "epochs", "seed", "held_out_accuracy", ...).
std::map<std::string, std::string> default_model_metadata();

/// A fixed sample image of the default dataset.
struct DefaultImage {
  std::string name;   ///< class name ("circle", ...); also the PNG's stem in models/images/
  int64_t index = 0;  ///< index in the held-out range of dataset kShapesCnnDataSeed
  ShapesSample sample;
};

/// Four fixed held-out images, one per class in label order, 64x64 (the same pixels as
/// models/images/<name>.png, up to 8-bit rounding). The embedded model classifies all of them
/// correctly.
std::vector<DefaultImage> default_images();

}  // namespace backlight
