#pragma once
/// Receptive-field algebra of incremental occlusion (attribution/perturbation/incremental/): which output
/// rows and columns of a sliding-window layer (conv2d, max/avg pooling) change when a rectangle
/// of its input changes, and which input rows and columns a rectangle of outputs reads.
///
/// One axis at a time: a window layer with kernel k, stride s, padding p and dilation d makes
/// output o from the inputs o*s - p + j*d, j = 0 .. k-1 (indices < 0 or >= the input length
/// are padding). Intervals are half-open [lo, hi); an interval with hi <= lo is empty.
#include <cstdint>

namespace backlight::incremental {

struct Interval {
  int64_t lo = 0, hi = 0;
  bool empty() const { return hi <= lo; }
  int64_t size() const { return empty() ? 0 : hi - lo; }
  bool operator==(const Interval&) const = default;
};

/// A rectangle of an [H, W] map: rows y, columns x.
struct Rect {
  Interval y, x;
  bool empty() const { return y.empty() || x.empty(); }
  int64_t area() const { return y.size() * x.size(); }
  bool operator==(const Rect&) const = default;
};

/// One axis of a sliding-window layer (PyTorch's conv/pool arguments).
struct AxisWindow {
  int64_t kernel = 1, stride = 1, pad = 0, dilation = 1;
};

/// Outputs in [0, out_len) whose window touches an input in `in`: a superset when dilation
/// skips over `in` (recomputing an unchanged output is still exact). Empty for an empty `in`.
Interval reached_outputs(Interval in, AxisWindow w, int64_t out_len);

/// Inputs read by the outputs `out` (non-empty): [lo*s - p, (hi-1)*s - p + (k-1)*d + 1). May
/// reach past [0, in_len) into the padding (and, with ceil_mode, past it).
Interval read_inputs(Interval out, AxisWindow w);

/// The smallest interval containing both (an empty one is ignored).
Interval hull(Interval a, Interval b);
Rect hull(const Rect& a, const Rect& b);

/// `a` intersected with [0, len).
Interval clamp(Interval a, int64_t len);

/// The start of an interval of `size` (<= len) inside [0, len) that contains `a` (size(a) <=
/// size): `a` itself extended to the right, shifted inward at the far end. Gives every window
/// position's region the same size, so one batched op computes all of them.
int64_t place(Interval a, int64_t size, int64_t len);

}  // namespace backlight::incremental
