#pragma once
/// Bytes of results that travel or wait: the messages of the distributed collectives (Reducer in
/// attribution/core/reducer.h, the CLI's Cluster) and the finished units a summary command keeps to
/// resume (tools/cluster/unit_cache.h). Values are appended as raw host bytes and read back in the
/// same order: every process of a job (and every rerun) is the same build on the same kind of
/// machine, so there is no byte-order conversion. Spans and strings carry their length (uint64)
/// first. A short or malformed buffer throws backlight::Error naming what was being read, never
/// reads past the end.
///
///   Packer p;  p.put<int64_t>(k);  p.put_span(std::span<const float>(v));  p.put_string(name);
///   Unpacker u(bytes, "sanity: chunk 3");  k = u.get<int64_t>();  v = u.get_vector<float>();
///
/// The one packer of the code base: tools/cluster/packing.h only names these for the CLI.
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "engine/error.h"

namespace backlight {

/// Appends values to a byte string.
class Packer {
 public:
  Packer() = default;
  template <class T>
    requires std::is_trivially_copyable_v<T>
  void put(const T& v) {
    bytes_.append(reinterpret_cast<const char*>(&v), sizeof(T));
  }
  /// The number of values (uint64), then the values.
  template <class T>
    requires std::is_trivially_copyable_v<T>
  void put_span(std::span<const T> v) {
    put<uint64_t>(v.size());
    bytes_.append(reinterpret_cast<const char*>(v.data()), v.size_bytes());
  }
  void put_string(std::string_view s) { put_span(std::span<const char>(s.data(), s.size())); }
  const std::string& bytes() const { return bytes_; }
  /// The bytes; the Packer is empty afterwards.
  std::string take() { return std::move(bytes_); }

 private:
  std::string bytes_;
};

/// Reads back what a Packer (or pack/pack_span below) wrote, in the same order.
class Unpacker {
 public:
  /// Reads `bytes` (viewed, not copied: they must outlive the Unpacker); `what` names the buffer
  /// in error messages ("influence: gathering self-influence").
  explicit Unpacker(std::string_view bytes, std::string what = "Unpacker") : bytes_(bytes), what_(std::move(what)) {}
  template <class T>
    requires std::is_trivially_copyable_v<T>
  T get() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  /// A span written by put_span (length first).
  template <class T>
    requires std::is_trivially_copyable_v<T>
  std::vector<T> get_vector() {
    const uint64_t n = get<uint64_t>();
    const size_t left = (bytes_.size() - pos_) / sizeof(T);
    BL_CHECK(n <= left, what_, ": a message announces ", n, " values but holds ", left);
    std::vector<T> v(static_cast<size_t>(n));
    if (n) std::memcpy(v.data(), bytes_.data() + pos_, static_cast<size_t>(n) * sizeof(T));
    pos_ += static_cast<size_t>(n) * sizeof(T);
    return v;
  }
  std::string get_string() {
    const std::vector<char> c = get_vector<char>();
    return {c.begin(), c.end()};
  }
  /// Whether every byte was read (a reader that expects no more checks this).
  bool done() const { return pos_ == bytes_.size(); }

 private:
  void need(size_t n) const {
    BL_CHECK(bytes_.size() - pos_ >= n, what_, ": a message ended early (", bytes_.size(), " bytes, needed ",
             pos_ + n, ")");
  }
  std::string_view bytes_;
  std::string what_;
  size_t pos_ = 0;
};

/// Appends one value to `out` (Packer::put on a string the caller holds).
template <class T>
  requires std::is_trivially_copyable_v<T>
void pack(std::string& out, const T& v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof(T));
}
/// Appends a span to `out`, length first (Packer::put_span; read with Unpacker::get_vector).
template <class T>
  requires std::is_trivially_copyable_v<T>
void pack_span(std::string& out, std::span<const T> v) {
  pack(out, static_cast<uint64_t>(v.size()));
  out.append(reinterpret_cast<const char*>(v.data()), v.size_bytes());
}

}  // namespace backlight
