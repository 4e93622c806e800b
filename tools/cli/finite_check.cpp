#include "tools/cli/finite_check.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "engine/error.h"

namespace backlight::cli {

std::optional<int64_t> first_non_finite(const Tensor& t) {
  const float* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i)
    if (!std::isfinite(p[i])) return i;
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
