#include "models/training/classifier_data.h"

#include <algorithm>
#include <memory>

#include "engine/error.h"
#include "engine/parallel.h"
#include "models/data/label_flip.h"
#include "models/data/shapes.h"

namespace backlight {

ClassifierData shapes_classifier_data(uint64_t seed, int64_t begin, int64_t count, double flip_fraction) {
  BL_CHECK(count >= 1 && begin >= 0, "shapes_classifier_data: expected begin >= 0 and count >= 1, got begin ", begin,
           ", count ", count);
  return {count, [seed, begin, flip_fraction](std::span<const int64_t> indices) {
            const ShapesConfig cfg;
            const int64_t n = static_cast<int64_t>(indices.size()), hw = cfg.height * cfg.width;
            LabelledBatch b{Tensor::empty({n, 3, cfg.height, cfg.width}), std::vector<int64_t>(indices.size())};
            parallel_for(n, 4, [&](int64_t lo, int64_t hi) {
              for (int64_t i = lo; i < hi; ++i) {
                const int64_t index = begin + indices[static_cast<size_t>(i)];
                const ShapesSample s = make_shapes_sample(cfg, seed, index);
                std::copy(s.image.span().begin(), s.image.span().end(), b.images.data() + i * 3 * hw);
                b.labels[static_cast<size_t>(i)] = flipped_label(seed, index, flip_fraction, s.label, kNumShapeClasses);
              }
            });
            return b;
          }};
}

ClassifierData tensor_classifier_data(const Tensor& images, std::vector<int64_t> labels) {
  BL_CHECK(images.dim() == 4 && images.size(0) >= 1 && images.size(0) == static_cast<int64_t>(labels.size()),
           "tensor_classifier_data: expected images [N, C, H, W] with N >= 1 and N labels, got ", images.shape(),
           " and ", labels.size(), " labels");
  auto shared = std::make_shared<const std::vector<int64_t>>(std::move(labels));
  const int64_t n = images.size(0);
  return {n, [images, shared](std::span<const int64_t> indices) {
            const int64_t per = images.numel() / images.size(0);
            const int64_t m = static_cast<int64_t>(indices.size());
            LabelledBatch b{Tensor::empty({m, images.size(1), images.size(2), images.size(3)}),
                            std::vector<int64_t>(indices.size())};
            for (int64_t i = 0; i < m; ++i) {
              const int64_t k = indices[static_cast<size_t>(i)];
              BL_CHECK(k >= 0 && k < images.size(0), "tensor_classifier_data: index ", k, " outside [0, ",
                       images.size(0), ")");
              std::copy(images.data() + k * per, images.data() + (k + 1) * per, b.images.data() + i * per);
              b.labels[static_cast<size_t>(i)] = (*shared)[static_cast<size_t>(k)];
            }
            return b;
          }};
}

}  // namespace backlight
