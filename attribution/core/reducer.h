#pragma once
/// How the processes of one distributed job combine their partial results. Dataset-level
/// library functions (dissect, layer_similarity) take an optional `const Reducer*`: each process
/// then scans only its share of the batches (batch j belongs to process j % size()) and the
/// partial statistics meet through these collectives. The CLI's Cluster (tools/cluster/cluster.h,
/// Open MPI) implements it; the library never sees MPI. Every process must make the same calls in
/// the same order (they are collectives). nullptr: one process, nothing is combined.
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "engine/error.h"

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

/// Raw bytes of trivially copyable values appended to `out`, for the byte collectives above
/// (every process runs the same build on the same kind of machine: no byte-order conversion).
template <class T>
void pack(std::string& out, const T& v) {
  static_assert(std::is_trivially_copyable_v<T>);
  out.append(reinterpret_cast<const char*>(&v), sizeof(T));
}
template <class T>
void pack_span(std::string& out, std::span<const T> v) {
  static_assert(std::is_trivially_copyable_v<T>);
  pack(out, static_cast<int64_t>(v.size()));
  out.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

/// Reads back what pack/pack_span wrote, in the same order; throws on a short buffer.
class Unpacker {
 public:
  explicit Unpacker(std::string_view bytes) : bytes_(bytes) {}
  template <class T>
  T get() {
    T v;
    take(&v, sizeof(T));
    return v;
  }
  template <class T>
  std::vector<T> get_vector() {
    const int64_t n = get<int64_t>();
    BL_CHECK(n >= 0 && static_cast<size_t>(n) <= (bytes_.size() - pos_) / sizeof(T),
             "Unpacker: a vector of ", n, " elements does not fit the ", bytes_.size() - pos_, " bytes left");
    std::vector<T> v(static_cast<size_t>(n));
    take(v.data(), v.size() * sizeof(T));
    return v;
  }
  bool done() const { return pos_ == bytes_.size(); }

 private:
  void take(void* dst, size_t n) {
    BL_CHECK(n <= bytes_.size() - pos_, "Unpacker: expected ", n, " more bytes, ", bytes_.size() - pos_, " left");
    if (n) std::memcpy(dst, bytes_.data() + pos_, n);
    pos_ += n;
  }
  std::string_view bytes_;
  size_t pos_ = 0;
};

}  // namespace backlight
