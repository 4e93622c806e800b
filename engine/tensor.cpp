#include "engine/tensor.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "engine/error.h"

namespace backlight {

Tensor Tensor::empty(const Shape& shape, const Workspace* ws) {
  Tensor t;
  t.shape_ = shape;
  const size_t bytes = std::max<size_t>(1, static_cast<size_t>(shape.numel())) * sizeof(float);
  if (ws) {
    t.storage_ = ws->allocate(bytes);
  } else {
    const size_t rounded = (bytes + 63) / 64 * 64;
    float* p = static_cast<float*>(std::aligned_alloc(64, rounded));
    BL_CHECK(p, "Tensor::empty: out of memory for shape ", shape);
    t.storage_ = std::shared_ptr<float>(p, [](float* q) { std::free(q); });
  }
  return t;
}

Tensor Tensor::zeros(const Shape& shape, const Workspace* ws) { return full(shape, 0.0f, ws); }

Tensor Tensor::full(const Shape& shape, float value, const Workspace* ws) {
  Tensor t = empty(shape, ws);
  t.fill(value);
  return t;
}

Tensor Tensor::from(const Shape& shape, std::span<const float> values) {
  BL_CHECK_SHAPE(static_cast<int64_t>(values.size()) == shape.numel(), "Tensor::from: shape ", shape, " needs ",
                 shape.numel(), " values, got ", values.size());
  Tensor t = empty(shape);
  if (!values.empty()) std::memcpy(t.data(), values.data(), values.size() * sizeof(float));
  return t;
}

Tensor Tensor::from(const Shape& shape, std::initializer_list<float> values) {
  return from(shape, std::span<const float>(values.begin(), values.size()));
}

Tensor Tensor::wrap(const Shape& shape, std::shared_ptr<float> owner, int64_t offset) {
  BL_CHECK(owner, "Tensor::wrap: null storage");
  Tensor t;
  t.storage_ = std::move(owner);
  t.offset_ = offset;
  t.shape_ = shape;
  return t;
}

Tensor Tensor::reshape(std::span<const int64_t> dims) const {
  std::vector<int64_t> d(dims.begin(), dims.end());
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < d.size(); ++i) {
    if (d[i] == -1) {
      BL_CHECK_SHAPE(infer < 0, "reshape: only one dimension may be -1");
      infer = static_cast<int>(i);
    } else {
      BL_CHECK_SHAPE(d[i] >= 0, "reshape: dimensions must be >= 0 or -1, got ", d[i]);
      known *= d[i];
    }
  }
  if (infer >= 0) {
    BL_CHECK_SHAPE(known > 0 && numel() % known == 0, "reshape: cannot infer -1 for ", numel(),
                   " elements from shape ", shape_);
    d[infer] = numel() / known;
  }
  return reshape(Shape(d));
}

Tensor Tensor::reshape(std::initializer_list<int64_t> dims) const {
  return reshape(std::span<const int64_t>(dims.begin(), dims.size()));
}

Tensor Tensor::reshape(const Shape& shape) const {
  BL_CHECK_SHAPE(shape.numel() == numel(), "reshape: cannot view ", shape_, " (", numel(), " elements) as ", shape,
                 " (", shape.numel(), " elements)");
  Tensor t = *this;
  t.shape_ = shape;
  return t;
}

Tensor Tensor::slice_batch(int64_t begin, int64_t end) const {
  BL_CHECK_SHAPE(dim() >= 1, "slice_batch: tensor has no batch axis (shape ", shape_, ")");
  BL_CHECK_SHAPE(0 <= begin && begin <= end && end <= shape_[0], "slice_batch: range [", begin, ",", end,
                 ") out of bounds for batch size ", shape_[0]);
  Tensor t = *this;
  t.offset_ = offset_ + begin * shape_.stride(0);
  t.shape_[0] = end - begin;
  return t;
}

Tensor Tensor::clone(const Workspace* ws) const {
  Tensor t = empty(shape_, ws);
  if (numel()) std::memcpy(t.data(), data(), numel() * sizeof(float));
  return t;
}

void Tensor::copy_from(const Tensor& src) {
  BL_CHECK_SHAPE(src.numel() == numel(), "copy_from: destination ", shape_, " and source ", src.shape(),
                 " differ in size");
  if (numel()) std::memmove(data(), src.data(), numel() * sizeof(float));
}

void Tensor::fill(float value) { std::fill_n(data(), numel(), value); }

float Tensor::item() const {
  BL_CHECK_SHAPE(numel() == 1, "item: expected a 1-element tensor, got shape ", shape_);
  return data()[0];
}

float Tensor::at(std::initializer_list<int64_t> index) const {
  BL_CHECK_SHAPE(static_cast<int>(index.size()) == dim(), "at: index has ", index.size(), " entries for shape ",
                 shape_);
  int64_t flat = 0;
  int d = 0;
  for (int64_t i : index) {
    BL_CHECK_SHAPE(i >= 0 && i < shape_[d], "at: index ", i, " out of range for dimension ", d, " of ", shape_);
    flat = flat * shape_[d] + i;
    ++d;
  }
  return data()[flat];
}

std::vector<float> Tensor::to_vector() const { return {data(), data() + numel()}; }

}  // namespace backlight
