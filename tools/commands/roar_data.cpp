#include "tools/commands/roar_data.h"

#include <algorithm>
#include <filesystem>

#include "io/image_io.h"
#include "models/data/shapes.h"
#include "models/default_model.h"
#include "render/resize.h"
#include "tools/cli/args.h"
#include "tools/cli/image_list.h"

namespace backlight::cli {

namespace {

int64_t class_of_folder(const std::string& dir, const std::string& name) {
  for (size_t k = 0; k < kShapeClassNames.size(); ++k)
    if (name == kShapeClassNames[k]) return static_cast<int64_t>(k);
  const bool digits = !name.empty() && name.size() < 6 && std::all_of(name.begin(), name.end(), [](char c) {
    return c >= '0' && c <= '9';
  });
  if (!digits)
    throw UsageError("roar: --data '" + dir + "': subfolder '" + name +
                     "' is neither a class index (0, 1, ...) nor a class name (circle, square, triangle, cross)");
  return std::stoll(name);
}

Tensor stack_images(const std::vector<std::string>& paths, int64_t max_pixels) {
  const ShapesConfig c{};
  Tensor t = Tensor::empty(Shape{static_cast<int64_t>(paths.size()), 3, c.height, c.width});
  for (size_t i = 0; i < paths.size(); ++i) {
    Tensor img = load_image(paths[i], max_pixels);
    if (img.size(0) != 3) throw Error("roar: '" + paths[i] + "' is not an RGB image");
    if (img.size(1) != c.height || img.size(2) != c.width) img = resize_image(img, c.height, c.width);
    std::copy(img.data(), img.data() + img.numel(), t.data() + static_cast<int64_t>(i) * img.numel());
  }
  return t;
}

RoarData folder_data(const std::string& dir, int64_t samples, int64_t test_samples, int64_t max_pixels) {
  if (!std::filesystem::is_directory(dir))
    throw UsageError("roar: --data expects builtin:shapes or a folder of class subfolders, got '" + dir + "'");
  std::vector<std::pair<int64_t, std::string>> classes;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.is_directory()) classes.emplace_back(class_of_folder(dir, e.path().filename().string()), e.path().string());
  std::sort(classes.begin(), classes.end());
  std::vector<std::string> train, test;
  RoarData d;
  for (const auto& [k, sub] : classes) {
    const std::vector<std::string> files = list_images(sub);
    for (size_t i = 0; i < files.size(); ++i) {
      const bool is_test = i % 5 == 4;
      std::vector<std::string>& split = is_test ? test : train;
      std::vector<int64_t>& labels = is_test ? d.test_labels : d.train_labels;
      if (static_cast<int64_t>(split.size()) >= (is_test ? test_samples : samples)) continue;
      split.push_back(files[i]);
      labels.push_back(k);
    }
    d.classes = std::max(d.classes, k + 1);
  }
  if (train.empty() || test.empty())
    throw UsageError("roar: --data '" + dir + "' gives " + std::to_string(train.size()) + " training and " +
                     std::to_string(test.size()) +
                     " test images; expected class subfolders (DIR/<class>/*.png) with at least 5 images "
                     "(every 5th is a test image)");
  if (d.classes < 2) throw UsageError("roar: --data '" + dir + "' has one class; expected at least 2 class subfolders");
  d.train_images = stack_images(train, max_pixels);
  d.test_images = stack_images(test, max_pixels);
  d.description = dir + " (" + std::to_string(train.size()) + " training and " + std::to_string(test.size()) +
                  " test images in " + std::to_string(classes.size()) + " class folders)";
  return d;
}

}  // namespace

RoarData load_roar_data(const std::string& spec, int64_t samples, int64_t test_samples, int64_t max_pixels) {
  if (spec == "builtin:shapes") {
    const ShapesBatch train = make_shapes_batch(ShapesConfig{}, kShapesCnnDataSeed, 0, samples);
    const ShapesBatch test = make_shapes_batch(ShapesConfig{}, kShapesCnnDataSeed, kShapesHeldOutBegin, test_samples);
    return {train.images,
            train.labels,
            test.images,
            test.labels,
            kNumShapeClasses,
            "builtin:shapes (dataset " + std::to_string(kShapesCnnDataSeed) + ", training samples [0, " +
                std::to_string(samples) + "), test samples [" + std::to_string(kShapesHeldOutBegin) + ", " +
                std::to_string(kShapesHeldOutBegin + test_samples) + "))"};
  }
  if (spec.rfind("builtin:", 0) == 0)
    throw UsageError("roar: --data: unknown built-in set '" + spec + "' (builtin:shapes is the one)");
  return folder_data(spec, samples, test_samples, max_pixels);
}

}  // namespace backlight::cli
