// CAM family: Grad-CAM, CAM, Grad-CAM++ and Score-CAM against hand formulas on tiny nets,
// Guided Grad-CAM as the product of its factors, bilinear/nearest upsampling by hand, and parity
// with Captum's LayerGradCam / GuidedGradCam on the committed fixture.
#include <cmath>

#include "attribution/cam/cam.h"
#include "attribution/gradient/gradient_methods.h"
#include "attribution/cam/guided_grad_cam.h"
#include "attribution/core/layer.h"
#include "attribution/registry.h"
#include "tests/attribution/cam_fixture.h"

using namespace backlight;
using namespace backlight::test;

namespace {

using SeqPtr = std::shared_ptr<Sequential>;

// conv(2,3,3,stride) - relu - [maxpool(2)] - gap - flatten - linear(3,4).
SeqPtr tiny_net(uint64_t seed, int stride = 1, bool pool = false) {
  std::mt19937_64 rng(seed);
  auto m = std::make_shared<Sequential>();
  m->push_back(std::make_shared<Conv2d>(2, 3, 3, rng, Conv2dOptions{.stride = stride, .padding = stride == 1 ? 1 : 0}));
  m->push_back(std::make_shared<ReLU>());
  if (pool) m->push_back(std::make_shared<MaxPool2d>(2));
  m->push_back(std::make_shared<AdaptiveAvgPool2d>(1));
  m->push_back(std::make_shared<Flatten>());
  m->push_back(std::make_shared<Linear>(3, 4, rng));
  return m;
}

// Output of the first `count` children (inference).
Tensor prefix(const Sequential& m, const Tensor& x, size_t count) {
  Tape t(TapeOptions{.record = false});
  Var v = t.input(x);
  for (size_t i = 0; i < count; ++i) v = m[i].forward(v);
  return v.value().clone();
}

Tensor logits(const Module& m, const Tensor& x) {
  Tape t(TapeOptions{.record = false});
  return m.forward(t.input(x)).value().clone();
}

float at4(const Tensor& t, int64_t n, int64_t c, int64_t y, int64_t x) { return t.at({n, c, y, x}); }

}  // namespace

TEST_SUITE("attribution") {

TEST_CASE("grad_cam: equals the hand formula on conv-relu-gap-linear") {
  const SeqPtr m = tiny_net(kSeed);
  std::mt19937_64 rng(kSeed + 10);
  const Tensor x = randn({2, 2, 5, 5}, rng);
  const std::vector<int64_t> cls{1, 3};
  const Tensor a = prefix(*m, x, 1);  // conv output [2,3,5,5]
  const Tensor& w = (*m)[4].parameter("weight");
  const double hw = 25;
  SUBCASE("layer 0 (conv): d logit / d A = W[c,k] [A > 0] / hw") {
    Tensor hand = Tensor::empty({2, 1, 5, 5});
    for (int64_t n = 0; n < 2; ++n) {
      std::vector<double> alpha(3, 0.0);
      for (int64_t k = 0; k < 3; ++k)
        for (int64_t p = 0; p < 25; ++p)
          alpha[k] += (a.at({n, k, p / 5, p % 5}) > 0 ? w.at({cls[n], k}) / hw : 0.0) / hw;
      for (int64_t p = 0; p < 25; ++p) {
        double v = 0;
        for (int64_t k = 0; k < 3; ++k) v += alpha[k] * a.at({n, k, p / 5, p % 5});
        hand.data()[n * 25 + p] = static_cast<float>(std::max(0.0, v));
      }
    }
    const AttributionResult r = grad_cam(*m, x, Target::indices(cls), {.layer = "0"});
    BL_CHECK_CLOSE(r.layer_map, hand, 1e-6, 1e-5);
    BL_CHECK_CLOSE(r.attribution, hand, 1e-6, 1e-5);  // same size: the identity upsampling
    CHECK(r.target == cls);
  }
  SUBCASE("layer 1 (relu) without relu on the map: (1/hw) sum_k W[c,k] relu(A_k)") {
    Tensor hand = Tensor::empty({2, 1, 5, 5});
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t p = 0; p < 25; ++p) {
        double v = 0;
        for (int64_t k = 0; k < 3; ++k) v += w.at({cls[n], k}) / hw * std::max(0.0f, a.at({n, k, p / 5, p % 5}));
        hand.data()[n * 25 + p] = static_cast<float>(v);
      }
    BL_CHECK_CLOSE(grad_cam(*m, x, Target::indices(cls), {.layer = "1", .relu = false}).layer_map, hand, 1e-6, 1e-5);
    // The default layer is the map entering the global pooling: the relu output.
    BL_CHECK_CLOSE(grad_cam(*m, x, Target::indices(cls), {.relu = false}).layer_map, hand, 1e-6, 1e-5);
  }
  CHECK_THROWS_WITH_AS(grad_cam(*m, x, Target::index(0), {.layer = "conv9"}),
                       doctest::Contains("layer 'conv9' not found"), Error);
}

TEST_CASE("grad_cam: bilinear upsampling 2x2 -> 5x5 equals the hand interpolation") {
  // align_corners=false, scale 2/5: source (i + 0.5) * 0.4 - 0.5 clamped at 0 gives the 1-D
  // weights (of the two source pixels) below.
  const double wt[5][2] = {{1, 0}, {0.9, 0.1}, {0.5, 0.5}, {0.1, 0.9}, {0, 1}};
  const Tensor small = Tensor::from({1, 1, 2, 2}, {1.0f, -2.0f, 3.0f, 0.5f});
  Tensor hand = Tensor::empty({1, 1, 5, 5});
  for (int y = 0; y < 5; ++y)
    for (int x = 0; x < 5; ++x) {
      double v = 0;
      for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 2; ++j) v += wt[y][i] * wt[x][j] * small.data()[i * 2 + j];
      hand.data()[y * 5 + x] = static_cast<float>(v);
    }
  BL_CHECK_CLOSE(upsample_bilinear(small, 5, 5), hand, 1e-6, 1e-6);

  // Through grad_cam: a stride-2 conv turns 5x5 inputs into a 2x2 layer map.
  const SeqPtr m = tiny_net(kSeed + 1, 2);
  std::mt19937_64 rng(kSeed + 11);
  const Tensor x = randn({2, 2, 5, 5}, rng);
  const AttributionResult r = grad_cam(*m, x, Target::index(2), {.layer = "0", .relu = false});
  REQUIRE(r.layer_map.shape() == Shape{2, 1, 2, 2});
  REQUIRE(r.attribution.shape() == Shape{2, 1, 5, 5});
  for (int64_t n = 0; n < 2; ++n)
    for (int y = 0; y < 5; ++y)
      for (int xx = 0; xx < 5; ++xx) {
        double v = 0;
        for (int i = 0; i < 2; ++i)
          for (int j = 0; j < 2; ++j) v += wt[y][i] * wt[xx][j] * at4(r.layer_map, n, 0, i, j);
        CHECK(at4(r.attribution, n, 0, y, xx) == doctest::Approx(v).epsilon(1e-5));
      }
}

TEST_CASE("upsample_nearest: PyTorch's nearest indices (2x, 3 -> 7, identity)") {
  const Tensor m = Tensor::from({1, 1, 1, 3}, {1.0f, 2.0f, 3.0f});
  // floor(i * 3/7) = 0,0,0,1,1,2,2 ; exact 2x: i >> 1.
  CHECK(upsample_nearest(m, 1, 7).to_vector() == std::vector<float>{1, 1, 1, 2, 2, 3, 3});
  CHECK(upsample_nearest(m, 1, 6).to_vector() == std::vector<float>{1, 1, 2, 2, 3, 3});
  CHECK(upsample_nearest(m, 1, 3).to_vector() == std::vector<float>{1, 2, 3});
}

TEST_CASE("cam: on a GAP model equals the classifier-weighted sum of the last feature maps") {
  const SeqPtr m = tiny_net(kSeed + 2, 1, true);
  std::mt19937_64 rng(kSeed + 12);
  const Tensor x = randn({2, 2, 6, 6}, rng);
  const Tensor f = prefix(*m, x, 3);  // maxpool output [2,3,3,3], what the GAP averages
  const Tensor& w = (*m)[5].parameter("weight");
  const AttributionResult r = cam(*m, x, Target::indices({0, 2}));
  Tensor hand = Tensor::empty({2, 1, 3, 3});
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t p = 0; p < 9; ++p) {
      double v = 0;
      for (int64_t k = 0; k < 3; ++k) v += w.at({n == 0 ? 0 : 2, k}) * f.at({n, k, p / 3, p % 3});
      hand.data()[n * 9 + p] = static_cast<float>(v);
    }
  BL_CHECK_CLOSE(r.layer_map, hand, 1e-6, 1e-5);
  BL_CHECK_CLOSE(r.attribution, upsample_bilinear(hand, 6, 6), 1e-6, 1e-5);
  BL_CHECK_CLOSE(cam(*m, x, Target::indices({0, 2}), {.layer = "2"}).layer_map, hand, 1e-6, 1e-5);
  // The CAM of class c, averaged over positions, is the logit minus the bias.
  const Tensor out = logits(*m, x);
  for (int64_t n = 0; n < 2; ++n) {
    double mean = 0;
    for (int64_t p = 0; p < 9; ++p) mean += hand.data()[n * 9 + p] / 9.0;
    const int64_t c = n == 0 ? 0 : 2;
    CHECK(mean == doctest::Approx(out.at({n, c}) - (*m)[5].parameter("bias").data()[c]).epsilon(1e-5));
  }
  // A model whose classifier does not sit on the pooled channels is refused with a hint.
  std::mt19937_64 rng2(kSeed);
  const Sequential no_gap{std::make_shared<Conv2d>(2, 3, 3, rng2, Conv2dOptions{.padding = 1}),
                          std::make_shared<ReLU>(), std::make_shared<AdaptiveAvgPool2d>(2), std::make_shared<Flatten>(),
                          std::make_shared<Linear>(12, 4, rng2)};
  CHECK_THROWS_WITH_AS(cam(no_gap, x, Target::index(0)), doctest::Contains("CAM needs global average pooling"), Error);
  CHECK_THROWS_WITH_AS(cam(*m, x, Target::function([](const Var& o) { return o; })),
                       doctest::Contains("needs class targets"), Error);
}

TEST_CASE("grad_cam_plus_plus: equals the closed form on conv-relu-gap-linear") {
  const SeqPtr m = tiny_net(kSeed + 3);
  std::mt19937_64 rng(kSeed + 13);
  const Tensor x = randn({2, 2, 5, 5}, rng);
  const Tensor a = prefix(*m, x, 2);  // relu output
  const Tensor& w = (*m)[4].parameter("weight");
  const std::vector<int64_t> cls{0, 1};
  // At the relu output g = W[c,k] / hw everywhere, so w_k = sum_ij g^2/(2g^2 + S g^3) g (g > 0).
  Tensor hand = Tensor::empty({2, 1, 5, 5});
  for (int64_t n = 0; n < 2; ++n) {
    std::vector<double> wk(3, 0.0);
    for (int64_t k = 0; k < 3; ++k) {
      const double g = w.at({cls[n], k}) / 25.0;
      double s = 0;
      for (int64_t p = 0; p < 25; ++p) s += a.at({n, k, p / 5, p % 5});
      if (g > 0) wk[k] = 25 * g * g * g / (2 * g * g + s * g * g * g);
    }
    for (int64_t p = 0; p < 25; ++p) {
      double v = 0;
      for (int64_t k = 0; k < 3; ++k) v += wk[k] * a.at({n, k, p / 5, p % 5});
      hand.data()[n * 25 + p] = static_cast<float>(std::max(0.0, v));
    }
  }
  const AttributionResult r = grad_cam_plus_plus(*m, x, Target::indices(cls), {.layer = "1"});
  BL_CHECK_CLOSE(r.layer_map, hand, 1e-7, 1e-5);
  // exp_score scales each item's map by exp(S_c).
  const AttributionResult e = grad_cam_plus_plus(*m, x, Target::indices(cls), {.layer = "1", .exp_score = true});
  const Tensor out = logits(*m, x);
  for (int64_t i = 0; i < 50; ++i)
    CHECK(e.layer_map.data()[i] ==
          doctest::Approx(hand.data()[i] * std::exp(out.at({i / 25, cls[i / 25]}))).epsilon(1e-5));
}

TEST_CASE("score_cam: equals a naive loop over channels; batch size does not matter") {
  const SeqPtr m = tiny_net(kSeed + 4, 1, true);
  std::mt19937_64 rng(kSeed + 14);
  const Tensor x = randn({2, 2, 6, 6}, rng);
  const Tensor a = prefix(*m, x, 3);  // [2,3,3,3]
  const Tensor out = logits(*m, x);
  const std::vector<int64_t> cls = Target::top1().resolve(out);
  auto softmax_at = [](const Tensor& row, int64_t c) {
    double s = 0;
    for (float v : row.span()) s += std::exp(static_cast<double>(v));
    return std::exp(static_cast<double>(row.data()[c])) / s;
  };
  const Tensor base_logits = logits(*m, Tensor::zeros({1, 2, 6, 6}));
  Tensor hand_up = Tensor::zeros({2, 1, 6, 6}), hand_layer = Tensor::zeros({2, 1, 3, 3});
  for (int64_t n = 0; n < 2; ++n) {
    std::vector<double> acc_up(36, 0.0), acc_layer(9, 0.0);
    for (int64_t k = 0; k < 3; ++k) {
      Tensor ak = Tensor::empty({1, 1, 3, 3});
      for (int64_t p = 0; p < 9; ++p) ak.data()[p] = a.at({n, k, p / 3, p % 3});
      const Tensor u = upsample_bilinear(ak, 6, 6);
      const auto [mn, mx] = std::minmax_element(u.data(), u.data() + 36);
      if (*mx == *mn) continue;
      Tensor masked = Tensor::empty({1, 2, 6, 6});
      for (int64_t ch = 0; ch < 2; ++ch)
        for (int64_t p = 0; p < 36; ++p)
          masked.data()[ch * 36 + p] = x.at({n, ch, p / 6, p % 6}) * ((u.data()[p] - *mn) / (*mx - *mn));
      const double wk = softmax_at(logits(*m, masked), cls[n]) - softmax_at(base_logits, cls[n]);
      for (int64_t p = 0; p < 36; ++p) acc_up[p] += wk * u.data()[p];
      for (int64_t p = 0; p < 9; ++p) acc_layer[p] += wk * ak.data()[p];
    }
    for (int64_t p = 0; p < 36; ++p) hand_up.data()[n * 36 + p] = static_cast<float>(std::max(0.0, acc_up[p]));
    for (int64_t p = 0; p < 9; ++p) hand_layer.data()[n * 9 + p] = static_cast<float>(std::max(0.0, acc_layer[p]));
  }
  for (int batch : {1, 4, 100}) {
    CAPTURE(batch);
    const AttributionResult r = score_cam(*m, x, Target::top1(), {.layer = "2", .batch = batch});
    BL_CHECK_CLOSE(r.attribution, hand_up, 1e-6, 1e-4);
    BL_CHECK_CLOSE(r.layer_map, hand_layer, 1e-6, 1e-4);
    CHECK(r.target == cls);
  }
}

TEST_CASE("guided_grad_cam: guided backprop times the upsampled Grad-CAM, from one forward pass") {
  const SeqPtr m = tiny_net(kSeed + 5, 1, true);
  std::mt19937_64 rng(kSeed + 15);
  const Tensor x = randn({2, 2, 6, 6}, rng);
  const Target t = Target::indices({3, 1});
  const Tensor gb = guided_backprop_attribution(*m, x, t).attribution;
  const AttributionResult gc = grad_cam(*m, x, t, {.layer = "2"});
  for (CamUpsample mode : {CamUpsample::Nearest, CamUpsample::Bilinear}) {
    const Tensor up = mode == CamUpsample::Nearest ? upsample_nearest(gc.layer_map, 6, 6)
                                                   : upsample_bilinear(gc.layer_map, 6, 6);
    Tensor hand = Tensor::empty(x.shape());
    for (int64_t i = 0; i < x.numel(); ++i) hand.data()[i] = gb.data()[i] * up.data()[(i / 72) * 36 + i % 36];
    const AttributionResult r = guided_grad_cam(*m, x, t, {.layer = "2", .upsample = mode});
    BL_CHECK_CLOSE(r.attribution, hand, 1e-7, 1e-5);
    BL_CHECK_CLOSE(r.layer_map, gc.layer_map, 1e-7, 1e-6);
  }
}

TEST_CASE("grad_cam, guided_grad_cam: parity with Captum LayerGradCam / GuidedGradCam (fixture)") {
  const ModulePtr m = cam_fixture_model();
  const Tensor& x = cam_fixture().at("input");
  const Target t = Target::indices(cam_fixture_targets());
  const AttributionResult gc = grad_cam(*m, x, t, {.layer = "3"});
  BL_CHECK_PARITY(gc.layer_map, cam_fixture().at("grad_cam.layer_map"));
  BL_CHECK_PARITY(gc.attribution, cam_fixture().at("grad_cam.attribution"));
  BL_CHECK_PARITY(grad_cam(*m, x, t, {.layer = "4", .relu = false}).layer_map, cam_fixture().at("grad_cam.raw"));
  BL_CHECK_PARITY(guided_grad_cam(*m, x, t, {.layer = "3"}).attribution, cam_fixture().at("guided_grad_cam"));
}

TEST_CASE("registry: the CAM family by name, default layer = the maps entering the global pooling") {
  const ModulePtr m = cam_fixture_model();
  const Tensor& x = cam_fixture().at("input");
  const Target t = Target::indices(cam_fixture_targets());
  const AttributionResult by_name = attribute("grad_cam", *m, x, t, {.layer = "3"});
  BL_CHECK_CLOSE(by_name.attribution, grad_cam(*m, x, t, {.layer = "3"}).attribution, 0, 0);
  for (const char* name : {"cam", "grad_cam", "grad_cam_plus_plus", "score_cam", "guided_grad_cam"}) {
    CAPTURE(name);
    const AttributionResult r = attribute(name, *m, x, t);
    CHECK(r.layer_map.shape() == Shape{2, 1, 6, 6});  // relu "4": the input of the adaptive pool
    CHECK(r.attribution.shape() == (std::string(name) == "guided_grad_cam" ? x.shape() : Shape{2, 1, 12, 12}));
    CHECK(r.target == cam_fixture_targets());
  }
  BL_CHECK_CLOSE(attribute("grad_cam", *m, x, t).layer_map, grad_cam(*m, x, t, {.layer = "4"}).layer_map, 0, 0);
}

}  // TEST_SUITE
