#include "engine/modules/init.h"

#include <cmath>

#include "engine/error.h"

namespace backlight::init {

Tensor uniform(const Shape& shape, float lo, float hi, std::mt19937_64& rng) {
  BL_CHECK(lo <= hi, "init::uniform: expected lo <= hi, got ", lo, " > ", hi);
  Tensor t = Tensor::empty(shape);
  if (lo == hi) {
    t.fill(lo);
    return t;
  }
  std::uniform_real_distribution<float> d(lo, hi);
  for (float& v : t.span()) v = d(rng);
  return t;
}

Tensor normal(const Shape& shape, float mean, float stdev, std::mt19937_64& rng) {
  BL_CHECK(stdev >= 0, "init::normal: expected stdev >= 0, got ", stdev);
  Tensor t = Tensor::empty(shape);
  std::normal_distribution<float> d(mean, stdev);
  for (float& v : t.span()) v = stdev > 0 ? d(rng) : mean;
  return t;
}

Tensor kaiming_uniform(const Shape& shape, int64_t fan_in, float a, std::mt19937_64& rng) {
  BL_CHECK(fan_in > 0, "init::kaiming_uniform: expected fan_in > 0, got ", fan_in, " for shape ", shape);
  const double gain = std::sqrt(2.0 / (1.0 + double(a) * a));
  const float bound = static_cast<float>(gain * std::sqrt(3.0 / double(fan_in)));
  return uniform(shape, -bound, bound, rng);
}

Tensor xavier_uniform(const Shape& shape, int64_t fan_in, int64_t fan_out, std::mt19937_64& rng) {
  BL_CHECK(fan_in + fan_out > 0, "init::xavier_uniform: expected fan_in + fan_out > 0 for shape ", shape);
  const float bound = static_cast<float>(std::sqrt(6.0 / double(fan_in + fan_out)));
  return uniform(shape, -bound, bound, rng);
}

Tensor fan_in_bias(const Shape& shape, int64_t fan_in, std::mt19937_64& rng) {
  if (fan_in <= 0) return Tensor::zeros(shape);
  const float bound = static_cast<float>(1.0 / std::sqrt(double(fan_in)));
  return uniform(shape, -bound, bound, rng);
}

}  // namespace backlight::init
