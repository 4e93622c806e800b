#pragma once
/// Graph -> Program (internal to models/onnx/): slots, load-time folding, GELU fusion and the
/// supported-op check; every error names the file and the node.
#include "models/onnx/program.h"

namespace backlight::onnx {

Program build_program(const Graph& g);

}  // namespace backlight::onnx
