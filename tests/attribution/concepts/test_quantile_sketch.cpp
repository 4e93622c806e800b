// QuantileSketch: the relative error bound against the exact order statistic, negative values
// and zeros, the merge of the lowest buckets (reported as unbounded), bucket ranges.
#include <cmath>
#include <random>

#include <doctest/doctest.h>

#include "attribution/concepts/quantile_sketch.h"
#include "engine/error.h"

using namespace backlight;

TEST_SUITE("attribution") {

TEST_CASE("quantile_sketch: within the relative bound of the exact order statistic") {
  for (double a : {1e-2, 1e-3}) {
    for (int dist = 0; dist < 3; ++dist) {
      CAPTURE(a);
      CAPTURE(dist);
      std::mt19937_64 rng(0xdeadbeef + dist);
      std::vector<float> v;
      QuantileSketch s({.relative_accuracy = a, .max_buckets = 1 << 16});  // no merge: bounded everywhere
      for (int i = 0; i < 20000; ++i) {
        float x = 0;
        if (dist == 0) x = std::lognormal_distribution<float>(0, 2)(rng);
        if (dist == 1) x = std::normal_distribution<float>(0, 3)(rng);  // negatives
        if (dist == 2) x = std::max(0.0f, std::normal_distribution<float>(-1, 1)(rng));  // ReLU: many zeros
        v.push_back(x);
        s.add(x);
      }
      CHECK(s.count() == 20000);
      for (double p : {0.0, 0.01, 0.5, 0.9, 0.995, 1.0}) {
        CAPTURE(p);
        const double exact = exact_quantile(v, p);
        CHECK(std::fabs(s.quantile(p) - exact) <= a * std::fabs(exact) * (1 + 1e-9));
        const BucketRange r = s.quantile_range(p);
        CHECK(r.lo <= exact);
        CHECK(exact <= r.hi);
        CHECK(s.bounded(p));
      }
    }
  }
}

TEST_CASE("quantile_sketch: a coarser sketch is not within the finer bound (the test can fail)") {
  std::mt19937_64 rng(7);
  std::vector<float> v;
  QuantileSketch s({.relative_accuracy = 0.2});
  for (int i = 0; i < 5000; ++i) v.push_back(std::lognormal_distribution<float>(0, 1)(rng)), s.add(v.back());
  int outside = 0;
  for (double p = 0.05; p < 1; p += 0.05) outside += std::fabs(s.quantile(p) - exact_quantile(v, p)) > 1e-3 * exact_quantile(v, p);
  CHECK(outside > 10);
}

TEST_CASE("quantile_sketch: merging the lowest buckets keeps the top quantile and reports the rest") {
  QuantileSketch s({.relative_accuracy = 1e-3, .max_buckets = 64});
  std::vector<float> v;
  for (int i = 0; i < 1000; ++i) v.push_back(std::pow(10.0f, -20.0f + 25.0f * i / 999.0f)), s.add(v.back());
  CHECK(s.bounded(0.999));
  CHECK(std::fabs(s.quantile(0.999) - exact_quantile(v, 0.999)) <= 1e-3 * exact_quantile(v, 0.999) * (1 + 1e-9));
  CHECK_FALSE(s.bounded(0.1));
  CHECK(s.quantile_range(0.1).merged);
  CHECK(s.quantile_range(0.1).lo == 0.0);
  // The same on the negative side: the most negative values merge.
  QuantileSketch n({.relative_accuracy = 1e-3, .max_buckets = 64});
  for (float x : v) n.add(-x);
  CHECK(n.bounded(0.999));
  CHECK_FALSE(n.bounded(0.1));
  CHECK(std::isinf(n.quantile_range(0.1).lo));
}

TEST_CASE("quantile_sketch: merged shards equal one sketch of the whole stream; bytes round-trip") {
  std::mt19937_64 rng(0xdeadbeef);
  std::vector<float> v;
  for (int i = 0; i < 6000; ++i) {
    const float x = std::normal_distribution<float>(0, 2)(rng);
    v.push_back(i % 7 == 0 ? 0.0f : x);
  }
  QuantileSketch whole;
  for (float x : v) whole.add(x);
  // Three shards, round robin (as ranks take batches); merged in another order.
  std::vector<QuantileSketch> shard(3);
  for (size_t i = 0; i < v.size(); ++i) shard[i % 3].add(v[i]);
  QuantileSketch merged = QuantileSketch::from_bytes(shard[2].to_bytes());
  merged.merge(shard[0]);
  merged.merge(QuantileSketch::from_bytes(shard[1].to_bytes()));
  CHECK(merged.count() == whole.count());
  CHECK(merged.to_bytes() == whole.to_bytes());  // the same counts in the same buckets
  for (double p : {0.0, 0.1, 0.5, 0.995, 1.0}) {
    CAPTURE(p);
    CHECK(merged.quantile(p) == whole.quantile(p));
  }
  // A shard alone is a different sketch (the test can fail).
  CHECK(shard[0].to_bytes() != whole.to_bytes());
  // An empty shard (a rank without batches) changes nothing.
  QuantileSketch empty;
  merged.merge(empty);
  CHECK(merged.to_bytes() == whole.to_bytes());
  CHECK_THROWS_WITH_AS(merged.merge(QuantileSketch({.relative_accuracy = 1e-2})), doctest::Contains("same relative_accuracy"),
                       Error);
  CHECK_THROWS_WITH_AS(QuantileSketch::from_bytes(whole.to_bytes().substr(0, 20)), doctest::Contains("bytes"), Error);
}

TEST_CASE("quantile_sketch: a merged floor of one shard stays a floor; the top quantile keeps its bound") {
  std::vector<float> v;
  for (int i = 0; i < 1000; ++i) v.push_back(std::pow(10.0f, -20.0f + 25.0f * i / 999.0f));
  QuantileSketch a({.relative_accuracy = 1e-3, .max_buckets = 64}), b({.relative_accuracy = 1e-3, .max_buckets = 64});
  for (size_t i = 0; i < v.size(); ++i) (i % 2 ? a : b).add(v[i]);
  a.merge(b);
  CHECK(a.count() == 1000);
  CHECK(a.bounded(0.999));
  CHECK(std::fabs(a.quantile(0.999) - exact_quantile(v, 0.999)) <= 1e-3 * exact_quantile(v, 0.999) * (1 + 1e-9));
  CHECK_FALSE(a.bounded(0.1));
}

TEST_CASE("quantile_sketch: errors and ranks") {
  QuantileSketch s;
  CHECK_THROWS_WITH_AS(s.quantile(0.5), doctest::Contains("empty"), Error);
  s.add(1.0f);
  CHECK_THROWS_WITH_AS(s.quantile(1.5), doctest::Contains("expected p in [0, 1]"), Error);
  CHECK_THROWS_WITH_AS(s.add(NAN), doctest::Contains("finite"), Error);
  CHECK_THROWS_WITH_AS(QuantileSketch({.relative_accuracy = 0.7}), doctest::Contains("relative_accuracy"), Error);
  CHECK(quantile_rank(0.995, 640) == 637);
  CHECK(quantile_rank(0.0, 10) == 1);
  CHECK(exact_quantile({3, 1, 2}, 0.5) == 2.0);
}

}  // TEST_SUITE
