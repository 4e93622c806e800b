#pragma once
/// ONNX node names -> PyTorch module paths. torch.onnx.export (1.13) names each node by its
/// module scope and op: "/layer1/layer1.0/conv1/Conv" is module layer1.0.conv1, and a child of a
/// Sequential repeats its parent's name ("/features/features.1/conv/conv.0/conv.0.0/Conv" is
/// features.1.conv.0.0). A module called twice gets "_1", "_2" on its later calls
/// ("/layer1/layer1.0/relu_1/Relu"); the suffix is dropped when the same scope without it exists.
#include <string>
#include <vector>

#include "models/onnx/graph.h"

namespace backlight::onnx {

/// Module path of every node of `g` (same order). Nodes without a torch scope take the prefix
/// of their first weight's state-dict name ("conv1.weight" -> "conv1") or, failing that, their
/// own name with '/' and '.' replaced by '_' (or "<OpType>_<index>" when unnamed).
std::vector<std::string> module_paths(const Graph& g);

}  // namespace backlight::onnx
