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

// In place on n examples [n, C, h, w] stored contiguously.
void normalize(float* p, int64_t n, int64_t channels, int64_t hw, const ImageNormalization& norm) {
  if (norm.empty()) return;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < channels; ++c) {
      const float m = norm.mean.empty() ? 0.0f : norm.mean[static_cast<size_t>(c)];
      const float s = norm.std.empty() ? 1.0f : norm.std[static_cast<size_t>(c)];
      float* q = p + (i * channels + c) * hw;
      for (int64_t j = 0; j < hw; ++j) q[j] = (q[j] - m) / s;
    }
}

void check_norm(const ImageNormalization& norm, int64_t channels, const char* fn) {
  BL_CHECK((norm.mean.empty() || static_cast<int64_t>(norm.mean.size()) == channels) &&
               (norm.std.empty() || static_cast<int64_t>(norm.std.size()) == channels),
           fn, ": expected ", channels, " mean/std values (one per channel), got ", norm.mean.size(), " and ",
           norm.std.size());
}

}  // namespace

ExampleFiles list_examples(const std::string& path, int64_t channels) {
  ExampleFiles f;
  f.folder = path;
  f.channels = channels;
  std::vector<std::string> all;
  std::error_code ec;
  if (is_npy(path) && std::filesystem::is_regular_file(path, ec)) {
    all.push_back(path);  // one stack
  } else {
    all = list_images(path);  // checks the folder
    for (const auto& e : std::filesystem::directory_iterator(path))
      if (is_npy(e.path().string())) all.push_back(e.path().string());
    std::sort(all.begin(), all.end());
  }
  for (const std::string& p : all) {
    NpyInfo info;
    int64_t n = 1;
    if (is_npy(p)) {
      info = read_npy_info(p);
      const Shape& s = info.shape;
      BL_CHECK((s.rank() == 3 && s[0] == channels) || (s.rank() == 4 && s[1] == channels), "examples: '", p,
               "' has shape ", s, "; expected [", channels, ", H, W] or [N, ", channels, ", H, W] (float32)");
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
                            std::vector<int64_t> pick, ImageNormalization norm) {
  BL_CHECK(batch >= 1, "example_batches: expected a batch size >= 1, got ", batch);
  check_norm(norm, files.channels, "example_batches");
  if (pick.empty())
    for (int64_t i = 0; i < files.total; ++i) pick.push_back(i);
  for (int64_t i : pick)
    BL_CHECK(i >= 0 && i < files.total, "example_batches: example ", i, " outside the ", files.total, " of '",
             files.folder, "'");
  // Prefix sums map an example index to (file, row).
  auto first = std::make_shared<std::vector<int64_t>>(1, 0);
  for (int64_t c : files.counts) first->push_back(first->back() + c);
  auto next = std::make_shared<size_t>(0);
  return [files, pick = std::move(pick), norm = std::move(norm), first, next, h, w, batch, max_pixels]() -> Tensor {
    if (*next >= pick.size()) return {};
    const int64_t nb = std::min<int64_t>(batch, static_cast<int64_t>(pick.size() - *next));
    const int64_t c = files.channels;
    Tensor t = Tensor::empty(Shape{nb, c, h, w});
    for (int64_t i = 0; i < nb; ++i) {
      const int64_t ex = pick[*next + static_cast<size_t>(i)];
      const size_t file = static_cast<size_t>(std::upper_bound(first->begin(), first->end(), ex) - first->begin() - 1);
      const std::string& path = files.paths[file];
      const Shape& s = files.npy[file].shape;
      Tensor img;
      if (s.rank() > 0) {
        const int64_t row = ex - (*first)[file];
        img = s.rank() == 3 ? load_npy_rows(path, NpyInfo{Shape{1, s[0], s[1], s[2]}, files.npy[file].data_offset}, 0, 1)
                            : load_npy_rows(path, files.npy[file], row, row + 1);
        img = img.reshape({img.size(1), img.size(2), img.size(3)});
        if (img.size(1) != h || img.size(2) != w) img = resize_image(img, h, w);
      } else {
        img = load_image(path, max_pixels);
        BL_CHECK(img.size(0) == c, "examples: '", path, "' has ", img.size(0), " channels, expected ",
                 c == 3 ? std::string("an RGB image") : std::to_string(c));
        if (img.size(1) != h || img.size(2) != w) img = resize_image(img, h, w);
        normalize(img.data(), 1, c, h * w, norm);
      }
      std::copy(img.data(), img.data() + img.numel(), t.data() + i * c * h * w);
    }
    *next += static_cast<size_t>(nb);
    return t;
  };
}

std::string example_name(const ExampleFiles& files, int64_t ex) {
  int64_t first = 0;
  for (size_t f = 0; f < files.paths.size(); ++f) {
    if (ex < first + files.counts[f])
      return files.counts[f] == 1 ? files.paths[f] : files.paths[f] + "[" + std::to_string(ex - first) + "]";
    first += files.counts[f];
  }
  return files.folder + "[" + std::to_string(ex) + "]";
}

Tensor read_examples_skipping(const ExampleFiles& files, std::span<const int64_t> pick, int64_t h, int64_t w,
                              int64_t max_pixels, const ImageNormalization& norm,
                              const std::function<void(const std::string&, const std::string&)>& skip) {
  const std::vector<int64_t> all(pick.begin(), pick.end());
  if (all.empty()) return {};
  const int64_t n = static_cast<int64_t>(all.size());
  try {
    return example_batches(files, h, w, n, max_pixels, all, norm)();
  } catch (const std::exception&) {
    // Some example does not read: read them one by one and leave out the bad ones.
  }
  std::vector<Tensor> good;
  for (int64_t ex : all) {
    try {
      good.push_back(example_batches(files, h, w, 1, max_pixels, {ex}, norm)());
    } catch (const std::exception& e) {
      skip(example_name(files, ex), e.what());
    }
  }
  if (good.empty()) return {};
  const int64_t per = good[0].numel();
  Tensor out = Tensor::empty(Shape{static_cast<int64_t>(good.size()), files.channels, h, w});
  for (size_t i = 0; i < good.size(); ++i) std::copy(good[i].data(), good[i].data() + per, out.data() + i * per);
  return out;
}

BatchSource shapes_batches(int64_t h, int64_t w, uint64_t seed, int64_t begin, int64_t count, int64_t batch,
                           ImageNormalization norm) {
  BL_CHECK(batch >= 1 && count >= 0, "shapes_batches: expected batch >= 1 and count >= 0, got ", batch, " and ", count);
  check_norm(norm, 3, "shapes_batches");
  auto next = std::make_shared<int64_t>(0);
  return [=]() -> Tensor {
    if (*next >= count) return {};
    const int64_t nb = std::min(batch, count - *next);
    Tensor t = make_shapes_batch(ShapesConfig{.height = h, .width = w}, seed, begin + *next, nb).images;
    normalize(t.data(), nb, 3, h * w, norm);
    *next += nb;
    return t;
  };
}

}  // namespace backlight::cli
