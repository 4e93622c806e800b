#pragma once
/// Refusing non-finite numbers where the CLI would otherwise turn them into a picture or feed
/// them to a method: inputs and baselines from .npy files, logits, attributions. A NaN drawn as
/// a heat map looks like a normal (blank) map; the CLI stops and names the tensor instead.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "engine/tensor.h"

namespace backlight::cli {

/// Flat index of the first NaN or +-Inf in `t`; nullopt when every value is finite.
std::optional<int64_t> first_non_finite(const Tensor& t);

/// Throws backlight::Error "<what> holds NaN at index [0,2,5,7] (flat 1234 of [1,3,64,64])" when
/// `t` has a non-finite value; `what` names the tensor and where it came from.
void check_finite(const Tensor& t, std::string_view what);

}  // namespace backlight::cli
