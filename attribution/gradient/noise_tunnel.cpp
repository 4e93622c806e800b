#include "attribution/gradient/noise_tunnel.h"

#include <algorithm>
#include <memory>
#include <vector>

#include "attribution/core/limits.h"
#include "attribution/core/side_by_side.h"
#include "engine/error.h"
#include "kernels/dispatch.h"

namespace backlight {

namespace {

// Philox stream tag of the noise (streams are s * N + n, offset so they do not overlap the
// uniform-baseline stream of baseline.cpp).
constexpr uint64_t kNoiseStreamBase = 0x6e6f697365ull << 24;

MomentStat moment_stat(NoiseTunnelType type) {
  switch (type) {
    case NoiseTunnelType::SmoothGrad: return MomentStat::Mean;
    case NoiseTunnelType::SmoothGradSq: return MomentStat::MeanSquare;
    case NoiseTunnelType::VarGrad: return MomentStat::Variance;
  }
  return MomentStat::Mean;
}

// Running sums over the copies of each item, in double so many samples do not lose precision,
// on the device of the attributions (kernels/noise.h through kernels/dispatch.h).
struct Moments {
  std::shared_ptr<double> sum, sum_sq;
  Tensor result;    // the aggregate [N, ...], allocated with the first chunk on its device
  Shape row_shape;  // shape of one item's aggregate, batch axis included ([1, ...])
  bool defined = false;

  void add(const Tensor& a, int64_t items, int64_t copies, const char* what) {
    BL_CHECK_SHAPE(a.defined() && a.dim() >= 1 && a.size(0) == items * copies, "noise_tunnel: expected the ", what,
                   " of a chunk to have ", items * copies, " rows (", items, " items x ", copies, " samples), got ",
                   a.defined() ? a.shape().str() : std::string("none"));
    std::vector<int64_t> d = a.shape().to_vector();
    d[0] = 1;
    const Shape rs(d);
    if (!defined) {
      row_shape = rs;
      d[0] = items;
      result = Tensor::empty_like(Shape(d), a);
      sum = zeroed_doubles(result.numel(), a.cuda_context());
      sum_sq = zeroed_doubles(result.numel(), a.cuda_context());
      defined = true;
    }
    BL_CHECK_SHAPE(rs == row_shape, "noise_tunnel: the ", what, " rows changed shape between chunks: ", row_shape,
                   " then ", rs);
    BL_CHECK(a.cuda_context() == result.cuda_context(), "noise_tunnel: the ", what, " of one chunk is on ",
             to_string(result.device()), ", of another on ", to_string(a.device()), " (or another CUDA context)");
    moments_add(a.device_data(), items, copies, rs.numel(), sum.get(), sum_sq.get(), a.cuda_context());
  }

  Tensor finish(NoiseTunnelType type, int samples) {
    moments_finish(sum.get(), sum_sq.get(), result.numel(), samples, moment_stat(type), result.device_data(),
                   result.cuda_context());
    return result;
  }
};

// `t` on the device (and CUDA context) of `like`: t itself, or a copy.
Tensor on_device_of(const Tensor& t, const Tensor& like) {
  if (t.cuda_context() == like.cuda_context()) return t;
  Tensor out = Tensor::empty_like(t.shape(), like);
  out.copy_from(t);
  return out;
}

// What one tunnel call draws from, on the inputs' device: the noise level per item and the
// explicit noise. A relative level reads each item's value range on the host (for device
// inputs one copy per call, not per chunk).
struct NoiseSource {
  Tensor stdev;  // [N]
  Tensor given;  // [samples, N, ...] or undefined
};

void check_inputs(const Tensor& x) {
  BL_CHECK_SHAPE(x.defined() && x.dim() >= 2, "noise_tunnel: expected a batch of inputs [N, ...], got ",
                 x.defined() ? x.shape().str() : std::string("no tensor"));
}

NoiseSource noise_source(const Tensor& x, const NoiseTunnelOptions& opt) {
  const int64_t items = x.size(0), per = x.numel() / items;
  NoiseSource src;
  if (opt.noise.defined()) {
    std::vector<int64_t> want = x.shape().to_vector();
    want.insert(want.begin(), opt.samples);
    BL_CHECK_SHAPE(opt.noise.shape() == Shape(want), "noise_tunnel: expected explicit noise [samples, N, ...] = ",
                   Shape(want), ", got ", opt.noise.shape());
    src.given = on_device_of(opt.noise, x);
  }
  std::vector<float> stdev(static_cast<size_t>(items), opt.stdev);
  if (opt.stdev_relative && !opt.noise.defined()) {
    const Tensor host = x.to_cpu();
    for (int64_t n = 0; n < items; ++n) {
      const auto [lo, hi] = std::minmax_element(host.data() + n * per, host.data() + (n + 1) * per);
      stdev[n] = opt.stdev * (*hi - *lo);
    }
  }
  src.stdev = on_device_of(Tensor::from(Shape{items}, stdev), x);
  return src;
}

Tensor noisy_rows(const Tensor& x, const NoiseSource& src, const NoiseTunnelOptions& opt, int s0, int s1) {
  BL_CHECK(0 <= s0 && s0 < s1 && s1 <= opt.samples, "noise_tunnel: bad sample range [", s0, ", ", s1, ") for ",
           opt.samples, " samples");
  const int64_t items = x.size(0), per = x.numel() / items, copies = s1 - s0;
  std::vector<int64_t> d = x.shape().to_vector();
  d[0] = items * copies;
  Tensor out = Tensor::empty_like(Shape(d), x);
  const NoiseRows rows{.input = x.device_data(),
                       .items = items,
                       .per_item = per,
                       .stdev = src.stdev.device_data(),
                       .given = src.given.defined() ? src.given.device_data() : nullptr,
                       .seed = opt.seed,
                       .stream_base = kNoiseStreamBase,
                       .first_sample = s0,
                       .copies = copies};
  noise_rows(rows, out.device_data(), x.cuda_context());
  return out;
}

}  // namespace

NoiseTunnelType noise_tunnel_type_from_string(std::string_view name) {
  if (name == "smoothgrad") return NoiseTunnelType::SmoothGrad;
  if (name == "smoothgrad_sq") return NoiseTunnelType::SmoothGradSq;
  if (name == "vargrad") return NoiseTunnelType::VarGrad;
  BL_THROW("unknown noise tunnel type '", name, "' (expected smoothgrad, smoothgrad_sq or vargrad)");
}

std::string_view to_string(NoiseTunnelType type) {
  switch (type) {
    case NoiseTunnelType::SmoothGrad: return "smoothgrad";
    case NoiseTunnelType::SmoothGradSq: return "smoothgrad_sq";
    case NoiseTunnelType::VarGrad: return "vargrad";
  }
  return "?";
}

Tensor noisy_inputs(const Tensor& x, const NoiseTunnelOptions& opt, int s0, int s1) {
  check_inputs(x);
  BL_CHECK(0 <= s0 && s0 < s1 && s1 <= opt.samples, "noise_tunnel: bad sample range [", s0, ", ", s1, ") for ",
           opt.samples, " samples");
  return noisy_rows(x, noise_source(x, opt), opt, s0, s1);
}

AttributionResult noise_tunnel(const NoiseChunkFn& method, const Tensor& inputs, const Target& target,
                               const NoiseTunnelOptions& opt) {
  BL_CHECK(method, "noise_tunnel: no attribution method given");
  BL_CHECK(opt.samples >= 1, "noise_tunnel: expected samples >= 1, got ", opt.samples);
  check_count_limit("noise_tunnel", "samples", "--samples", opt.samples, kMaxSamples);
  BL_CHECK(opt.samples_batch_size >= 0, "noise_tunnel: expected samples_batch_size >= 0, got ",
           opt.samples_batch_size);
  BL_CHECK(opt.stdev >= 0 || opt.noise.defined(), "noise_tunnel: expected stdev >= 0, got ", opt.stdev);
  check_inputs(inputs);
  const int64_t items = inputs.size(0);
  // 0: all samples at once up to kDefaultChunkRows rows (or the activation budget), then chunks
  // (memory never grows with samples).
  const int per_chunk = opt.samples_batch_size > 0
                            ? std::min(opt.samples_batch_size, opt.samples)
                            : static_cast<int>(units_per_chunk(0, items, opt.samples, opt.bytes_per_row));
  const std::vector<int64_t> classes = target.fixed_classes(items);

  const NoiseSource source = noise_source(inputs, opt);  // once per call, on the inputs' device
  // Parts of every chunk side by side on the CPU threads when the caller says the method may be
  // called concurrently (attribution/core/side_by_side.h). The noise of sample s is drawn from
  // (seed, s), so a part's rows are those of the whole chunk.
  const bool concurrent = opt.side_by_side && !inputs.is_cuda() && !target.is_function();
  const SideBySidePlan plan = side_by_side_plan(static_cast<size_t>(opt.samples), static_cast<size_t>(per_chunk),
                                                side_by_side_threads(concurrent), opt.samples_batch_size <= 0);
  Moments attr, layer;
  struct Deltas {
    int s0, s1;
    Tensor rows;  // [N * (s1 - s0)] on the host, or undefined
  };
  std::vector<Deltas> deltas;
  const auto run = [&](size_t k0, size_t k1) {
    const int s0 = static_cast<int>(k0), s1 = static_cast<int>(k1), copies = s1 - s0;
    NoiseChunk chunk{noisy_rows(inputs, source, opt, s0, s1), target, s0, s1};
    if (!classes.empty()) {
      std::vector<int64_t> rep;
      rep.reserve(classes.size() * copies);
      for (int64_t c : classes) rep.insert(rep.end(), static_cast<size_t>(copies), c);
      chunk.target = Target::indices(std::move(rep));
    }
    return method(chunk);
  };
  run_side_by_side(plan, run, [&](size_t k0, size_t k1, const AttributionResult& r) {
    const int64_t copies = static_cast<int64_t>(k1 - k0);
    attr.add(r.attribution, items, copies, "attribution");
    if (r.layer_map.defined()) layer.add(r.layer_map, items, copies, "layer map");
    if (r.delta.defined())  // [rows]: small
      deltas.push_back({static_cast<int>(k0), static_cast<int>(k1), r.delta.to_cpu()});
  });

  AttributionResult out;
  out.attribution = attr.finish(opt.type, opt.samples);
  if (layer.defined) out.layer_map = layer.finish(opt.type, opt.samples);
  out.target = classes;
  if (!deltas.empty()) {
    int64_t total = 0;
    // One delta per noisy row: put them in the order of the caller's chunks (samples_batch_size;
    // 0: one call, Captum's order), whatever the budget or the threads made of them.
    bool per_row = true;
    const int order_chunk = opt.samples_batch_size > 0 ? per_chunk : opt.samples;
    for (const Deltas& d : deltas) {
      total += d.rows.numel();
      per_row = per_row && d.rows.numel() == items * (d.s1 - d.s0);
    }
    out.delta = Tensor::empty(Shape{total});
    int64_t at = 0;
    if (per_row && total == items * opt.samples) {
      std::vector<float> by_sample(static_cast<size_t>(total));  // [samples, N]
      for (const Deltas& d : deltas)
        for (int64_t n = 0; n < items; ++n)
          for (int s = d.s0; s < d.s1; ++s)
            by_sample[s * items + n] = d.rows.data()[n * (d.s1 - d.s0) + (s - d.s0)];
      for (int c0 = 0; c0 < opt.samples; c0 += order_chunk) {
        const int c1 = std::min(opt.samples, c0 + order_chunk);
        for (int64_t n = 0; n < items; ++n)
          for (int s = c0; s < c1; ++s) out.delta.data()[at++] = by_sample[s * items + n];
      }
    } else {
      for (const Deltas& d : deltas) {
        std::copy(d.rows.data(), d.rows.data() + d.rows.numel(), out.delta.data() + at);
        at += d.rows.numel();
      }
    }
  }
  return out;
}

AttributionResult noise_tunnel(const AttributionFn& method, const Tensor& inputs, const Target& target,
                               const NoiseTunnelOptions& opt) {
  BL_CHECK(method, "noise_tunnel: no attribution method given");
  return noise_tunnel(NoiseChunkFn([&method](const NoiseChunk& c) { return method(c.inputs, c.target); }), inputs,
                      target, opt);
}

}  // namespace backlight
