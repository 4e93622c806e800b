#include "attribution/noise_tunnel.h"

#include <algorithm>
#include <vector>

#include "engine/error.h"
#include "engine/parallel.h"
#include "kernels/philox.h"

namespace backlight {

namespace {

// Philox stream tag of the noise (streams are s * N + n, offset so they do not overlap the
// uniform-baseline stream of baseline.cpp).
constexpr uint64_t kNoiseStreamBase = 0x6e6f697365ull << 24;

// Running sums over the copies of each item, in double so many samples do not lose precision.
struct Moments {
  std::vector<double> sum, sum_sq;
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
      sum.assign(static_cast<size_t>(items * rs.numel()), 0.0);
      sum_sq.assign(sum.size(), 0.0);
      defined = true;
    }
    BL_CHECK_SHAPE(rs == row_shape, "noise_tunnel: the ", what, " rows changed shape between chunks: ", row_shape,
                   " then ", rs);
    const int64_t per = rs.numel();
    parallel_for(items * per, 1 << 14, [&](int64_t lo, int64_t hi) {
      for (int64_t k = lo; k < hi; ++k) {
        const int64_t n = k / per, i = k % per;
        double s = 0, s2 = 0;
        for (int64_t j = 0; j < copies; ++j) {
          const double v = a.data()[(n * copies + j) * per + i];
          s += v;
          s2 += v * v;
        }
        sum[k] += s;
        sum_sq[k] += s2;
      }
    });
  }

  Tensor finish(NoiseTunnelType type, int64_t items, int samples) const {
    std::vector<int64_t> d = row_shape.to_vector();
    d[0] = items;
    Tensor out = Tensor::empty(Shape(d));
    for (size_t k = 0; k < sum.size(); ++k) {
      const double mean = sum[k] / samples, mean_sq = sum_sq[k] / samples;
      double v = mean;
      if (type == NoiseTunnelType::SmoothGradSq) v = mean_sq;
      if (type == NoiseTunnelType::VarGrad) v = mean_sq - mean * mean;
      out.data()[k] = static_cast<float>(v);
    }
    return out;
  }
};

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
  BL_CHECK_SHAPE(x.defined() && x.dim() >= 2, "noise_tunnel: expected a batch of inputs [N, ...], got ",
                 x.defined() ? x.shape().str() : std::string("no tensor"));
  BL_CHECK(0 <= s0 && s0 < s1 && s1 <= opt.samples, "noise_tunnel: bad sample range [", s0, ", ", s1, ") for ",
           opt.samples, " samples");
  const int64_t items = x.size(0), per = x.numel() / items, copies = s1 - s0;
  if (opt.noise.defined()) {
    std::vector<int64_t> want = x.shape().to_vector();
    want.insert(want.begin(), opt.samples);
    BL_CHECK_SHAPE(opt.noise.shape() == Shape(want), "noise_tunnel: expected explicit noise [samples, N, ...] = ",
                   Shape(want), ", got ", opt.noise.shape());
  }
  std::vector<float> stdev(static_cast<size_t>(items), opt.stdev);
  if (opt.stdev_relative)
    for (int64_t n = 0; n < items; ++n) {
      const auto [lo, hi] = std::minmax_element(x.data() + n * per, x.data() + (n + 1) * per);
      stdev[n] = opt.stdev * (*hi - *lo);
    }
  std::vector<int64_t> d = x.shape().to_vector();
  d[0] = items * copies;
  Tensor out = Tensor::empty(Shape(d));
  parallel_for(items * copies, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t row = lo; row < hi; ++row) {
      const int64_t n = row / copies, s = s0 + row % copies;
      const float* src = x.data() + n * per;
      float* dst = out.data() + row * per;
      if (opt.noise.defined()) {
        const float* z = opt.noise.data() + (s * items + n) * per;
        for (int64_t i = 0; i < per; ++i) dst[i] = src[i] + z[i];
      } else {
        const uint64_t stream = kNoiseStreamBase + static_cast<uint64_t>(s * items + n);
        for (int64_t i = 0; i < per; ++i)
          dst[i] = src[i] + stdev[n] * philox::normal(opt.seed, stream, static_cast<uint64_t>(i));
      }
    }
  });
  return out;
}

AttributionResult noise_tunnel(const NoiseChunkFn& method, const Tensor& inputs, const Target& target,
                               const NoiseTunnelOptions& opt) {
  BL_CHECK(method, "noise_tunnel: no attribution method given");
  BL_CHECK(opt.samples >= 1, "noise_tunnel: expected samples >= 1, got ", opt.samples);
  BL_CHECK(opt.samples_batch_size >= 0, "noise_tunnel: expected samples_batch_size >= 0, got ",
           opt.samples_batch_size);
  BL_CHECK(opt.stdev >= 0 || opt.noise.defined(), "noise_tunnel: expected stdev >= 0, got ", opt.stdev);
  BL_CHECK_SHAPE(inputs.defined() && inputs.dim() >= 2, "noise_tunnel: expected a batch of inputs [N, ...], got ",
                 inputs.defined() ? inputs.shape().str() : std::string("no tensor"));
  const int64_t items = inputs.size(0);
  const int per_chunk = opt.samples_batch_size > 0 ? std::min(opt.samples_batch_size, opt.samples) : opt.samples;
  const std::vector<int64_t> classes = target.fixed_classes(items);

  Moments attr, layer;
  std::vector<Tensor> deltas;
  for (int s0 = 0; s0 < opt.samples; s0 += per_chunk) {
    const int s1 = std::min(opt.samples, s0 + per_chunk), copies = s1 - s0;
    NoiseChunk chunk{noisy_inputs(inputs, opt, s0, s1), target, s0, s1};
    if (!classes.empty()) {
      std::vector<int64_t> rep;
      rep.reserve(classes.size() * copies);
      for (int64_t c : classes) rep.insert(rep.end(), static_cast<size_t>(copies), c);
      chunk.target = Target::indices(std::move(rep));
    }
    const AttributionResult r = method(chunk);
    attr.add(r.attribution, items, copies, "attribution");
    if (r.layer_map.defined()) layer.add(r.layer_map, items, copies, "layer map");
    if (r.delta.defined()) deltas.push_back(r.delta);
  }

  AttributionResult out;
  out.attribution = attr.finish(opt.type, items, opt.samples);
  if (layer.defined) out.layer_map = layer.finish(opt.type, items, opt.samples);
  out.target = classes;
  if (!deltas.empty()) {
    int64_t total = 0;
    for (const Tensor& d : deltas) total += d.numel();
    out.delta = Tensor::empty(Shape{total});
    int64_t at = 0;
    for (const Tensor& d : deltas) {
      std::copy(d.data(), d.data() + d.numel(), out.delta.data() + at);
      at += d.numel();
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
