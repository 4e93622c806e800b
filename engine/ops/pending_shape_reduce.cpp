// TEMPORARY stubs, removed as the ops land (each throws, nothing is silently wrong).
#include "engine/ops.h"
#include "engine/vjp.h"

#pragma GCC diagnostic ignored "-Wunused-parameter"
namespace backlight {

Var reshape(const Var& x, std::span<const int64_t>, std::string_view) { BL_THROW("reshape: not implemented yet"); }
Var flatten(const Var& x, int, int, std::string_view) { BL_THROW("flatten: not implemented yet"); }
Var permute(const Var& x, std::span<const int>, std::string_view) { BL_THROW("permute: not implemented yet"); }
Var transpose(const Var& x, int, int, std::string_view) { BL_THROW("transpose: not implemented yet"); }
Var concat(std::span<const Var>, int, std::string_view) { BL_THROW("concat: not implemented yet"); }
Var slice(const Var& x, int, int64_t, int64_t, int64_t, std::string_view) { BL_THROW("slice: not implemented yet"); }
Var pad(const Var& x, std::span<const int64_t>, float, std::string_view) { BL_THROW("pad: not implemented yet"); }
Var sum(const Var& x, std::span<const int>, bool, std::string_view) { BL_THROW("sum: not implemented yet"); }
Var mean(const Var& x, std::span<const int>, bool, std::string_view) { BL_THROW("mean: not implemented yet"); }
Var embedding(const Tensor&, const Var&, std::string_view) { BL_THROW("embedding: not implemented yet"); }
Var matmul(const Var&, const Var&, std::string_view) { BL_THROW("matmul: not implemented yet"); }

std::vector<Tensor> vjp_Reshape(const RuleContext&, const Tensor&) { BL_THROW("vjp_Reshape: not implemented yet"); }
std::vector<Tensor> vjp_Permute(const RuleContext&, const Tensor&) { BL_THROW("vjp_Permute: not implemented yet"); }
std::vector<Tensor> vjp_Concat(const RuleContext&, const Tensor&) { BL_THROW("vjp_Concat: not implemented yet"); }
std::vector<Tensor> vjp_Slice(const RuleContext&, const Tensor&) { BL_THROW("vjp_Slice: not implemented yet"); }
std::vector<Tensor> vjp_Pad(const RuleContext&, const Tensor&) { BL_THROW("vjp_Pad: not implemented yet"); }
std::vector<Tensor> vjp_Sum(const RuleContext&, const Tensor&) { BL_THROW("vjp_Sum: not implemented yet"); }
std::vector<Tensor> vjp_Mean(const RuleContext&, const Tensor&) { BL_THROW("vjp_Mean: not implemented yet"); }
std::vector<Tensor> vjp_Embedding(const RuleContext&, const Tensor&) { BL_THROW("vjp_Embedding: not implemented yet"); }
std::vector<Tensor> vjp_MatMul(const RuleContext&, const Tensor&) { BL_THROW("vjp_MatMul: not implemented yet"); }

}  // namespace backlight
