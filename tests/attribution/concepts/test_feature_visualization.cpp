// Feature visualisation: the parametrisation's gradient by finite differences, the transforms'
// adjoints, and on the embedded shapes model an optimised input that excites its channel more
// than the most exciting of 200 dataset images.
#include <cmath>
#include <random>

#include <doctest/doctest.h>

#include "attribution/concepts/feature_visualization.h"
#include "attribution/concepts/image_param.h"
#include "engine/error.h"
#include "models/data/shapes.h"
#include "models/default_model.h"

using namespace backlight;

namespace {

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

std::vector<double> random_vector(size_t n, uint64_t seed, double sd = 1.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> d(0, sd);
  std::vector<double> v(n);
  for (double& x : v) x = d(rng);
  return v;
}

}  // namespace

TEST_SUITE("attribution") {

TEST_CASE("image_param: gradient matches central finite differences") {
  for (ImageParamKind kind : {ImageParamKind::Fourier, ImageParamKind::Pixel})
    for (bool decorrelate : {true, false})
      for (auto [h, w] : {std::pair<int64_t, int64_t>{8, 8}, {7, 10}}) {
        CAPTURE(static_cast<int>(kind));
        CAPTURE(decorrelate);
        CAPTURE(h);
        CAPTURE(w);
        const ImageParam p(h, w, {.kind = kind, .decay_power = 1.0, .decorrelate_colour = decorrelate});
        const std::vector<double> theta = random_vector(static_cast<size_t>(p.num_params()), 1, 0.5);
        const std::vector<double> r = random_vector(static_cast<size_t>(3 * h * w), 2);
        const std::vector<double> g = p.backward(theta, r);
        REQUIRE(g.size() == theta.size());
        std::mt19937_64 rng(3);
        double max_err = 0, max_g = 0;
        for (int t = 0; t < 40; ++t) {
          const size_t i = rng() % theta.size();
          std::vector<double> a = theta, b = theta;
          const double eps = 1e-5;
          a[i] += eps, b[i] -= eps;
          const double fd = (dot(r, p.render(a)) - dot(r, p.render(b))) / (2 * eps);
          max_err = std::max(max_err, std::fabs(fd - g[i]));
          max_g = std::max(max_g, std::fabs(g[i]));
        }
        CHECK(max_g > 0);
        CHECK(max_err <= 1e-6 * std::max(1.0, max_g));
      }
}

TEST_CASE("image_param: values in (0, 1), seeded init") {
  const ImageParam p(16, 16);
  std::mt19937_64 a(5), b(5);
  CHECK(p.init(a) == p.init(b));
  std::mt19937_64 c(5);
  for (double v : p.render(p.init(c, 1.0))) CHECK((v > 0 && v < 1));
}

TEST_CASE("transform: adjoint is the transpose (<Tx, y> = <x, T'y>)") {
  std::mt19937_64 rng(11);
  for (double blur : {0.0, 1.2}) {
    CAPTURE(blur);
    const Transform t(12, 9, {.jitter = 3, .scale = 0.2, .rotate_degrees = 20, .blur_sigma = blur}, rng);
    const std::vector<double> x = random_vector(3 * 12 * 9, 7), y = random_vector(3 * 12 * 9, 8);
    CHECK(dot(t.apply(x), y) == doctest::Approx(dot(x, t.adjoint(y))).epsilon(1e-12));
  }
  // The identity draw is the identity.
  const Transform id(6, 5, 0, 0, 1.0, 0.0, 0.0);
  const std::vector<double> x = random_vector(3 * 6 * 5, 9);
  const std::vector<double> y = id.apply(x);
  for (size_t i = 0; i < x.size(); ++i) CHECK(y[i] == doctest::Approx(x[i]));
}

TEST_CASE("visualize: the optimised input excites its channel more than any of 200 dataset images") {
  if (!default_model_available()) return;
  const ModulePtr model = default_model();
  FeatureVisOptions o{.objective = VisObjective::Channel, .layer = "features.9", .steps = 256, .seed = 1};
  const ShapesBatch data = make_shapes_batch(ShapesConfig{}, kShapesCnnDataSeed, kShapesHeldOutBegin, 200);
  for (int64_t c : {3, 17}) {
    CAPTURE(c);
    o.channel = c;
    double best = -1e30;
    for (int64_t i = 0; i < 200; ++i)
      best = std::max(best, feature_objective(*model, data.images.slice_batch(i, i + 1).reshape({3, 64, 64}), o));
    const FeatureVis r = visualize_feature(*model, o);
    MESSAGE("channel ", c, ": optimised ", r.objective, ", best dataset image ", best);
    CHECK(r.objective > best);
    CHECK(r.history.size() == 256);
    CHECK(r.history.back() > r.history.front());
    // Seeded: the same options give the same image.
    const FeatureVis again = visualize_feature(*model, {.objective = VisObjective::Channel, .layer = "features.9",
                                                        .channel = c, .steps = 3, .seed = 1});
    const FeatureVis again2 = visualize_feature(*model, {.objective = VisObjective::Channel, .layer = "features.9",
                                                         .channel = c, .steps = 3, .seed = 1});
    for (int64_t i = 0; i < again.image.numel(); ++i) REQUIRE(again.image.data()[i] == again2.image.data()[i]);
  }
}

TEST_CASE("visualize: logit objective rises; errors name the problem") {
  if (!default_model_available()) return;
  const ModulePtr model = default_model();
  const FeatureVis r = visualize_feature(*model, {.objective = VisObjective::Logit, .target = 2, .steps = 40});
  CHECK(r.objective > r.history.front());
  CHECK_THROWS_WITH_AS(visualize_feature(*model, {.objective = VisObjective::Channel, .layer = "features.9",
                                                  .channel = 64, .steps = 1}),
                       doctest::Contains("channel 64 outside layer 'features.9'"), Error);
  CHECK_THROWS_WITH_AS(visualize_feature(*model, {.objective = VisObjective::Logit, .target = 4, .steps = 1}),
                       doctest::Contains("target 4 outside"), Error);
  CHECK_THROWS_WITH_AS(visualize_feature(*model, {.layer = "nope", .steps = 1}), doctest::Contains("nope"), Error);
  CHECK_THROWS_WITH_AS(visualize_feature(*model, {.layer = "features.9", .steps = 0}),
                       doctest::Contains("steps >= 1"), Error);
}

}  // TEST_SUITE
