#pragma once
// Shapes images (models/data/shapes.h) written as PNG files, for tests of commands that read image
// folders.
#include <cstdint>
#include <filesystem>
#include <string>

#include "io/image_io.h"
#include "models/data/shapes.h"

namespace backlight::test {

/// `count` images of the shapes dataset `seed` (size from `config`) as folder/<prefix><i>.png,
/// i = 0 .. count - 1; creates the folder.
inline void write_shapes_images(const std::string& folder, const std::string& prefix, int64_t count, uint64_t seed,
                                const ShapesConfig& config = {}) {
  std::filesystem::create_directories(folder);
  const ShapesBatch b = make_shapes_batch(config, seed, 0, count);
  for (int64_t i = 0; i < count; ++i)
    cli::write_image(folder + "/" + prefix + std::to_string(i) + ".png",
                     b.images.slice_batch(i, i + 1).reshape({3, config.height, config.width}));
}

}  // namespace backlight::test
