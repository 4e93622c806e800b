#pragma once
/// Finite-value scans: is every float finite, and where is the first that is not. Integer tests
/// on the exponent bits (all ones = Inf or NaN), so the loop vectorises (a float compare chain
/// would not, and -ffast-math builds could drop std::isfinite). ~memory bandwidth: used by the
/// load-time weight check and by conv2d to keep its Winograd path to finite operands.
#include <cstdint>
#include <algorithm>
#include <cstring>
#include <span>

namespace backlight {

/// True when no element of `v` is NaN or +-Inf.
inline bool all_finite(std::span<const float> v) {
  const float* p = v.data();
  const size_t n = v.size();
  uint32_t bad = 0;
  for (size_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, p + i, 4);
    bad |= static_cast<uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
  }
  return bad == 0;
}

/// Index of the first NaN or +-Inf in `v`, or -1.
inline int64_t first_nonfinite(std::span<const float> v) {
  constexpr size_t kBlock = 4096;  // scan fast, locate inside the one bad block
  for (size_t lo = 0; lo < v.size(); lo += kBlock) {
    const std::span<const float> block = v.subspan(lo, std::min(kBlock, v.size() - lo));
    if (all_finite(block)) continue;
    for (size_t i = 0; i < block.size(); ++i) {
      uint32_t bits;
      std::memcpy(&bits, block.data() + i, 4);
      if ((bits & 0x7f800000u) == 0x7f800000u) return static_cast<int64_t>(lo + i);
    }
  }
  return -1;
}

}  // namespace backlight
