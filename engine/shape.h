#pragma once
/// Shape: up to 8 dimensions of a dense row-major tensor, stored inline (no allocation).
#include <array>
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <span>
#include <string>
#include <vector>

namespace backlight {

class Shape {
 public:
  static constexpr int kMaxDims = 8;

  Shape() = default;
  Shape(std::initializer_list<int64_t> dims);
  explicit Shape(std::span<const int64_t> dims);
  explicit Shape(const std::vector<int64_t>& dims) : Shape(std::span<const int64_t>(dims)) {}

  int rank() const { return rank_; }
  /// Dimension d; negative d counts from the end (-1 is the last). Throws on out of range.
  int64_t operator[](int d) const { return dims_[norm_axis(d)]; }
  int64_t& operator[](int d) { return dims_[norm_axis(d)]; }
  int64_t numel() const;
  /// Product of the dimensions in [begin, end).
  int64_t numel_range(int begin, int end) const;
  /// Row-major stride of dimension d (elements).
  int64_t stride(int d) const { return numel_range(norm_axis(d) + 1, rank_); }
  /// Maps a possibly negative axis to [0, rank); throws naming the axis and rank otherwise.
  int norm_axis(int d) const;

  std::span<const int64_t> dims() const { return {dims_.data(), static_cast<size_t>(rank_)}; }
  std::vector<int64_t> to_vector() const { return {dims_.begin(), dims_.begin() + rank_}; }
  void push_back(int64_t d);
  std::string str() const;  // "[1,3,224,224]"

  bool operator==(const Shape& o) const;
  bool operator!=(const Shape& o) const { return !(*this == o); }

 private:
  std::array<int64_t, kMaxDims> dims_{};
  int rank_ = 0;
};

std::ostream& operator<<(std::ostream& os, const Shape& s);

}  // namespace backlight
