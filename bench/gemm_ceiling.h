#pragma once
/// The machine's float32 GEMM rate, measured in the run that uses it (bench_conv's ceiling
/// table, bench_methods' efficiency column): C[n,n] = A[n,n] B[n,n] with Eigen's product
/// (threaded by Eigen) and with backlight's fn::gemm kernel (rows split over the threads in
/// whole 6-row panels, as the conv paths do). Each is validated on 50 sampled elements against a
/// double-accumulating dot product before it is timed. Also the sampling check shared by the
/// benches (check_sample) and a normal-random tensor (random_normal).
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <random>
#include <sstream>
#include <string>

#include "bench/harness.h"
#include "engine/eigen.h"
#include "engine/functional/gemm.h"
#include "engine/parallel.h"
#include "engine/tensor.h"

namespace backlight::bench {

inline Tensor random_normal(const Shape& s, std::mt19937_64& rng, float stdev) {
  std::normal_distribution<float> d(0.0f, stdev);
  Tensor t = Tensor::empty(s);
  for (float& v : t.span()) v = d(rng);
  return t;
}

/// Compares `n_samples` random elements of `got` with ref(flat index); "" when all match
/// (|got - ref| <= 1e-3 + 1e-3 |ref|), else the count and the first mismatches.
template <class Ref>
std::string check_sample(const Tensor& got, Ref ref, std::mt19937_64& rng, int n_samples = 300) {
  std::uniform_int_distribution<int64_t> pick(0, got.numel() - 1);
  std::ostringstream os;
  int bad = 0;
  double max_err = 0;
  for (int s = 0; s < n_samples; ++s) {
    const int64_t i = pick(rng);
    const double want = ref(i), have = got.data()[i];
    const double err = std::fabs(have - want);
    max_err = std::max(max_err, err);
    if (!(err <= 1e-3 + 1e-3 * std::fabs(want)) && bad++ < 5)
      os << "  [" << i << "] got " << have << ", reference " << want << "\n";
  }
  if (!bad) return "";
  return std::to_string(bad) + " of " + std::to_string(n_samples) + " sampled elements differ (max abs " +
         std::to_string(max_err) + "):\n" + os.str();
}

/// Emits "gemm/eigen/N" (when `with_eigen`) and "gemm/<kernel>/N" records (n = 2048, 512 with
/// --quick) for the configurations --only selects; returns the best GFLOP/s measured (0 if none).
inline double gemm_ceiling(const Options& opt, Reporter& rep, bool with_eigen = true) {
  const int64_t n = opt.quick ? 512 : 2048;
  std::mt19937_64 rng(1);
  Tensor a = random_normal(Shape{n, n}, rng, 1.0f), b = random_normal(Shape{n, n}, rng, 1.0f);
  Tensor c = Tensor::empty(Shape{n, n});
  const double flops = 2.0 * n * n * n;
  double best = 0;
  auto check = [&]() -> std::string {
    return check_sample(c, [&](int64_t i) {
      const int64_t r = i / n, col = i % n;
      double s = 0;
      for (int64_t k = 0; k < n; ++k) s += static_cast<double>(a.data()[r * n + k]) * b.data()[k * n + col];
      return s;
    }, rng, 50);
  };
  const std::string eigen_name = "gemm/eigen/" + std::to_string(n);
  if (with_eigen && opt.selected(eigen_name)) {
    auto run = [&] { mat(c.data(), n, n).noalias() = mat(a.data(), n, n) * mat(b.data(), n, n); };
    const bool ok = rep.validate(eigen_name, [&] {
      run();
      return check();
    });
    if (ok) {
      const Stats s = measure(opt, run);
      rep.emit(Record(eigen_name).add("threads", Eigen::nbThreads()).add("gflops", flops / s.median / 1e9), s);
      best = std::max(best, flops / s.median / 1e9);
    }
  }
  const std::string ours_name = std::string("gemm/") + fn::gemm::kernel_name() + "/" + std::to_string(n);
  if (opt.selected(ours_name)) {
    const int threads = num_threads();
    Workspace ws;
    Tensor scratch = Tensor::empty(Shape{threads, fn::gemm::scratch_floats(n, n) + 16}, &ws);
    const int64_t per = scratch.size(1);
    auto run = [&] {
      parallel_for(n / 6, 1, [&](int64_t lo, int64_t hi) {  // rows in whole 6-row panels
        const int64_t r0 = lo * 6, r1 = hi == n / 6 ? n : hi * 6;
#ifdef _OPENMP
        float* sc = scratch.data() + omp_get_thread_num() * per;
#else
        float* sc = scratch.data();
#endif
        fn::gemm::gemm(r1 - r0, n, n, fn::gemm::MatrixA{a.data() + r0 * n, n}, fn::gemm::rows_of(b.data(), n, n),
                       c.data() + r0 * n, n, nullptr, false, sc);
      });
    };
    const bool ok = rep.validate(ours_name, [&] {
      run();
      return check();
    });
    if (ok) {
      const Stats s = measure(opt, run);
      rep.emit(Record(ours_name).add("threads", threads).add("gflops", flops / s.median / 1e9), s);
      best = std::max(best, flops / s.median / 1e9);
    }
  }
  return best;
}

}  // namespace backlight::bench
