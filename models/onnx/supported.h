#pragma once
/// The importer's op table: which ONNX ops run on the tape (and as which tape op), which fold
/// as constants, and the opset range. One table feeds the load-time check, `backlight layers`
/// and docs/models.md.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "models/onnx/graph.h"

namespace backlight::onnx {

inline constexpr int64_t kMinOpset = 11;  ///< Slice/Pad/Clip take their arguments as inputs
inline constexpr int64_t kMaxOpset = 18;

struct OpSupport {
  std::string_view op;
  std::string_view tape_op;  ///< what it becomes ("folded" when only constant)
  std::string_view notes;
};
/// Every supported op type, in table order.
std::vector<OpSupport> supported_ops();
/// Throws naming the node, op type and the supported list when the op cannot run on the tape.
void check_supported(const Node& n, std::string_view source);

}  // namespace backlight::onnx
