#include "engine/shape.h"

#include <ostream>

#include "engine/error.h"

namespace backlight {

Shape::Shape(std::initializer_list<int64_t> dims) : Shape(std::span<const int64_t>(dims.begin(), dims.size())) {}

Shape::Shape(std::span<const int64_t> dims) {
  BL_CHECK_SHAPE(dims.size() <= kMaxDims, "Shape: at most ", kMaxDims, " dimensions supported, got ", dims.size());
  for (int64_t d : dims) BL_CHECK_SHAPE(d >= 0, "Shape: dimensions must be >= 0, got ", d);
  rank_ = static_cast<int>(dims.size());
  for (int i = 0; i < rank_; ++i) dims_[i] = dims[i];
}

int Shape::norm_axis(int d) const {
  const int a = d < 0 ? d + rank_ : d;
  BL_CHECK_SHAPE(a >= 0 && a < rank_, "Shape: axis ", d, " out of range for shape ", str());
  return a;
}

int64_t Shape::numel() const { return numel_range(0, rank_); }

int64_t Shape::numel_range(int begin, int end) const {
  // A zero anywhere makes the product 0 even when the other dimensions alone would overflow
  // ([2^40, 2^40, 0] from an empty .npy): look for it first.
  for (int i = begin; i < end; ++i)
    if (dims_[i] == 0) return 0;
  int64_t n = 1;
  for (int i = begin; i < end; ++i)
    BL_CHECK_SHAPE(!__builtin_mul_overflow(n, dims_[i], &n), "Shape: ", str(), " has more than 2^63 elements");
  return n;
}

void Shape::push_back(int64_t d) {
  BL_CHECK_SHAPE(rank_ < kMaxDims, "Shape: at most ", kMaxDims, " dimensions supported");
  dims_[rank_++] = d;
}

std::string Shape::str() const {
  std::string s = "[";
  for (int i = 0; i < rank_; ++i) {
    if (i) s += ",";
    s += std::to_string(dims_[i]);
  }
  return s + "]";
}

bool Shape::operator==(const Shape& o) const {
  if (rank_ != o.rank_) return false;
  for (int i = 0; i < rank_; ++i)
    if (dims_[i] != o.dims_[i]) return false;
  return true;
}

std::ostream& operator<<(std::ostream& os, const Shape& s) { return os << s.str(); }

}  // namespace backlight
