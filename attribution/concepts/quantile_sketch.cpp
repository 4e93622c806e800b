#include "attribution/concepts/quantile_sketch.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "attribution/core/reducer.h"
#include "engine/error.h"

namespace backlight {

QuantileSketch::QuantileSketch(QuantileSketchOptions o)
    : accuracy_(o.relative_accuracy), max_buckets_(o.max_buckets) {
  BL_CHECK(o.relative_accuracy > 0 && o.relative_accuracy < 0.5,
           "QuantileSketch: expected relative_accuracy in (0, 0.5), got ", o.relative_accuracy);
  BL_CHECK(o.max_buckets >= 16, "QuantileSketch: expected max_buckets >= 16, got ", o.max_buckets);
  gamma_ = (1 + accuracy_) / (1 - accuracy_);
  log_gamma_ = std::log(gamma_);
  min_index_ = static_cast<int64_t>(std::ceil(std::log(kMinMagnitude) / log_gamma_));
}

int64_t QuantileSketch::index_of(float x) const {
  const double m = std::max(std::fabs(static_cast<double>(x)), kMinMagnitude);
  return std::max(min_index_, static_cast<int64_t>(std::ceil(std::log(m) / log_gamma_)));
}

void QuantileSketch::Store::add(int64_t key, int64_t max_buckets, int64_t n) {
  if (counts.empty()) {
    lo = key;
    counts.assign(1, n);
    return;
  }
  const int64_t hi = lo + static_cast<int64_t>(counts.size()) - 1;
  if (key > hi) {
    counts.resize(static_cast<size_t>(key - lo + 1), 0);
  } else if (key < lo) {
    if (merged) {  // below the merged floor: the floor stands for everything lower
      counts[0] += n;
      return;
    }
    counts.insert(counts.begin(), static_cast<size_t>(lo - key), 0);
    lo = key;
  }
  counts[static_cast<size_t>(key - lo)] += n;
  const int64_t excess = static_cast<int64_t>(counts.size()) - max_buckets;
  if (excess > 0) {  // merge the lowest buckets into one: only the low quantiles lose their bound
    int64_t sum = 0;
    for (int64_t j = 0; j <= excess; ++j) sum += counts[static_cast<size_t>(j)];
    counts.erase(counts.begin(), counts.begin() + excess);
    counts[0] = sum;
    lo += excess;
    merged = true;
  }
}

void QuantileSketch::Store::merge(const Store& o, int64_t max_buckets) {
  for (size_t j = 0; j < o.counts.size(); ++j)
    if (o.counts[j]) add(o.lo + static_cast<int64_t>(j), max_buckets, o.counts[j]);
  if (!o.merged || counts.empty()) return;
  // o's floor bucket also holds o's values below o.lo: everything below it folds into it here too.
  if (o.lo > lo) {
    const size_t fold = static_cast<size_t>(o.lo - lo);
    int64_t sum = 0;
    for (size_t j = 0; j <= fold; ++j) sum += counts[j];
    counts.erase(counts.begin(), counts.begin() + static_cast<std::ptrdiff_t>(fold));
    counts[0] = sum;
    lo = o.lo;
  }
  merged = true;
}

void QuantileSketch::merge(const QuantileSketch& o) {
  BL_CHECK(o.accuracy_ == accuracy_ && o.max_buckets_ == max_buckets_,
           "QuantileSketch::merge: expected the same relative_accuracy and max_buckets, got ", accuracy_, "/",
           max_buckets_, " and ", o.accuracy_, "/", o.max_buckets_);
  negative_.merge(o.negative_, max_buckets_);
  positive_.merge(o.positive_, max_buckets_);
  zeros_ += o.zeros_;
  count_ += o.count_;
}

std::string QuantileSketch::to_bytes() const {
  std::string out;
  pack(out, accuracy_);
  pack(out, max_buckets_);
  pack(out, zeros_);
  pack(out, count_);
  for (const Store* s : {&negative_, &positive_}) {
    pack(out, s->lo);
    pack(out, static_cast<int64_t>(s->merged));
    pack_span(out, std::span<const int64_t>(s->counts));
  }
  return out;
}

QuantileSketch QuantileSketch::from_bytes(std::string_view bytes) {
  Unpacker u(bytes);
  const double accuracy = u.get<double>();
  const int64_t max_buckets = u.get<int64_t>();
  QuantileSketch q({.relative_accuracy = accuracy, .max_buckets = max_buckets});
  q.zeros_ = u.get<int64_t>();
  q.count_ = u.get<int64_t>();
  for (Store* s : {&q.negative_, &q.positive_}) {
    s->lo = u.get<int64_t>();
    s->merged = u.get<int64_t>() != 0;
    s->counts = u.get_vector<int64_t>();
  }
  BL_CHECK(u.done(), "QuantileSketch::from_bytes: ", bytes.size(), " bytes hold more than one sketch");
  return q;
}

void QuantileSketch::add(float x) {
  BL_CHECK(std::isfinite(x), "QuantileSketch::add: expected a finite value, got ", x);
  ++count_;
  if (x == 0.0f) ++zeros_;
  else if (x > 0) positive_.add(index_of(x), max_buckets_);
  else negative_.add(-index_of(x), max_buckets_);
}

int64_t quantile_rank(double p, int64_t n) {
  const double k = std::ceil(p * static_cast<double>(n));
  return std::clamp<int64_t>(static_cast<int64_t>(k), 1, n);
}

QuantileSketch::Found QuantileSketch::find(double p) const {
  BL_CHECK(count_ > 0, "QuantileSketch::quantile: the sketch is empty");
  BL_CHECK(p >= 0 && p <= 1, "QuantileSketch::quantile: expected p in [0, 1], got ", p);
  const int64_t k = quantile_rank(p, count_);
  int64_t cum = 0;
  for (size_t j = 0; j < negative_.counts.size(); ++j) {
    cum += negative_.counts[j];
    if (cum >= k) return {-1, negative_.lo + static_cast<int64_t>(j), negative_.merged && j == 0};
  }
  cum += zeros_;
  if (cum >= k) return {0, 0, false};
  for (size_t j = 0; j < positive_.counts.size(); ++j) {
    cum += positive_.counts[j];
    if (cum >= k) return {+1, positive_.lo + static_cast<int64_t>(j), positive_.merged && j == 0};
  }
  return {+1, positive_.lo + static_cast<int64_t>(positive_.counts.size()) - 1, false};  // not reached
}

double QuantileSketch::quantile(double p) const {
  const Found f = find(p);
  if (f.side == 0) return 0.0;
  const int64_t i = f.side > 0 ? f.key : -f.key;
  const double r = 2 * std::exp(static_cast<double>(i) * log_gamma_) / (gamma_ + 1);
  return f.side > 0 ? r : -r;
}

bool QuantileSketch::bounded(double p) const { return !find(p).merged; }

BucketRange QuantileSketch::quantile_range(double p) const {
  const Found f = find(p);
  if (f.side == 0) return {0, 0, false};
  const int64_t i = f.side > 0 ? f.key : -f.key;
  // Widened by 1e-9 relative: the bucket index came from a rounded logarithm.
  double lo = std::exp(static_cast<double>(i - 1) * log_gamma_) * (1 - 1e-9);
  double hi = std::exp(static_cast<double>(i) * log_gamma_) * (1 + 1e-9);
  if (i == min_index_) lo = 0;  // the lowest bucket also holds every |x| < kMinMagnitude
  if (f.side > 0) {
    if (f.merged) lo = 0;  // every smaller positive value
    return {lo, hi, f.merged};
  }
  if (f.merged) hi = std::numeric_limits<double>::infinity();  // every larger magnitude
  return {-hi, -lo, f.merged};
}

double exact_quantile(std::vector<float> values, double p) {
  BL_CHECK(!values.empty(), "exact_quantile: expected at least one value");
  const int64_t k = quantile_rank(p, static_cast<int64_t>(values.size()));
  std::nth_element(values.begin(), values.begin() + (k - 1), values.end());
  return values[static_cast<size_t>(k - 1)];
}

}  // namespace backlight
