// Relevance rules for attention: CP-LRP (Ali et al. 2022) and AttnLRP (Achtibat et al. 2024),
// all in relevance form like the other LRP rules (what flows backward is relevance).
#include <cmath>

#include "engine/functional/cuda_ops.h"
#include "engine/functional/dispatch.h"
#include "engine/functional/elementwise.h"
#include "engine/functional/linear.h"
#include "engine/parallel.h"
#include "engine/rules/builtin.h"
#include "engine/rules/stabilize.h"
#include "engine/rules/rule_math.h"

namespace backlight {

namespace {

constexpr int64_t kGrain = 1 << 14;

void require_kind(const RuleContext& ctx, OpKind k, const char* rule) {
  if (ctx.kind() != k)
    throw RuleError(detail::concat(rule, ": applies to ", to_string(k), " nodes, got '", ctx.name(), "' (",
                                   to_string(ctx.kind()), ")"));
}

// Whether the operand holds attention probabilities: a softmax output, possibly through inference
// dropout (torchvision's Swin writes F.dropout(attn, p) after the softmax: an ONNX Dropout node),
// reshape or permute, which keep every value. Without looking through the dropout, Swin's
// attn @ v took the uniform rule and half of the attention branch's relevance went into the
// constant softmax (tiny Swin: 2-3% lost per image).
bool produced_by_softmax(const RuleContext& ctx, int input) {
  const Tape& tape = ctx.tape();
  int producer = tape.value(ctx.node().inputs[input]).producer;
  while (producer >= 0) {
    const Node& n = tape.node(producer);
    if (n.kind == OpKind::Softmax) return true;
    if (n.kind != OpKind::Dropout && n.kind != OpKind::Reshape && n.kind != OpKind::Permute) return false;
    producer = tape.value(n.inputs.at(0)).producer;
  }
  return false;
}

// The softmax and layernorm rules below loop on the host; on device tensors they say so.
void require_host(const RuleContext& ctx, const Tensor& rel, const char* rule) {
  if (rel.is_cuda() || ctx.output().is_cuda())
    throw RuleError(detail::concat(rule, ": runs on the CPU only for now, node '", ctx.name(),
                                   "' is on cuda (docs/cuda.md)"));
}

// R / (scale * stabilize(z)).
Tensor ratio(const RuleContext& ctx, const Tensor& rel, float scale, float eps) {
  BL_ON_CUDA("attention lrp", &ctx.workspace(), rel, ctx.output()) {
    const Tensor s = fn::cuda_ops::lrp_ratio(rel, ctx.output(), ctx.output(), rule_math::kAll, eps);
    return fn::scale(s, 1.0f / scale, &ctx.workspace());
  }
  Tensor s = ctx.alloc(rel.shape());
  const float *pr = rel.data(), *pz = ctx.output().data();
  float* ps = s.data();
  parallel_for(rel.numel(), kGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) ps[i] = pr[i] / (scale * math::stabilize(pz[i], eps));
  });
  return s;
}

// R_a = a * (s b^T), R_b = b * (a^T s), each summed back over broadcast batch dims.
Tensor matmul_share(const RuleContext& ctx, const Tensor& s, int which) {
  const Workspace* ws = &ctx.workspace();
  const Tensor &a = ctx.input(0), &b = ctx.input(1);
  const Tensor c = which == 0 ? fn::matmul(s, b, ws, false, true) : fn::matmul(a, s, ws, true, false);
  const Tensor& x = which == 0 ? a : b;
  return fn::sum_to(fn::binary(fn::BinaryOp::Mul, c, which == 0 ? a : b, ws), x.shape(), ws);
}

class CpLrpSoftmax final : public Rule {
 public:
  std::string name() const override { return "cp_lrp_softmax"; }
  std::vector<Tensor> backward(const RuleContext& ctx, const Tensor&) const override {
    require_kind(ctx, OpKind::Softmax, "cp_lrp_softmax");
    return {Tensor::zeros(ctx.input(0).shape(), &ctx.workspace())};
  }
};

class AttnLrpMatmul final : public Rule {
 public:
  AttnLrpMatmul(float eps, bool constant_attention) : eps_(eps), constant_attention_(constant_attention) {}
  std::string name() const override {
    return std::string(constant_attention_ ? "cp_lrp_matmul" : "attnlrp_matmul") + "(eps=" + std::to_string(eps_) +
           ")";
  }
  std::vector<Tensor> backward(const RuleContext& ctx, const Tensor& rel) const override {
    require_kind(ctx, OpKind::MatMul, constant_attention_ ? "cp_lrp_matmul" : "attnlrp_matmul");
    std::vector<Tensor> out(2);
    const bool const0 = constant_attention_ && produced_by_softmax(ctx, 0);
    const bool const1 = constant_attention_ && produced_by_softmax(ctx, 1);
    if (const0 || const1) {
      // Attention probabilities are weights: epsilon-LRP on the other operand, none to them.
      const Tensor s = ratio(ctx, rel, 1.0f, eps_);
      const int live = const0 ? 1 : 0;
      for (int i = 0; i < 2; ++i)
        if (ctx.needs_grad(i))
          out[i] = i == live ? matmul_share(ctx, s, i) : Tensor::zeros(ctx.input(i).shape(), &ctx.workspace());
      return out;
    }
    // Uniform rule for a bilinear product: each operand receives half of the relevance.
    const Tensor s = ratio(ctx, rel, 2.0f, eps_);
    for (int i = 0; i < 2; ++i)
      if (ctx.needs_grad(i)) out[i] = matmul_share(ctx, s, i);
    return out;
  }

 private:
  float eps_;
  bool constant_attention_;
};

class AttnLrpSoftmax final : public Rule {
 public:
  std::string name() const override { return "attnlrp_softmax"; }
  std::vector<Tensor> backward(const RuleContext& ctx, const Tensor& rel) const override {
    require_kind(ctx, OpKind::Softmax, "attnlrp_softmax");
    require_host(ctx, rel, "attnlrp_softmax");
    // R_in = x * (R - y * sum_axis(R)) (AttnLRP, softmax rule).
    const Tensor &x = ctx.input(0), &y = ctx.output();
    const int axis = x.shape().norm_axis(ctx.attrs<AxisAttrs>().axis);
    const int64_t len = x.size(axis), inner = x.shape().numel_range(axis + 1, x.dim());
    const int64_t outer = x.numel() / std::max<int64_t>(1, len * inner);
    Tensor out = ctx.alloc(x.shape());
    const float *px = x.data(), *py = y.data(), *pr = rel.data();
    float* po = out.data();
    parallel_for(outer * inner, 64, [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r) {
        const int64_t base = (r / inner) * len * inner + r % inner;
        double sum = 0;
        for (int64_t j = 0; j < len; ++j) sum += pr[base + j * inner];
        for (int64_t j = 0; j < len; ++j) {
          const int64_t i = base + j * inner;
          po[i] = px[i] * (pr[i] - py[i] * static_cast<float>(sum));
        }
      }
    });
    return {out};
  }
};

class LayerNormIdentity final : public Rule {
 public:
  std::string name() const override { return "layernorm_identity"; }
  std::vector<Tensor> backward(const RuleContext& ctx, const Tensor& rel) const override {
    const bool group = ctx.kind() == OpKind::GroupNorm;
    if (!group && ctx.kind() != OpKind::LayerNorm)
      throw RuleError(detail::concat("lrp_layernorm_identity: applies to layernorm and group_norm nodes, got '",
                                     ctx.name(), "' (", to_string(ctx.kind()), ")"));
    require_host(ctx, rel, "lrp_layernorm_identity");
    // The normalisation scale 1/sigma is a constant, so the node is the linear map
    // y = w * (x - mean(x)) / sigma + b, and epsilon-LRP applies: R_in = x * W^T (R / y).
    // layernorm: one row per leading index, w over the row; group_norm: one row per (image,
    // group) of C / groups channels x positions, w per channel.
    const Tensor& x = ctx.input(0);
    const auto& attrs = ctx.attrs<NormAttrs>();
    const int64_t groups = group ? attrs.groups : 1;
    const int64_t d = group ? x.shape().numel_range(1, x.dim()) / std::max<int64_t>(1, groups)
                            : x.shape().numel_range(x.dim() - attrs.normalized_dims, x.dim());
    const int64_t positions = group ? x.shape().numel_range(2, x.dim()) : 1;  // per channel
    const int64_t rows = x.numel() / std::max<int64_t>(1, d);
    const float* pw = ctx.num_inputs() > 1 ? ctx.input(1).data() : nullptr;
    const float *px = x.data(), *py = ctx.output().data(), *pr = rel.data();
    Tensor out = ctx.alloc(x.shape());
    float* po = out.data();
    parallel_for(rows, 16, [&](int64_t lo, int64_t hi) {
      std::vector<float> t(d);
      for (int64_t r = lo; r < hi; ++r) {
        const float* xr = px + r * d;
        // Weight of element j of row r: layernorm w[j]; group_norm w[channel].
        const int64_t w0 = group ? (r % groups) * d : 0;
        double mean = 0, var = 0;
        for (int64_t j = 0; j < d; ++j) mean += xr[j];
        mean /= d;
        for (int64_t j = 0; j < d; ++j) var += (xr[j] - mean) * (xr[j] - mean);
        const float inv_sigma = 1.0f / std::sqrt(static_cast<float>(var / d) + attrs.eps);
        double tmean = 0;
        for (int64_t j = 0; j < d; ++j) {
          const float w = pw ? pw[group ? (w0 + j) / positions : j] : 1.0f;
          t[j] = w * pr[r * d + j] / math::stabilize(py[r * d + j], 1e-6f);
          tmean += t[j];
        }
        tmean /= d;
        for (int64_t j = 0; j < d; ++j) po[r * d + j] = xr[j] * (t[j] - static_cast<float>(tmean)) * inv_sigma;
      }
    });
    std::vector<Tensor> result(ctx.num_inputs());
    result[0] = out;
    return result;
  }
};

}  // namespace

RulePtr cp_lrp_softmax() { return std::make_shared<const CpLrpSoftmax>(); }
RulePtr cp_lrp_matmul() { return std::make_shared<const AttnLrpMatmul>(1e-6f, true); }
RulePtr lrp_layernorm_identity() { return std::make_shared<const LayerNormIdentity>(); }
RulePtr attnlrp_softmax() { return std::make_shared<const AttnLrpSoftmax>(); }
RulePtr attnlrp_matmul(float eps) { return std::make_shared<const AttnLrpMatmul>(eps, false); }

}  // namespace backlight
