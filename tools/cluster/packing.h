#pragma once
/// Bytes for the collectives of tools/cluster/cluster.h (gather, all_gather move strings): a
/// rank's results packed as little-endian host values, read back in the same order on the
/// receiving rank. Every rank of a job runs the same binary on the same kind of machine, so
/// values are copied as they are in memory; a short or malformed message throws naming what was
/// being read.
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "engine/error.h"

namespace backlight::cli {

class Packer {
 public:
  template <class T>
    requires std::is_trivially_copyable_v<T>
  void put(const T& v) {
    bytes_.append(reinterpret_cast<const char*>(&v), sizeof(T));
  }
  /// A length (uint64) and the values.
  template <class T>
    requires std::is_trivially_copyable_v<T>
  void put_span(std::span<const T> v) {
    put<uint64_t>(v.size());
    bytes_.append(reinterpret_cast<const char*>(v.data()), v.size_bytes());
  }
  void put_string(const std::string& s) { put_span(std::span<const char>(s.data(), s.size())); }
  const std::string& bytes() const { return bytes_; }
  std::string take() { return std::move(bytes_); }

 private:
  std::string bytes_;
};

class Unpacker {
 public:
  /// Reads `bytes` (kept by reference: it must outlive the Unpacker); `what` names the message.
  Unpacker(const std::string& bytes, std::string what) : bytes_(bytes), what_(std::move(what)) {}
  template <class T>
    requires std::is_trivially_copyable_v<T>
  T get() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  template <class T>
    requires std::is_trivially_copyable_v<T>
  std::vector<T> get_vector() {
    const uint64_t n = get<uint64_t>();
    BL_CHECK(n <= (bytes_.size() - pos_) / sizeof(T), what_, ": a message announces ", n, " values but holds ",
             (bytes_.size() - pos_) / sizeof(T));
    std::vector<T> v(static_cast<size_t>(n));
    if (n) std::memcpy(v.data(), bytes_.data() + pos_, static_cast<size_t>(n) * sizeof(T));
    pos_ += static_cast<size_t>(n) * sizeof(T);
    return v;
  }
  std::string get_string() {
    const std::vector<char> c = get_vector<char>();
    return {c.begin(), c.end()};
  }
  bool done() const { return pos_ == bytes_.size(); }

 private:
  void need(size_t n) const {
    BL_CHECK(bytes_.size() - pos_ >= n, what_, ": a message ended early (", bytes_.size(), " bytes, needed ",
             pos_ + n, ")");
  }
  const std::string& bytes_;
  std::string what_;
  size_t pos_ = 0;
};

}  // namespace backlight::cli
