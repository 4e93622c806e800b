#pragma once
/// Workspace: a caching allocator for tensor storage.
///
/// First touch of fresh memory costs ~6 us per 4 KiB page on the target machines, so a hot path
/// that allocates its activations anew on every call spends more time in page faults than in
/// arithmetic. A Workspace keeps released blocks and hands them out again for the next request of
/// a similar size. It is a value owned by the caller (a tape, an attribution call, the CLI): there
/// is no process-wide pool. Thread-safe (one mutex; allocations are per op, not per element).
///
/// Blocks stay valid after the Workspace handle is dropped: every storage block holds a reference
/// to the pool state, so tensors may outlive the workspace that made them.
///
/// A workspace made with for_cuda() allocates device memory instead and owns a cuda::Context
/// (stream, cuBLAS/cuDNN handles, a caching device allocator with the same size classes): a tape
/// made with it runs every op on that device. Copies of the handle share the pool (and context).
#include <cstddef>
#include <memory>

#include "engine/device.h"

namespace backlight {

struct WorkspaceStats {
  size_t bytes_cached = 0;     ///< bytes held in free lists, ready for reuse
  size_t bytes_in_use = 0;     ///< bytes handed out and not yet released
  size_t fresh_allocations = 0;  ///< requests served by the system allocator
  size_t reused_allocations = 0; ///< requests served from the free lists
};

class Workspace {
 public:
  struct State;  // pool internals, shared with live blocks

  /// max_cached_bytes bounds what the free lists keep (the rest goes back to the system).
  explicit Workspace(size_t max_cached_bytes = size_t{8} << 30);

  /// A workspace whose blocks live on CUDA device `device`, with its own context. Throws
  /// backlight::Error when the build has no CUDA backend or the device does not exist.
  static Workspace for_cuda(int device = 0, size_t max_cached_bytes = size_t{8} << 30);

  /// A CPU workspace whose tensors may not exceed `max_tensor_bytes` each (Tensor::empty throws
  /// backlight::Error naming the shape and the limit): for runs whose sizes come from untrusted
  /// data, e.g. the ONNX importer's validating forward pass, where a hostile attribute (a Pad or
  /// Resize of millions) would otherwise ask the system for terabytes.
  static Workspace with_tensor_limit(size_t max_tensor_bytes, size_t max_cached_bytes = size_t{8} << 30);
  /// The per-tensor limit (SIZE_MAX unless made by with_tensor_limit).
  size_t max_tensor_bytes() const;

  /// A 64-byte aligned block of at least `bytes` bytes (device memory for a CUDA workspace);
  /// release by dropping the returned pointer.
  std::shared_ptr<float> allocate(size_t bytes) const;
  WorkspaceStats stats() const;
  /// Returns all cached (free) blocks to the system (device: waits for the stream first).
  void trim() const;

  Device device() const { return cuda_context() ? Device::CUDA : Device::CPU; }
  /// The CUDA context of a for_cuda() workspace, else null.
  cuda::Context* cuda_context() const;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace backlight
