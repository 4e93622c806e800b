#include "attribution/core/side_by_side.h"

#include <algorithm>
#include <exception>

#include "engine/error.h"
#include "engine/parallel.h"

namespace backlight {

size_t side_by_side_threads(bool allowed) {
  if (!allowed || in_parallel_region()) return 1;
  return static_cast<size_t>(std::max(1, num_threads()));
}

SideBySidePlan side_by_side_plan(size_t units, size_t per_chunk, size_t threads, bool method_chosen) {
  BL_CHECK(per_chunk >= 1 && threads >= 1, "side_by_side_plan: expected per_chunk >= 1 and threads >= 1, got ",
           per_chunk, " and ", threads);
  SideBySidePlan p;
  p.units = units;
  p.per_chunk = per_chunk;
  if (method_chosen && units > 0) {
    const size_t t = std::min(threads, units);
    p.per_chunk = std::max(t, per_chunk / t * t);
  }
  p.workers = std::max<size_t>(1, std::min(threads, p.per_chunk));
  p.per_worker = (p.per_chunk + p.workers - 1) / p.workers;
  return p;
}

void for_each_worker(size_t workers, const std::function<void(size_t)>& work) {
  std::vector<std::exception_ptr> errors(workers);
  auto guarded = [&](size_t w) {
    try {
      work(w);
    } catch (...) {  // an exception must not leave an OpenMP region
      errors[w] = std::current_exception();
    }
  };
  if (workers <= 1) {
    if (workers == 1) work(0);
    return;
  }
  parallel_for(static_cast<int64_t>(workers), 1, [&](int64_t lo, int64_t hi) {
    for (int64_t w = lo; w < hi; ++w) guarded(static_cast<size_t>(w));
  });
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace backlight
