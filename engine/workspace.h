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
#include <cstddef>
#include <memory>

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

  /// A 64-byte aligned block of at least `bytes` bytes; release by dropping the returned pointer.
  std::shared_ptr<float> allocate(size_t bytes) const;
  WorkspaceStats stats() const;
  /// Returns all cached (free) blocks to the system.
  void trim() const;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace backlight
