#pragma once
/// Parameter initialisers (torch.nn.init), each drawing from an explicit generator: there is no
/// global RNG, so a model built twice from the same seed has the same weights. The distributions
/// equal PyTorch's; the streams do not (PyTorch's generator is not reproduced), so load weights
/// when numbers must match PyTorch exactly.
#include <cstdint>
#include <random>

#include "engine/tensor.h"

namespace backlight::init {

/// U(lo, hi) in every element.
Tensor uniform(const Shape& shape, float lo, float hi, std::mt19937_64& rng);
/// N(mean, stdev) in every element (nn.Embedding's default, stdev 1).
Tensor normal(const Shape& shape, float mean, float stdev, std::mt19937_64& rng);
/// kaiming_uniform_(a, mode="fan_in", nonlinearity="leaky_relu"): U(-b, b) with
/// b = sqrt(2 / (1 + a^2)) * sqrt(3 / fan_in). PyTorch's Linear/Conv weights use a = sqrt(5),
/// i.e. b = 1/sqrt(fan_in).
Tensor kaiming_uniform(const Shape& shape, int64_t fan_in, float a, std::mt19937_64& rng);
/// xavier_uniform_: U(-b, b) with b = sqrt(6 / (fan_in + fan_out)).
Tensor xavier_uniform(const Shape& shape, int64_t fan_in, int64_t fan_out, std::mt19937_64& rng);
/// The bias of Linear/Conv: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (zeros when fan_in is 0).
Tensor fan_in_bias(const Shape& shape, int64_t fan_in, std::mt19937_64& rng);

}  // namespace backlight::init
