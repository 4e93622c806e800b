#pragma once
/// Launch geometry for grid-stride kernels (plain C++, no CUDA headers): the fused attribution
/// kernels (kernels/*.cu) size their grids with it and check launches with
/// BL_CUDA_CHECK_LAUNCH (engine/cuda/check.h).
#include <cstdint>

namespace backlight::cuda {

/// Blocks of `threads` for a grid-stride loop over n elements: at least 1, capped at
/// `max_blocks` (the loop covers the rest).
inline unsigned grid_for(int64_t n, int threads, int64_t max_blocks = 65535LL * 8) {
  const int64_t blocks = (n + threads - 1) / threads;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > max_blocks ? max_blocks : blocks));
}

}  // namespace backlight::cuda
