#include "attribution/cam/cam.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "attribution/core/layer.h"
#include "engine/backward.h"
#include "engine/error.h"
#include "engine/parallel.h"

namespace backlight {

namespace {

bool is_spatial_average(const Node& node, const Tape& tape) {
  if (node.inputs.empty() || tape.value(node.inputs[0]).tensor.dim() != 4) return false;
  if (node.kind == OpKind::AdaptiveAvgPool2d || node.kind == OpKind::AvgPool2d) return true;
  if (node.kind == OpKind::Mean)
    if (const auto* r = std::get_if<ReduceAttrs>(&node.attrs)) return (r->axes_mask & 0b1100u) == 0b1100u;
  return false;
}

// Ops whose 4-D outputs are image feature maps (not attention scores or reshaped tokens).
bool is_feature_map_op(OpKind k) {
  switch (k) {
    case OpKind::Conv2d: case OpKind::BatchNorm: case OpKind::MaxPool2d: case OpKind::AvgPool2d:
    case OpKind::AdaptiveAvgPool2d: case OpKind::Relu: case OpKind::Relu6: case OpKind::LeakyRelu:
    case OpKind::Sigmoid: case OpKind::Tanh: case OpKind::Gelu: case OpKind::Add: case OpKind::Dropout:
    case OpKind::Silu: case OpKind::HardSwish: case OpKind::Clip:
      return true;
    default: return false;
  }
}

// One recorded forward and the plain gradient of the target at the layer's feature maps.
struct LayerGradient {
  ForwardPass pass;
  Tensor activation, gradient;
  std::vector<int64_t> classes;
};

LayerGradient layer_gradient(const Module& model, const Tensor& inputs, const Target& target,
                             std::string_view layer, const Workspace& ws) {
  LayerGradient lg;
  lg.pass = forward_pass(model, inputs, ws);
  const Var a = lg.pass.tape->var(cam_layer_value(*lg.pass.tape, layer));
  lg.activation = a.value();
  const std::vector<Var> wrt{a};
  lg.gradient = target_backward(lg.pass, target, RuleSet("gradient"), wrt, &lg.classes)[0];
  return lg;
}

// Module path of the node that produced value `id` (or the leaf's name).
std::string value_name(const Tape& tape, int id) {
  const Value& v = tape.value(id);
  return v.producer >= 0 ? tape.node(v.producer).name : v.name;
}

void check_maps(const Tensor& a, const char* method) {
  BL_CHECK_SHAPE(a.dim() >= 2, method, ": expected layer feature maps [N, C, ...], got ", a.shape());
}

AttributionResult finish(Tensor map, const Tensor& inputs, const Tensor& output, std::vector<int64_t> classes) {
  AttributionResult r;
  r.attribution = upsample_to_input(map, inputs);
  r.layer_map = std::move(map);
  r.output = output;
  r.target = std::move(classes);
  return r;
}

// softmax(row)[c] in double (stable: shifted by the row maximum).
double softmax_at(const float* row, int64_t classes, int64_t c) {
  const float m = *std::max_element(row, row + classes);
  double total = 0;
  for (int64_t j = 0; j < classes; ++j) total += std::exp(static_cast<double>(row[j]) - m);
  return std::exp(static_cast<double>(row[c]) - m) / total;
}

}  // namespace

Tensor upsample_nearest(const Tensor& maps, int64_t height, int64_t width) {
  BL_CHECK_SHAPE(maps.dim() == 4, "upsample_nearest: expected maps [N,C,h,w], got ", maps.shape());
  BL_CHECK(height > 0 && width > 0, "upsample_nearest: expected a positive size, got ", height, "x", width);
  const int64_t planes = maps.size(0) * maps.size(1), h = maps.size(2), w = maps.size(3);
  // PyTorch's nearest_idx: identity, exact 2x, else floor(dst * scale) with scale in float.
  auto index = [](int64_t dst, int64_t in, int64_t out) -> int64_t {
    if (out == in) return dst;
    if (out == 2 * in) return dst >> 1;
    const float scale = static_cast<float>(in) / static_cast<float>(out);
    return std::min<int64_t>(static_cast<int64_t>(std::floor(static_cast<float>(dst) * scale)), in - 1);
  };
  std::vector<int64_t> ys(height), xs(width);
  for (int64_t y = 0; y < height; ++y) ys[y] = index(y, h, height);
  for (int64_t x = 0; x < width; ++x) xs[x] = index(x, w, width);
  Tensor out = Tensor::empty(Shape{maps.size(0), maps.size(1), height, width});
  parallel_for(planes, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p)
      for (int64_t y = 0; y < height; ++y)
        for (int64_t x = 0; x < width; ++x)
          out.data()[(p * height + y) * width + x] = maps.data()[(p * h + ys[y]) * w + xs[x]];
  });
  return out;
}

Tensor upsample_to_input(const Tensor& map, const Tensor& inputs, CamUpsample mode) {
  if (map.dim() != 4 || inputs.dim() != 4) return map;
  return mode == CamUpsample::Bilinear ? upsample_bilinear(map, inputs.size(2), inputs.size(3))
                                       : upsample_nearest(map, inputs.size(2), inputs.size(3));
}

int cam_layer_value(const Tape& tape, std::string_view layer) {
  if (!layer.empty()) return tape.node(layer_output_node(tape, layer)).output;
  for (int i = tape.num_nodes() - 1; i >= 0; --i)
    if (is_spatial_average(tape.node(i), tape)) return tape.node(i).inputs[0];
  for (int i = tape.num_nodes() - 1; i >= 0; --i)
    if (is_feature_map_op(tape.node(i).kind) && tape.value(tape.node(i).output).tensor.dim() == 4)
      return tape.node(i).output;
  BL_THROW("cam: no layer given and the model has no 4-D feature maps to default to; name a layer (--layer)");
}

Tensor grad_cam_map(const Tensor& a, const Tensor& g, bool relu) {
  BL_CHECK_SHAPE(a.dim() >= 2 && a.shape() == g.shape(),
                 "grad_cam: expected activation and gradient of one shape [N, C, ...], got ", a.shape(), " and ",
                 g.shape());
  const int64_t n = a.size(0), c = a.size(1), spatial = a.numel() / (n * c);
  std::vector<int64_t> d = a.shape().to_vector();
  d[1] = 1;
  Tensor map = Tensor::empty(Shape(d));
  parallel_for(n, 1, [&](int64_t lo, int64_t hi) {
    std::vector<double> acc(spatial);
    for (int64_t i = lo; i < hi; ++i) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t k = 0; k < c; ++k) {
        const float* pg = g.data() + (i * c + k) * spatial;
        const float* pa = a.data() + (i * c + k) * spatial;
        double w = 0;
        for (int64_t s = 0; s < spatial; ++s) w += pg[s];
        w /= static_cast<double>(spatial);
        for (int64_t s = 0; s < spatial; ++s) acc[s] += w * pa[s];
      }
      for (int64_t s = 0; s < spatial; ++s) {
        const float v = static_cast<float>(acc[s]);
        map.data()[i * spatial + s] = relu && v < 0 ? 0.0f : v;
      }
    }
  });
  return map;
}

AttributionResult cam(const Module& model, const Tensor& inputs, const Target& target, const CamOptions& opt) {
  BL_CHECK(!target.is_function(), "cam: needs class targets (the classifier weights of one class), got a function "
                                  "target; use grad_cam");
  std::unique_ptr<Workspace> local;
  const Workspace& ws = pick_workspace(opt.workspace, local);
  ForwardPass pass = forward_pass(model, inputs, ws);
  const Tape& tape = *pass.tape;
  const int value = cam_layer_value(tape, opt.layer);
  const Tensor& a = tape.value(value).tensor;
  check_maps(a, "cam");
  int fc = -1;
  for (int i = tape.num_nodes() - 1; i >= 0 && fc < 0; --i)
    if (tape.node(i).kind == OpKind::Linear) fc = i;
  BL_CHECK(fc >= 0, "cam: the model has no linear layer; CAM needs global average pooling + linear (use grad_cam)");
  const Tensor& w = tape.value(tape.node(fc).inputs[1]).tensor;
  const int64_t n = a.size(0), c = a.size(1), spatial = a.numel() / (n * c);
  BL_CHECK(w.dim() == 2 && w.size(1) == c, "cam: the last linear layer '", tape.node(fc).name, "' has weight ",
           w.shape(), " but the feature maps at '", value_name(tape, value), "' have ", c,
           " channels; CAM needs global average pooling + linear on those maps (name --layer or use grad_cam)");
  const std::vector<int64_t> classes = target.resolve(pass.output.value());
  for (int64_t cl : classes)
    BL_CHECK(cl < w.size(0), "cam: class ", cl, " out of range for the linear layer '", tape.node(fc).name,
             "' with ", w.size(0), " outputs");
  std::vector<int64_t> d = a.shape().to_vector();
  d[1] = 1;
  Tensor map = Tensor::empty(Shape(d));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t s = 0; s < spatial; ++s) {
      double v = 0;
      const float* wc = w.data() + classes[i] * c;
      for (int64_t k = 0; k < c; ++k) v += static_cast<double>(wc[k]) * a.data()[(i * c + k) * spatial + s];
      map.data()[i * spatial + s] = opt.relu && v < 0 ? 0.0f : static_cast<float>(v);
    }
  return finish(std::move(map), inputs, pass.output.value(), classes);
}

AttributionResult grad_cam(const Module& model, const Tensor& inputs, const Target& target,
                           const GradCamOptions& opt) {
  std::unique_ptr<Workspace> local;
  const Workspace& ws = pick_workspace(opt.workspace, local);
  LayerGradient lg = layer_gradient(model, inputs, target, opt.layer, ws);
  check_maps(lg.activation, "grad_cam");
  return finish(grad_cam_map(lg.activation, lg.gradient, opt.relu), inputs, lg.pass.output.value(),
                std::move(lg.classes));
}

AttributionResult grad_cam_plus_plus(const Module& model, const Tensor& inputs, const Target& target,
                                     const GradCamPlusPlusOptions& opt) {
  std::unique_ptr<Workspace> local;
  const Workspace& ws = pick_workspace(opt.workspace, local);
  LayerGradient lg = layer_gradient(model, inputs, target, opt.layer, ws);
  const Tensor& a = lg.activation;
  const Tensor& g = lg.gradient;
  check_maps(a, "grad_cam_plus_plus");
  const int64_t n = a.size(0), c = a.size(1), spatial = a.numel() / (n * c);
  std::vector<double> scale(n, 1.0);
  if (opt.exp_score) {
    const Tensor s = target.select(lg.pass.output).value();
    for (int64_t i = 0; i < n; ++i) scale[i] = std::exp(static_cast<double>(s.data()[i]));
  }
  std::vector<int64_t> d = a.shape().to_vector();
  d[1] = 1;
  Tensor map = Tensor::empty(Shape(d));
  parallel_for(n, 1, [&](int64_t lo, int64_t hi) {
    std::vector<double> acc(spatial);
    for (int64_t i = lo; i < hi; ++i) {
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t k = 0; k < c; ++k) {
        const float* pa = a.data() + (i * c + k) * spatial;
        const float* pg = g.data() + (i * c + k) * spatial;
        double sum_a = 0, w = 0;
        for (int64_t s = 0; s < spatial; ++s) sum_a += pa[s];
        // Only g > 0 contributes (relu(g) multiplies alpha), which also keeps 2 g^2 + sum_a g^3
        // away from 0 for non-negative (post-ReLU) maps.
        for (int64_t s = 0; s < spatial; ++s) {
          const double gs = pg[s];
          if (gs <= 0) continue;
          const double denom = 2 * gs * gs + sum_a * gs * gs * gs;
          if (denom != 0) w += gs * gs / denom * gs;
        }
        w *= scale[i];
        for (int64_t s = 0; s < spatial; ++s) acc[s] += w * pa[s];
      }
      for (int64_t s = 0; s < spatial; ++s) map.data()[i * spatial + s] = static_cast<float>(std::max(0.0, acc[s]));
    }
  });
  return finish(std::move(map), inputs, lg.pass.output.value(), std::move(lg.classes));
}

AttributionResult score_cam(const Module& model, const Tensor& inputs, const Target& target,
                            const ScoreCamOptions& opt) {
  BL_CHECK_SHAPE(inputs.defined() && inputs.dim() == 4, "score_cam: expected inputs [N, C, H, W], got ",
                 inputs.defined() ? inputs.shape().str() : std::string("no tensor"));
  BL_CHECK(opt.batch >= 1, "score_cam: expected batch >= 1, got ", opt.batch);
  std::unique_ptr<Workspace> local;
  const Workspace& ws = pick_workspace(opt.workspace, local);
  ForwardPass pass = forward_pass(model, inputs, ws);
  const Tensor a = pass.tape->value(cam_layer_value(*pass.tape, opt.layer)).tensor;
  BL_CHECK_SHAPE(a.dim() == 4, "score_cam: expected layer feature maps [N, C, h, w], got ", a.shape());
  const std::vector<int64_t> classes = target.resolve(pass.output.value());
  const Tensor output = pass.output.value();
  pass = ForwardPass{};  // the masked forwards need no recorded tape

  const int64_t n = inputs.size(0), in_c = inputs.size(1), height = inputs.size(2), width = inputs.size(3);
  const int64_t c = a.size(1), hw = height * width;
  const Tensor up = upsample_bilinear(a, height, width);

  // Target score of each row of a batch: softmax probability of the item's class, or the function.
  auto scores = [&](const Tensor& batch, const std::vector<int64_t>& item_of_row) {
    Tape tape(TapeOptions{.record = false}, ws);
    const Var out = model.forward(tape.input(batch));
    std::vector<double> s(item_of_row.size());
    if (target.is_function()) {
      const Tensor v = target.select(out).value();
      for (size_t r = 0; r < s.size(); ++r) s[r] = v.data()[r];
      return s;
    }
    const int64_t k = out.shape()[1];
    for (size_t r = 0; r < s.size(); ++r)
      s[r] = softmax_at(out.value().data() + r * k, k, classes[item_of_row[r]]);
    return s;
  };

  std::vector<double> base(n, 0.0);
  if (opt.subtract_baseline) {
    std::vector<int64_t> rows(n);
    for (int64_t i = 0; i < n; ++i) rows[i] = i;
    base = scores(Tensor::zeros(inputs.shape(), &ws), rows);
  }

  // Active (item, channel) pairs: channels whose upsampled map is not constant.
  std::vector<std::pair<int64_t, int64_t>> pairs;
  std::vector<float> lo(n * c), range(n * c);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < c; ++k) {
      const float* u = up.data() + (i * c + k) * hw;
      const auto [mn, mx] = std::minmax_element(u, u + hw);
      lo[i * c + k] = *mn;
      range[i * c + k] = *mx - *mn;
      if (*mx > *mn) pairs.emplace_back(i, k);
    }

  std::vector<double> weight(n * c, 0.0);
  for (size_t p0 = 0; p0 < pairs.size(); p0 += static_cast<size_t>(opt.batch)) {
    const size_t p1 = std::min(pairs.size(), p0 + static_cast<size_t>(opt.batch));
    Tensor batch = Tensor::empty(Shape{static_cast<int64_t>(p1 - p0), in_c, height, width}, &ws);
    std::vector<int64_t> item_of_row(p1 - p0);
    parallel_for(static_cast<int64_t>(p1 - p0), 1, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const auto [i, k] = pairs[p0 + r];
        item_of_row[r] = i;
        const float* u = up.data() + (i * c + k) * hw;
        const float l = lo[i * c + k], inv = 1.0f / range[i * c + k];
        for (int64_t ch = 0; ch < in_c; ++ch) {
          const float* x = inputs.data() + (i * in_c + ch) * hw;
          float* dst = batch.data() + (r * in_c + ch) * hw;
          for (int64_t q = 0; q < hw; ++q) dst[q] = x[q] * ((u[q] - l) * inv);
        }
      }
    });
    const std::vector<double> s = scores(batch, item_of_row);
    for (size_t r = 0; r < s.size(); ++r) {
      const auto [i, k] = pairs[p0 + r];
      weight[i * c + k] = s[r] - base[i];
    }
  }

  auto weighted_sum = [&](const Tensor& maps) {
    const int64_t spatial = maps.size(2) * maps.size(3);
    Tensor out = Tensor::empty(Shape{n, 1, maps.size(2), maps.size(3)});
    parallel_for(n, 1, [&](int64_t i0, int64_t i1) {
      std::vector<double> acc(spatial);
      for (int64_t i = i0; i < i1; ++i) {
        std::fill(acc.begin(), acc.end(), 0.0);
        for (int64_t k = 0; k < c; ++k) {
          const double w = weight[i * c + k];
          if (w == 0) continue;
          const float* m = maps.data() + (i * c + k) * spatial;
          for (int64_t q = 0; q < spatial; ++q) acc[q] += w * m[q];
        }
        for (int64_t q = 0; q < spatial; ++q) out.data()[i * spatial + q] = static_cast<float>(std::max(0.0, acc[q]));
      }
    });
    return out;
  };
  AttributionResult r;
  r.attribution = weighted_sum(up);
  r.layer_map = weighted_sum(a);
  r.output = output;
  r.target = classes;
  return r;
}

}  // namespace backlight
