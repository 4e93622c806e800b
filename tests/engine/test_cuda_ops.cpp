// Suite "cuda": every engine op (forward and plain VJP), the rule maps and two whole-model
// attributions on a CUDA device against the CPU on the same random inputs. Skipped with
// "skipped: no CUDA device" when cudaGetDeviceCount finds none, so on machines without a GPU
// (this project's CI) these cases compile and link but do not run.
//
// Tolerances: |cuda - cpu| <= atol + rtol * |cpu| with atol = rtol = 1e-4 for element-wise,
// shape, pooling and normalisation ops (same float formulas, different summation order at most),
// 1e-3 scaled by the output's max |value| for cuBLAS/cuDNN products and whole models (other
// summation orders and algorithms over hundreds of terms).
#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <vector>

#include "attribution/registry.h"
#include "engine/backward.h"
#include "engine/functional/elementwise.h"
#include "engine/ops/ops.h"
#include "engine/rules/builtin_sets.h"
#include "engine/rules/builtin.h"
#include "engine/cuda/device.h"
#include "models/zoo.h"
#include "tests/helpers.h"

using namespace backlight;

namespace {

struct OpCase {
  std::string name;
  std::vector<Shape> inputs;
  std::function<Var(const std::vector<Var>&)> build;
  bool products = false;  ///< cuBLAS/cuDNN inside: scaled tolerance
  float lo = -1.0f, hi = 1.0f;  ///< uniform input range (positive for variances)
};

struct PassResult {
  Tensor output;
  std::vector<Tensor> grads;
};

// Forward and backward (plain gradient or `rules`) of `c` on a tape with workspace `ws`.
PassResult run(const OpCase& c, const std::vector<Tensor>& inputs, const Tensor& seed, const Workspace& ws,
               const RuleSet& rules = RuleSet(), TapeOptions options = {}) {
  Tape tape(options, ws);
  std::vector<Var> vars;
  for (size_t i = 0; i < inputs.size(); ++i)
    vars.push_back(tape.input(inputs[i].to(ws.device(), &ws), "x" + std::to_string(i)));
  const Var y = c.build(vars);
  const std::vector<Var> outs{y};
  const std::vector<Tensor> seeds{seed};
  PassResult r{y.value().to_cpu(), {}};
  for (const Tensor& g : backward(tape, outs, seeds, vars, rules)) r.grads.push_back(g.to_cpu());
  return r;
}

void compare(const Tensor& cuda, const Tensor& cpu, bool products, const char* what) {
  CAPTURE(what);
  const double scale = products ? test::max_abs(cpu) : 1.0;
  const double tol = products ? 1e-3 : 1e-4;
  BL_CHECK_CLOSE(cuda, cpu, tol * scale, tol);
}

void check_case(const OpCase& c, const Workspace& cuda_ws, const RuleSet& rules = RuleSet(),
                TapeOptions options = {}) {
  CAPTURE(c.name);
  std::mt19937_64 rng(test::kSeed);
  std::vector<Tensor> inputs;
  for (const Shape& s : c.inputs) inputs.push_back(test::uniform(s, rng, c.lo, c.hi));
  Workspace cpu_ws;
  Tape probe(options, cpu_ws);  // the output shape, for the seed
  std::vector<Var> pv;
  for (const Tensor& t : inputs) pv.push_back(probe.input(t));
  const Tensor seed = test::randn(c.build(pv).shape(), rng);
  const PassResult cpu = run(c, inputs, seed, cpu_ws, rules, options);
  const PassResult gpu = run(c, inputs, seed, cuda_ws, rules, options);
  compare(gpu.output, cpu.output, c.products, "output");
  REQUIRE(gpu.grads.size() == cpu.grads.size());
  for (size_t i = 0; i < cpu.grads.size(); ++i) compare(gpu.grads[i], cpu.grads[i], c.products, "gradient");
}

Conv2dAttrs conv(int stride, int pad, int dilation = 1, int groups = 1) {
  return Conv2dAttrs{stride, stride, pad, pad, dilation, dilation, groups};
}
Pool2dAttrs pool(int k, int s, int p, bool ceil = false, bool include_pad = true, int dilation = 1) {
  return Pool2dAttrs{k, k, s, s, p, p, dilation, dilation, ceil, include_pad};
}

std::vector<OpCase> op_cases() {
  using V = std::vector<Var>;
  const std::vector<int> axes13{1, 3};
  const std::vector<int> perm{0, 2, 3, 1};
  const std::vector<int64_t> pads{1, 2, 0, 1};
  return {
      {"relu", {{2, 3, 4, 5}}, [](const V& v) { return relu(v[0]); }},
      {"relu6", {{2, 3, 4, 5}}, [](const V& v) { return relu6(v[0]); }, false, -8.0f, 8.0f},
      {"leaky_relu", {{2, 3, 4, 5}}, [](const V& v) { return leaky_relu(v[0], 0.2f); }},
      {"sigmoid", {{2, 7}}, [](const V& v) { return sigmoid(v[0]); }},
      {"tanh", {{2, 7}}, [](const V& v) { return tanh(v[0]); }},
      {"gelu", {{2, 7}}, [](const V& v) { return gelu(v[0]); }},
      {"gelu_tanh", {{2, 7}}, [](const V& v) { return gelu(v[0], true); }},
      {"silu", {{2, 7}}, [](const V& v) { return silu(v[0]); }},
      {"hardswish", {{2, 7}}, [](const V& v) { return hardswish(v[0]); }, false, -5.0f, 5.0f},
      {"hardsigmoid", {{2, 7}}, [](const V& v) { return hardsigmoid(v[0], 0.2f, 0.5f); }, false, -5.0f, 5.0f},
      {"clip", {{2, 7}}, [](const V& v) { return clip(v[0], -0.5f, 0.7f); }},
      {"exp", {{2, 7}}, [](const V& v) { return backlight::exp(v[0]); }},
      {"erf", {{2, 7}}, [](const V& v) { return backlight::erf(v[0]); }},
      {"abs", {{2, 7}}, [](const V& v) { return backlight::abs(v[0]); }},
      {"pow3", {{2, 7}}, [](const V& v) { return backlight::pow(v[0], 3.0f); }},
      {"sqrt", {{2, 7}}, [](const V& v) { return backlight::sqrt(v[0]); }, false, 0.5f, 2.0f},
      {"log", {{2, 7}}, [](const V& v) { return backlight::log(v[0]); }, false, 0.5f, 2.0f},
      {"div_broadcast", {{2, 3, 4}, {3, 1}}, [](const V& v) { return div(v[0], v[1]); }, false, 0.5f, 2.0f},
      {"maximum_broadcast", {{2, 3, 4}, {4}}, [](const V& v) { return maximum(v[0], v[1]); }},
      {"minimum_broadcast", {{2, 3, 4}, {3, 1}}, [](const V& v) { return minimum(v[0], v[1]); }},
      {"add_broadcast", {{2, 3, 4}, {3, 1}}, [](const V& v) { return add(v[0], v[1]); }},
      {"sub_broadcast", {{2, 3, 4}, {4}}, [](const V& v) { return sub(v[0], v[1]); }},
      {"mul_broadcast", {{2, 1, 4}, {3, 1}}, [](const V& v) { return mul(v[0], v[1]); }},
      {"scale", {{5, 3}}, [](const V& v) { return scale(v[0], -0.5f); }},
      {"linear", {{4, 6}, {5, 6}, {5}}, [](const V& v) { return linear(v[0], v[1], v[2]); }, true},
      {"linear_3d_no_bias", {{2, 3, 6}, {5, 6}}, [](const V& v) { return linear(v[0], v[1]); }, true},
      {"matmul", {{3, 4, 5}, {3, 5, 2}}, [](const V& v) { return matmul(v[0], v[1]); }, true},
      {"matmul_broadcast", {{2, 1, 4, 5}, {3, 5, 6}}, [](const V& v) { return matmul(v[0], v[1]); }, true},
      {"conv2d", {{2, 3, 9, 9}, {4, 3, 3, 3}, {4}}, [](const V& v) { return conv2d(v[0], v[1], v[2], conv(2, 1)); },
       true},
      {"conv2d_dilated", {{1, 2, 9, 9}, {3, 2, 3, 3}, {3}},
       [](const V& v) { return conv2d(v[0], v[1], v[2], conv(1, 2, 2)); }, true},
      {"conv2d_depthwise", {{1, 4, 8, 8}, {4, 1, 3, 3}, {4}},
       [](const V& v) { return conv2d(v[0], v[1], v[2], conv(1, 1, 1, 4)); }, true},
      {"conv_transpose2d", {{1, 4, 5, 5}, {4, 3, 3, 3}, {6}},
       [](const V& v) {
         ConvTranspose2dAttrs a;
         a.conv = conv(2, 1, 1, 2);
         a.output_pad_h = a.output_pad_w = 1;
         return conv_transpose2d(v[0], v[1], v[2], a);
       },
       true},
      {"batchnorm", {{2, 3, 4, 4}, {3}, {3}, {3}, {3}},
       [](const V& v) { return batchnorm(v[0], v[1], v[2], v[3], v[4]); }, false, 0.5f, 2.0f},
      {"maxpool2d", {{2, 3, 9, 9}}, [](const V& v) { return maxpool2d(v[0], pool(3, 2, 1)); }},
      {"maxpool2d_ceil_dilated", {{1, 2, 10, 10}}, [](const V& v) { return maxpool2d(v[0], pool(3, 2, 1, true, true, 2)); }},
      {"avgpool2d", {{2, 3, 8, 8}}, [](const V& v) { return avgpool2d(v[0], pool(2, 2, 0)); }},
      {"avgpool2d_pad_exclude", {{1, 2, 7, 7}}, [](const V& v) { return avgpool2d(v[0], pool(3, 2, 1, true, false)); }},
      {"adaptive_avgpool2d", {{2, 3, 7, 5}}, [](const V& v) { return adaptive_avgpool2d(v[0], 3, 2); }},
      {"sum_keepdim", {{2, 3, 4, 5}}, [axes13](const V& v) { return sum(v[0], axes13, true); }},
      {"mean", {{2, 3, 4, 5}}, [axes13](const V& v) { return mean(v[0], axes13, false); }},
      {"softmax_last", {{3, 10}}, [](const V& v) { return softmax(v[0], -1); }, false, -5.0f, 5.0f},
      {"softmax_axis1", {{2, 5, 3, 2}}, [](const V& v) { return softmax(v[0], 1); }},
      {"log_softmax", {{3, 10}}, [](const V& v) { return log_softmax(v[0], -1); }},
      {"layernorm", {{2, 3, 8}, {8}, {8}}, [](const V& v) { return layernorm(v[0], v[1], v[2], 1); }},
      {"layernorm_2d_no_affine", {{2, 3, 8}}, [](const V& v) { return layernorm(v[0], {}, {}, 2); }},
      {"permute", {{2, 3, 4, 5}}, [perm](const V& v) { return permute(v[0], perm); }},
      {"transpose", {{3, 4, 5}}, [](const V& v) { return transpose(v[0], 0, 2); }},
      {"concat", {{2, 3, 4}, {2, 1, 4}}, [](const V& v) { return concat(v, 1); }},
      {"slice_step", {{2, 9, 3}}, [](const V& v) { return slice(v[0], 1, 1, 8, 3); }},
      {"pad", {{2, 3, 4}}, [pads](const V& v) { return pad(v[0], pads, 0.5f); }},
      {"flatten_reshape", {{2, 3, 4}}, [](const V& v) { return flatten(v[0], 1); }},
  };
}

// conv - relu - maxpool - conv - relu - adaptive avgpool - flatten - linear, on one tape.
Var small_cnn(const std::vector<Var>& v) {
  Var h = conv2d(v[0], v[1], v[2], conv(1, 1), "conv1");
  h = relu(h, "relu1");
  h = maxpool2d(h, pool(2, 2, 0), "pool1");
  h = conv2d(h, v[3], v[4], conv(1, 1), "conv2");
  h = relu(h, "relu2");
  h = adaptive_avgpool2d(h, 1, 1, "avgpool");
  h = flatten(h, 1, -1, "flatten");
  return linear(h, v[5], v[6], "fc");
}

OpCase small_cnn_case(int64_t batch) {
  return {"small_cnn", {{batch, 3, 8, 8}, {4, 3, 3, 3}, {4}, {6, 4, 3, 3}, {6}, {5, 6}, {5}}, small_cnn, true};
}

}  // namespace

TEST_SUITE("cuda") {

TEST_CASE("cuda/ops: forward and plain VJP of every op match the CPU") {
  BL_REQUIRE_CUDA_OR_SKIP();
  const Workspace ws = Workspace::for_cuda(0);
  for (const OpCase& c : op_cases()) check_case(c, ws);
}

TEST_CASE("cuda/ops: embedding with host indices matches the CPU") {
  BL_REQUIRE_CUDA_OR_SKIP();
  const Workspace ws = Workspace::for_cuda(0);
  const Tensor indices = Tensor::from(Shape{2, 3}, {0, 4, 9, 4, 4, 1});
  const OpCase c{"embedding", {{10, 4}}, [indices](const std::vector<Var>& v) { return embedding(indices, v[0]); }};
  check_case(c, ws);
}

TEST_CASE("cuda/rules: guided backprop, deconvnet and the LRP rule sets match the CPU") {
  BL_REQUIRE_CUDA_OR_SKIP();
  const Workspace ws = Workspace::for_cuda(0);
  for (const char* name : {"guided_backprop", "deconvnet", "lrp_epsilon", "lrp_epsilon_plus", "lrp_epsilon_plus_flat",
                           "lrp_epsilon_gamma_box", "lrp_epsilon_alpha2_beta1", "lrp_alpha1_beta0"}) {
    CAPTURE(name);
    check_case(small_cnn_case(2), ws, make_rule_set(name));
  }
}

TEST_CASE("cuda/rules: DeepLIFT Rescale on a paired batch matches the CPU") {
  BL_REQUIRE_CUDA_OR_SKIP();
  const Workspace ws = Workspace::for_cuda(0);
  check_case(small_cnn_case(4), ws, make_rule_set("deeplift"), TapeOptions{.paired_reference = true});
  OpCase soft{"softmax_deeplift", {{4, 6}}, [](const std::vector<Var>& v) { return softmax(v[0], -1); }};
  check_case(soft, ws, make_rule_set("deeplift"), TapeOptions{.paired_reference = true});
}

TEST_CASE("cuda/workspace: repeated passes reuse device blocks") {
  BL_REQUIRE_CUDA_OR_SKIP();
  const Workspace ws = Workspace::for_cuda(0);
  const OpCase c = small_cnn_case(2);
  check_case(c, ws);
  const size_t fresh = ws.stats().fresh_allocations;
  check_case(c, ws);
  CHECK(ws.stats().fresh_allocations == fresh);  // the second pass allocates nothing new
  CHECK(ws.stats().reused_allocations > 0);
}

TEST_CASE("cuda/models: resnet18 saliency and LRP on the device match the CPU") {
  BL_REQUIRE_CUDA_OR_SKIP();
  const Workspace ws = Workspace::for_cuda(0);
  const ModulePtr model = make_model("resnet18", {.num_classes = 10, .seed = 1});
  std::mt19937_64 rng(test::kSeed);
  const Tensor x = test::uniform(Shape{1, 3, 32, 32}, rng);
  for (const char* method : {"saliency", "lrp"}) {
    CAPTURE(method);
    const AttributionResult cpu = attribute(method, *model, x, Target::index(3));
    const AttributionResult gpu = attribute(method, *model, x, Target::index(3), {.workspace = &ws});
    CHECK(gpu.attribution.device() == Device::CPU);  // results come back to the host
    compare(gpu.output, cpu.output, true, "logits");
    compare(gpu.attribution, cpu.attribution, true, "attribution");
  }
  MethodOptions on_device{.workspace = &ws};
  CHECK_THROWS_WITH_AS(attribute("deeplift", *model, x, Target::index(3), on_device),
                       doctest::Contains("runs on the CPU only for now"), Error);
}

}  // TEST_SUITE
