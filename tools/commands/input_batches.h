#pragma once
/// Streaming example readers shared by the dataset-scanning commands (`similarity`, `tcav`): a
/// folder of examples (or one .npy stack) read batch by batch, and the built-in shapes dataset
/// generated batch by batch. Nothing holds a whole set in memory: images are decoded when their
/// batch is due, and rows of .npy stacks are read from disk on demand.
///
/// Folder format: image files (PNG/JPEG/BMP, RGB, any size; one example each) and .npy files
/// (float32, [C, H, W] = one example or [N, C, H, W] = N examples, C the model's input
/// channels), in file-name order. Every example is resized (bilinear) to the model's input size;
/// images are read in [0, 1] and then normalised by ImageNormalization when one is given, .npy
/// values are used as stored (no normalisation).
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "attribution/concepts/layer_similarity.h"  // BatchSource
#include "io/npy.h"

namespace backlight::cli {

struct ExampleFiles {
  std::string folder;              ///< the folder, or the .npy file, that was listed
  int64_t channels = 3;            ///< C of every example
  std::vector<std::string> paths;  ///< images and .npy files, sorted by name
  std::vector<int64_t> counts;     ///< examples per path (1 for images and [C,H,W], N for [N,C,H,W])
  std::vector<NpyInfo> npy;        ///< header per path (shape empty for images)
  int64_t total = 0;
};

/// The examples of `path`: a folder as above, or a single .npy file (a stack [N, C, H, W] or
/// one example [C, H, W]). Only headers of .npy files are read, no data. Throws backlight::Error
/// naming the path when it is missing or neither a folder nor a .npy file, and a .npy whose shape
/// is not [C, H, W] or [N, C, H, W] with C = `channels`.
ExampleFiles list_examples(const std::string& path, int64_t channels = 3);

/// Per-channel (x - mean[c]) / std[c] applied to decoded images and generated shapes images
/// (never to .npy values). An empty mean means 0, an empty std means 1.
struct ImageNormalization {
  std::vector<float> mean{}, std{};
  bool empty() const { return mean.empty() && std.empty(); }
};

/// Batches [b, C, h, w] of the examples `pick` (indices into 0..total-1, in the order given;
/// empty: all in order). Throws (when the batch is read) naming a file that is not an image
/// with C channels (RGB for C = 3). `max_pixels` caps each decoded image (load_image).
BatchSource example_batches(const ExampleFiles& files, int64_t h, int64_t w, int64_t batch, int64_t max_pixels,
                            std::vector<int64_t> pick = {}, ImageNormalization norm = {});

/// Example `ex` of `files` by name: "path" for an image or a one-example .npy, "path[row]" for a
/// row of a stack.
std::string example_name(const ExampleFiles& files, int64_t ex);

/// Examples `pick` of `files` as one batch [n, C, h, w] (as example_batches reads them), leaving out
/// the ones that cannot be read: each is passed to skip(example_name, error). Undefined when none
/// is left.
Tensor read_examples_skipping(const ExampleFiles& files, std::span<const int64_t> pick, int64_t h, int64_t w,
                              int64_t max_pixels, const ImageNormalization& norm,
                              const std::function<void(const std::string&, const std::string&)>& skip);

/// Batches of shapes-dataset images [b, 3, h, w]: indices begin .. begin+count-1 of dataset `seed`.
BatchSource shapes_batches(int64_t h, int64_t w, uint64_t seed, int64_t begin, int64_t count, int64_t batch,
                           ImageNormalization norm = {});

}  // namespace backlight::cli
