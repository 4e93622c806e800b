#pragma once
/// FLOP counts of a recorded forward pass, from the tape (for benchmarks' GFLOP/s and the
/// efficiency of attribution workloads). Only the products are counted - they are where the time
/// goes: a multiply-add counts 2 FLOPs, element-wise ops, pooling, batchnorm and bias additions
/// count 0 (they are memory-bound and well under 1% of the products in the zoo's CNNs).
///
///   conv2d  2 * numel(out) * (C / groups) * kH * kW     (= 2 N O OH OW (C/g) kH kW)
///   linear  2 * numel(out) * in_features
///   matmul  2 * numel(out) * K                           (a [.., M, K] x [.., K, N])
///
/// The input gradient of one of these nodes (W^T g, or the transposed convolution) has the same
/// count as its forward; so has each LRP term that re-applies the node with modified weights.
///
///   Tape tape;
///   model.forward(tape.input(Tensor::zeros(Shape{1, 3, 224, 224})));
///   double f = forward_flops(tape).total;   // resnet18: 3.64e9
#include <string>
#include <vector>

#include "engine/module.h"

namespace backlight {

/// One counted node of a tape.
struct NodeFlops {
  int node = -1;      ///< index on the tape
  OpKind kind;
  std::string name;   ///< module path of the node
  double flops = 0;
};

struct FlopCount {
  double total = 0;
  double conv = 0, linear = 0, matmul = 0;
  std::vector<NodeFlops> nodes;  ///< the counted nodes (conv2d, linear, matmul) in tape order
};

/// FLOPs of a single node by the table above (0 for the other kinds).
double node_flops(const Tape& tape, const Node& node);
/// The counted nodes of a recorded tape. Throws when the tape records nothing (inference mode).
FlopCount forward_flops(const Tape& tape);
/// Records one forward of `model` on an input of `input_shape` (zeros; the count does not depend
/// on the values) and counts it.
FlopCount model_forward_flops(const Module& model, const Shape& input_shape);

}  // namespace backlight
