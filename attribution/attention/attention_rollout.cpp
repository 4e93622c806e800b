#include "attribution/attention/attention_rollout.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "attribution/cam/cam.h"
#include "engine/error.h"
#include "engine/parallel.h"

namespace backlight {

namespace {

bool under(std::string_view name, std::string_view prefix) {
  return prefix.empty() || name == prefix ||
         (name.size() > prefix.size() && name.substr(0, prefix.size()) == prefix && name[prefix.size()] == '.');
}

bool is_attention_map(const Node& node, const Tensor& out) {
  if (node.kind != OpKind::Softmax || out.dim() != 4 || out.size(2) != out.size(3)) return false;
  const auto* axis = std::get_if<AxisAttrs>(&node.attrs);
  return !axis || axis->axis == -1 || axis->axis == 3;
}

}  // namespace

HeadFusion head_fusion_from_string(std::string_view name) {
  if (name == "mean") return HeadFusion::Mean;
  if (name == "max") return HeadFusion::Max;
  if (name == "min") return HeadFusion::Min;
  BL_THROW("unknown head fusion '", name, "' (expected mean, max or min)");
}

Tensor attention_rollout_matrix(const Tape& tape, const AttentionRolloutOptions& opt) {
  std::vector<const Tensor*> maps;
  for (const Node& node : tape.nodes()) {
    const Tensor& out = tape.value(node.output).tensor;
    if (is_attention_map(node, out) && under(node.name, opt.layer)) maps.push_back(&out);
  }
  BL_CHECK(!maps.empty(), "attention_rollout: no attention maps (softmax nodes [N, heads, L, L]) found",
           opt.layer.empty() ? std::string() : " under '" + opt.layer + "'",
           "; the model needs MultiheadAttention layers");
  const Shape first = maps.front()->shape();
  const int64_t n = first[0], l = first[2];
  for (const Tensor* m : maps)
    BL_CHECK_SHAPE(m->size(0) == n && m->size(2) == l, "attention_rollout: attention maps of different shapes: ",
                   first, " and ", m->shape());

  Tensor rollout = Tensor::empty(Shape{n, l, l});
  parallel_for(n, 1, [&](int64_t lo, int64_t hi) {
    std::vector<double> r(l * l), a(l * l), next(l * l);
    for (int64_t i = lo; i < hi; ++i) {
      for (int64_t p = 0; p < l; ++p)
        for (int64_t q = 0; q < l; ++q) r[p * l + q] = p == q ? 1.0 : 0.0;
      for (const Tensor* m : maps) {
        const int64_t heads = m->size(1);
        const float* base = m->data() + i * heads * l * l;
        for (int64_t e = 0; e < l * l; ++e) {
          double v = base[e];
          for (int64_t h = 1; h < heads; ++h) {
            const double x = base[h * l * l + e];
            if (opt.head_fusion == HeadFusion::Mean) v += x;
            else if (opt.head_fusion == HeadFusion::Max) v = std::max(v, x);
            else v = std::min(v, x);
          }
          a[e] = opt.head_fusion == HeadFusion::Mean ? v / static_cast<double>(heads) : v;
        }
        for (int64_t p = 0; p < l; ++p) {
          double row = 0;
          for (int64_t q = 0; q < l; ++q) {
            double& x = a[p * l + q];
            if (opt.residual) x = 0.5 * x + (p == q ? 0.5 : 0.0);
            row += x;
          }
          for (int64_t q = 0; q < l; ++q) a[p * l + q] = row != 0 ? a[p * l + q] / row : 0.0;
        }
        // R <- A~_l R (later layers multiply from the left).
        for (int64_t p = 0; p < l; ++p)
          for (int64_t q = 0; q < l; ++q) {
            double s = 0;
            for (int64_t k = 0; k < l; ++k) s += a[p * l + k] * r[k * l + q];
            next[p * l + q] = s;
          }
        std::swap(r, next);
      }
      for (int64_t e = 0; e < l * l; ++e) rollout.data()[i * l * l + e] = static_cast<float>(r[e]);
    }
  });
  return rollout;
}

AttributionResult attention_rollout(const Module& model, const Tensor& inputs, const Target& target,
                                    const AttentionRolloutOptions& opt) {
  std::unique_ptr<Workspace> local;
  const Workspace& ws = pick_workspace(opt.workspace, local);
  ForwardPass pass = forward_pass(model, inputs, ws);
  const Tensor r = attention_rollout_matrix(*pass.tape, opt);
  const int64_t n = r.size(0), l = r.size(1);
  BL_CHECK(l >= 2, "attention_rollout: expected a class token and at least one other token, got L = ", l);
  const auto g = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(l - 1))));
  const bool grid = g * g == l - 1;
  Tensor row = grid ? Tensor::empty(Shape{n, 1, g, g}) : Tensor::empty(Shape{n, l - 1});
  for (int64_t i = 0; i < n; ++i)
    std::copy(r.data() + i * l * l + 1, r.data() + i * l * l + l, row.data() + i * (l - 1));
  AttributionResult out;
  out.attribution = upsample_to_input(row, inputs);
  out.layer_map = row;
  out.output = pass.output.value();
  if (!target.is_function() && out.output.dim() == 2) out.target = target.resolve(out.output);
  return out;
}

}  // namespace backlight
