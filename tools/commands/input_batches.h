#pragma once
/// Streaming example readers shared by the dataset-scanning commands (`similarity`, `tcav`): a
/// folder of examples read batch by batch, and the built-in shapes dataset generated batch by
/// batch. Nothing holds a whole set in memory: images are decoded when their batch is due, and
/// rows of .npy stacks are read from disk on demand.
///
/// Folder format: image files (PNG/JPEG/BMP, RGB, any size; one example each) and .npy files
/// (float32, [3, H, W] = one example or [N, 3, H, W] = N examples), in file-name order. Every
/// example is resized (bilinear) to the model's input size and read in [0, 1] for images, as
/// stored for .npy (no normalisation either way).
#include <cstdint>
#include <string>
#include <vector>

#include "attribution/concepts/layer_similarity.h"  // BatchSource
#include "io/npy.h"

namespace backlight::cli {

struct ExampleFiles {
  std::string folder;
  std::vector<std::string> paths;  ///< images and .npy files, sorted by name
  std::vector<int64_t> counts;     ///< examples per path (1 for images, N for an [N,3,H,W] stack)
  std::vector<NpyInfo> npy;        ///< header per path (shape empty for images)
  int64_t total = 0;
};

/// The examples of `dir` (headers of .npy files are read, no data). Throws backlight::Error
/// naming the folder when it is missing or not a folder, and a .npy whose shape is not
/// [3, H, W] or [N, 3, H, W].
ExampleFiles list_examples(const std::string& dir);

/// Batches [b, 3, h, w] of the examples `pick` (indices into 0..total-1, in the order given;
/// empty: all in order). Throws (when the batch is read) naming a file that is not a 3-channel
/// image. `max_pixels` caps each decoded image (load_image).
BatchSource example_batches(const ExampleFiles& files, int64_t h, int64_t w, int64_t batch, int64_t max_pixels,
                            std::vector<int64_t> pick = {});

/// Batches of shapes-dataset images [b, 3, h, w]: indices begin .. begin+count-1 of dataset `seed`.
BatchSource shapes_batches(int64_t h, int64_t w, uint64_t seed, int64_t begin, int64_t count, int64_t batch);

}  // namespace backlight::cli
