#pragma once
/// How the processes of one distributed job combine their partial results. Dataset-level
/// library functions (dissect, layer_similarity) take an optional `const Reducer*`: each process
/// then scans only its share of the batches (batch j belongs to process j % size()) and the
/// partial statistics meet through these collectives. The CLI's Cluster (tools/cluster/cluster.h,
/// Open MPI) implements it; the library never sees MPI. Every process must make the same calls in
/// the same order (they are collectives). nullptr: one process, nothing is combined.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "attribution/core/packing.h"  // pack, pack_span, Unpacker: the collectives' bytes

namespace backlight {

class Reducer {
 public:
  virtual ~Reducer() = default;
  /// This process's index in [0, size()) and the number of processes.
  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// Element-wise sums over all processes, returned on every process. Integers are exact; the
  /// order in which floating-point partial sums meet is the implementation's (fixed for a given
  /// process count, not across counts).
  virtual std::vector<int64_t> sum(std::span<const int64_t> values) const = 0;
  virtual std::vector<double> sum(std::span<const double> values) const = 0;
  /// Every process's bytes, in process order, on every process.
  virtual std::vector<std::string> all_gather(const std::string& mine) const = 0;
  /// Every process's bytes, in process order, on process 0 (empty elsewhere).
  virtual std::vector<std::string> gather(const std::string& mine) const = 0;
};

/// Whether batch `j` of a stream is this process's (always true without a reducer).
inline bool owns_batch(const Reducer* r, int64_t j) { return !r || j % r->size() == r->rank(); }

}  // namespace backlight
