#pragma once
/// nn.Embedding: rows of weight [num_embeddings, embedding_dim] at integer indices.
#include <random>

#include "engine/module.h"

namespace backlight {

/// forward(x): x holds the indices as exact integers in float32 (any shape; the input Var is a
/// carrier for the index values and gets no gradient) -> [..., embedding_dim], one `embedding`
/// tape node named by the module path. Parameter weight, init N(0, 1) as PyTorch.
class Embedding : public ModuleImpl<Embedding> {
 public:
  Embedding(int64_t num_embeddings, int64_t embedding_dim, std::mt19937_64& rng);
  Var forward(const Var& indices) const override;
  std::string type_name() const override { return "Embedding"; }
  int64_t num_embeddings() const { return num_embeddings_; }
  int64_t embedding_dim() const { return embedding_dim_; }

 private:
  int64_t num_embeddings_, embedding_dim_;
};

}  // namespace backlight
