#pragma once
/// Side-by-side chunks: the CPU threads run whole parts of a chunk at once, one thread each,
/// instead of splitting every op of one chunk among them. Used by the chunked methods that run
/// a forward and backward per chunk of units (steps or samples): integrated gradients, layer and
/// neuron integrated gradients and conductance, noise tunnel (and GradientSHAP through it).
///
/// Why: a forward and backward of an imported EfficientNet-B0 is ~1500 small ops; splitting each
/// one opens a parallel region per op, and with the CLI's passive OpenMP wait policy every region
/// wakes a sleeping thread, so IG-50 on 2 threads ran at the speed of one (issue 16). Inside a
/// worker every op runs inline (parallel_for runs inline inside a parallel region).
///
/// Plan: a chunk of `per_chunk` units is divided among `workers` = min(threads, per_chunk)
/// threads, `per_worker` = ceil(per_chunk / workers) units each, so the activations alive at once
/// stay those of one chunk. When the chunk size was chosen by the method (not by the caller) it
/// is floored to a multiple of min(threads, units) (at least one unit per thread: no thread waits
/// for another's extra unit, and a model whose single row exceeds the activation budget still
/// keeps every thread busy).
///
/// Order: the parts' results are handed to `accumulate` in unit order after each chunk, as the
/// sequential loop hands them, so results equal the one-thread results up to the float rounding
/// of smaller batches, and are deterministic for a fixed thread count. Random draws must not
/// depend on the split: methods draw per unit from a seed (Philox) or before splitting.
///
/// When: only where the work can run on several host threads at once - CPU (no CUDA context: a
/// device has its own parallelism), class targets (a function target is user code that may not
/// be thread-safe), and not already inside a parallel region. Otherwise `threads` is 1 and the
/// loop is the plain sequential chunk loop.
#include <algorithm>
#include <cstddef>
#include <functional>
#include <type_traits>
#include <utility>
#include <vector>

namespace backlight {

struct SideBySidePlan {
  size_t units = 0;       ///< steps or samples in all
  size_t per_chunk = 1;   ///< units per chunk (all workers together)
  size_t workers = 1;     ///< threads running parts of a chunk at once (1: sequential)
  size_t per_worker = 1;  ///< units per worker's part (the last part of the last chunk may be shorter)
};

/// Threads the side-by-side loop may use: num_threads() when `allowed` (CPU, class target, the
/// caller's own conditions) and the caller is not inside a parallel region, else 1.
size_t side_by_side_threads(bool allowed);

/// The plan for `units` units in chunks of `per_chunk` (from units_per_chunk, limits.h) on
/// `threads` threads; `method_chosen`: the chunk size came from the method's default or
/// activation budget (then it is floored to a multiple of the threads), not from the caller.
SideBySidePlan side_by_side_plan(size_t units, size_t per_chunk, size_t threads, bool method_chosen);

/// Calls work(w) for w in [0, workers): on `workers` threads at once, or inline when workers is
/// 1. An exception in any worker is captured (it must not leave an OpenMP region) and the first
/// one, in worker order, is rethrown after all workers finished.
void for_each_worker(size_t workers, const std::function<void(size_t)>& work);

/// Runs units [0, plan.units): run(k0, k1) computes units [k0, k1) (one forward and backward)
/// and returns its result; accumulate(k0, k1, result) receives the results in unit order.
/// `run` may be called from several threads at once; `accumulate` only from the calling thread.
template <class Run, class Accumulate>
void run_side_by_side(const SideBySidePlan& plan, Run&& run, Accumulate&& accumulate) {
  using Result = std::decay_t<std::invoke_result_t<Run&, size_t, size_t>>;
  const size_t span = plan.per_worker * plan.workers;
  for (size_t c0 = 0; c0 < plan.units; c0 += span) {
    std::vector<Result> parts(plan.workers);
    std::vector<char> ran(plan.workers, 0);
    auto range = [&](size_t w) {
      const size_t k0 = std::min(plan.units, c0 + w * plan.per_worker);
      return std::make_pair(k0, std::min(plan.units, k0 + plan.per_worker));
    };
    for_each_worker(plan.workers, [&](size_t w) {
      const auto [k0, k1] = range(w);
      if (k0 >= k1) return;
      parts[w] = run(k0, k1);
      ran[w] = 1;
    });
    for (size_t w = 0; w < plan.workers; ++w)
      if (ran[w]) {
        const auto [k0, k1] = range(w);
        accumulate(k0, k1, std::move(parts[w]));
      }
  }
}

}  // namespace backlight
