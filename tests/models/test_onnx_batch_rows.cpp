// Rows of a batch are independent: an imported model's logits and input gradients for a batch of
// two images equal those of each image alone (integrated gradients and every batched method rely
// on it). BACKLIGHT_PROBE_ONNX=<file.onnx> (and BACKLIGHT_PROBE_SIDE) adds a model of your own.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "attribution/path/integrated_gradients.h"
#include "engine/backward.h"
#include "models/onnx/model.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

namespace {

// max |a - b| / max |a| over row r of b against all of a ([1, ...] vs [2, ...]).
double row_err(const Tensor& single, const Tensor& batch, int64_t r) {
  const int64_t per = single.numel();
  double d = 0, m = 0;
  for (int64_t i = 0; i < per; ++i) {
    d = std::max(d, std::fabs(static_cast<double>(single.data()[i]) - batch.data()[r * per + i]));
    m = std::max(m, std::fabs(static_cast<double>(single.data()[i])));
  }
  return d / std::max(m, 1e-30);
}

void check_rows(const std::string& path, int64_t side, int64_t batch = 2) {
  CAPTURE(path);
  CAPTURE(batch);
  const ModulePtr m = load_onnx_model(path);
  std::mt19937_64 rng(kSeed);
  const Tensor x2 = uniform({batch, 3, side, side}, rng);
  Tape t2;
  const Var in2 = t2.input(x2);
  const Var y2 = m->forward(in2);
  const int64_t classes = y2.shape()[1];
  Tensor seed2 = Tensor::zeros(y2.shape());
  for (int64_t r = 0; r < batch; ++r) seed2.data()[r * classes + r % classes] = 1.0f;
  const Tensor g2 = grad(y2, seed2, in2);
  for (int64_t r = 0; r < batch; ++r) {
    CAPTURE(r);
    Tensor x1 = Tensor::empty(Shape{1, 3, side, side});
    for (int64_t i = 0; i < x1.numel(); ++i) x1.data()[i] = x2.data()[r * x1.numel() + i];
    Tape t1;
    const Var in1 = t1.input(x1);
    const Var y1 = m->forward(in1);
    Tensor seed1 = Tensor::zeros(y1.shape());
    seed1.data()[r % classes] = 1.0f;
    CHECK(row_err(y1.value(), y2.value(), r) < 1e-5);
    CHECK(row_err(grad(y1, seed1, in1), g2, r) < 1e-5);
  }
}

// Integrated gradients with every step in one forward and with one step per forward agree.
void check_ig_chunks(const std::string& path, int64_t side) {
  CAPTURE(path);
  const ModulePtr m = load_onnx_model(path);
  std::mt19937_64 rng(kSeed + 1);
  const Tensor x = uniform({1, 3, side, side}, rng);
  IntegratedGradientsOptions one{.steps = 16, .internal_batch_size = 1};
  IntegratedGradientsOptions all{.steps = 16, .internal_batch_size = 16};
  const Tensor a1 = integrated_gradients(*m, x, Target::top1(), one).attribution;
  const Tensor a16 = integrated_gradients(*m, x, Target::top1(), all).attribution;
  CHECK(row_err(a1, a16, 0) < 1e-5);
}

}  // namespace

TEST_SUITE("models") {
  TEST_CASE("onnx batch rows: a batch gives each image's own logits and input gradient") {
    const std::string dir = BACKLIGHT_TEST_DATA "/onnx/";
    for (const char* f : {"plain_cnn_bn", "tiny_efficientnet", "tiny_mobilenetv3", "tiny_convnext", "tiny_groupnorm"})
      for (int64_t b : {2, 5}) check_rows(dir + f + ".onnx", std::string(f) == "tiny_groupnorm" ? 16 : 32, b);
    for (const char* f : {"plain_cnn_bn", "tiny_efficientnet", "tiny_convnext"}) check_ig_chunks(dir + f + ".onnx", 32);
    if (const char* probe = std::getenv("BACKLIGHT_PROBE_ONNX")) {
      check_ig_chunks(probe, 64);
      const char* side = std::getenv("BACKLIGHT_PROBE_SIDE");
      for (int64_t b : {2, 5, 16}) check_rows(probe, side ? std::atoi(side) : 64, b);
    }
  }
}
