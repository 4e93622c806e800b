#pragma once
/// OpKind and the per-op facts, generated from engine/op_kinds.def (the single op table; its
/// header comment defines each column). Everything that differs per op kind outside the op's own
/// forward, VJP and kernels is derived from these facts.
#include <optional>
#include <span>
#include <string_view>

namespace backlight {

enum class OpKind {
#define X(e, name, family, nonlinearity, batch, region) e,
#include "engine/op_kinds.def"
#undef X
};

/// How rules see an op: is_affine_kind (LRP) is family Linear.
enum class OpFamily { Linear, Elementwise, Other };
/// What DeepLIFT (engine/rules/deeplift.cpp), guided backprop / deconvnet (modified_relu.cpp)
/// and the LRP sets' activations() (builtin_sets.cpp) do with the op.
enum class Nonlinearity { None, ReluLike, Smooth, Softmax, MaxPool };
/// How rows of the batch flow through the op (incremental occlusion's replay check).
enum class BatchFlow { Rows, Params, Broadcast, Batched, Mixes };
/// How a spatial change region propagates (incremental occlusion's plan).
enum class RegionFlow { Pointwise, ConvWindow, MaxWindow, AvgWindow, Binary, Global };

/// One row of op_kinds.def.
struct OpFacts {
  OpKind kind;
  std::string_view name;
  OpFamily family;
  Nonlinearity nonlinearity;
  BatchFlow batch;
  RegionFlow region;
};

std::string_view to_string(OpKind kind);
const OpFacts& facts_of(OpKind kind);
OpFamily family_of(OpKind kind);
/// Kind by its snake_case name ("conv2d"); nullopt when unknown.
std::optional<OpKind> op_kind_from_string(std::string_view name);
/// Every kind, in declaration order.
std::span<const OpKind> all_op_kinds();

}  // namespace backlight
