#pragma once
/// Vision Transformer as torchvision.models.vit_* (Dosovitskiy et al. 2021), with torchvision's
/// names: conv_proj, class_token, encoder.pos_embedding, encoder.dropout,
/// encoder.layers.encoder_layer_{i}.{ln_1, self_attention, dropout, ln_2, mlp.{0..4}},
/// encoder.ln, heads.head. LayerNorm eps 1e-6, exact GELU, no dropout at inference.
///
/// Tape nodes besides the modules' own (P = the root path, "" at the root, so names are bare):
///   reshape_patches [N, D, h*w], permute_patches [N, h*w, D]       torchvision _process_input
///   class_token_expand  concat of N copies of class_token [1, 1, D] along axis 0 (its `expand`)
///   class_token_cat     concat [class token; patches] along axis 1 -> [N, 1 + h*w, D]
///   encoder.pos_embedding_add                                     input + pos_embedding
///   <block>.residual_attention, <block>.residual_mlp              the two residual `add` nodes
///   class_token_select  slice token 0 -> [N, 1, D]; class_token_squeeze reshape -> [N, D]
/// Input [N, 3, image_size, image_size] (the position embedding fixes the image size).
#include <cstdint>
#include <random>

#include "engine/modules/container.h"

namespace backlight {

struct VisionTransformerConfig {
  int64_t image_size = 224;
  int64_t patch_size = 16;
  int64_t num_layers = 12;
  int64_t num_heads = 12;
  int64_t hidden_dim = 768;
  int64_t mlp_dim = 3072;
  int64_t num_classes = 1000;
};

/// Sequential(0 Linear(D, mlp_dim), 1 GELU, 2 Dropout(0), 3 Linear(mlp_dim, D), 4 Dropout(0)).
class MLPBlock : public Sequential {
 public:
  MLPBlock(int64_t hidden_dim, int64_t mlp_dim, std::mt19937_64& rng);
  std::string type_name() const override { return "MLPBlock"; }

 protected:
  ModulePtr shallow_copy() const override { return std::make_shared<MLPBlock>(*this); }
};

/// Pre-norm block: x = x + dropout(self_attention(ln_1(x))); x = x + mlp(ln_2(x)). [N, L, D].
class EncoderBlock : public ModuleImpl<EncoderBlock> {
 public:
  EncoderBlock(int64_t num_heads, int64_t hidden_dim, int64_t mlp_dim, std::mt19937_64& rng);
  Var forward(const Var& x) const override;
  std::string type_name() const override { return "EncoderBlock"; }
};

/// ln(layers(dropout(x + pos_embedding))), pos_embedding [1, seq_length, D] ~ N(0, 0.02).
class Encoder : public ModuleImpl<Encoder> {
 public:
  Encoder(int64_t seq_length, int64_t num_layers, int64_t num_heads, int64_t hidden_dim, int64_t mlp_dim,
          std::mt19937_64& rng);
  Var forward(const Var& x) const override;
  std::string type_name() const override { return "Encoder"; }
};

class VisionTransformer : public ModuleImpl<VisionTransformer> {
 public:
  VisionTransformer(const VisionTransformerConfig& cfg, std::mt19937_64& rng);
  Var forward(const Var& x) const override;
  std::string type_name() const override { return "VisionTransformer"; }
  const VisionTransformerConfig& config() const { return cfg_; }

 private:
  VisionTransformerConfig cfg_;
};

}  // namespace backlight
