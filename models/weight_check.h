#pragma once
/// Load-time value check of weights: a NaN or +-Inf anywhere, or a negative BatchNorm running
/// variance, makes every later output NaN (or silently wrong), so load_weights refuses such a
/// file and names the tensor (issue 14). LoadOptions::allow_nonfinite_weights /
/// ModelConfig::allow_nonfinite_weights / the CLI's --allow-nonfinite-weights skip the check.
///
/// Cost: one pass over the weights at memory bandwidth (engine/finite.h), measured in
/// bench/README.md ("load-time weight check") at well under 1% of an explain run.
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "engine/tensor.h"

namespace backlight {

/// Throws backlight::Error naming `source` (the file), the first offending tensor, its shape,
/// the flat index and value, how many of its elements are bad, and the opt-out. Running variances
/// are the tensors whose key ends in "running_var" (PyTorch's BatchNorm buffer name).
void check_weight_values(std::span<const std::pair<std::string, Tensor>> tensors, std::string_view source);

}  // namespace backlight
