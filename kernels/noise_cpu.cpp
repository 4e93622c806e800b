// Threaded CPU tier of the noise-tunnel kernels (kernels/noise.h): rows in parallel for the
// noise, elements in parallel for the moments (each element's copies summed in double, in copy
// order, so the result does not depend on the thread count).
#include "engine/parallel.h"
#include "kernels/detail/noise_math.h"
#include "kernels/noise.h"

namespace backlight {

void noise_rows_cpu(const NoiseRows& r, float* out) {
  const int64_t per = r.per_item;
  parallel_for(r.items * r.copies, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t row = lo; row < hi; ++row) {
      const int64_t n = row / r.copies, s = r.first_sample + row % r.copies;
      const float* src = r.input + n * per;
      float* dst = out + row * per;
      if (r.given) {
        const float* z = r.given + (s * r.items + n) * per;
        for (int64_t i = 0; i < per; ++i) dst[i] = src[i] + z[i];
      } else {
        const uint64_t stream = noise_math::noise_stream(r.stream_base, s, r.items, n);
        for (int64_t i = 0; i < per; ++i)
          dst[i] = noise_math::noisy(src[i], r.stdev[n], r.seed, stream, static_cast<uint64_t>(i));
      }
    }
  });
}

void moments_add_cpu(const float* a, int64_t items, int64_t copies, int64_t per, double* sum, double* sum_sq) {
  parallel_for(items * per, 1 << 14, [&](int64_t lo, int64_t hi) {
    for (int64_t k = lo; k < hi; ++k) noise_math::moments_add_at(a, k, copies, per, sum, sum_sq);
  });
}

void moments_finish_cpu(const double* sum, const double* sum_sq, int64_t count, int64_t samples, MomentStat stat,
                        float* out) {
  parallel_for(count, 1 << 14, [&](int64_t lo, int64_t hi) {
    for (int64_t k = lo; k < hi; ++k)
      out[k] = static_cast<float>(noise_math::moment(sum[k], sum_sq[k], static_cast<double>(samples), stat));
  });
}

}  // namespace backlight
