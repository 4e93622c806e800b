#include "models/default_model.h"

#include "engine/error.h"
#include "engine/modules/all.h"
#include "models/embedded_weights.h"
#include "models/feature_classifier.h"
#include "models/state_dict.h"

namespace backlight {

namespace {

// Held-out indices of dataset kShapesCnnDataSeed shown as the default images, one per class in
// label order; chosen so the embedded model classifies each correctly (tested).
constexpr int64_t kDefaultImageIndex[kNumShapeClasses] = {kShapesHeldOutBegin + 1, kShapesHeldOutBegin + 0,
                                                          kShapesHeldOutBegin + 2, kShapesHeldOutBegin + 3};

SafeTensorsFile embedded_file() {
  const std::span<const unsigned char> bytes = embedded_shapes_cnn_weights();
  BL_CHECK(!bytes.empty(), "default_model: this build has no embedded weights (models/weights/shapes_cnn.safetensors "
                           "was missing when it was configured)");
  return read_safetensors_bytes(bytes, "<embedded shapes_cnn.safetensors>");
}

}  // namespace

ModulePtr make_shapes_cnn(std::mt19937_64& rng, int64_t num_classes) {
  BL_CHECK(num_classes > 0, "make_shapes_cnn: expected num_classes > 0, got ", num_classes);
  auto features = std::make_shared<Sequential>();
  int64_t in = 3;
  for (int64_t out : {16, 32, 64, 64}) {
    if (in != 3) features->push_back(std::make_shared<MaxPool2d>(2));
    features->push_back(std::make_shared<Conv2d>(in, out, 3, rng, Conv2dOptions{.padding = 1}));
    features->push_back(std::make_shared<ReLU>());
    in = out;
  }
  auto classifier = std::make_shared<Sequential>(Sequential{std::make_shared<Linear>(64, num_classes, rng)});
  ModulePtr model = std::make_shared<FeatureClassifier>("ShapesCNN", features,
                                                        std::make_shared<AdaptiveAvgPool2d>(1), classifier);
  // He init for the convs: PyTorch's default (gain 1/sqrt(3)) shrinks the signal ~2.5x per
  // conv+relu, which leaves a 4-conv net without normalisation stuck near chance for an epoch.
  for (auto& [name, module] : features->children())
    if (const auto* conv = dynamic_cast<const Conv2d*>(module.get())) {
      const int64_t k = conv->kernel_size().h * conv->kernel_size().w, fan_in = conv->in_channels() * k;
      const std::string prefix = "features." + name + ".";
      model->set_tensor(prefix + "weight", init::kaiming_uniform(module->parameter("weight").shape(), fan_in, 0.0f, rng));
      model->set_tensor(prefix + "bias", Tensor::zeros({conv->out_channels()}));
    }
  return model;
}

bool default_model_available() { return !embedded_shapes_cnn_weights().empty(); }

ModulePtr default_model() {
  std::mt19937_64 rng(0);  // every tensor is overwritten by the weights
  ModulePtr model = make_shapes_cnn(rng);
  load_weights(*model, embedded_file(), LoadOptions{.strict = true, .arch = "shapes_cnn"});
  return model;
}

std::map<std::string, std::string> default_model_metadata() { return embedded_file().metadata; }

std::vector<DefaultImage> default_images() {
  std::vector<DefaultImage> out;
  for (int64_t label = 0; label < kNumShapeClasses; ++label) {
    const int64_t index = kDefaultImageIndex[label];
    DefaultImage im{std::string(kShapeClassNames[static_cast<size_t>(label)]), index,
                    make_shapes_sample(ShapesConfig{}, kShapesCnnDataSeed, index)};
    BL_CHECK(im.sample.label == label, "default_images: sample ", index, " has label ", im.sample.label,
             ", expected ", label, " (the generator changed; update kDefaultImageIndex)");
    out.push_back(std::move(im));
  }
  return out;
}

}  // namespace backlight
