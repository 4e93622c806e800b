// TEMPORARY stubs, removed as the ops land (each throws, nothing is silently wrong).
#include "engine/ops.h"
#include "engine/vjp.h"

#pragma GCC diagnostic ignored "-Wunused-parameter"
namespace backlight {

Var batchnorm(const Var&, const Var&, const Var&, const Var&, const Var&, float, std::string_view) { BL_THROW("batchnorm: not implemented yet"); }
Var avgpool2d(const Var&, const Pool2dAttrs&, std::string_view) { BL_THROW("avgpool2d: not implemented yet"); }
Var adaptive_avgpool2d(const Var&, int64_t, int64_t, std::string_view) { BL_THROW("adaptive_avgpool2d: not implemented yet"); }
Var maxpool2d(const Var&, const Pool2dAttrs&, std::string_view) { BL_THROW("maxpool2d: not implemented yet"); }
Var softmax(const Var&, int, std::string_view) { BL_THROW("softmax: not implemented yet"); }
Var log_softmax(const Var&, int, std::string_view) { BL_THROW("log_softmax: not implemented yet"); }
Var layernorm(const Var&, const Var&, const Var&, int, float, std::string_view) { BL_THROW("layernorm: not implemented yet"); }

std::vector<Tensor> vjp_BatchNorm(const RuleContext&, const Tensor&) { BL_THROW("vjp_BatchNorm: not implemented yet"); }
std::vector<Tensor> vjp_AvgPool2d(const RuleContext&, const Tensor&) { BL_THROW("vjp_AvgPool2d: not implemented yet"); }
std::vector<Tensor> vjp_AdaptiveAvgPool2d(const RuleContext&, const Tensor&) { BL_THROW("vjp_AdaptiveAvgPool2d: not implemented yet"); }
std::vector<Tensor> vjp_MaxPool2d(const RuleContext&, const Tensor&) { BL_THROW("vjp_MaxPool2d: not implemented yet"); }
std::vector<Tensor> vjp_Softmax(const RuleContext&, const Tensor&) { BL_THROW("vjp_Softmax: not implemented yet"); }
std::vector<Tensor> vjp_LogSoftmax(const RuleContext&, const Tensor&) { BL_THROW("vjp_LogSoftmax: not implemented yet"); }
std::vector<Tensor> vjp_LayerNorm(const RuleContext&, const Tensor&) { BL_THROW("vjp_LayerNorm: not implemented yet"); }

}  // namespace backlight
