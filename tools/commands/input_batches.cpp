#include "tools/commands/input_batches.h"

#include <algorithm>
#include <filesystem>
#include <memory>

#include "engine/error.h"
#include "io/image_io.h"
#include "models/data/shapes.h"
#include "render/resize.h"
#include "tools/cli/image_list.h"

namespace backlight::cli {

namespace {

bool is_npy(const std::string& p) {
  std::string ext = std::filesystem::path(p).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".npy";
}

}  // namespace

ExampleFiles list_examples(const std::string& dir) {
  ExampleFiles f;
  f.folder = dir;
  std::vector<std::string> images = list_images(dir);  // checks the folder
  std::vector<std::string> all = images;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (is_npy(e.path().string())) all.push_back(e.path().string());
  std::sort(all.begin(), all.end());
  for (const std::string& p : all) {
    NpyInfo info;
    int64_t n = 1;
    if (is_npy(p)) {
      info = read_npy_info(p);
      const Shape& s = info.shape;
      BL_CHECK((s.rank() == 3 && s[0] == 3) || (s.rank() == 4 && s[1] == 3), "examples: '", p,
               "' has shape ", s, "; expected [3, H, W] or [N, 3, H, W] (float32)");
      n = s.rank() == 4 ? s[0] : 1;
    }
    f.paths.push_back(p);
    f.counts.push_back(n);
    f.npy.push_back(info);
    f.total += n;
  }
  return f;
}

BatchSource example_batches(const ExampleFiles& files, int64_t h, int64_t w, int64_t batch, int64_t max_pixels,
                            std::vector<int64_t> pick) {
  BL_CHECK(batch >= 1, "example_batches: expected a batch size >= 1, got ", batch);
  if (pick.empty())
    for (int64_t i = 0; i < files.total; ++i) pick.push_back(i);
  for (int64_t i : pick)
    BL_CHECK(i >= 0 && i < files.total, "example_batches: example ", i, " outside the ", files.total, " of '",
             files.folder, "'");
  // Prefix sums map an example index to (file, row).
  auto first = std::make_shared<std::vector<int64_t>>(1, 0);
  for (int64_t c : files.counts) first->push_back(first->back() + c);
  auto next = std::make_shared<size_t>(0);
  return [files, pick = std::move(pick), first, next, h, w, batch, max_pixels]() -> Tensor {
    if (*next >= pick.size()) return {};
    const int64_t nb = std::min<int64_t>(batch, static_cast<int64_t>(pick.size() - *next));
    Tensor t = Tensor::empty(Shape{nb, 3, h, w});
    for (int64_t i = 0; i < nb; ++i) {
      const int64_t ex = pick[*next + static_cast<size_t>(i)];
      const size_t file = static_cast<size_t>(std::upper_bound(first->begin(), first->end(), ex) - first->begin() - 1);
      const std::string& path = files.paths[file];
      Tensor img;
      if (files.npy[file].shape.rank() > 0) {
        const int64_t row = ex - (*first)[file];
        img = files.npy[file].shape.rank() == 3 ? load_npy_rows(path, NpyInfo{Shape{1, files.npy[file].shape[0],
                                                                                 files.npy[file].shape[1],
                                                                                 files.npy[file].shape[2]},
                                                                           files.npy[file].data_offset},
                                                                0, 1)
                                               : load_npy_rows(path, files.npy[file], row, row + 1);
        img = img.reshape({img.size(1), img.size(2), img.size(3)});
      } else {
        img = load_image(path, max_pixels);
        BL_CHECK(img.size(0) == 3, "examples: '", path, "' has ", img.size(0), " channels, expected an RGB image");
      }
      if (img.size(1) != h || img.size(2) != w) img = resize_image(img, h, w);
      std::copy(img.data(), img.data() + img.numel(), t.data() + i * 3 * h * w);
    }
    *next += static_cast<size_t>(nb);
    return t;
  };
}

BatchSource shapes_batches(int64_t h, int64_t w, uint64_t seed, int64_t begin, int64_t count, int64_t batch) {
  BL_CHECK(batch >= 1 && count >= 0, "shapes_batches: expected batch >= 1 and count >= 0, got ", batch, " and ", count);
  auto next = std::make_shared<int64_t>(0);
  return [=]() -> Tensor {
    if (*next >= count) return {};
    const int64_t nb = std::min(batch, count - *next);
    Tensor t = make_shapes_batch(ShapesConfig{.height = h, .width = w}, seed, begin + *next, nb).images;
    *next += nb;
    return t;
  };
}

}  // namespace backlight::cli
