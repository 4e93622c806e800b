#pragma once
// `backlight roar`: the training and test images it modifies and retrains on, held in memory.
//   --data builtin:shapes   training samples [0, --samples) of shapes dataset 1 (the embedded model's),
//                           test samples from the held-out range (kShapesHeldOutBegin, --test-samples)
//   --data DIR              one subfolder per class, named by the class index ("0", "1", ...) or by a
//                           shapes class name ("circle", ...); images resized to 64x64 RGB; per class
//                           (files sorted by name) every 5th image is a test image, the rest train;
//                           --samples / --test-samples cap the counts (first ones in class order)
#include <cstdint>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace backlight::cli {

struct RoarData {
  Tensor train_images;  ///< [N, 3, 64, 64] in [0, 1]
  std::vector<int64_t> train_labels;
  Tensor test_images;  ///< [T, 3, 64, 64]
  std::vector<int64_t> test_labels;
  int64_t classes = 0;
  std::string description;  ///< for the report: "builtin:shapes (dataset 1, train [0, 256), test ...)"
};

/// Loads `spec` (see above). Throws UsageError for an unknown spec, a missing folder, a folder
/// without class subfolders of images or an empty split; backlight::Error for unreadable images.
RoarData load_roar_data(const std::string& spec, int64_t samples, int64_t test_samples, int64_t max_pixels);

}  // namespace backlight::cli
