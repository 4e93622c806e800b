#pragma once
/// Synthetic weights: deterministic parameter values computable identically in C++ and Python
/// (tools/reference/synthetic_weights.py), so parity tests against torchvision need no stored
/// weights: both sides fill the same architecture from (seed, parameter name, element index).
///
/// Generator (counter-based, no state):
///   key  = splitmix64(seed XOR fnv1a64(name))          name = full state_dict key, UTF-8
///   bits = splitmix64(key + i)                          i = flat element index, mod 2^64
///   u    = (bits >> 40) * 2^-24                         uniform in [0, 1), exact in float32
///   splitmix64(z): z += 0x9E3779B97F4A7C15; z = (z ^ z>>30) * 0xBF58476D1CE4E5B9;
///                  z = (z ^ z>>27) * 0x94D049BB133111EB; return z ^ z>>31
/// The value is computed in double from u and rounded once to float32, so both implementations
/// agree bit for bit. Rules by key (first match):
///   *running_var            0.5 + 1.5 u                       in [0.5, 2)
///   *running_mean           0.2 u - 0.1                       in [-0.1, 0.1)
///   *num_batches_tracked    0
///   *class_token, *pos_embedding   u - 0.5                    in [-0.5, 0.5)
///   rank 1, key ends in "weight"   0.5 + u                    norm scales, in [0.5, 1.5)
///   other rank <= 1 (biases)       0.2 u - 0.1                in [-0.1, 0.1)
///   rank >= 2 (weights)            (2u - 1) sqrt(6 / fan_in), fan_in = numel / shape[0]
/// (He-uniform weights keep activations O(1) through deep ReLU stacks, so relative parity
/// errors are measured on meaningful values.)
#include <cstdint>
#include <string_view>

#include "engine/module.h"

namespace backlight {

/// The hash above for one element (exposed for tests of the Python twin).
uint64_t synthetic_bits(uint64_t seed, std::string_view name, uint64_t index);

/// Tensor of `shape` with lo + (hi - lo) u per element (same u as above; inputs of parity tests).
Tensor synthetic_uniform(const Shape& shape, uint64_t seed, std::string_view name, float lo, float hi);

/// Sets every parameter and buffer of `model` (in place, by its full state_dict key) by the rules
/// above. Runs on all cores; vgg11_bn's 133M values take well under a second.
void fill_synthetic(Module& model, uint64_t seed);

}  // namespace backlight
