#pragma once
/// OpKind: the kinds of tape nodes, generated from op_kinds.def (the single op registry).
#include <optional>
#include <span>
#include <string_view>

namespace backlight {

enum class OpKind {
#define X(e, name, family) e,
#include "engine/op_kinds.def"
#undef X
};

/// How rules see an op (see op_kinds.def).
enum class OpFamily { Linear, Elementwise, Other };

std::string_view to_string(OpKind kind);
OpFamily family_of(OpKind kind);
/// Kind by its snake_case name ("conv2d"); nullopt when unknown.
std::optional<OpKind> op_kind_from_string(std::string_view name);
/// Every kind, in declaration order.
std::span<const OpKind> all_op_kinds();

}  // namespace backlight
