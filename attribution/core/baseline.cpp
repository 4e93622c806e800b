#include "attribution/core/baseline.h"

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/parallel.h"
#include "engine/philox.h"

namespace backlight {

Baseline Baseline::constant(float v) {
  Baseline b;
  b.kind = Kind::Constant;
  b.value = v;
  return b;
}
Baseline Baseline::blur(float sigma) {
  BL_CHECK(sigma > 0, "Baseline::blur: sigma must be > 0, got ", sigma);
  Baseline b;
  b.kind = Kind::Blur;
  b.sigma = sigma;
  return b;
}
Baseline Baseline::uniform(float low, float high, uint64_t seed) {
  BL_CHECK(low < high, "Baseline::uniform: expected low < high, got ", low, " and ", high);
  Baseline b;
  b.kind = Kind::Uniform;
  b.low = low;
  b.high = high;
  b.seed = seed;
  return b;
}
Baseline Baseline::given(Tensor t) {
  BL_CHECK(t.defined(), "Baseline::given: no tensor");
  Baseline b;
  b.kind = Kind::Given;
  b.tensor = std::move(t);
  return b;
}

Baseline Baseline::parse(std::string_view text, uint64_t seed) {
  if (text == "zero") return zero();
  if (text == "blur") return blur(5.0f);
  if (text == "uniform") return uniform(0.0f, 1.0f, seed);
  if (text.rfind("constant:", 0) == 0) {
    const std::string v(text.substr(9));
    char* end = nullptr;
    const float f = std::strtof(v.c_str(), &end);
    BL_CHECK(end == v.c_str() + v.size() && !v.empty() && std::isfinite(f), "baseline '", text,
             "': expected constant:<number>");
    return constant(f);
  }
  BL_THROW("unknown baseline '", text, "' (expected zero, blur, uniform, constant:<v> or a .npy file)");
}

namespace {

// Separable Gaussian blur over the last two axes (reflect-free: clamped borders).
Tensor gaussian_blur(const Tensor& x, float sigma) {
  BL_CHECK_SHAPE(x.dim() >= 3, "blur baseline: expected inputs [N,C,H,W] or [N,H,W], got ", x.shape());
  const int64_t h = x.size(-2), w = x.size(-1), planes = x.numel() / (h * w);
  const int radius = std::max(1, static_cast<int>(std::ceil(3 * sigma)));
  std::vector<float> k(2 * radius + 1);
  double total = 0;
  for (int i = -radius; i <= radius; ++i) total += k[i + radius] = std::exp(-0.5f * i * i / (sigma * sigma));
  for (float& v : k) v = static_cast<float>(v / total);
  Tensor out = Tensor::empty(x.shape());
  parallel_for(planes, 1, [&](int64_t lo, int64_t hi) {
    std::vector<float> tmp(h * w);
    for (int64_t p = lo; p < hi; ++p) {
      const float* src = x.data() + p * h * w;
      float* dst = out.data() + p * h * w;
      for (int64_t y = 0; y < h; ++y)
        for (int64_t xx = 0; xx < w; ++xx) {
          float s = 0;
          for (int i = -radius; i <= radius; ++i)
            s += k[i + radius] * src[y * w + std::clamp<int64_t>(xx + i, 0, w - 1)];
          tmp[y * w + xx] = s;
        }
      for (int64_t y = 0; y < h; ++y)
        for (int64_t xx = 0; xx < w; ++xx) {
          float s = 0;
          for (int i = -radius; i <= radius; ++i)
            s += k[i + radius] * tmp[std::clamp<int64_t>(y + i, 0, h - 1) * w + xx];
          dst[y * w + xx] = s;
        }
    }
  });
  return out;
}

}  // namespace

Tensor make_baseline(const Baseline& b, const Tensor& inputs) {
  switch (b.kind) {
    case Baseline::Kind::Zero: return Tensor::zeros(inputs.shape());
    case Baseline::Kind::Constant: return Tensor::full(inputs.shape(), b.value);
    case Baseline::Kind::Blur: return gaussian_blur(inputs, b.sigma);
    case Baseline::Kind::Uniform: {
      Tensor t = Tensor::empty(inputs.shape());
      for (int64_t i = 0; i < t.numel(); ++i)
        t.data()[i] = b.low + (b.high - b.low) * philox::uniform(b.seed, 0x62617365, static_cast<uint64_t>(i));
      return t;
    }
    case Baseline::Kind::Given: {
      const Tensor& g = b.tensor;
      const int64_t per_item = inputs.numel() / inputs.size(0);
      if (g.shape() == inputs.shape()) return g;
      if (g.numel() == per_item) {  // one baseline for every item ([1, ...] or [...])
        Tensor t = Tensor::empty(inputs.shape());
        for (int64_t n = 0; n < inputs.size(0); ++n) std::copy(g.data(), g.data() + per_item, t.data() + n * per_item);
        return t;
      }
      throw ShapeError(detail::concat("baseline: shape ", g.shape(), " does not fit inputs ", inputs.shape(),
                                      " (expected the same shape or one item's shape)"));
    }
  }
  return Tensor::zeros(inputs.shape());
}

Tensor make_baseline(const Baseline& b, const Tensor& inputs, const Workspace& ws) {
  if (!ws.cuda_context()) return make_baseline(b, inputs);
  switch (b.kind) {
    case Baseline::Kind::Zero: return Tensor::zeros(inputs.shape(), &ws);
    case Baseline::Kind::Constant: return Tensor::full(inputs.shape(), b.value, &ws);
    case Baseline::Kind::Blur: return make_baseline(b, inputs.to_cpu()).to(Device::CUDA, &ws);
    default: {
      const Tensor t = make_baseline(b, inputs).to(Device::CUDA, &ws);  // reads the inputs' shape only
      BL_CHECK(t.cuda_context() == ws.cuda_context(), "baseline: the given tensor ", t.shape(),
               " lives on another CUDA context (workspace) than the attribution");
      return t;
    }
  }
}

}  // namespace backlight
