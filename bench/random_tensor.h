#pragma once
/// Benchmark inputs: a tensor of uniform(-1, 1) floats from a fixed seed, so runs compare the same
/// numbers.
#include <cstdint>
#include <random>

#include "engine/tensor.h"

namespace backlight::bench {

inline Tensor uniform(const Shape& s, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  Tensor t = Tensor::empty(s);
  for (float& v : t.span()) v = d(rng);
  return t;
}

}  // namespace backlight::bench
