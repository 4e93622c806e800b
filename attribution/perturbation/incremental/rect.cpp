#include "attribution/perturbation/incremental/rect.h"

#include <algorithm>

namespace backlight::incremental {

namespace {

// Floor / ceiling division for a possibly negative numerator and a positive divisor.
int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }

}  // namespace

Interval reached_outputs(Interval in, AxisWindow w, int64_t out_len) {
  if (in.empty()) return {};
  // o*s - p <= hi - 1 (the window starts before the end of `in`) and
  // o*s - p + (k-1)*d >= lo (it ends at or after its start).
  const int64_t first = ceil_div(in.lo + w.pad - (w.kernel - 1) * w.dilation, w.stride);
  const int64_t last = floor_div(in.hi - 1 + w.pad, w.stride);
  return clamp({first, last + 1}, out_len);
}

Interval read_inputs(Interval out, AxisWindow w) {
  return {out.lo * w.stride - w.pad, (out.hi - 1) * w.stride - w.pad + (w.kernel - 1) * w.dilation + 1};
}

Interval hull(Interval a, Interval b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return {std::min(a.lo, b.lo), std::max(a.hi, b.hi)};
}

Rect hull(const Rect& a, const Rect& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return {hull(a.y, b.y), hull(a.x, b.x)};
}

Interval clamp(Interval a, int64_t len) {
  const Interval c{std::max<int64_t>(a.lo, 0), std::min(a.hi, len)};
  return c.empty() ? Interval{} : c;
}

int64_t place(Interval a, int64_t size, int64_t len) {
  if (a.empty()) return 0;
  return std::clamp<int64_t>(a.lo, 0, len - size);
}

}  // namespace backlight::incremental
