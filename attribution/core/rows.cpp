#include "attribution/core/rows.h"

#include "attribution/core/limits.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"
#include "engine/functional/reduce.h"
#include "engine/parallel.h"
#include "engine/philox.h"

namespace backlight {

namespace {

constexpr int64_t kGrain = 1 << 14;

// Philox streams of the GradientSHAP draws (distinct so that changing the sample count or the
// noise level never reuses another draw's numbers).
constexpr uint64_t kNoiseStream = 0x67736e6f697365;  // "gsnoise"
constexpr uint64_t kPickStream = 0x67737069636b;     // "gspick"
constexpr uint64_t kAlphaStream = 0x6773616c706861;  // "gsalpha"

Shape with_rows(const Shape& s, int64_t rows) {
  std::vector<int64_t> d = s.to_vector();
  d[0] = rows;
  return Shape(d);
}

}  // namespace

Tensor stack_rows(const Tensor& a, const Tensor& b, const Workspace& ws) {
  BL_CHECK_SHAPE(a.shape() == b.shape(), "stack_rows: expected two tensors of the same shape, got ", a.shape(), " and ",
                 b.shape());
  Tensor out = Tensor::empty(with_rows(a.shape(), 2 * a.size(0)), &ws);
  std::copy(a.data(), a.data() + a.numel(), out.data());
  std::copy(b.data(), b.data() + b.numel(), out.data() + a.numel());
  return out;
}

Tensor path_rows(const Tensor& x, const Tensor& base, std::span<const double> alphas, size_t k0, size_t k1,
                 const Workspace& ws) {
  BL_CHECK_SHAPE(x.shape() == base.shape(), "path_rows: input ", x.shape(), " and baseline ", base.shape(),
                 " differ in shape");
  const int64_t per = x.numel(), steps = static_cast<int64_t>(k1 - k0);
  Tensor out = Tensor::empty(with_rows(x.shape(), x.size(0) * steps), &ws);
  const float *px = x.data(), *pb = base.data();
  parallel_for(steps * per, kGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const float a = static_cast<float>(alphas[k0 + i / per]);
      const int64_t j = i % per;
      out.data()[i] = pb[j] + a * (px[j] - pb[j]);
    }
  });
  return out;
}

Tensor repeat_rows(const Tensor& x, int64_t times, const Workspace& ws) {
  Tensor out = Tensor::empty(with_rows(x.shape(), x.size(0) * times), &ws);
  for (int64_t k = 0; k < times; ++k) std::copy(x.data(), x.data() + x.numel(), out.data() + k * x.numel());
  return out;
}

std::vector<int64_t> row_classes(const std::vector<int64_t>& classes, int64_t repeats, bool interleaved) {
  std::vector<int64_t> out;
  out.reserve(classes.size() * repeats);
  if (interleaved) {
    for (int64_t c : classes) out.insert(out.end(), repeats, c);
  } else {
    for (int64_t k = 0; k < repeats; ++k) out.insert(out.end(), classes.begin(), classes.end());
  }
  return out;
}

Target rows_target(const Target& target, const std::vector<int64_t>& row_classes) {
  return target.is_function() ? target : Target::indices(row_classes);
}

std::vector<double> item_sums(const Tensor& t) {
  const int64_t n = t.size(0), per = t.numel() / n;
  std::vector<double> out(n, 0.0);
  if (t.is_cuda()) {  // summed on the device (double accumulation); only the N sums come back
    const Tensor sums = fn::sum(t.reshape({n, per}), 0b10, false, nullptr).to_cpu();
    for (int64_t i = 0; i < n; ++i) out[i] = sums.data()[i];
    return out;
  }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = i * per; j < (i + 1) * per; ++j) out[i] += t.data()[j];
  return out;
}

void add_scaled(Tensor& acc, const Tensor& rows, int64_t block, float w) {
  const int64_t per = acc.numel();
  BL_CHECK_SHAPE((block + 1) * per <= rows.numel(), "add_scaled: block ", block, " of ", per,
                 " elements is outside rows ", rows.shape());
  const float* src = rows.data() + block * per;
  float* dst = acc.data();
  parallel_for(per, kGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) dst[i] += w * src[i];
  });
}

Tensor target_rows(const Tensor& output, const Target& target, const std::vector<int64_t>& row_classes) {
  const int64_t rows = output.size(0);
  Tensor values = Tensor::empty(Shape{rows});
  if (target.is_function()) {
    Tape tape(TapeOptions{.record = false});
    const Tensor v = target.select(tape.input(output)).value();
    std::copy(v.data(), v.data() + rows, values.data());
    return values;
  }
  BL_CHECK(static_cast<int64_t>(row_classes.size()) == rows, "target_rows: ", row_classes.size(), " classes for ", rows,
           " rows");
  const int64_t k = output.numel() / rows;
  for (int64_t r = 0; r < rows; ++r) values.data()[r] = output.data()[r * k + row_classes[r]];
  return values;
}

Tensor baseline_distribution(const std::vector<Baseline>& baselines, const Tensor& inputs) {
  BL_CHECK(!baselines.empty(), "baseline distribution: at least one baseline is needed");
  const int64_t per = inputs.numel() / inputs.size(0);
  const Tensor first = inputs.slice_batch(0, 1);
  std::vector<Tensor> parts;
  int64_t rows = 0;
  for (const Baseline& b : baselines) {
    if (b.kind == Baseline::Kind::Given && b.tensor.dim() == inputs.dim() && b.tensor.numel() != per &&
        b.tensor.numel() / b.tensor.size(0) == per) {
      parts.push_back(b.tensor);
      rows += b.tensor.size(0);
    } else {
      parts.push_back(make_baseline(b, first));
      rows += 1;
    }
  }
  Tensor out = Tensor::empty(with_rows(inputs.shape(), rows));
  int64_t offset = 0;
  for (const Tensor& p : parts) {
    std::copy(p.data(), p.data() + p.numel(), out.data() + offset);
    offset += p.numel();
  }
  return out;
}

ShapSamples shap_samples(const Tensor& x, const Tensor& distribution, int samples, float stdev, uint64_t seed,
                         const Workspace& ws, const ShapDraws& draws, std::string_view method) {
  BL_CHECK(samples >= 1, method, ": expected samples >= 1, got ", samples);
  check_count_limit(method, "samples", "--samples", samples, kMaxSamples);
  BL_CHECK(stdev >= 0, method, ": expected stdev >= 0, got ", stdev);
  const int64_t n = x.size(0), per = x.numel() / n;
  BL_CHECK_SHAPE(distribution.defined() && distribution.dim() >= 1 && distribution.size(0) >= 1 &&
                     distribution.numel() / distribution.size(0) == per,
                 method, ": expected a baseline distribution [B, ...] with ", per,
                 " elements per row (the inputs' per-item size), got ",
                 distribution.defined() ? distribution.shape().str() : std::string("none"));
  const int64_t rows = n * samples, b_rows = distribution.size(0);
  const auto explicit_count = [&](size_t count, const char* what) {
    BL_CHECK(count == 0 || static_cast<int64_t>(count) == rows, method, ": expected ", rows, " explicit ", what,
             " (samples x N), got ", count);
  };
  explicit_count(draws.baseline_indices.size(), "baseline indices");
  explicit_count(draws.alphas.size(), "alphas");
  for (int64_t k : draws.baseline_indices)
    BL_CHECK(k >= 0 && k < b_rows, method, ": baseline index ", k, " out of range for ", b_rows, " baselines");
  if (draws.noise.defined()) {
    std::vector<int64_t> want = x.shape().to_vector();
    want.insert(want.begin(), samples);
    BL_CHECK_SHAPE(draws.noise.shape() == Shape(want), method, ": expected explicit noise [samples, N, ...] = ",
                   Shape(want), ", got ", draws.noise.shape());
  }
  const Shape shape = with_rows(x.shape(), rows);
  ShapSamples s{Tensor::empty(shape, &ws), Tensor::empty(shape, &ws), Tensor::empty(shape, &ws)};
  parallel_for(rows, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const int64_t item = r / samples, draw = (r % samples) * n + item;  // explicit draws: s * N + n
      const int64_t pick =
          !draws.baseline_indices.empty()
              ? draws.baseline_indices[draw]
              : std::min<int64_t>(b_rows - 1, static_cast<int64_t>(philox::uniform(seed, kPickStream, r) *
                                                                   static_cast<float>(b_rows)));
      const float alpha = !draws.alphas.empty() ? draws.alphas[draw] : philox::uniform(seed, kAlphaStream, r);
      const float* src = x.data() + item * per;
      const float* base = distribution.data() + pick * per;
      const float* given_noise = draws.noise.defined() ? draws.noise.data() + draw * per : nullptr;
      float* noisy = s.noisy.data() + r * per;
      float* bl = s.baselines.data() + r * per;
      float* scaled = s.scaled.data() + r * per;
      for (int64_t i = 0; i < per; ++i) {
        const float noise = given_noise ? given_noise[i]
                            : stdev > 0 ? stdev * philox::normal(seed, kNoiseStream, r * per + i)
                                        : 0.0f;
        noisy[i] = src[i] + noise;
        bl[i] = base[i];
        scaled[i] = alpha * noisy[i] + (1.0f - alpha) * base[i];  // Captum's _scale_input
      }
    }
  });
  return s;
}

Tensor mean_over_samples(const Tensor& rows, int samples) {
  const int64_t n = rows.size(0) / samples, per = rows.numel() / rows.size(0);
  Tensor out = Tensor::zeros(with_rows(rows.shape(), n));
  for (int64_t i = 0; i < n; ++i)
    for (int s = 0; s < samples; ++s) {
      const float* src = rows.data() + (i * samples + s) * per;
      float* dst = out.data() + i * per;
      for (int64_t j = 0; j < per; ++j) dst[j] += src[j] / static_cast<float>(samples);
    }
  return out;
}

}  // namespace backlight
