#include "models/synthetic_weights.h"

#include <cmath>

#include "engine/error.h"
#include "engine/parallel.h"

namespace backlight {

namespace {

constexpr uint64_t splitmix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

constexpr uint64_t fnv1a64(std::string_view s) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (char c : s) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001B3ull;
  }
  return h;
}

uint64_t name_key(uint64_t seed, std::string_view name) { return splitmix64(seed ^ fnv1a64(name)); }

double unit(uint64_t key, uint64_t index) { return static_cast<double>(splitmix64(key + index) >> 40) * 0x1p-24; }

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// value = a + b * u, or a weight (2u - 1) * bound; all in double, rounded once (as numpy does).
struct Affine {
  double a = 0, b = 0;
  bool weight = false;
  double bound = 0;
};

Affine rule_for(std::string_view name, const Shape& shape) {
  if (ends_with(name, "running_var")) return {0.5, 1.5};
  if (ends_with(name, "running_mean")) return {-0.1, 0.2};
  if (ends_with(name, "num_batches_tracked")) return {0.0, 0.0};
  if (ends_with(name, "class_token") || ends_with(name, "pos_embedding")) return {-0.5, 1.0};
  if (shape.rank() == 1 && ends_with(name, "weight")) return {0.5, 1.0};
  if (shape.rank() <= 1) return {-0.1, 0.2};
  const int64_t fan_in = shape.numel() / std::max<int64_t>(1, shape[0]);
  return {0, 0, true, std::sqrt(6.0 / static_cast<double>(std::max<int64_t>(1, fan_in)))};
}

Tensor generate(const Shape& shape, uint64_t key, const Affine& r) {
  Tensor t = Tensor::empty(shape);
  float* p = t.data();
  parallel_for(t.numel(), 1 << 16, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const double u = unit(key, static_cast<uint64_t>(i));
      p[i] = static_cast<float>(r.weight ? (2.0 * u - 1.0) * r.bound : r.a + r.b * u);
    }
  });
  return t;
}

}  // namespace

uint64_t synthetic_bits(uint64_t seed, std::string_view name, uint64_t index) {
  return splitmix64(name_key(seed, name) + index);
}

Tensor synthetic_uniform(const Shape& shape, uint64_t seed, std::string_view name, float lo, float hi) {
  BL_CHECK(lo <= hi, "synthetic_uniform: expected lo <= hi, got ", lo, " and ", hi);
  return generate(shape, name_key(seed, name), Affine{lo, static_cast<double>(hi) - lo});
}

void fill_synthetic(Module& model, uint64_t seed) {
  for (const auto& [name, tensor] : model.state_dict()) {
    const Tensor value = generate(tensor.shape(), name_key(seed, name), rule_for(name, tensor.shape()));
    // A fresh tensor rather than a write in place: the old storage may be shared (a mapped file).
    BL_CHECK(model.set_tensor(name, value), "fill_synthetic: cannot set '", name, "'");
  }
}

}  // namespace backlight
