#pragma once
// `backlight influence`: where its training and test examples come from.
//   --train builtin:shapes   the shapes samples the checkpoints were trained on: dataset seed,
//                            sample count and flipped labels from the checkpoint metadata
//                            (written by `backlight train --save-every`)
//   --train DIR              an image folder with one subfolder per class, named by the class
//                            index ("0", "1", ...) or by the model's class name ("circle", ...);
//                            examples ordered by class, then file name
//   --test IMG | DIR | builtin:<class>   one image, every image directly in DIR, or a default image
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "attribution/influence/examples.h"

namespace backlight::cli {

/// Training examples of a folder set that could not be read: each is reported once on stderr
/// (`who`: "influence" or "influence: rank 1 of 2"), stands in its batch as a zero image (so the
/// other examples' batches, and their scores, are unchanged) and is left out of every ranking.
struct SkippedExamples {
  std::mutex mutex;
  std::map<int64_t, std::string> errors;  ///< example index -> what went wrong
  std::string who = "influence";
};

/// A training set for influence, streamed, plus what the report says about each example.
struct TrainingSet {
  ExampleSource source;
  std::string description;  ///< "builtin:shapes (dataset 1, 5000 samples, labels flipped with p 0.1)"
  /// Example i's origin: "builtin:shapes#123" or the image path.
  std::function<std::string(int64_t)> name;
  /// Whether example i's label was flipped on purpose (builtin:shapes with flip_labels > 0).
  std::function<bool(int64_t)> flipped;
  bool has_flips = false;
  /// The image of example i, [3, H, W] in [0, 1] (for the picture).
  std::function<Tensor(int64_t)> image;
  /// Examples the loader met and could not read so far (never null).
  std::shared_ptr<SkippedExamples> skipped = std::make_shared<SkippedExamples>();
};

/// `spec` is "builtin:shapes" or a folder; `meta` is the first checkpoint's metadata. Throws
/// UsageError for a missing folder / unknown spec, backlight::Error for unusable metadata.
/// `limit` > 0 uses only the first `limit` examples.
TrainingSet training_set(const std::string& spec, const std::map<std::string, std::string>& meta, int64_t limit);

/// Test examples: images [T, 3, H, W] (all of one size) and their names.
struct TestSet {
  Tensor images;
  std::vector<std::string> names;
};
TestSet test_set(const std::string& spec);

/// The class name of label `k` for shapes_cnn ("circle"), else the number.
std::string class_name(const std::string& arch, int64_t k);

}  // namespace backlight::cli
