#pragma once
/// Size2: a (height, width) pair for kernel sizes, strides and paddings. Converts from one int
/// like PyTorch's `kernel_size=3`, or takes two: `{3, 1}`.
#include <cstdint>

namespace backlight {

struct Size2 {
  int h = 0, w = 0;
  constexpr Size2() = default;
  constexpr Size2(int both) : h(both), w(both) {}  // NOLINT: implicit like PyTorch's int-or-tuple
  constexpr Size2(int height, int width) : h(height), w(width) {}
  constexpr bool operator==(const Size2&) const = default;
};

}  // namespace backlight
