#include "attribution/concepts/tcav_scores.h"

#include "engine/error.h"

namespace backlight {

TcavAccumulator::TcavAccumulator(Eigen::MatrixXf cavs)
    : cavs_(std::move(cavs)), positive_(static_cast<size_t>(cavs_.rows()), 0), sum_(static_cast<size_t>(cavs_.rows()), 0.0) {
  BL_CHECK(cavs_.rows() >= 1 && cavs_.cols() >= 1, "TcavAccumulator: expected CAVs [m, p] with m, p >= 1, got [",
           cavs_.rows(), ", ", cavs_.cols(), "]");
}

void TcavAccumulator::add(
    const Eigen::Ref<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>& grads) {
  BL_CHECK(grads.cols() == cavs_.cols(), "TcavAccumulator: gradients have ", grads.cols(), " features, the CAVs ",
           cavs_.cols());
  BL_CHECK(grads.allFinite(), "TcavAccumulator: the layer gradients hold non-finite values");
  // [b, m] directional derivatives: one matrix product per batch and layer for every CAV. Float
  // products (as Captum's torch.matmul) summed in double.
  const Eigen::MatrixXf s = grads * cavs_.transpose();
  for (int64_t j = 0; j < s.cols(); ++j)
    for (int64_t i = 0; i < s.rows(); ++i) {
      positive_[static_cast<size_t>(j)] += s(i, j) > 0.0f;
      sum_[static_cast<size_t>(j)] += s(i, j);
    }
  inputs_ += grads.rows();
}

std::vector<TcavScore> TcavAccumulator::scores() const {
  BL_CHECK(inputs_ > 0, "TcavAccumulator: no inputs were added");
  std::vector<TcavScore> out(positive_.size());
  for (size_t j = 0; j < out.size(); ++j)
    out[j] = {static_cast<double>(positive_[j]) / static_cast<double>(inputs_), sum_[j] / static_cast<double>(inputs_)};
  return out;
}

std::vector<TcavScore> tcav_scores(const Eigen::MatrixXf& grads, const Eigen::MatrixXf& cavs) {
  TcavAccumulator acc(cavs);
  acc.add(grads);
  return acc.scores();
}

}  // namespace backlight
