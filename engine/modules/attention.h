#pragma once
/// nn.MultiheadAttention (self-attention), composed of atomic tape nodes so rules can target
/// every step (AttnLRP-style rules on softmax and the two matmuls, rollout on the weights).
#include <random>

#include "engine/module.h"

namespace backlight {

/// Constructor keyword arguments. batch_first defaults to true here (PyTorch: false).
struct MultiheadAttentionOptions {
  bool bias = true;
  bool batch_first = true;
};

/// The attention output and the attention probabilities.
struct AttentionOutput {
  Var output;   ///< [N, L, E] ([L, N, E] when !batch_first)
  Var weights;  ///< [N, L, L] averaged over heads, or [N, H, L, L] per head
};

/// Self-attention y = MHA(x, x, x) with PyTorch's parameter names and math:
///   q, k, v = x Wq^T + bq, x Wk^T + bk, x Wv^T + bv   (row blocks of in_proj_weight [3E, E])
///   P = softmax(q_h k_h^T / sqrt(D)) per head h,  D = E / num_heads
///   y = concat_h(P_h v_h) Wo^T + bo                   (out_proj)
/// Parameters: in_proj_weight [3E, E] (xavier_uniform), in_proj_bias [3E] (zeros), child out_proj
/// (NonDynamicallyQuantizableLinear E -> E, bias zeros). No masks, no dropout, no separate k/v dims.
///
/// Tape nodes for x [N, L, E] (names relative to the module path P, e.g. "P.q_proj"):
///   P.q_proj, P.k_proj, P.v_proj       linear, weight leaves are row-block views of in_proj_weight
///                                       (leaf name P.in_proj_weight / P.in_proj_bias, three each)
///   P.q_split, P.k_split, P.v_split    reshape [N, L, H, D]
///   P.q_heads, P.v_heads               permute -> [N, H, L, D];  P.k_heads permute -> [N, H, D, L]
///   P.scores                           matmul q k^T  [N, H, L, L]
///   P.scale                            scale by 1/sqrt(D)
///   P.softmax                          softmax over the last axis (the attention probabilities)
///   P.context                          matmul P v  [N, H, L, D]
///   P.merge_heads, P.merge             permute -> [N, L, H, D], reshape [N, L, E]
///   P.out_proj                         linear (the child module)
///   P.attn_weights                     mean over heads (forward_with_weights, averaged only)
///   P.to_batch_first, P.to_seq_first   transposes around all of it when !batch_first
class MultiheadAttention : public ModuleImpl<MultiheadAttention> {
 public:
  MultiheadAttention(int64_t embed_dim, int64_t num_heads, std::mt19937_64& rng,
                     MultiheadAttentionOptions options = {});

  /// Self-attention output only.
  Var forward(const Var& x) const override;
  /// Output and attention probabilities (PyTorch need_weights=True; average_attn_weights as
  /// PyTorch: mean over heads -> [N, L, L], else [N, H, L, L], the softmax node itself).
  AttentionOutput forward_with_weights(const Var& x, bool average_attn_weights = true) const;
  std::string type_name() const override { return "MultiheadAttention"; }

  int64_t embed_dim() const { return embed_dim_; }
  int64_t num_heads() const { return num_heads_; }
  int64_t head_dim() const { return embed_dim_ / num_heads_; }
  const MultiheadAttentionOptions& options() const { return options_; }

 private:
  AttentionOutput run(const Var& x, bool want_weights, bool average) const;
  int64_t embed_dim_, num_heads_;
  MultiheadAttentionOptions options_;
};

}  // namespace backlight
