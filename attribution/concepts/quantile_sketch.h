#pragma once
/// QuantileSketch: a one-pass streaming quantile estimate with a *relative* error bound, the
/// logarithmic-bucket sketch of DDSketch (Masson, Rim, Lee 2019, "DDSketch: a fast and
/// fully-mergeable quantile sketch with relative-error guarantees", VLDB). Network dissection
/// uses one per unit for its top-quantile threshold T_k.
///
/// Buckets: with gamma = (1 + a) / (1 - a) (a = `relative_accuracy`), a value x != 0 falls in the
/// bucket i = ceil(log_gamma |x|) of its sign, which holds (gamma^(i-1), gamma^i]; 0 has a bucket
/// of its own. A bucket is represented by r_i = 2 gamma^i / (gamma + 1), and every x of the bucket
/// satisfies |r_i - |x|| <= a |x| (the extremes give (gamma - 1) / (gamma + 1) = a).
///
/// Bound: quantile(p) walks the cumulative bucket counts to the bucket that holds the exact
/// order statistic v_(k), k = ceil(p n) (numpy's `inverted_cdf`), and returns its
/// representative, so |quantile(p) - v_(k)| <= a |v_(k)|: exact rank, relative value error a.
/// Exceptions, both reported: |x| < kMinMagnitude (1e-30) is counted at kMinMagnitude (absolute
/// error below 1e-30); when one sign's store uses more than `max_buckets` buckets its lowest
/// ones are merged (values only ever move *up*, towards the top quantiles dissection asks for),
/// and a quantile that lands in a merged bucket has no bound: bounded() says so. Exact zeros
/// (every ReLU output that is off) have a counter of their own and are exact.
///
/// Memory: per sign, one int64 count per bucket between the lowest and highest used (at most
/// max_buckets, default 8192: a = 1e-3 spans a factor 1.3e7 between the largest magnitude and the
/// merge point).
/// Not thread-safe; one sketch per unit.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace backlight {

struct QuantileSketchOptions {
  double relative_accuracy = 1e-3;  ///< a in (0, 0.5)
  int64_t max_buckets = 8192;       ///< >= 16
};

/// The value range one bucket stands for: every value counted there lies in [lo, hi].
struct BucketRange {
  double lo = 0, hi = 0;
  /// A merged bucket (no bound): on the positive side lo is 0, on the negative side lo is -infinity.
  bool merged = false;
};

class QuantileSketch {
 public:
  static constexpr double kMinMagnitude = 1e-30;

  explicit QuantileSketch(QuantileSketchOptions options = {});

  void add(float x);
  void add(std::span<const float> xs) {
    for (float x : xs) add(x);
  }
  int64_t count() const { return count_; }

  /// Representative of the bucket holding v_(k), k = ceil(p * count) (k = 1 when p * count < 1).
  /// p in [0, 1]; throws for an empty sketch.
  double quantile(double p) const;
  /// The range of that bucket (the exact quantile lies in it).
  BucketRange quantile_range(double p) const;
  /// False when the quantile falls in the merged lowest bucket (no error bound).
  bool bounded(double p) const;
  double relative_accuracy() const { return accuracy_; }

  /// Adds `other`'s counts bucket by bucket (DDSketch's merge; both must have the same options):
  /// the result is the sketch of both streams together. Counts are integers, so the order of
  /// merges does not matter; without merged (collapsed) low buckets it equals the sketch that saw
  /// every value. A merged floor of either side becomes a floor of the result (values below it
  /// count there). Throws when the options differ.
  void merge(const QuantileSketch& other);
  /// The sketch as bytes (for the collectives of a distributed run) and back. `from_bytes`
  /// throws for bytes not written by `to_bytes`.
  std::string to_bytes() const;
  static QuantileSketch from_bytes(std::string_view bytes);

 private:
  // Dense counts over a window of integer keys; beyond max_buckets the lowest keys merge.
  struct Store {
    std::vector<int64_t> counts;  ///< counts[j] is key lo + j
    int64_t lo = 0;
    bool merged = false;  ///< counts[0] also holds every key below lo
    void add(int64_t key, int64_t max_buckets, int64_t n = 1);
    void merge(const Store& other, int64_t max_buckets);
  };
  // Where the p-quantile lies: store (-1 negative, 0 zero, +1 positive) and key.
  struct Found {
    int side = 0;
    int64_t key = 0;
    bool merged = false;
  };
  int64_t index_of(float x) const;  ///< ceil(log_gamma max(|x|, kMinMagnitude))
  Found find(double p) const;

  double accuracy_, gamma_, log_gamma_;
  int64_t max_buckets_;
  int64_t min_index_;  ///< index_of(kMinMagnitude)
  // Negative values are keyed by -index (ascending key = ascending value), positive by index,
  // so both stores merge their lowest keys: the values furthest below the top quantiles.
  Store negative_, positive_;
  int64_t zeros_ = 0;
  int64_t count_ = 0;
};

/// The exact order statistic v_(k), k = ceil(p * n), of `values` (numpy
/// `np.quantile(values, p, method="inverted_cdf")`). Copies; for tests and small inputs.
double exact_quantile(std::vector<float> values, double p);

/// k = ceil(p * n) clamped to [1, n]: the rank (1-based, ascending) of the p-quantile.
int64_t quantile_rank(double p, int64_t n);

}  // namespace backlight
