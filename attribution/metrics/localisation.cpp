#include "attribution/metrics/localisation.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "attribution/metrics/deletion_insertion.h"
#include "engine/error.h"

namespace backlight {

namespace {

struct Maps {
  std::vector<std::vector<float>> saliency;  // [N][H*W]
  std::vector<std::vector<char>> inside;     // [N][H*W]
};

Maps prepare(const char* fn, const Tensor& a, const Tensor& m) {
  BL_CHECK_SHAPE(a.dim() == 4, fn, ": expected attributions [N, C, H, W], got ", a.shape());
  const int64_t n = a.size(0), hw = a.size(2) * a.size(3);
  const bool ok = (m.dim() == 4 && m.size(0) == n && m.size(1) == 1 && m.size(2) == a.size(2) && m.size(3) == a.size(3)) ||
                  (m.dim() == 3 && m.size(0) == n && m.size(1) == a.size(2) && m.size(2) == a.size(3));
  BL_CHECK_SHAPE(ok, fn, ": expected masks [", n, ", 1, ", a.size(2), ", ", a.size(3), "] or [", n, ", ", a.size(2),
                 ", ", a.size(3), "], got ", m.shape());
  Maps r{channel_sum(a), {}};
  for (int64_t i = 0; i < n; ++i) {
    std::vector<char> in(static_cast<size_t>(hw));
    for (int64_t j = 0; j < hw; ++j) in[j] = m.data()[i * hw + j] > 0.5f;
    r.inside.push_back(std::move(in));
  }
  return r;
}

}  // namespace

Tensor pointing_game(const Tensor& attributions, const Tensor& masks) {
  const Maps mp = prepare("pointing_game", attributions, masks);
  Tensor r = Tensor::empty(Shape{attributions.size(0)});
  for (size_t i = 0; i < mp.saliency.size(); ++i) {
    const auto& s = mp.saliency[i];
    const size_t best = static_cast<size_t>(std::max_element(s.begin(), s.end()) - s.begin());
    r.data()[i] = mp.inside[i][best] ? 1.0f : 0.0f;
  }
  return r;
}

Tensor relevance_mass_accuracy(const Tensor& attributions, const Tensor& masks) {
  const Maps mp = prepare("relevance_mass_accuracy", attributions, masks);
  Tensor r = Tensor::empty(Shape{attributions.size(0)});
  for (size_t i = 0; i < mp.saliency.size(); ++i) {
    double in = 0, all = 0;
    for (size_t j = 0; j < mp.saliency[i].size(); ++j) {
      const double v = std::max(0.0f, mp.saliency[i][j]);
      all += v;
      if (mp.inside[i][j]) in += v;
    }
    r.data()[i] = all > 0 ? static_cast<float>(in / all) : 0.0f;
  }
  return r;
}

Tensor relevance_rank_accuracy(const Tensor& attributions, const Tensor& masks) {
  const Maps mp = prepare("relevance_rank_accuracy", attributions, masks);
  Tensor r = Tensor::empty(Shape{attributions.size(0)});
  for (size_t i = 0; i < mp.saliency.size(); ++i) {
    const int64_t k = std::count(mp.inside[i].begin(), mp.inside[i].end(), 1);
    const std::vector<int64_t> order = rank_pixels(mp.saliency[i]);
    int64_t hits = 0;
    for (int64_t j = 0; j < k; ++j) hits += mp.inside[i][order[j]];
    r.data()[i] = k > 0 ? static_cast<float>(hits) / static_cast<float>(k) : 0.0f;
  }
  return r;
}

Tensor mask_iou(const Tensor& attributions, const Tensor& masks, float threshold, IouThreshold mode) {
  const Maps mp = prepare("mask_iou", attributions, masks);
  BL_CHECK(mode != IouThreshold::TopFraction || (threshold > 0.0f && threshold <= 1.0f),
           "mask_iou: expected a top fraction in (0, 1], got ", threshold);
  Tensor r = Tensor::empty(Shape{attributions.size(0)});
  for (size_t i = 0; i < mp.saliency.size(); ++i) {
    const auto& s = mp.saliency[i];
    const int64_t hw = static_cast<int64_t>(s.size());
    std::vector<char> on(s.size(), 0);
    if (mode == IouThreshold::Value) {
      for (int64_t j = 0; j < hw; ++j) on[j] = s[j] > threshold;
    } else {
      const int64_t k = std::max<int64_t>(1, static_cast<int64_t>(std::lround(threshold * static_cast<float>(hw))));
      const std::vector<int64_t> order = rank_pixels(s);
      for (int64_t j = 0; j < k; ++j) on[order[j]] = 1;
    }
    int64_t inter = 0, uni = 0;
    for (int64_t j = 0; j < hw; ++j) {
      inter += on[j] && mp.inside[i][j];
      uni += on[j] || mp.inside[i][j];
    }
    r.data()[i] = uni > 0 ? static_cast<float>(inter) / static_cast<float>(uni) : 1.0f;
  }
  return r;
}

}  // namespace backlight
