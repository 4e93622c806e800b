#include "attribution/metrics/fragility.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/error.h"

namespace backlight {

namespace {

// |map| summed over axis 1 for rank >= 3, per item.
std::vector<std::vector<double>> saliency(const Tensor& m) {
  const int64_t n = m.size(0), per = m.numel() / std::max<int64_t>(n, 1);
  const int64_t c = m.dim() >= 3 ? m.size(1) : 1, pos = per / c;
  std::vector<std::vector<double>> out(static_cast<size_t>(n), std::vector<double>(static_cast<size_t>(pos), 0.0));
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t i = 0; i < pos; ++i)
        out[static_cast<size_t>(b)][static_cast<size_t>(i)] += std::fabs(double(m.data()[b * per + ch * pos + i]));
  return out;
}

std::vector<double> ranks(const std::vector<double>& v) {
  std::vector<size_t> idx(v.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (size_t i = 0; i < idx.size();) {
    size_t j = i;
    while (j + 1 < idx.size() && v[idx[j + 1]] == v[idx[i]]) ++j;
    const double mean = 0.5 * double(i + j);
    for (size_t t = i; t <= j; ++t) r[idx[t]] = mean;
    i = j + 1;
  }
  return r;
}

std::vector<size_t> top_k(const std::vector<double>& v, size_t k) {
  std::vector<size_t> idx(v.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(k), idx.end(),
                    [&](size_t a, size_t b) { return v[a] > v[b] || (v[a] == v[b] && a < b); });
  idx.resize(k);
  std::sort(idx.begin(), idx.end());
  return idx;
}

}  // namespace

double spearman_correlation(const std::vector<double>& a, const std::vector<double>& b) {
  BL_CHECK(a.size() == b.size() && !a.empty(), "spearman_correlation: expected two non-empty series of equal length, got ",
           a.size(), " and ", b.size());
  const std::vector<double> ra = ranks(a), rb = ranks(b);
  const double n = double(a.size()), mean = (n - 1) / 2;
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < ra.size(); ++i) {
    sab += (ra[i] - mean) * (rb[i] - mean);
    saa += (ra[i] - mean) * (ra[i] - mean);
    sbb += (rb[i] - mean) * (rb[i] - mean);
  }
  return saa > 0 && sbb > 0 ? sab / std::sqrt(saa * sbb) : 0.0;
}

FragilityResult explanation_fragility(const Tensor& original, const Tensor& perturbed, int64_t k) {
  BL_CHECK_SHAPE(original.defined() && perturbed.defined() && original.shape() == perturbed.shape() &&
                     original.dim() >= 2,
                 "explanation_fragility: expected two maps [N, ...] of the same shape, got ",
                 original.defined() ? original.shape().str() : std::string("none"), " and ",
                 perturbed.defined() ? perturbed.shape().str() : std::string("none"));
  const Tensor a = original.to_cpu(), b = perturbed.to_cpu();
  const auto sa = saliency(a), sb = saliency(b);
  FragilityResult r;
  const int64_t pos = static_cast<int64_t>(sa.at(0).size());
  r.k = k <= 0 ? std::max<int64_t>(1, pos / 10) : std::min(k, pos);
  for (size_t n = 0; n < sa.size(); ++n) {
    const std::vector<size_t> ta = top_k(sa[n], size_t(r.k)), tb = top_k(sb[n], size_t(r.k));
    std::vector<size_t> both;
    std::set_intersection(ta.begin(), ta.end(), tb.begin(), tb.end(), std::back_inserter(both));
    r.top_k_intersection.push_back(double(both.size()) / double(r.k));
    r.spearman.push_back(spearman_correlation(sa[n], sb[n]));
  }
  return r;
}

}  // namespace backlight
