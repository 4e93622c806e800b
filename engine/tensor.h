#pragma once
/// Tensor: float32, dense, row-major (NCHW for images), up to 8 dimensions.
///
/// A Tensor is a cheap handle: copies share storage. Views (reshape, slice along the batch axis)
/// are free and alias the same memory; clone() makes an explicit copy. Tensors are always
/// contiguous; ops that reorder memory (transpose, permute) produce new tensors.
/// Device: CPU storage now; the CUDA backend (kernels issue) adds device storage behind the same
/// handle. Storage comes from a Workspace when one is given, so repeated runs reuse memory.
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "engine/shape.h"
#include "engine/workspace.h"

namespace backlight {

enum class Device { CPU, CUDA };

class Tensor {
 public:
  Tensor() = default;

  /// Uninitialised tensor; storage from `ws` when given, else from the system allocator.
  static Tensor empty(const Shape& shape, const Workspace* ws = nullptr);
  static Tensor zeros(const Shape& shape, const Workspace* ws = nullptr);
  static Tensor full(const Shape& shape, float value, const Workspace* ws = nullptr);
  /// Copies `values` (must have shape.numel() elements).
  static Tensor from(const Shape& shape, std::span<const float> values);
  static Tensor from(const Shape& shape, std::initializer_list<float> values);
  /// Zero-copy wrapper around caller memory kept alive by `owner` (e.g. a memory-mapped file).
  static Tensor wrap(const Shape& shape, std::shared_ptr<float> owner, int64_t offset = 0);

  bool defined() const { return static_cast<bool>(storage_); }
  const Shape& shape() const { return shape_; }
  int dim() const { return shape_.rank(); }
  int64_t size(int d) const { return shape_[d]; }
  int64_t numel() const { return shape_.numel(); }
  Device device() const { return Device::CPU; }

  float* data() { return storage_.get() + offset_; }
  const float* data() const { return storage_.get() + offset_; }
  std::span<float> span() { return {data(), static_cast<size_t>(numel())}; }
  std::span<const float> span() const { return {data(), static_cast<size_t>(numel())}; }

  /// View with another shape of the same numel; one dimension may be -1 (inferred).
  Tensor reshape(std::span<const int64_t> dims) const;
  Tensor reshape(std::initializer_list<int64_t> dims) const;
  Tensor reshape(const Shape& shape) const;
  /// View of items [begin, end) along axis 0.
  Tensor slice_batch(int64_t begin, int64_t end) const;
  /// Explicit deep copy.
  Tensor clone(const Workspace* ws = nullptr) const;
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
  std::shared_ptr<float> storage_;
  int64_t offset_ = 0;
  Shape shape_;
};

}  // namespace backlight
