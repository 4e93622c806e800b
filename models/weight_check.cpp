#include "models/weight_check.h"

#include <cmath>

#include "engine/error.h"
#include "engine/finite.h"

namespace backlight {

namespace {

bool is_running_var(std::string_view key) {
  constexpr std::string_view kSuffix = "running_var";
  return key.size() >= kSuffix.size() && key.substr(key.size() - kSuffix.size()) == kSuffix;
}

constexpr const char* kOptOut =
    " (a file with such values gives NaN or wrong outputs; to load it anyway pass --allow-nonfinite-weights, "
    "or LoadOptions::allow_nonfinite_weights / ModelConfig::allow_nonfinite_weights in the library)";

}  // namespace

void check_weight_values(std::span<const std::pair<std::string, Tensor>> tensors, std::string_view source) {
  for (const auto& [key, t] : tensors) {
    if (!t.defined() || t.numel() == 0 || t.device() != Device::CPU) continue;
    const std::span<const float> v = t.span();
    if (const int64_t i = first_nonfinite(v); i >= 0) {
      int64_t bad = 0;
      for (const float x : v) bad += !std::isfinite(x);
      BL_THROW("load_weights: ", source, ": tensor \"", key, "\" ", t.shape(), " holds ", bad, " non-finite value",
               bad == 1 ? "" : "s", " (first: ", v[static_cast<size_t>(i)], " at flat index ", i, ")", kOptOut);
    }
    if (is_running_var(key)) {
      for (size_t i = 0; i < v.size(); ++i)
        BL_CHECK(v[i] >= 0.0f, "load_weights: ", source, ": BatchNorm running variance \"", key, "\" ", t.shape(),
                 " holds a negative value (", v[i], " at index ", i, "); a variance is >= 0", kOptOut);
    }
  }
}

}  // namespace backlight
