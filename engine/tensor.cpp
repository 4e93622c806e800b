#include "engine/tensor.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "engine/error.h"
#ifdef BACKLIGHT_HAVE_CUDA
#include "engine/cuda/context.h"
#endif

namespace backlight {

void Tensor::refuse_host_access(const char* accessor) const {
  BL_THROW("Tensor::", accessor, ": the tensor ", shape_,
           " lives on the CUDA device; copy it to the host first (tensor.to_cpu())");
}

namespace {

// Out of memory for a tensor: name the shape, the size and what usually drives it. Every tensor
// whose size scales with user input (a batch of interpolation steps, samples or perturbations, an
// image size) is allocated here, so std::bad_alloc never reaches the user bare.
[[noreturn]] void out_of_memory(const Shape& shape, size_t bytes) {
  BL_THROW("Tensor::empty: out of memory allocating a tensor of shape ", shape, " (", bytes, " bytes, ",
           static_cast<double>(bytes) / (1 << 30),
           " GiB); its leading axis is the rows per forward: lower --batch (internal_batch_size / "
           "perturbations_per_eval / samples_batch_size), the input size or the number of inputs");
}

}  // namespace

Tensor Tensor::empty(const Shape& shape, const Workspace* ws) {
  Tensor t;
  t.shape_ = shape;
  const size_t bytes = std::max<size_t>(1, static_cast<size_t>(shape.numel())) * sizeof(float);
  if (ws && bytes > ws->max_tensor_bytes())
    BL_THROW("a tensor of shape ", shape, " (", bytes, " bytes) exceeds this run's limit of ", ws->max_tensor_bytes(),
             " bytes per tensor");
  try {
    if (ws) {
      t.storage_ = ws->allocate(bytes);
      t.cuda_ = ws->cuda_context();
    } else {
      const size_t rounded = (bytes + 63) / 64 * 64;
      float* p = static_cast<float*>(std::aligned_alloc(64, rounded));
      if (!p) out_of_memory(shape, bytes);
      t.storage_ = std::shared_ptr<float>(p, [](float* q) { std::free(q); });
    }
  } catch (const std::bad_alloc&) {
    out_of_memory(shape, bytes);
  }
  return t;
}

Tensor Tensor::empty_like(const Shape& shape, const Tensor& like, const Workspace* ws) {
  if (like.cuda_) {
#ifdef BACKLIGHT_HAVE_CUDA
    Tensor t;
    t.shape_ = shape;
    t.storage_ = cuda::allocate(*like.cuda_, std::max<size_t>(1, static_cast<size_t>(shape.numel())) * sizeof(float));
    t.cuda_ = like.cuda_;
    return t;
#else
    BL_THROW("Tensor::empty_like: this build has no CUDA backend (rebuild with -DBACKLIGHT_CUDA=ON)");
#endif
  }
  return empty(shape, ws && !ws->cuda_context() ? ws : nullptr);
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

Tensor Tensor::wrap_cuda(const Shape& shape, std::shared_ptr<float> owner, cuda::Context* ctx) {
  BL_CHECK(ctx, "Tensor::wrap_cuda: null CUDA context");
  Tensor t = wrap(shape, std::move(owner));
  t.cuda_ = ctx;
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
  Tensor t = empty_like(shape_, *this, ws);
  t.copy_from(*this);
  return t;
}

void Tensor::copy_from(const Tensor& src) {
  BL_CHECK_SHAPE(src.numel() == numel(), "copy_from: destination ", shape_, " and source ", src.shape(),
                 " differ in size");
  if (!numel()) return;
  if (!cuda_ && !src.cuda_) {
    std::memmove(data(), src.data(), numel() * sizeof(float));
    return;
  }
#ifdef BACKLIGHT_HAVE_CUDA
  if (cuda_ && src.cuda_) {
    BL_CHECK(cuda_ == src.cuda_, "copy_from: source and destination belong to different CUDA contexts (workspaces); "
             "go through the host (to_cpu) or use one workspace");
    cuda::copy_on_device(*cuda_, device_data(), src.device_data(), numel());
  } else if (cuda_) {
    cuda::copy_to_device(*cuda_, device_data(), src.device_data(), numel());
  } else {
    cuda::copy_to_host(*src.cuda_, device_data(), src.device_data(), numel());
  }
#endif
}

void Tensor::fill(float value) {
#ifdef BACKLIGHT_HAVE_CUDA
  if (cuda_) return cuda::fill(*cuda_, device_data(), numel(), value);
#endif
  std::fill_n(data(), numel(), value);
}

Tensor Tensor::to(Device device, const Workspace* ws) const {
  if (device == this->device()) return *this;
  if (device == Device::CUDA) {
    BL_CHECK(kCudaBuild, "Tensor::to(cuda): this build has no CUDA backend (rebuild with -DBACKLIGHT_CUDA=ON)");
    BL_CHECK(ws && ws->cuda_context(), "Tensor::to(cuda): pass a CUDA workspace (Workspace::for_cuda) to allocate "
             "the device copy from");
  }
  // To the host: a host workspace is used, a CUDA one ignored (its blocks are device memory).
  const Workspace* target = device == Device::CUDA ? ws : (ws && !ws->cuda_context() ? ws : nullptr);
  Tensor t = empty(shape_, target);
  t.copy_from(*this);
  return t;
}

float Tensor::item() const {
  if (cuda_) refuse_host_access("item");
  BL_CHECK_SHAPE(numel() == 1, "item: expected a 1-element tensor, got shape ", shape_);
  return data()[0];
}

float Tensor::at(std::initializer_list<int64_t> index) const {
  if (cuda_) refuse_host_access("at");
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

std::vector<float> Tensor::to_vector() const {
  if (cuda_) refuse_host_access("to_vector");
  return {data(), data() + numel()};
}

}  // namespace backlight
