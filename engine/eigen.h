#pragma once
/// Eigen views of tensor memory (row-major, no copies).
#include <Eigen/Core>

namespace backlight {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using MatMap = Eigen::Map<RowMatrix>;
using ConstMatMap = Eigen::Map<const RowMatrix>;
using VecMap = Eigen::Map<Eigen::VectorXf>;
using ConstVecMap = Eigen::Map<const Eigen::VectorXf>;

inline MatMap mat(float* p, int64_t rows, int64_t cols) { return MatMap(p, rows, cols); }
inline ConstMatMap mat(const float* p, int64_t rows, int64_t cols) { return ConstMatMap(p, rows, cols); }

}  // namespace backlight
