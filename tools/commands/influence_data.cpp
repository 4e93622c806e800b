#include "tools/commands/influence_data.h"

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "engine/error.h"
#include "engine/parallel.h"
#include "io/image_io.h"
#include "models/data/label_flip.h"
#include "models/data/shapes.h"
#include "models/default_model.h"
#include "tools/cli/args.h"
#include "tools/cli/image_list.h"

namespace backlight::cli {

namespace {

int64_t meta_int(const std::map<std::string, std::string>& meta, const char* key) {
  const auto it = meta.find(key);
  BL_CHECK(it != meta.end(), "influence: --train builtin:shapes needs the checkpoints' \"", key,
           "\" metadata (written by backlight train --save-every); these checkpoints have none");
  try {
    return std::stoll(it->second);
  } catch (const std::exception&) {
    BL_THROW("influence: checkpoint metadata \"", key, "\" should be an integer, got '", it->second, "'");
  }
}

Tensor stack(const std::vector<Tensor>& images, const std::vector<std::string>& names) {
  const Shape s = images.at(0).shape();
  Tensor out = Tensor::empty(Shape{static_cast<int64_t>(images.size()), s[0], s[1], s[2]});
  for (size_t i = 0; i < images.size(); ++i) {
    BL_CHECK_SHAPE(images[i].shape() == s, "influence: ", names[i], " is ", images[i].shape(), " but ", names[0],
                   " is ", s, "; every image of a set must have one size");
    std::copy(images[i].data(), images[i].data() + images[i].numel(), out.data() + static_cast<int64_t>(i) * s.numel());
  }
  return out;
}

TrainingSet shapes_set(const std::map<std::string, std::string>& meta, int64_t limit) {
  const auto seed = static_cast<uint64_t>(meta_int(meta, "data_seed"));
  int64_t n = meta_int(meta, "samples");
  if (limit > 0) n = std::min(n, limit);
  double flip = 0.0;
  if (const auto it = meta.find("flip_labels"); it != meta.end()) flip = std::stod(it->second);
  TrainingSet t;
  t.source.size = n;
  t.source.load = [seed, flip](int64_t begin, int64_t count) {
    const ShapesBatch b = make_shapes_batch(ShapesConfig{}, seed, begin, count);
    LabeledBatch out{b.images, b.labels};
    for (int64_t i = 0; i < count; ++i)
      out.labels[static_cast<size_t>(i)] =
          flipped_label(seed, begin + i, flip, b.labels[static_cast<size_t>(i)], kNumShapeClasses);
    return out;
  };
  t.description = "builtin:shapes (dataset " + std::to_string(seed) + ", samples [0, " + std::to_string(n) + ")" +
                  (flip > 0 ? ", labels flipped with probability " + meta.at("flip_labels") : std::string()) + ")";
  t.name = [](int64_t i) { return "builtin:shapes#" + std::to_string(i); };
  t.flipped = [seed, flip](int64_t i) { return label_flipped(seed, i, flip); };
  t.has_flips = flip > 0;
  t.image = [seed](int64_t i) { return make_shapes_sample(ShapesConfig{}, seed, i).image; };
  return t;
}

int64_t class_of_folder(const std::string& name) {
  for (size_t k = 0; k < kShapeClassNames.size(); ++k)
    if (name == kShapeClassNames[k]) return static_cast<int64_t>(k);
  size_t used = 0;
  int64_t k = -1;
  try {
    k = std::stoll(name, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != name.size() || used == 0 || k < 0)
    throw UsageError("influence: --train folder: subfolder '" + name +
                     "' is neither a class index (0, 1, ...) nor a class name (circle, square, triangle, cross)");
  return k;
}

TrainingSet folder_set(const std::string& dir, int64_t limit) {
  if (!std::filesystem::is_directory(dir))
    throw UsageError("influence: --train expects builtin:shapes or a folder of class subfolders, got '" + dir + "'");
  std::vector<std::pair<int64_t, std::string>> classes;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.is_directory()) classes.emplace_back(class_of_folder(e.path().filename().string()), e.path().string());
  std::sort(classes.begin(), classes.end());
  auto paths = std::make_shared<std::vector<std::string>>();
  auto labels = std::make_shared<std::vector<int64_t>>();
  for (const auto& [k, sub] : classes)
    for (const std::string& p : list_images(sub)) {
      paths->push_back(p);
      labels->push_back(k);
    }
  if (paths->empty())
    throw UsageError("influence: --train folder '" + dir + "' holds no images in class subfolders (DIR/<class>/*.png)");
  if (limit > 0 && static_cast<int64_t>(paths->size()) > limit) {
    paths->resize(static_cast<size_t>(limit));
    labels->resize(static_cast<size_t>(limit));
  }
  TrainingSet t;
  t.source.size = static_cast<int64_t>(paths->size());
  t.source.load = [paths, labels, skipped = t.skipped](int64_t begin, int64_t count) {
    std::vector<Tensor> images(static_cast<size_t>(count));
    std::vector<std::string> names(paths->begin() + begin, paths->begin() + begin + count);
    std::vector<int64_t> bad;
    for (int64_t i = 0; i < count; ++i) {
      try {
        images[static_cast<size_t>(i)] = load_image(names[static_cast<size_t>(i)]);
      } catch (const std::exception& e) {
        bad.push_back(i);
        std::lock_guard<std::mutex> lock(skipped->mutex);
        if (skipped->errors.emplace(begin + i, e.what()).second)
          std::cerr << skipped->who << ": skipped '" << names[static_cast<size_t>(i)] << "': " << e.what() << "\n";
      }
    }
    // A stand-in of the batch's size for each unreadable image (64x64 when none is readable).
    Shape shape{3, 64, 64};
    for (const Tensor& im : images)
      if (im.defined()) {
        shape = im.shape();
        break;
      }
    for (int64_t i : bad) images[static_cast<size_t>(i)] = Tensor::zeros(shape);
    return LabeledBatch{stack(images, names),
                        std::vector<int64_t>(labels->begin() + begin, labels->begin() + begin + count)};
  };
  t.description = dir + " (" + std::to_string(paths->size()) + " images in " + std::to_string(classes.size()) +
                  " class folders)";
  t.name = [paths](int64_t i) { return (*paths)[static_cast<size_t>(i)]; };
  t.flipped = [](int64_t) { return false; };
  t.image = [paths](int64_t i) { return load_image((*paths)[static_cast<size_t>(i)]); };
  return t;
}

}  // namespace

TrainingSet training_set(const std::string& spec, const std::map<std::string, std::string>& meta, int64_t limit) {
  if (spec == "builtin:shapes") return shapes_set(meta, limit);
  if (spec.rfind("builtin:", 0) == 0)
    throw UsageError("influence: --train: unknown built-in set '" + spec + "' (builtin:shapes is the one)");
  return folder_set(spec, limit);
}

TestSet test_set(const std::string& spec) {
  TestSet t;
  std::vector<Tensor> images;
  if (spec.rfind("builtin:", 0) == 0) {
    const std::string name = spec.substr(8);
    for (const DefaultImage& im : default_images())
      if (im.name == name) {
        images.push_back(im.sample.image);
        t.names.push_back(spec);
      }
    if (images.empty())
      throw UsageError("influence: --test: unknown built-in image '" + spec +
                       "' (builtin:circle, builtin:square, builtin:triangle, builtin:cross)");
  } else if (std::filesystem::is_directory(spec)) {
    for (const std::string& p : list_images(spec)) {
      images.push_back(load_image(p));
      t.names.push_back(p);
    }
    if (images.empty()) throw UsageError("influence: --test folder '" + spec + "' holds no images");
  } else {
    images.push_back(load_image(spec));
    t.names.push_back(spec);
  }
  t.images = stack(images, t.names);
  return t;
}

std::string class_name(const std::string& arch, int64_t k) {
  if (arch == "shapes_cnn" && k >= 0 && k < kNumShapeClasses) return std::string(kShapeClassNames[static_cast<size_t>(k)]);
  return std::to_string(k);
}

}  // namespace backlight::cli
