#include "attribution/concepts/dissection_scan.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "attribution/core/layer_eval.h"
#include "attribution/core/progress.h"
#include "attribution/core/reducer.h"
#include "engine/error.h"

namespace backlight {

Tensor dissection_input(std::span<const ConceptImage> images, const DissectionOptions& o) {
  const int64_t c = o.input_shape.at(0), h = o.input_shape.at(1), w = o.input_shape.at(2);
  const int64_t b = static_cast<int64_t>(images.size());
  Tensor x = Tensor::empty(Shape{b, c, h, w});
  for (int64_t i = 0; i < b; ++i) {
    const ConceptImage& im = images[static_cast<size_t>(i)];
    BL_CHECK(im.image.defined() && im.image.dim() == 3 && im.image.size(0) == c, "dissect: image '", im.name,
             "' has shape ", im.image.defined() ? im.image.shape().str() : std::string("(none)"), ", expected [", c,
             ", H, W]");
    const int64_t ih = im.image.size(1), iw = im.image.size(2);
    for (int64_t ch = 0; ch < c; ++ch) {
      const std::span<const float> plane(im.image.data() + ch * ih * iw, static_cast<size_t>(ih * iw));
      float* dst = x.data() + (i * c + ch) * h * w;
      if (ih == h && iw == w) {
        std::copy(plane.begin(), plane.end(), dst);
      } else {
        const std::vector<double> r = resize_plane_bilinear(plane, ih, iw, h, w);
        for (int64_t p = 0; p < h * w; ++p) dst[p] = static_cast<float>(r[static_cast<size_t>(p)]);
      }
      const float m = o.mean.empty() ? 0.0f : o.mean.at(static_cast<size_t>(ch));
      const float s = o.std.empty() ? 1.0f : o.std.at(static_cast<size_t>(ch));
      if (m != 0.0f || s != 1.0f)
        for (int64_t p = 0; p < h * w; ++p) dst[p] = (dst[p] - m) / s;
    }
  }
  return x;
}

DissectionScan::DissectionScan(const Module& model, const ConceptSource& data, const DissectionOptions& o, int op,
                               const Workspace& ws, int64_t k_units, int64_t h, int64_t w)
    : model_(model), data_(data), o_(o), op_(op), ws_(ws), k_(k_units), h_(h), w_(w) {
  for (int64_t j = 0; j * o.batch < data.size(); ++j)
    if (owns_batch(o.reducer, j)) batches_.push_back(j), mine_ += size_of(j);
  kept_.resize(batches_.size());
  complete_.assign(batches_.size(), 0);
}

void DissectionScan::first_pass(const std::function<void(const std::vector<int64_t>&, const Tensor&)>& fn) {
  Progress progress("dissect (thresholds)", mine_, o_.progress);
  for (size_t m = 0; m < batches_.size(); ++m) {
    const int64_t j = batches_[m], begin = j * o_.batch, b = size_of(j);
    Tensor a;
    if (o_.units) {
      ++units;
      a = stored_activations(j, &kept_[m]);
      if (a.defined()) ++resumed, complete_[m] = 1;
    }
    if (!a.defined()) {
      kept_[m].clear();
      std::vector<ConceptImage> images;
      for (int64_t i = begin; i < begin + b; ++i) {
        try {
          images.push_back(data_.load(i));
          kept_[m].push_back(i);
        } catch (const std::exception& e) {
          if (!o_.skip) throw;
          o_.skip(i, e.what());
          skipped_.emplace_back(i, e.what());
        }
      }
      complete_[m] = static_cast<int64_t>(images.size()) == b;
      if (o_.units && complete_[m]) o_.units->begin(o_.units->key("acts", j));
      if (!images.empty()) a = forward(images);
      if (o_.units && complete_[m]) {
        std::string bytes;
        pack_span(bytes, std::span<const int64_t>(kept_[m]));
        pack_span(bytes, std::span<const float>(a.data(), static_cast<size_t>(a.numel())));
        o_.units->store(o_.units->key("acts", j), bytes);
      }
    }
    if (a.defined()) fn(kept_[m], a);
    progress.advance(b);
  }
  progress.finish();
}

std::vector<ConceptImage> DissectionScan::images(size_t m) const {
  std::vector<ConceptImage> out;
  for (int64_t i : kept_[m]) out.push_back(data_.load(i));
  return out;
}

Tensor DissectionScan::activations(size_t m, std::vector<ConceptImage>& images) const {
  if (o_.units && complete_[m]) {
    std::vector<int64_t> idx;
    const Tensor a = stored_activations(batches_[m], &idx);
    if (a.defined() && idx == kept_[m]) return a;
  }
  if (images.empty()) images = this->images(m);
  return forward(images);
}

Tensor DissectionScan::forward(std::span<const ConceptImage> images) const {
  const int64_t b = static_cast<int64_t>(images.size());
  const LayerEval e = eval_layer(model_, dissection_input(images, o_), op_, ws_);
  const Tensor& a = e.layer;
  BL_CHECK(a.dim() == 4 && a.size(0) == b, "dissect: layer '", o_.layer, "' has output ", a.shape().str(),
           ", expected [N, K, h, w] (a convolutional layer)");
  BL_CHECK(a.size(1) == k_ && a.size(2) == h_ && a.size(3) == w_, "dissect: layer '", o_.layer,
           "' changed shape between batches (", a.shape().str(), " vs [N, ", k_, ", ", h_, ", ", w_, "])");
  for (int64_t k = 0; k < a.numel(); ++k)
    BL_CHECK(std::isfinite(a.data()[k]), "dissect: layer '", o_.layer, "' has a non-finite value (", a.data()[k],
             ") on image '", images[static_cast<size_t>(k / (a.numel() / b))].name, "'");
  return a;
}

Tensor DissectionScan::stored_activations(int64_t j, std::vector<int64_t>* idx) const {
  const std::string key = o_.units->key("acts", j);
  const std::optional<std::string> bytes = o_.units->load(key);
  if (!bytes) return {};
  try {
    Unpacker u(*bytes);
    std::vector<int64_t> got = u.get_vector<int64_t>();
    const std::vector<float> v = u.get_vector<float>();
    const int64_t b = static_cast<int64_t>(got.size());
    if (b >= 1 && static_cast<int64_t>(v.size()) == b * k_ * h_ * w_ && u.done()) {
      Tensor a = Tensor::empty(Shape{b, k_, h_, w_});
      std::copy(v.begin(), v.end(), a.data());
      *idx = std::move(got);
      return a;
    }
  } catch (const Error&) {
  }
  o_.units->discard(key);  // not this layer's layout: computed again
  return {};
}

}  // namespace backlight
