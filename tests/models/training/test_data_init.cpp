// models/training/data_init.h: after data_dependent_init every conv of shapes_cnn has per-channel
// mean 0 and standard deviation 1 on the batch (before it: far from that), the rest of the model
// is untouched, and bad inputs are refused.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "engine/error.h"
#include "engine/modules/all.h"
#include "engine/tape.h"
#include "models/data/shapes.h"
#include "models/default_model.h"
#include "models/training/data_init.h"

using namespace backlight;

namespace {

struct ChannelStats {
  double worst_mean = 0, worst_sd_error = 0;  // max |mean| and max |sd - 1| over the channels
};

// Per conv of model.child("features"), in order: the stats of its output channels on `images`.
std::vector<ChannelStats> conv_stats(Module& model, const Tensor& images) {
  std::vector<ChannelStats> out;
  Tape tape(TapeOptions{.record = false});
  Tensor x = images;
  for (const auto& [name, m] : model.child("features").children()) {
    const Tensor y = m->forward(tape.input(x)).value();
    if (dynamic_cast<const Conv2d*>(m.get())) {
      ChannelStats s;
      const int64_t n = y.size(0), c = y.size(1), hw = y.size(2) * y.size(3);
      for (int64_t ch = 0; ch < c; ++ch) {
        double sum = 0, sq = 0;
        for (int64_t i = 0; i < n; ++i)
          for (int64_t j = 0; j < hw; ++j) {
            const double v = y.data()[(i * c + ch) * hw + j];
            sum += v, sq += v * v;
          }
        const double mean = sum / static_cast<double>(n * hw);
        const double sd = std::sqrt(sq / static_cast<double>(n * hw) - mean * mean);
        s.worst_mean = std::max(s.worst_mean, std::abs(mean));
        s.worst_sd_error = std::max(s.worst_sd_error, std::abs(sd - 1.0));
      }
      out.push_back(s);
    }
    x = y;
  }
  return out;
}

}  // namespace

TEST_SUITE("models") {

TEST_CASE("training/data_dependent_init: every conv output channel has mean 0 and sd 1 on the batch") {
  std::mt19937_64 rng(3);
  ModulePtr model = make_shapes_cnn(rng);
  const Tensor images = make_shapes_batch(ShapesConfig{}, 1, 0, 16).images;
  const std::vector<ChannelStats> before = conv_stats(*model, images);
  REQUIRE(before.size() == 4);
  CHECK(before[0].worst_mean > 0.05);  // [0, 1] inputs through a zero-bias conv: off-centre at init
  const auto classifier_weight = [&] {
    for (const auto& [name, t] : model->named_parameters())
      if (name == "classifier.0.weight") return t.to_vector();
    return std::vector<float>{};
  };
  const std::vector<float> classifier_before = classifier_weight();
  REQUIRE(classifier_before.size() == 4 * 64);
  data_dependent_init(*model, images);
  const std::vector<ChannelStats> after = conv_stats(*model, images);
  for (size_t k = 0; k < after.size(); ++k) {
    CAPTURE(k);
    CHECK(after[k].worst_mean < 1e-3);
    CHECK(after[k].worst_sd_error < 1e-3);
  }
  CHECK(classifier_weight() == classifier_before);
  // Another batch is not normalised exactly: the statistics are the first batch's.
  const std::vector<ChannelStats> other = conv_stats(*model, make_shapes_batch(ShapesConfig{}, 1, 100, 16).images);
  CHECK(other[0].worst_mean > 1e-3);
}

TEST_CASE("training/data_dependent_init: refuses models without features and batches of one") {
  std::mt19937_64 rng(0);
  ModulePtr model = make_shapes_cnn(rng);
  CHECK_THROWS_WITH_AS(data_dependent_init(*model, Tensor::zeros(Shape{1, 3, 16, 16})),
                       doctest::Contains("expected images [N, C, H, W] with N >= 2"), Error);
  Linear linear(4, 2, rng);
  CHECK_THROWS_WITH_AS(data_dependent_init(linear, Tensor::zeros(Shape{2, 3, 16, 16})),
                       doctest::Contains("expected a model with a `features` child"), Error);
}

}  // TEST_SUITE
