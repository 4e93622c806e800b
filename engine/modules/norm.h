#pragma once
/// nn.BatchNorm1d, nn.BatchNorm2d (inference mode) and nn.LayerNorm.
#include <vector>

#include "engine/module.h"

namespace backlight {

/// Inference-mode batch norm over axis 1 with the running statistics, as one `batchnorm` tape
/// node: y = (x - running_mean) / sqrt(running_var + eps) * weight + bias. There is no training
/// mode (statistics are never updated). Parameters weight [C] (ones), bias [C] (zeros); buffers
/// running_mean [C] (zeros), running_var [C] (ones) and num_batches_tracked (one element, shape [],
/// zero; unused, kept so state_dict keys match torchvision checkpoints).
class BatchNorm : public Module {
 public:
  Var forward(const Var& x) const override;
  int64_t num_features() const { return num_features_; }
  float eps() const { return eps_; }

 protected:
  BatchNorm(int64_t num_features, float eps);
  /// Whether an input of this rank is accepted, and how to describe the accepted shapes.
  virtual bool accepts_rank(int rank) const = 0;
  virtual const char* expected_shape() const = 0;

 private:
  int64_t num_features_;
  float eps_;
};

/// Input [N, C] or [N, C, L].
class BatchNorm1d : public BatchNorm {
 public:
  explicit BatchNorm1d(int64_t num_features, float eps = 1e-5f) : BatchNorm(num_features, eps) {}
  std::string type_name() const override { return "BatchNorm1d"; }

 protected:
  bool accepts_rank(int rank) const override { return rank == 2 || rank == 3; }
  const char* expected_shape() const override { return "[N,C] or [N,C,L]"; }
  ModulePtr shallow_copy() const override { return std::make_shared<BatchNorm1d>(*this); }
};

/// Input [N, C, H, W].
class BatchNorm2d : public BatchNorm {
 public:
  explicit BatchNorm2d(int64_t num_features, float eps = 1e-5f) : BatchNorm(num_features, eps) {}
  std::string type_name() const override { return "BatchNorm2d"; }

 protected:
  bool accepts_rank(int rank) const override { return rank == 4; }
  const char* expected_shape() const override { return "[N,C,H,W]"; }
  ModulePtr shallow_copy() const override { return std::make_shared<BatchNorm2d>(*this); }
};

/// Normalises the trailing dims given by normalized_shape, as one `layernorm` tape node.
/// Parameters (when elementwise_affine): weight (ones) and bias (zeros) of normalized_shape.
class LayerNorm : public ModuleImpl<LayerNorm> {
 public:
  explicit LayerNorm(std::vector<int64_t> normalized_shape, float eps = 1e-5f, bool elementwise_affine = true);
  Var forward(const Var& x) const override;
  std::string type_name() const override { return "LayerNorm"; }
  const std::vector<int64_t>& normalized_shape() const { return normalized_shape_; }
  float eps() const { return eps_; }

 private:
  std::vector<int64_t> normalized_shape_;
  float eps_;
};

}  // namespace backlight
