// The embedded default model (models/default_model.h): it loads from the bytes compiled into the
// library, its state_dict matches the architecture, it classifies held-out shapes samples, and
// the default images (and their PNG copies in models/images/) are what the generator makes.
#include <cmath>
#include <string>
#include <vector>

#include "engine/tape.h"
#include "models/default_model.h"
#include "models/embedded_weights.h"
#include "models/state_dict.h"
#include "tests/helpers.h"
#include "io/image_io.h"

using namespace backlight;

namespace {

int64_t argmax_row(const Tensor& logits, int64_t row) {
  const int64_t c = logits.size(1);
  const float* r = logits.data() + row * c;
  int64_t best = 0;
  for (int64_t k = 1; k < c; ++k)
    if (r[k] > r[best]) best = k;
  return best;
}

}  // namespace

TEST_SUITE("models") {

TEST_CASE("default_model: state_dict names and shapes match shapes_cnn") {
  REQUIRE_MESSAGE(default_model_available(), "built without models/weights/shapes_cnn.safetensors");
  const ModulePtr model = default_model();
  CHECK(model->type_name() == "ShapesCNN");
  const std::vector<std::pair<std::string, Shape>> expected = {
      {"features.0.weight", {16, 3, 3, 3}},  {"features.0.bias", {16}},
      {"features.3.weight", {32, 16, 3, 3}}, {"features.3.bias", {32}},
      {"features.6.weight", {64, 32, 3, 3}}, {"features.6.bias", {64}},
      {"features.9.weight", {64, 64, 3, 3}}, {"features.9.bias", {64}},
      {"classifier.0.weight", {4, 64}},      {"classifier.0.bias", {4}},
  };
  const auto state = model->state_dict();
  REQUIRE(state.size() == expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    CAPTURE(expected[i].first);
    CHECK(state[i].first == expected[i].first);
    CHECK(state[i].second.shape() == expected[i].second);
  }
  // The random architecture has the same keys; the trained weights differ from its init.
  std::mt19937_64 rng(0);
  const auto fresh = make_shapes_cnn(rng)->state_dict();
  REQUIRE(fresh.size() == state.size());
  CHECK(fresh[0].second.to_vector() != state[0].second.to_vector());

  CHECK(model->find("features.2")->type_name() == "MaxPool2d");
  CHECK(model->find("features.10")->type_name() == "ReLU");
  CHECK(model->find("avgpool")->type_name() == "AdaptiveAvgPool2d");

  const auto meta = default_model_metadata();
  CHECK(meta.at("arch") == "shapes_cnn");
  CHECK(meta.at("data_seed") == std::to_string(kShapesCnnDataSeed));
}

TEST_CASE("default_model: a fresh, independent copy per call") {
  REQUIRE(default_model_available());
  const ModulePtr a = default_model(), b = default_model();
  const float before = b->find("features.0")->parameter("weight").data()[0];
  a->find("features.0")->parameter("weight").data()[0] = before + 1.0f;
  CHECK(b->find("features.0")->parameter("weight").data()[0] == before);
  CHECK(default_model()->find("features.0")->parameter("weight").data()[0] == before);
}

TEST_CASE("default_model: >= 95% accuracy on 200 held-out samples (one batched forward)") {
  REQUIRE(default_model_available());
  const ModulePtr model = default_model();
  // Past the range the train command evaluates on, so this is data the weights never saw either.
  const ShapesBatch b = make_shapes_batch(ShapesConfig{}, kShapesCnnDataSeed, kShapesHeldOutBegin + 5000, 200);
  Tape tape(TapeOptions{.record = false});
  const Tensor logits = model->forward(tape.input(b.images)).value();
  REQUIRE(logits.shape() == Shape{200, kNumShapeClasses});
  int64_t correct = 0;
  for (int64_t i = 0; i < 200; ++i) correct += argmax_row(logits, i) == b.labels[static_cast<size_t>(i)];
  const double accuracy = static_cast<double>(correct) / 200.0;
  MESSAGE("held-out accuracy: ", accuracy);
  CHECK(accuracy >= 0.95);
}

TEST_CASE("default_images: one per class, classified correctly, equal to models/images/*.png") {
  REQUIRE(default_model_available());
  const std::vector<DefaultImage> images = default_images();
  REQUIRE(images.size() == static_cast<size_t>(kNumShapeClasses));
  const ModulePtr model = default_model();
  for (int64_t label = 0; label < kNumShapeClasses; ++label) {
    const DefaultImage& im = images[static_cast<size_t>(label)];
    CAPTURE(im.name);
    CHECK(im.name == kShapeClassNames[static_cast<size_t>(label)]);
    CHECK(im.sample.label == label);
    CHECK(im.index >= kShapesHeldOutBegin);
    REQUIRE(im.sample.image.shape() == Shape{3, 64, 64});
    Tape tape(TapeOptions{.record = false});
    const Tensor logits = model->forward(tape.input(im.sample.image.reshape({1, 3, 64, 64}))).value();
    CHECK(argmax_row(logits, 0) == label);

    const Tensor png = cli::load_image(std::string(BACKLIGHT_TEST_DATA) + "/../../models/images/" + im.name + ".png");
    BL_CHECK_CLOSE(png, im.sample.image, 0.5 / 255 + 1e-6, 0.0);
  }
}

TEST_CASE("read_safetensors_bytes: rejects truncated and inconsistent images") {
  const std::span<const unsigned char> bytes = embedded_shapes_cnn_weights();
  REQUIRE(bytes.size() > 64);
  CHECK_THROWS_WITH_AS(read_safetensors_bytes(bytes.first(4), "w"), doctest::Contains("too short"), Error);
  CHECK_THROWS_WITH_AS(read_safetensors_bytes(bytes.first(64), "w"), doctest::Contains("header length"), Error);
  CHECK_THROWS_WITH_AS(read_safetensors_bytes(bytes.first(bytes.size() - 4), "w"),
                       doctest::Contains("do not hold"), Error);
  const SafeTensorsFile file = read_safetensors_bytes(bytes, "w");
  CHECK(file.tensors.size() == 10);
  CHECK(file.metadata.at("format") == kWeightsFormat);
}

}  // TEST_SUITE
