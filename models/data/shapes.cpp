#include "models/data/shapes.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/error.h"
#include "engine/parallel.h"
#include "engine/philox.h"

namespace backlight {

namespace {

constexpr float kPi = 3.14159265358979f;
// Keys of the independent Philox streams of one dataset. The sample stream is the index; the
// label permutation and pixel noise get keys of their own so no two uses share a draw.
constexpr uint64_t kLabelKey = 0x6c6162656c730001ULL;
constexpr uint64_t kNoiseKey = 0x6e6f697365730002ULL;

// Sequential draws from one Philox stream: draw i is philox(seed, stream, i), nothing else.
class Draws {
 public:
  Draws(uint64_t seed, uint64_t stream) : seed_(seed), stream_(stream) {}
  float uniform() { return philox::uniform(seed_, stream_, counter_++); }
  float uniform(float lo, float hi) { return lo + (hi - lo) * uniform(); }
  // Integer in [lo, hi].
  int64_t integer(int64_t lo, int64_t hi) {
    return std::min(hi, lo + static_cast<int64_t>(uniform() * static_cast<float>(hi - lo + 1)));
  }

 private:
  uint64_t seed_, stream_, counter_ = 0;
};

struct Rgb {
  float c[3];
};

struct Placed {
  ShapeKind kind;
  float cx, cy, radius, angle;
  Rgb color;
};

// Unit shapes (circumradius 1) in local coordinates; image y grows downwards, so the triangle
// points up. Every shape stays inside the unit circle, which is what placement reserves.
bool inside_unit(ShapeKind kind, float u, float v) {
  switch (kind) {
    case ShapeKind::Circle:
      return u * u + v * v <= 1.0f;
    case ShapeKind::Square:
      return std::fabs(u) <= 0.7f && std::fabs(v) <= 0.7f;
    case ShapeKind::Triangle:
      return v <= 0.5f && 1.7320508f * std::fabs(u) <= v + 1.0f;
    case ShapeKind::Cross:
      return (std::fabs(u) <= 0.95f && std::fabs(v) <= 0.3f) || (std::fabs(v) <= 0.95f && std::fabs(u) <= 0.3f);
  }
  return false;
}

// Calls f(y, x) for every pixel whose centre lies inside the shape.
template <class F>
void rasterize(const Placed& s, int64_t h, int64_t w, F&& f) {
  const float cs = std::cos(s.angle), sn = std::sin(s.angle), inv_r = 1.0f / s.radius;
  const int64_t y0 = std::max<int64_t>(0, static_cast<int64_t>(std::floor(s.cy - s.radius)));
  const int64_t y1 = std::min<int64_t>(h - 1, static_cast<int64_t>(std::ceil(s.cy + s.radius)));
  const int64_t x0 = std::max<int64_t>(0, static_cast<int64_t>(std::floor(s.cx - s.radius)));
  const int64_t x1 = std::min<int64_t>(w - 1, static_cast<int64_t>(std::ceil(s.cx + s.radius)));
  for (int64_t y = y0; y <= y1; ++y)
    for (int64_t x = x0; x <= x1; ++x) {
      const float dx = static_cast<float>(x) + 0.5f - s.cx, dy = static_cast<float>(y) + 0.5f - s.cy;
      const float u = (cs * dx + sn * dy) * inv_r, v = (-sn * dx + cs * dy) * inv_r;
      if (inside_unit(s.kind, u, v)) f(y, x);
    }
}

Rgb hsv(float h, float s, float v) {
  const float k[3] = {5.0f, 3.0f, 1.0f};
  Rgb out{};
  for (int c = 0; c < 3; ++c) {
    const float t = std::fmod(k[c] + h * 6.0f, 6.0f);
    out.c[c] = v - v * s * std::clamp(std::min(t, 4.0f - t), 0.0f, 1.0f);
  }
  return out;
}

// A saturated colour that stands out from the background's base colour; after a few rejected
// hues, the per-channel opposite of the base (always >= 0.3 away per channel).
Rgb shape_color(Draws& d, const Rgb& base) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    const Rgb c = hsv(d.uniform(), d.uniform(0.6f, 1.0f), d.uniform(0.65f, 1.0f));
    float diff = 0.0f;
    for (int k = 0; k < 3; ++k) diff += std::fabs(c.c[k] - base.c[k]);
    if (diff / 3.0f >= 0.25f) return c;
  }
  Rgb c{};
  for (int k = 0; k < 3; ++k) c.c[k] = base.c[k] < 0.5f ? 0.95f : 0.05f;
  return c;
}

// Smooth value noise (bilinear with smoothstep on a coarse grid) or sinusoidal stripes around
// the base colour, written into img [3, h, w].
ShapesBackground paint_background(Draws& d, const Rgb& base, int64_t h, int64_t w, float* img) {
  const int64_t plane = h * w;
  if (d.uniform() < 0.5f) {
    const int64_t g = d.integer(3, 6);
    const float amp = d.uniform(0.08f, 0.18f);
    std::vector<float> grid(static_cast<size_t>(3 * g * g));
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t i = 0; i < g * g; ++i) grid[c * g * g + i] = base.c[c] + amp * (2.0f * d.uniform() - 1.0f);
    auto smooth = [](float t) { return t * t * (3.0f - 2.0f * t); };
    for (int64_t y = 0; y < h; ++y) {
      const float gy = (static_cast<float>(y) + 0.5f) / static_cast<float>(h) * static_cast<float>(g - 1);
      const int64_t iy = std::min<int64_t>(static_cast<int64_t>(gy), g - 2);
      const float ty = smooth(gy - static_cast<float>(iy));
      for (int64_t x = 0; x < w; ++x) {
        const float gx = (static_cast<float>(x) + 0.5f) / static_cast<float>(w) * static_cast<float>(g - 1);
        const int64_t ix = std::min<int64_t>(static_cast<int64_t>(gx), g - 2);
        const float tx = smooth(gx - static_cast<float>(ix));
        for (int64_t c = 0; c < 3; ++c) {
          const float* q = grid.data() + c * g * g;
          const float top = q[iy * g + ix] * (1 - tx) + q[iy * g + ix + 1] * tx;
          const float bottom = q[(iy + 1) * g + ix] * (1 - tx) + q[(iy + 1) * g + ix + 1] * tx;
          img[c * plane + y * w + x] = top * (1 - ty) + bottom * ty;
        }
      }
    }
    return ShapesBackground::Noise;
  }
  const float angle = d.uniform(0.0f, kPi), period = d.uniform(6.0f, 16.0f), phase = d.uniform(0.0f, 2 * kPi);
  float delta[3];
  for (float& v : delta) v = d.uniform(-0.15f, 0.15f);
  const float fx = std::cos(angle) * 2 * kPi / period, fy = std::sin(angle) * 2 * kPi / period;
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      const float s = std::sin(fx * static_cast<float>(x) + fy * static_cast<float>(y) + phase);
      for (int64_t c = 0; c < 3; ++c) img[c * plane + y * w + x] = base.c[c] + delta[c] * s;
    }
  return ShapesBackground::Stripes;
}

// Label of `index`: a random permutation of the 4 classes per aligned block of 4 indices, so
// every block (and hence any 4k consecutive samples starting at a multiple of 4) is balanced.
int64_t label_of(uint64_t seed, int64_t index) {
  Draws d(seed ^ kLabelKey, static_cast<uint64_t>(index / kNumShapeClasses));
  int64_t perm[kNumShapeClasses] = {0, 1, 2, 3};
  for (int64_t i = kNumShapeClasses - 1; i > 0; --i) std::swap(perm[i], perm[d.integer(0, i)]);
  return perm[index % kNumShapeClasses];
}

void check_config(const ShapesConfig& cfg) {
  BL_CHECK(cfg.height >= 16 && cfg.width >= 16, "make_shapes_sample: expected an image of at least 16x16, got ",
           cfg.height, "x", cfg.width);
  BL_CHECK(0.0f < cfg.target_min && cfg.target_min <= cfg.target_max && cfg.target_max < 0.5f,
           "make_shapes_sample: expected 0 < target_min <= target_max < 0.5, got [", cfg.target_min, ", ",
           cfg.target_max, "]");
  BL_CHECK(0.0f < cfg.distractor_min && cfg.distractor_min <= cfg.distractor_max && cfg.distractor_max < 0.5f,
           "make_shapes_sample: expected 0 < distractor_min <= distractor_max < 0.5, got [", cfg.distractor_min,
           ", ", cfg.distractor_max, "]");
  BL_CHECK(0 <= cfg.distractors_min && cfg.distractors_min <= cfg.distractors_max,
           "make_shapes_sample: expected 0 <= distractors_min <= distractors_max, got [", cfg.distractors_min, ", ",
           cfg.distractors_max, "]");
  BL_CHECK(cfg.max_rotation >= 0.0f && cfg.pixel_noise >= 0.0f,
           "make_shapes_sample: expected max_rotation >= 0 and pixel_noise >= 0, got ", cfg.max_rotation, " and ",
           cfg.pixel_noise);
  const float side = static_cast<float>(std::min(cfg.height, cfg.width));
  BL_CHECK(cfg.target_min * side >= 3.0f && 2.0f * (cfg.target_max * side + 1.0f) <= side,
           "make_shapes_sample: expected targets of 3 pixels to (side/2 - 1) in half-extent, got [",
           cfg.target_min * side, ", ", cfg.target_max * side, "] pixels for a side of ", side);
}

}  // namespace

ShapesSample make_shapes_sample(const ShapesConfig& cfg, uint64_t seed, int64_t index) {
  check_config(cfg);
  BL_CHECK(index >= 0, "make_shapes_sample: expected index >= 0, got ", index);
  const int64_t h = cfg.height, w = cfg.width, plane = h * w;
  const float side = static_cast<float>(std::min(h, w));
  Draws d(seed, static_cast<uint64_t>(index));

  ShapesSample out;
  out.label = label_of(seed, index);
  out.image = Tensor::empty({3, h, w});
  out.mask = Tensor::zeros({1, h, w});
  float* img = out.image.data();

  const float level = d.uniform(0.3f, 0.7f);
  Rgb base{};
  for (float& c : base.c) c = level + d.uniform(-0.1f, 0.1f);
  out.background = paint_background(d, base, h, w, img);

  Placed target{};
  target.kind = static_cast<ShapeKind>(out.label);
  target.radius = side * d.uniform(cfg.target_min, cfg.target_max);
  // One pixel of margin: the mask never touches the border.
  target.cx = d.uniform(target.radius + 1.0f, static_cast<float>(w) - target.radius - 1.0f);
  target.cy = d.uniform(target.radius + 1.0f, static_cast<float>(h) - target.radius - 1.0f);
  target.angle = d.uniform(-cfg.max_rotation, cfg.max_rotation);
  target.color = shape_color(d, base);

  const int64_t count = d.integer(cfg.distractors_min, cfg.distractors_max);
  std::vector<Placed> shapes;
  for (int64_t i = 0; i < count; ++i) {
    Placed s{};
    const int64_t other = d.integer(0, kNumShapeClasses - 2);  // one of the three other classes
    s.kind = static_cast<ShapeKind>(other >= out.label ? other + 1 : other);
    s.radius = side * d.uniform(cfg.distractor_min, cfg.distractor_max);
    s.angle = d.uniform(-cfg.max_rotation, cfg.max_rotation);
    s.color = shape_color(d, base);
    // Disjoint from the target with 2 pixels to spare, so the target's mask stays exact.
    for (int attempt = 0; attempt < 16; ++attempt) {
      const float cx = d.uniform(s.radius, static_cast<float>(w) - s.radius);
      const float cy = d.uniform(s.radius, static_cast<float>(h) - s.radius);
      if (std::hypot(cx - target.cx, cy - target.cy) >= target.radius + s.radius + 2.0f) {
        s.cx = cx, s.cy = cy;
        shapes.push_back(s);
        break;
      }
    }
  }
  shapes.push_back(target);  // last: drawn on top of everything

  float* mask = out.mask.data();
  for (size_t i = 0; i < shapes.size(); ++i) {
    const Placed& s = shapes[i];
    out.shapes.push_back({s.kind, s.cx, s.cy, s.radius, s.angle, {s.color.c[0], s.color.c[1], s.color.c[2]}});
    const bool is_target = i + 1 == shapes.size();
    rasterize(s, h, w, [&](int64_t y, int64_t x) {
      for (int64_t c = 0; c < 3; ++c) img[c * plane + y * w + x] = s.color.c[c];
      if (is_target) mask[y * w + x] = 1.0f;
    });
  }

  // Pixel noise: one Philox block gives four values.
  const int64_t n = 3 * plane;
  for (int64_t b = 0; b * 4 < n; ++b) {
    const uint64_t ctr = static_cast<uint64_t>(b);
    const uint64_t key = seed ^ kNoiseKey;
    const philox::U4 r = philox::philox4x32_10(static_cast<uint32_t>(ctr), static_cast<uint32_t>(ctr >> 32),
                                               static_cast<uint32_t>(index), static_cast<uint32_t>(index >> 32),
                                               static_cast<uint32_t>(key), static_cast<uint32_t>(key >> 32));
    for (int64_t k = 0; k < 4 && b * 4 + k < n; ++k) {
      const float u = static_cast<float>(r.v[k] >> 8) * (1.0f / 16777216.0f);
      float& p = img[b * 4 + k];
      p = std::clamp(p + cfg.pixel_noise * (2.0f * u - 1.0f), 0.0f, 1.0f);
    }
  }
  return out;
}

ShapesBatch make_shapes_batch(const ShapesConfig& cfg, uint64_t seed, int64_t begin, int64_t count) {
  check_config(cfg);
  BL_CHECK(begin >= 0 && count >= 1, "make_shapes_batch: expected begin >= 0 and count >= 1, got begin ", begin,
           ", count ", count);
  const int64_t h = cfg.height, w = cfg.width;
  ShapesBatch out;
  out.images = Tensor::empty({count, 3, h, w});
  out.masks = Tensor::empty({count, 1, h, w});
  out.labels.assign(static_cast<size_t>(count), 0);
  parallel_for(count, 4, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const ShapesSample s = make_shapes_sample(cfg, seed, begin + i);
      std::memcpy(out.images.data() + i * 3 * h * w, s.image.data(), sizeof(float) * 3 * h * w);
      std::memcpy(out.masks.data() + i * h * w, s.mask.data(), sizeof(float) * h * w);
      out.labels[static_cast<size_t>(i)] = s.label;
    }
  });
  return out;
}

std::vector<int32_t> shapes_owner_map(const ShapesConfig& cfg, const ShapesSample& s) {
  check_config(cfg);
  const int64_t h = cfg.height, w = cfg.width;
  std::vector<int32_t> owner(static_cast<size_t>(h * w), -1);
  for (size_t i = 0; i < s.shapes.size(); ++i) {
    const ShapeInstance& si = s.shapes[i];
    const Placed p{si.kind, si.cx, si.cy, si.radius, si.angle, {{si.color[0], si.color[1], si.color[2]}}};
    rasterize(p, h, w, [&](int64_t y, int64_t x) { owner[static_cast<size_t>(y * w + x)] = static_cast<int32_t>(i); });
  }
  return owner;
}

}  // namespace backlight
