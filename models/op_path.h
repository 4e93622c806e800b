#pragma once
/// Names of functional ops recorded by zoo modules (ops with no module of their own in PyTorch:
/// torch.flatten, the residual `+`, torch.cat of the class token).
#include <string>
#include <string_view>

#include "engine/module.h"

namespace backlight {

/// "<path>.<suffix>", or "<suffix>" for the root module.
inline std::string op_path(const Module& m, std::string_view suffix) {
  return m.path().empty() ? std::string(suffix) : m.path() + "." + std::string(suffix);
}

}  // namespace backlight
