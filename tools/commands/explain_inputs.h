#pragma once
/// `backlight explain` on inputs that are not images: `--input x.npy` of any shape the model
/// takes - tabular rows [N, F] (float32), token ids [N, T] (int64 or int32) for text models -
/// besides images [N, C, H, W]. Decides the input's kind, which methods apply to it and how
/// (token ids are not differentiable: gradient methods attribute at the embedding output, as
/// Captum's LayerIntegratedGradients on the embedding layer, summed over the embedding dimension
/// per token), and writes the outputs people read: per-token HTML (Captum's visualize_text) and
/// PNG (render/token_view.h), a bar chart for tabular rows (render/bar_chart.h).
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "attribution/registry.h"
#include "engine/module.h"
#include "io/atomic_write.h"
#include "tools/commands/explain_config.h"
#include "tools/commands/explain_job.h"

namespace backlight::cli {

/// --input FILE.npy: the first item of the array, as the model takes it. float32 [C,H,W] or
/// [N,C,H,W]: an image (shown min-max scaled); float32 [F] or [N,F]: a tabular row; int64/int32
/// [T] or [N,T]: token ids. A kind the model does not take (ids for a float model, floats for a
/// text model: config.model_takes_ids) is a UsageError naming the file, its dtype and shape and
/// what the model expects. Zero dimensions and NaN/Inf throw naming the file (and index).
ExplainInput load_npy_input(const std::string& path, const ExplainConfig& config);

/// Checks that every --method applies to the input kind and that the kind-specific flags fit it
/// (--tokens, --baseline-token and --html only for token ids, --feature-names only for tabular
/// rows, with as many names as features; --tokens with a line for every id in the input; no
/// --baseline other than zero for token ids). Throws UsageError naming the method or flag, the
/// input kind and what is accepted. Also sets the baseline of token inputs (--baseline-token).
void check_input_kind(ExplainConfig& config, const ExplainInput& input);

/// For token ids without --layer: the module path of the first embedding lookup on the input
/// (the first `embedding` node of a forward pass: ONNX Gather from a constant table). Throws
/// asking for --layer when the model has none.
std::string embedding_layer(const Module& model, const Tensor& input);

/// The registry method that computes `method` on an input of `kind` (token ids: saliency ->
/// layer_gradient_x_activation without the activation, integrated_gradients ->
/// layer_integrated_gradients, input_x_gradient -> layer_gradient_x_activation, deeplift ->
/// layer_deeplift, lrp -> layer_lrp; everything else is itself).
std::string computed_method(InputKind kind, const std::string& method);

/// Runs `method` on `inputs` of `kind` and returns the attribution the outputs show: for token
/// ids one value per token [N, T] (layer attributions summed over the dimensions after the
/// token axis, saliency as the sum of |gradient|; perturbation methods replace tokens with the
/// baseline token); other kinds: attribute() unchanged.
AttributionResult attribute_input(InputKind kind, const std::string& method, const Module& model,
                                  const Tensor& inputs, const Target& target, const MethodOptions& options);

/// Writes the picture (token boxes or bar chart, --out) and, for token ids, the HTML page
/// (--html, default --out with the extension .html) of a non-image record, staged into `files`
/// with the caller's other outputs. Returns the HTML path ("" for tabular rows).
std::string stage_non_image_outputs(const ExplainInput& input, const ExplainRecord& record,
                                    const ExplainConfig& config, StagedFiles& files);

/// The per-item values of a non-image record for --json: {"kind", "tokens" or "features",
/// "attributions": {method: [...]}}.
nlohmann::json non_image_json(const ExplainInput& input, const ExplainRecord& record, const ExplainConfig& config);

/// The token strings of `ids` (--tokens lines by id, else the ids as text).
std::vector<std::string> token_strings(const Tensor& ids, const ExplainConfig& config);

}  // namespace backlight::cli
