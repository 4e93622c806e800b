#include "tools/commands/tcav_demo.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <memory>

#include "engine/error.h"
#include "models/data/shapes.h"
#include "models/default_model.h"

namespace backlight::cli {

namespace {

constexpr int64_t kConceptBegin = 3'000'000;
constexpr int64_t kRandomBegin = 4'000'000;
constexpr const char* kColours[] = {"red", "green", "blue"};

int colour_index(const std::string& name) {
  for (int i = 0; i < 3; ++i)
    if (name == kColours[i]) return i;
  return -1;
}

int64_t shape_index(const std::string& name) {
  for (int64_t i = 0; i < kNumShapeClasses; ++i)
    if (name == kShapeClassNames[static_cast<size_t>(i)]) return i;
  return -1;
}

// Shapes images that satisfy `keep`, scanning indices from `begin`.
ExampleSet shapes_of(std::string name, std::function<bool(const ShapesSample&)> keep, int64_t begin, int64_t count,
                     int64_t h, int64_t w, int64_t batch) {
  auto index = std::make_shared<int64_t>(begin);
  auto done = std::make_shared<int64_t>(0);
  BatchSource src = [=]() -> Tensor {
    if (*done >= count) return {};
    const int64_t nb = std::min(batch, count - *done);
    Tensor t = Tensor::empty(Shape{nb, 3, h, w});
    for (int64_t i = 0; i < nb;) {
      BL_CHECK(*index - begin < 1000 * count, "tcav: demo set '", name, "' found too few matching images");
      const ShapesSample s = make_shapes_sample(ShapesConfig{.height = h, .width = w}, kShapesCnnDataSeed, (*index)++);
      if (!keep(s)) continue;
      std::memcpy(t.data() + i * 3 * h * w, s.image.data(), sizeof(float) * 3 * h * w);
      ++i;
    }
    *done += nb;
    return t;
  };
  return {std::move(name), std::move(src), count};
}

}  // namespace

bool is_demo_concept(const std::string& name) { return colour_index(name) >= 0 || shape_index(name) >= 0; }

std::string demo_concept_names() { return "circle, square, triangle, cross, red, green, blue"; }

ExampleSet demo_concept(const std::string& name, int64_t count, int64_t h, int64_t w, int64_t batch, uint64_t seed) {
  BL_CHECK(is_demo_concept(name), "tcav: unknown demo concept '", name, "' (accepted: ", demo_concept_names(), ")");
  (void)seed;  // the data are a pure function of the shapes dataset's indices
  if (const int64_t k = shape_index(name); k >= 0)
    return shapes_of(name, [k](const ShapesSample& s) { return s.label == k; }, kConceptBegin, count, h, w, batch);
  const int c = colour_index(name);
  // Images whose target shape has this colour: the mean over the target's mask, the channel at
  // least 0.25 above both others. Everything else (shapes, backgrounds) is as in random images.
  return shapes_of(name, [c](const ShapesSample& s) {
    const int64_t plane = s.mask.numel();
    double mean[3] = {0, 0, 0}, n = 0;
    for (int64_t i = 0; i < plane; ++i)
      if (s.mask.data()[i] > 0.5f) {
        for (int ch = 0; ch < 3; ++ch) mean[ch] += s.image.data()[ch * plane + i];
        n += 1;
      }
    if (n == 0) return false;
    for (int ch = 0; ch < 3; ++ch)
      if (ch != c && mean[c] < mean[ch] + 0.25 * n) return false;
    return true;
  }, kConceptBegin + (c + 1) * 1'000'000 / 4, count, h, w, batch);
}

ExampleSet demo_random_set(int64_t index, int64_t count, int64_t h, int64_t w, int64_t batch) {
  return shapes_of("random" + std::to_string(index), [](const ShapesSample&) { return true; }, kRandomBegin + index * count, count, h, w, batch);
}

ExampleSet demo_inputs(int64_t label, int64_t count, int64_t h, int64_t w, int64_t batch) {
  return shapes_of(std::string(kShapeClassNames[static_cast<size_t>(label)]),
                   [label](const ShapesSample& s) { return s.label == label; }, kShapesHeldOutBegin, count, h, w, batch);
}

}  // namespace backlight::cli
