#include "attribution/path/gradient_shap.h"

#include <algorithm>

#include "attribution/core/limits.h"
#include "attribution/path/integrated_gradients.h"
#include "attribution/gradient/noise_tunnel.h"
#include "engine/parallel.h"
#include "engine/philox.h"

namespace backlight {

namespace {

constexpr uint64_t kBaselineStream = 0x67736870ull << 32;  // "gshp"
constexpr uint64_t kAlphaStream = kBaselineStream + 1;

}  // namespace

AttributionResult gradient_shap(const Module& model, const Tensor& inputs, const Target& target,
                                const GradientShapOptions& opt) {
  std::unique_ptr<Workspace> local;
  const Workspace& ws = pick_workspace(opt.workspace, local);
  BL_CHECK_SHAPE(inputs.defined() && inputs.dim() >= 2, "gradient_shap: expected a batch of inputs [N, ...], got ",
                 inputs.defined() ? inputs.shape().str() : std::string("no tensor"));
  require_finite(inputs, "gradient_shap input");
  BL_CHECK(opt.samples >= 1, "gradient_shap: expected samples >= 1, got ", opt.samples);
  check_count_limit("gradient_shap", "samples", "--samples", opt.samples, kMaxSamples);
  const int64_t items = inputs.size(0), per = inputs.numel() / items, draws = opt.samples * items;

  Tensor dist = opt.baselines;
  if (!dist.defined()) {
    std::vector<int64_t> d = inputs.shape().to_vector();
    d[0] = 1;
    dist = Tensor::zeros(Shape(d));
  }
  BL_CHECK_SHAPE(dist.dim() == inputs.dim() && dist.size(0) >= 1 && dist.numel() / dist.size(0) == per,
                 "gradient_shap: expected a baseline distribution [B, ...] with the inputs' per-item shape (inputs ",
                 inputs.shape(), "), got ", dist.shape());
  require_finite(dist, "gradient_shap baselines");
  const int64_t num_baselines = dist.size(0);
  BL_CHECK(opt.baseline_indices.empty() || static_cast<int64_t>(opt.baseline_indices.size()) == draws,
           "gradient_shap: expected ", draws, " explicit baseline indices (samples x N), got ",
           opt.baseline_indices.size());
  for (int64_t k : opt.baseline_indices)
    BL_CHECK(k >= 0 && k < num_baselines, "gradient_shap: baseline index ", k, " out of range for ", num_baselines,
             " baselines");
  BL_CHECK(opt.alphas.empty() || static_cast<int64_t>(opt.alphas.size()) == draws, "gradient_shap: expected ", draws,
           " explicit alphas (samples x N), got ", opt.alphas.size());

  AttributionResult result;
  int64_t bytes_per_row = 0;
  target_values(model, inputs, target, ws, &result.target, &result.output, &bytes_per_row);
  const Target fixed = target.is_function() ? target : Target::indices(result.target);

  const NoiseChunkFn input_baseline_x_gradient = [&](const NoiseChunk& chunk) {
    const int64_t copies = chunk.sample_end - chunk.sample_begin, rows = items * copies;
    const Tensor& noisy = chunk.inputs;
    Tensor base = Tensor::empty(noisy.shape(), &ws);
    Tensor scaled = Tensor::empty(noisy.shape(), &ws);
    parallel_for(rows, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r) {
        const int64_t n = r / copies, s = chunk.sample_begin + r % copies, draw = s * items + n;
        int64_t k = 0;
        float alpha = 0;
        if (!opt.baseline_indices.empty()) {
          k = opt.baseline_indices[draw];
        } else {
          const float u = philox::uniform(opt.seed, kBaselineStream, static_cast<uint64_t>(draw));
          k = std::min<int64_t>(num_baselines - 1, static_cast<int64_t>(u * static_cast<float>(num_baselines)));
        }
        alpha = opt.alphas.empty() ? philox::uniform(opt.seed, kAlphaStream, static_cast<uint64_t>(draw))
                                   : opt.alphas[draw];
        const float* b = dist.data() + k * per;
        const float* x = noisy.data() + r * per;
        float* pb = base.data() + r * per;
        float* ps = scaled.data() + r * per;
        for (int64_t i = 0; i < per; ++i) {
          pb[i] = b[i];
          ps[i] = alpha * x[i] + (1.0f - alpha) * b[i];  // Captum's _scale_input, same operation order
        }
      }
    });
    ForwardPass pass = forward_pass(model, scaled, ws);
    const std::vector<Var> wrt{pass.input};
    AttributionResult r;
    r.attribution = target_backward(pass, chunk.target, RuleSet("gradient"), wrt)[0];
    float* a = r.attribution.data();
    if (opt.multiply_by_inputs)
      for (int64_t i = 0; i < noisy.numel(); ++i) a[i] *= noisy.data()[i] - base.data()[i];
    if (opt.compute_delta) {
      const Tensor f_in = target_values(model, noisy, chunk.target, ws);
      const Tensor f_base = target_values(model, base, chunk.target, ws);
      r.delta = Tensor::empty(Shape{rows});
      for (int64_t row = 0; row < rows; ++row) {
        double total = 0;
        for (int64_t i = row * per; i < (row + 1) * per; ++i) total += a[i];
        r.delta.data()[row] = static_cast<float>(total - (f_in.data()[row] - f_base.data()[row]));
      }
    }
    return r;
  };

  NoiseTunnelOptions nt{.type = NoiseTunnelType::SmoothGrad,
                        .samples = opt.samples,
                        .stdev = opt.stdev,
                        .stdev_relative = opt.stdev_relative,
                        .seed = opt.seed,
                        .samples_batch_size = opt.samples_batch_size,
                        .noise = opt.noise,
                        .side_by_side = true,  // the chunk function only reads shared state
                        .bytes_per_row = bytes_per_row};
  AttributionResult tunnel = noise_tunnel(input_baseline_x_gradient, inputs, fixed, nt);
  result.attribution = tunnel.attribution;
  result.delta = tunnel.delta;
  return result;
}

}  // namespace backlight
