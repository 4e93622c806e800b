#pragma once
/// parallel_for: splits [0, n) into contiguous ranges run on all cores (OpenMP). Small ranges
/// (n < grain) and calls from inside a parallel region run inline, so nesting never
/// oversubscribes. The thread count is OpenMP's (set_num_threads below, or OMP_NUM_THREADS).
#include <algorithm>
#include <cstdint>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace backlight {

inline int num_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

/// Threads used by this thread's later parallel regions (OpenMP ICV of the calling thread).
inline void set_num_threads(int n) {
#ifdef _OPENMP
  if (n > 0) omp_set_num_threads(n);
#else
  (void)n;
#endif
}

inline bool in_parallel_region() {
#ifdef _OPENMP
  return omp_in_parallel();
#else
  return false;
#endif
}

/// f(begin, end) on disjoint ranges covering [0, n).
template <class F>
void parallel_for(int64_t n, int64_t grain, F&& f) {
  if (n <= 0) return;
  const int threads = num_threads();
  if (threads <= 1 || n < 2 * std::max<int64_t>(grain, 1) || in_parallel_region()) {
    f(int64_t{0}, n);
    return;
  }
#ifdef _OPENMP
  const int64_t chunks = std::min<int64_t>(threads, n / std::max<int64_t>(grain, 1));
#pragma omp parallel for schedule(static) num_threads(static_cast<int>(chunks))
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t lo = n * c / chunks, hi = n * (c + 1) / chunks;
    f(lo, hi);
  }
#endif
}

}  // namespace backlight
