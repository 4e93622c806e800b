#pragma once
/// Attention rollout (Abnar & Zuidema 2020) for transformers built from MultiheadAttention
/// (engine/modules/attention.h), e.g. the ViT of models/vit.h.
///
/// The attention maps are read off the tape, no hooks: every softmax node whose output is
/// [N, heads, L, L] (MultiheadAttention records its probabilities as "<module path>.softmax"),
/// optionally only those under the module path `layer` ("encoder.layers" or one block), in
/// forward order. Per layer l, with the heads fused (mean, max or min over the head axis):
///   A~_l = rownorm(0.5 A_l + 0.5 I)        (residual identity; rownorm divides each row by its sum)
///   R = A~_L ... A~_2 A~_1                  ([N, L, L], token i's attention flow to the inputs)
/// Without `residual`, A~_l = rownorm(A_l).
///
/// Layout of the result (token 0 is the class token, as torchvision's ViT):
///   layer_map    row 0 of R without its own column, R[:, 0, 1:]: [N, 1, g, g] when L = 1 + g^2
///                (patch grid, row-major as the patches were flattened), else [N, L - 1]
///   attribution  the grid map upsampled bilinearly to the input size [N, 1, H, W] for image
///                inputs [N, C, H, W] with a grid; else the layer map
/// Rollout does not depend on the target class; result.target/output are filled for reference.
#include <string>
#include <string_view>

#include "attribution/core/pass.h"
#include "attribution/core/result.h"

namespace backlight {

enum class HeadFusion { Mean, Max, Min };
/// "mean", "max", "min"; throws listing the accepted names.
HeadFusion head_fusion_from_string(std::string_view name);

struct AttentionRolloutOptions {
  HeadFusion head_fusion = HeadFusion::Mean;
  bool residual = true;  ///< add the identity for the residual connection (0.5 A + 0.5 I)
  std::string layer;     ///< only attention maps under this module path; empty: all
  const Workspace* workspace = nullptr;
};

/// The rollout matrices R [N, L, L] of a recorded tape; throws when no attention map is found
/// (naming `layer`) or the maps disagree in shape.
Tensor attention_rollout_matrix(const Tape& tape, const AttentionRolloutOptions& options = {});

/// One recorded forward, then the rollout above.
AttributionResult attention_rollout(const Module& model, const Tensor& inputs, const Target& target,
                                    const AttentionRolloutOptions& options = {});

}  // namespace backlight
