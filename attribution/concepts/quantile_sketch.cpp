#include "attribution/concepts/quantile_sketch.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/error.h"

namespace backlight {

QuantileSketch::QuantileSketch(QuantileSketchOptions o)
    : accuracy_(o.relative_accuracy), max_buckets_(o.max_buckets) {
  BL_CHECK(o.relative_accuracy > 0 && o.relative_accuracy < 0.5,
           "QuantileSketch: expected relative_accuracy in (0, 0.5), got ", o.relative_accuracy);
  BL_CHECK(o.max_buckets >= 16, "QuantileSketch: expected max_buckets >= 16, got ", o.max_buckets);
  gamma_ = (1 + accuracy_) / (1 - accuracy_);
  log_gamma_ = std::log(gamma_);
  offset_ = 1 - static_cast<int64_t>(std::ceil(std::log(kMinMagnitude) / log_gamma_));
}

int64_t QuantileSketch::key_of(float x) const {
  if (x == 0.0f) return 0;
  const double m = std::max(std::fabs(static_cast<double>(x)), kMinMagnitude);
  const int64_t k = static_cast<int64_t>(std::ceil(std::log(m) / log_gamma_)) + offset_;
  return x > 0 ? k : -k;
}

double QuantileSketch::value_of(int64_t key) const {
  if (key == 0) return 0.0;
  const int64_t i = (key > 0 ? key : -key) - offset_;
  const double r = 2 * std::exp(static_cast<double>(i) * log_gamma_) / (gamma_ + 1);
  return key > 0 ? r : -r;
}

void QuantileSketch::add(float x) {
  BL_CHECK(std::isfinite(x), "QuantileSketch::add: expected a finite value, got ", x);
  const int64_t k = key_of(x);
  ++count_;
  if (counts_.empty()) {
    lo_key_ = k;
    counts_.assign(1, 1);
    return;
  }
  const int64_t hi = lo_key_ + static_cast<int64_t>(counts_.size()) - 1;
  if (k > hi) {
    counts_.resize(static_cast<size_t>(k - lo_key_ + 1), 0);
  } else if (k < lo_key_) {
    if (merged_) {  // below the merged floor: the floor stands for everything lower
      ++counts_[0];
      return;
    }
    counts_.insert(counts_.begin(), static_cast<size_t>(lo_key_ - k), 0);
    lo_key_ = k;
  }
  ++counts_[static_cast<size_t>(k - lo_key_)];
  const int64_t excess = static_cast<int64_t>(counts_.size()) - max_buckets_;
  if (excess > 0) {  // merge the lowest buckets into one: only the low quantiles lose their bound
    int64_t sum = 0;
    for (int64_t j = 0; j <= excess; ++j) sum += counts_[static_cast<size_t>(j)];
    counts_.erase(counts_.begin(), counts_.begin() + excess);
    counts_[0] = sum;
    lo_key_ += excess;
    merged_ = true;
  }
}

int64_t quantile_rank(double p, int64_t n) {
  const double k = std::ceil(p * static_cast<double>(n));
  return std::clamp<int64_t>(static_cast<int64_t>(k), 1, n);
}

int64_t QuantileSketch::find(double p) const {
  BL_CHECK(count_ > 0, "QuantileSketch::quantile: the sketch is empty");
  BL_CHECK(p >= 0 && p <= 1, "QuantileSketch::quantile: expected p in [0, 1], got ", p);
  const int64_t k = quantile_rank(p, count_);
  int64_t cum = 0;
  for (size_t j = 0; j < counts_.size(); ++j) {
    cum += counts_[j];
    if (cum >= k) return lo_key_ + static_cast<int64_t>(j);
  }
  return lo_key_ + static_cast<int64_t>(counts_.size()) - 1;
}

double QuantileSketch::quantile(double p) const { return value_of(find(p)); }

bool QuantileSketch::bounded(double p) const { return !(merged_ && find(p) == lo_key_); }

BucketRange QuantileSketch::quantile_range(double p) const {
  const int64_t key = find(p);
  BucketRange r;
  if (key != 0) {
    const int64_t i = (key > 0 ? key : -key) - offset_;
    // Widened by 1e-9 relative: the bucket index came from a rounded logarithm.
    double lo = std::exp(static_cast<double>(i - 1) * log_gamma_) * (1 - 1e-9);
    const double hi = std::exp(static_cast<double>(i) * log_gamma_) * (1 + 1e-9);
    if (i == 1 - offset_) lo = 0;  // the lowest bucket also holds every |x| < kMinMagnitude
    r = key > 0 ? BucketRange{lo, hi, false} : BucketRange{-hi, -lo, false};
  }
  if (merged_ && key == lo_key_) r.lo = -std::numeric_limits<double>::infinity(), r.merged = true;
  return r;
}

double exact_quantile(std::vector<float> values, double p) {
  BL_CHECK(!values.empty(), "exact_quantile: expected at least one value");
  const int64_t k = quantile_rank(p, static_cast<int64_t>(values.size()));
  std::nth_element(values.begin(), values.begin() + (k - 1), values.end());
  return values[static_cast<size_t>(k - 1)];
}

}  // namespace backlight
