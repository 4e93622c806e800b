#pragma once
/// Tensor: float32, dense, row-major (NCHW for images), up to 8 dimensions.
///
/// A Tensor is a cheap handle: copies share storage. Views (reshape, slice along the batch axis)
/// are free and alias the same memory; clone() makes an explicit copy. Tensors are always
/// contiguous; ops that reorder memory (transpose, permute) produce new tensors.
/// Device: CPU storage, or CUDA device storage (CUDA builds) when made from a CUDA workspace
/// (Workspace::for_cuda) or copied there with to(). Host accessors (data, span, item, at,
/// to_vector) refuse device tensors with an error rather than dereference device memory; ops
/// dispatch on device() (docs/cuda.md). Storage comes from a Workspace when one is given, so
/// repeated runs reuse memory.
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "engine/device.h"
#include "engine/shape.h"
#include "engine/workspace.h"

namespace backlight {

class Tensor {
 public:
  Tensor() = default;

  /// Uninitialised tensor; storage from `ws` when given (on its device), else from the system
  /// allocator.
  static Tensor empty(const Shape& shape, const Workspace* ws = nullptr);
  /// Uninitialised tensor on the device of `like`: a CUDA tensor's own context (its stream and
  /// device allocator), else `ws` (host).
  static Tensor empty_like(const Shape& shape, const Tensor& like, const Workspace* ws = nullptr);
  static Tensor zeros(const Shape& shape, const Workspace* ws = nullptr);
  static Tensor full(const Shape& shape, float value, const Workspace* ws = nullptr);
  /// Copies `values` (must have shape.numel() elements).
  static Tensor from(const Shape& shape, std::span<const float> values);
  static Tensor from(const Shape& shape, std::initializer_list<float> values);
  /// Zero-copy wrapper around caller memory kept alive by `owner` (e.g. a memory-mapped file).
  static Tensor wrap(const Shape& shape, std::shared_ptr<float> owner, int64_t offset = 0);
  /// Device memory of context `ctx` (interop with other CUDA code): `owner` must keep the memory
  /// and `ctx` alive. The engine's own device tensors come from Tensor::empty with a CUDA
  /// workspace; the tests use this to make device-tagged handles on machines without a GPU.
  static Tensor wrap_cuda(const Shape& shape, std::shared_ptr<float> owner, cuda::Context* ctx);

  bool defined() const { return static_cast<bool>(storage_); }
  const Shape& shape() const { return shape_; }
  int dim() const { return shape_.rank(); }
  int64_t size(int d) const { return shape_[d]; }
  int64_t numel() const { return shape_.numel(); }
  Device device() const { return cuda_ ? Device::CUDA : Device::CPU; }
  bool is_cuda() const { return cuda_ != nullptr; }
  /// The CUDA context of a device tensor (null on the CPU); kept alive by the storage.
  cuda::Context* cuda_context() const { return cuda_; }

  /// Host pointer; throws for a device tensor (one check per call, never per element).
  float* data() {
    if (cuda_) [[unlikely]] refuse_host_access("data");
    return storage_.get() + offset_;
  }
  const float* data() const {
    if (cuda_) [[unlikely]] refuse_host_access("data");
    return storage_.get() + offset_;
  }
  /// Pointer into the tensor's own memory, host or device: for device kernels.
  float* device_data() { return storage_.get() + offset_; }
  const float* device_data() const { return storage_.get() + offset_; }
  std::span<float> span() { return {data(), static_cast<size_t>(numel())}; }
  std::span<const float> span() const { return {data(), static_cast<size_t>(numel())}; }

  /// A copy on `device` (the same handle when already there). To CUDA: storage from `ws`, which
  /// must be a CUDA workspace (Workspace::for_cuda). To CPU: waits for the device (a sync point);
  /// storage from `ws` when it is a host workspace.
  Tensor to(Device device, const Workspace* ws = nullptr) const;
  Tensor to_cpu(const Workspace* ws = nullptr) const { return to(Device::CPU, ws); }

  /// View with another shape of the same numel; one dimension may be -1 (inferred).
  Tensor reshape(std::span<const int64_t> dims) const;
  Tensor reshape(std::initializer_list<int64_t> dims) const;
  Tensor reshape(const Shape& shape) const;
  /// View of items [begin, end) along axis 0.
  Tensor slice_batch(int64_t begin, int64_t end) const;
  /// Explicit deep copy, on this tensor's device (`ws` is used for host tensors).
  Tensor clone(const Workspace* ws = nullptr) const;
  /// Copies src's elements in (same numel); host and device in any combination.
  void copy_from(const Tensor& src);
  void fill(float value);

  /// The single element of a 1-element tensor.
  float item() const;
  /// Element at a full index (bounds-checked; for tests and small tools, not hot loops).
  float at(std::initializer_list<int64_t> index) const;
  std::vector<float> to_vector() const;
  /// True when both handles alias the same storage block.
  bool shares_storage(const Tensor& o) const { return storage_ == o.storage_; }
  /// How many handles share this storage (1 means this handle may write in place safely).
  long use_count() const { return storage_.use_count(); }

 private:
  [[noreturn]] void refuse_host_access(const char* accessor) const;

  std::shared_ptr<float> storage_;
  int64_t offset_ = 0;
  Shape shape_;
  cuda::Context* cuda_ = nullptr;  // device tensors only; storage_'s deleter keeps it alive
};

}  // namespace backlight
