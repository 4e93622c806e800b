#include "engine/modules/attention.h"

#include <array>
#include <cmath>

#include "engine/error.h"
#include "engine/modules/init.h"
#include "engine/modules/linear.h"
#include "engine/ops/ops.h"

namespace backlight {

MultiheadAttention::MultiheadAttention(int64_t embed_dim, int64_t num_heads, std::mt19937_64& rng,
                                       MultiheadAttentionOptions options)
    : embed_dim_(embed_dim), num_heads_(num_heads), options_(options) {
  BL_CHECK(embed_dim > 0 && num_heads > 0, "MultiheadAttention: expected embed_dim > 0 and num_heads > 0, got ",
           embed_dim, " and ", num_heads);
  BL_CHECK(embed_dim % num_heads == 0, "MultiheadAttention: expected embed_dim divisible by num_heads, got ",
           embed_dim, " and ", num_heads);
  // Registration order is PyTorch's: in_proj_weight, in_proj_bias, out_proj.
  register_parameter("in_proj_weight", init::xavier_uniform({3 * embed_dim, embed_dim}, embed_dim, 3 * embed_dim, rng));
  if (options.bias) register_parameter("in_proj_bias", Tensor::zeros({3 * embed_dim}));
  auto out_proj = std::make_shared<NonDynamicallyQuantizableLinear>(embed_dim, embed_dim, rng, options.bias);
  if (options.bias) out_proj->parameter("bias").fill(0.0f);
  register_module("out_proj", std::move(out_proj));
}

Var MultiheadAttention::forward(const Var& x) const { return run(x, false, true).output; }

AttentionOutput MultiheadAttention::forward_with_weights(const Var& x, bool average_attn_weights) const {
  return run(x, true, average_attn_weights);
}

AttentionOutput MultiheadAttention::run(const Var& x_in, bool want_weights, bool average) const {
  BL_CHECK_SHAPE(x_in.shape().rank() == 3 && x_in.shape()[2] == embed_dim_, type_name(), " '", path(),
                 "': expected input ", options_.batch_first ? "[N,L,E]" : "[L,N,E]", " with E=", embed_dim_, ", got ",
                 x_in.shape());
  Tape& t = x_in.tape();
  auto name = [&](const char* suffix) { return path().empty() ? std::string(suffix) : path() + "." + suffix; };
  const Var x = options_.batch_first ? x_in : transpose(x_in, 0, 1, name("to_batch_first"));
  const int64_t n = x.shape()[0], l = x.shape()[1], e = embed_dim_, h = num_heads_, d = head_dim();

  // Row blocks of the packed projection are contiguous views, so q/k/v stay plain linear nodes
  // whose weight leaves alias in_proj_weight (parameter gradients land in the right rows).
  const Tensor& w = parameter("in_proj_weight");
  const bool has_bias = has_parameter("in_proj_bias");
  const std::string w_name = name("in_proj_weight"), b_name = name("in_proj_bias");
  auto project = [&](int64_t block, const char* node) {
    const Var wb = t.param(w.slice_batch(block * e, (block + 1) * e), w_name);
    const Var bb =
        has_bias ? t.param(parameter("in_proj_bias").slice_batch(block * e, (block + 1) * e), b_name) : Var();
    return linear(x, wb, bb, name(node));
  };
  const std::array<int64_t, 4> split{n, l, h, d};
  const std::array<int, 4> to_heads{0, 2, 1, 3};
  const std::array<int, 4> to_heads_t{0, 2, 3, 1};
  const Var q = permute(reshape(project(0, "q_proj"), split, name("q_split")), to_heads, name("q_heads"));
  const Var k_t = permute(reshape(project(1, "k_proj"), split, name("k_split")), to_heads_t, name("k_heads"));
  const Var v = permute(reshape(project(2, "v_proj"), split, name("v_split")), to_heads, name("v_heads"));

  const Var scores = scale(matmul(q, k_t, name("scores")), static_cast<float>(1.0 / std::sqrt(double(d))),
                           name("scale"));
  const Var probs = softmax(scores, -1, name("softmax"));
  const Var context = matmul(probs, v, name("context"));
  const std::array<int64_t, 3> merged{n, l, e};
  const Var merged_heads = reshape(permute(context, to_heads, name("merge_heads")), merged, name("merge"));
  Var y = child("out_proj").forward(merged_heads);
  if (!options_.batch_first) y = transpose(y, 0, 1, name("to_seq_first"));

  AttentionOutput out{y, Var()};
  if (want_weights) {
    const std::array<int, 1> head_axis{1};
    out.weights = average ? mean(probs, head_axis, false, name("attn_weights")) : probs;
  }
  return out;
}

}  // namespace backlight
