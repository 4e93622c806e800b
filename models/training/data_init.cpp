#include "models/training/data_init.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/error.h"
#include "engine/modules/conv.h"
#include "engine/tape.h"

namespace backlight {

void data_dependent_init(Module& model, const Tensor& images) {
  BL_CHECK(images.dim() == 4 && images.size(0) >= 2, "data_dependent_init: expected images [N, C, H, W] with N >= 2, got ",
           images.shape());
  bool has_features = false;
  for (const auto& [name, m] : model.children()) has_features = has_features || name == "features";
  BL_CHECK(has_features, "data_dependent_init: expected a model with a `features` child (FeatureClassifier), got ",
           model.type_name());
  Module& features = model.child("features");
  Tape tape(TapeOptions{.record = false});
  Tensor x = images;
  for (const auto& [name, module] : features.children()) {
    Tensor y = module->forward(tape.input(x)).value();
    if (dynamic_cast<const Conv2d*>(module.get()) != nullptr) {
      const int64_t n = y.size(0), c = y.size(1), hw = y.size(2) * y.size(3);
      Tensor& w = module->parameter("weight");
      Tensor& b = module->parameter("bias");
      const int64_t per = w.numel() / c;
      for (int64_t ch = 0; ch < c; ++ch) {
        double sum = 0, sq = 0;
        for (int64_t i = 0; i < n; ++i)
          for (int64_t j = 0; j < hw; ++j) {
            const double v = y.data()[(i * c + ch) * hw + j];
            sum += v, sq += v * v;
          }
        const double count = static_cast<double>(n * hw), mean = sum / count;
        const double sd = std::sqrt(std::max(0.0, sq / count - mean * mean));
        const double scale = sd < 1e-6 ? 1.0 : 1.0 / sd;
        for (int64_t k = 0; k < per; ++k) w.data()[ch * per + k] = static_cast<float>(w.data()[ch * per + k] * scale);
        b.data()[ch] = static_cast<float>((b.data()[ch] - mean) * scale);
      }
      y = module->forward(tape.input(x)).value();  // with the rescaled parameters
    }
    x = y;
  }
}

}  // namespace backlight
