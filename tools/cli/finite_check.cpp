#include "tools/cli/finite_check.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <sstream>

#include "engine/error.h"

namespace backlight::cli {

std::optional<int64_t> first_non_finite(const Tensor& t) {
  const float* p = t.data();
  const int64_t n = t.numel();
  // Blocks of exponent-bit tests (NaN and Inf have all 8 exponent bits set): an integer OR that
  // vectorises, ~10x faster than std::isfinite per value; the index is found only on a hit.
  constexpr int64_t kBlock = 4096;
  for (int64_t begin = 0; begin < n; begin += kBlock) {
    const int64_t end = std::min(n, begin + kBlock);
    uint32_t bad = 0;
    for (int64_t i = begin; i < end; ++i) {
      uint32_t bits;
      std::memcpy(&bits, p + i, sizeof bits);
      bad |= static_cast<uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
    }
    if (bad)
      for (int64_t i = begin; i < end; ++i)
        if (!std::isfinite(p[i])) return i;
  }
  return std::nullopt;
}

void check_finite(const Tensor& t, std::string_view what) {
  const std::optional<int64_t> bad = first_non_finite(t);
  if (!bad) return;
  // Row-major multi-index of the flat position.
  std::string index;
  int64_t rest = *bad;
  for (int d = t.dim() - 1; d >= 0; --d) {
    const int64_t size = std::max<int64_t>(t.size(d), 1);
    index = std::to_string(rest % size) + (index.empty() ? "" : "," + index);
    rest /= size;
  }
  const float v = t.data()[*bad];
  std::ostringstream shape;
  shape << t.shape();
  BL_THROW(what, " holds ", std::isnan(v) ? "NaN" : (v > 0 ? "+Inf" : "-Inf"), " at index [", index, "] (flat ", *bad,
           " of ", shape.str(), ")");
}

}  // namespace backlight::cli
