#include "engine/modules/embedding.h"

#include "engine/error.h"
#include "engine/modules/init.h"
#include "engine/ops/ops.h"

namespace backlight {

Embedding::Embedding(int64_t num_embeddings, int64_t embedding_dim, std::mt19937_64& rng)
    : num_embeddings_(num_embeddings), embedding_dim_(embedding_dim) {
  BL_CHECK(num_embeddings > 0 && embedding_dim > 0, "Embedding: expected num_embeddings > 0 and embedding_dim > 0",
           ", got ", num_embeddings, " and ", embedding_dim);
  register_parameter("weight", init::normal({num_embeddings, embedding_dim}, 0.0f, 1.0f, rng));
}

Var Embedding::forward(const Var& indices) const {
  return embedding(indices.value(), param(indices.tape(), "weight"), op_name());
}

}  // namespace backlight
