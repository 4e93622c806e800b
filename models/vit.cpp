#include "models/vit.h"

#include <array>
#include <vector>

#include "engine/error.h"
#include "engine/modules/all.h"
#include "engine/ops/ops.h"
#include "models/op_path.h"

namespace backlight {

MLPBlock::MLPBlock(int64_t hidden_dim, int64_t mlp_dim, std::mt19937_64& rng) {
  push_back(std::make_shared<Linear>(hidden_dim, mlp_dim, rng));
  push_back(std::make_shared<GELU>());
  push_back(std::make_shared<Dropout>(0.0f));
  push_back(std::make_shared<Linear>(mlp_dim, hidden_dim, rng));
  push_back(std::make_shared<Dropout>(0.0f));
}

EncoderBlock::EncoderBlock(int64_t num_heads, int64_t hidden_dim, int64_t mlp_dim, std::mt19937_64& rng) {
  register_module("ln_1", std::make_shared<LayerNorm>(std::vector<int64_t>{hidden_dim}, 1e-6f));
  register_module("self_attention", std::make_shared<MultiheadAttention>(hidden_dim, num_heads, rng));
  register_module("dropout", std::make_shared<Dropout>(0.0f));
  register_module("ln_2", std::make_shared<LayerNorm>(std::vector<int64_t>{hidden_dim}, 1e-6f));
  register_module("mlp", std::make_shared<MLPBlock>(hidden_dim, mlp_dim, rng));
}

Var EncoderBlock::forward(const Var& x) const {
  Var h = child("dropout").forward(child("self_attention").forward(child("ln_1").forward(x)));
  h = add(h, x, op_path(*this, "residual_attention"));
  const Var y = child("mlp").forward(child("ln_2").forward(h));
  return add(h, y, op_path(*this, "residual_mlp"));
}

Encoder::Encoder(int64_t seq_length, int64_t num_layers, int64_t num_heads, int64_t hidden_dim, int64_t mlp_dim,
                 std::mt19937_64& rng) {
  register_parameter("pos_embedding", init::normal({1, seq_length, hidden_dim}, 0.0f, 0.02f, rng));
  register_module("dropout", std::make_shared<Dropout>(0.0f));
  auto layers = std::make_shared<Sequential>();
  for (int64_t i = 0; i < num_layers; ++i)
    layers->add("encoder_layer_" + std::to_string(i),
                std::make_shared<EncoderBlock>(num_heads, hidden_dim, mlp_dim, rng));
  register_module("layers", layers);
  register_module("ln", std::make_shared<LayerNorm>(std::vector<int64_t>{hidden_dim}, 1e-6f));
}

Var Encoder::forward(const Var& x) const {
  const Tensor& pos = parameter("pos_embedding");
  BL_CHECK_SHAPE(x.shape().rank() == 3 && x.shape()[1] == pos.size(1) && x.shape()[2] == pos.size(2),
                 "Encoder '", path(), "': expected input [N,", pos.size(1), ",", pos.size(2), "], got ", x.shape());
  Var h = add(x, param(x.tape(), "pos_embedding"), op_path(*this, "pos_embedding_add"));
  h = child("dropout").forward(h);
  return child("ln").forward(child("layers").forward(h));
}

VisionTransformer::VisionTransformer(const VisionTransformerConfig& cfg, std::mt19937_64& rng) : cfg_(cfg) {
  BL_CHECK(cfg.image_size > 0 && cfg.patch_size > 0 && cfg.image_size % cfg.patch_size == 0,
           "VisionTransformer: expected image_size divisible by patch_size, got ", cfg.image_size, " and ",
           cfg.patch_size);
  BL_CHECK(cfg.num_layers > 0 && cfg.num_heads > 0 && cfg.hidden_dim > 0 && cfg.mlp_dim > 0,
           "VisionTransformer: expected positive num_layers, num_heads, hidden_dim, mlp_dim, got ", cfg.num_layers,
           ", ", cfg.num_heads, ", ", cfg.hidden_dim, ", ", cfg.mlp_dim);
  const int64_t grid = cfg.image_size / cfg.patch_size;
  const int patch = static_cast<int>(cfg.patch_size);
  register_parameter("class_token", Tensor::zeros({1, 1, cfg.hidden_dim}));
  register_module("conv_proj",
                  std::make_shared<Conv2d>(3, cfg.hidden_dim, patch, rng, Conv2dOptions{.stride = patch}));
  register_module("encoder", std::make_shared<Encoder>(grid * grid + 1, cfg.num_layers, cfg.num_heads,
                                                       cfg.hidden_dim, cfg.mlp_dim, rng));
  auto heads = std::make_shared<Sequential>();
  heads->add("head", std::make_shared<Linear>(cfg.hidden_dim, cfg.num_classes, rng));
  register_module("heads", heads);
}

Var VisionTransformer::forward(const Var& x) const {
  const Shape& s = x.shape();
  BL_CHECK_SHAPE(s.rank() == 4 && s[1] == 3 && s[2] == cfg_.image_size && s[3] == cfg_.image_size,
                 "VisionTransformer: expected input [N,3,", cfg_.image_size, ",", cfg_.image_size, "], got ", s);
  const int64_t n = s[0], d = cfg_.hidden_dim, tokens = (s[2] / cfg_.patch_size) * (s[3] / cfg_.patch_size);
  Var h = child("conv_proj").forward(x);
  const std::array<int64_t, 3> flat{n, d, tokens};
  h = reshape(h, flat, op_path(*this, "reshape_patches"));
  const std::array<int, 3> to_sequence{0, 2, 1};
  h = permute(h, to_sequence, op_path(*this, "permute_patches"));

  // torch's class_token.expand(n, -1, -1) as a concat of n copies: the gradient of every copy
  // flows back to the one parameter leaf.
  const std::vector<Var> copies(static_cast<size_t>(n), param(x.tape(), "class_token"));
  const Var cls = concat(copies, 0, op_path(*this, "class_token_expand"));
  const std::array<Var, 2> parts{cls, h};
  h = concat(parts, 1, op_path(*this, "class_token_cat"));

  h = child("encoder").forward(h);
  h = slice(h, 1, 0, 1, 1, op_path(*this, "class_token_select"));
  const std::array<int64_t, 2> squeezed{n, d};
  h = reshape(h, squeezed, op_path(*this, "class_token_squeeze"));
  return child("heads").forward(h);
}

}  // namespace backlight
