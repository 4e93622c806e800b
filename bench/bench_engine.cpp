// bench_engine: forward and forward+input-gradient of VGG-16 and ResNet-18 (torchvision layouts,
// built here directly from engine ops with torchvision's parameter names), 3x224x224, batch 1
// and 16, all cores, one Workspace kept alive across repeats (buffers are reused).
//
//   bench_engine [--json] [--quick] [--only resnet18/b1/forward] [--reference DIR] [--profile]
//                [--dump DIR]   (writes batch-1 logits / input gradient as raw float32)
//
// Workloads (8): {vgg16, resnet18} x {b1, b16} x {forward, forward_input_grad}.
//   forward            inference tape (nothing recorded), eval semantics (BN running stats,
//                      dropout identity)
//   forward_input_grad recording tape, then the plain gradient of logits[:, 0] (seed one-hot on
//                      class 0 for every row) with respect to the input only; no parameter
//                      gradients are computed
// Weights: models/synthetic_weights (seed 2024), identical bit for bit to
// tools/reference/synthetic_weights.py, so bench/compare_engine.py runs PyTorch on the same
// weights and the same input (synthetic_uniform(seed 2024, "input", -2, 2)).
// Validation before timing: outputs finite; row 0 of batch 16 equals batch 1 (the input's first
// image is the same); with --reference DIR also the logits (max error <= 1e-3 max|ref|) and
// the input gradient (relative L2 <= 2e-2, see compare_l2) of batch 1 against PyTorch's (files
// written by compare_engine.py).
// GFLOP counts the multiply-adds (x2) of every conv and linear node on the tape: forward
// 2*N*O*OH*OW*(C/g)*kH*kW and 2*rows*in*out; the input-gradient products W^T g have the same
// counts and are counted per node that backward visits (all of them: every layer depends on
// the input). --profile adds one line per op kind with its forward and backward time.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "bench/harness.h"
#include "engine/backward.h"
#include "engine/functional/gemm.h"
#include "engine/ops/ops.h"
#include "engine/parallel.h"
#include "engine/rules/rule.h"
#include "models/synthetic_weights.h"
#include "models/zoo.h"

using namespace backlight;

namespace {

constexpr uint64_t kSeed = 2024;

// --- optional per-op-kind profile -----------------------------------------------------------------

struct Profile {
  bool on = false;
  std::map<std::string, double> fwd, bwd;
  std::map<std::string, int> count;
};
Profile g_prof;

template <class F>
Var timed(const char* kind, F&& f) {
  if (!g_prof.on) return f();
  const double t0 = bench::now_seconds();
  Var v = f();
  g_prof.fwd[kind] += bench::now_seconds() - t0;
  g_prof.count[kind] += 1;
  return v;
}

// The plain gradient, timed per op kind.
class TimedGradient : public Rule {
 public:
  std::string name() const override { return "timed_gradient"; }
  std::vector<Tensor> backward(const RuleContext& ctx, const Tensor& g) const override {
    const double t0 = bench::now_seconds();
    std::vector<Tensor> r = plain_vjp(ctx, g);
    g_prof.bwd[std::string(to_string(ctx.kind()))] += bench::now_seconds() - t0;
    return r;
  }
};

// --- networks from ops ----------------------------------------------------------------------------

using Params = std::map<std::string, Tensor>;

struct Net {
  const Params& p;
  Tape& t;
  Var param(const std::string& name) const {
    auto it = p.find(name);
    BL_CHECK(it != p.end(), "bench_engine: no parameter '", name, "' in the model's state_dict");
    return t.param(it->second, name);
  }
  Var buffer(const std::string& name) const {
    auto it = p.find(name);
    BL_CHECK(it != p.end(), "bench_engine: no buffer '", name, "' in the model's state_dict");
    return t.buffer(it->second, name);
  }
  Var conv(const Var& x, const std::string& name, int stride, int pad, bool bias) const {
    const Conv2dAttrs a{.stride_h = stride, .stride_w = stride, .pad_h = pad, .pad_w = pad};
    const Var w = param(name + ".weight"), b = bias ? param(name + ".bias") : Var();
    return timed("conv2d", [&] { return conv2d(x, w, b, a, name); });
  }
  Var bn(const Var& x, const std::string& name) const {
    const Var w = param(name + ".weight"), b = param(name + ".bias");
    const Var m = buffer(name + ".running_mean"), v = buffer(name + ".running_var");
    return timed("batchnorm", [&] { return batchnorm(x, w, b, m, v, 1e-5f, name); });
  }
  Var relu(const Var& x, const std::string& name) const {
    return timed("relu", [&] { return backlight::relu(x, name); });
  }
  Var linear(const Var& x, const std::string& name) const {
    const Var w = param(name + ".weight"), b = param(name + ".bias");
    return timed("linear", [&] { return backlight::linear(x, w, b, name); });
  }
  Var maxpool(const Var& x, int k, int s, int pad, const std::string& name) const {
    const Pool2dAttrs a{.kernel_h = k, .kernel_w = k, .stride_h = s, .stride_w = s, .pad_h = pad, .pad_w = pad};
    return timed("maxpool2d", [&] { return maxpool2d(x, a, name); });
  }
  Var avgpool(const Var& x, int64_t out, const std::string& name) const {
    return timed("adaptive_avgpool2d", [&] { return adaptive_avgpool2d(x, out, out, name); });
  }
  Var flatten(const Var& x) const {
    return timed("reshape", [&] { return backlight::flatten(x, 1, -1, "flatten"); });
  }
};

// torchvision vgg16 (no BN): features.{0..30}, avgpool, classifier.{0..6}.
Var vgg16_forward(const Net& net, Var x) {
  const int cfg[] = {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0};
  int idx = 0;
  for (int c : cfg) {
    if (c == 0) {
      x = net.maxpool(x, 2, 2, 0, "features." + std::to_string(idx));
      idx += 1;
    } else {
      x = net.conv(x, "features." + std::to_string(idx), 1, 1, true);
      x = net.relu(x, "features." + std::to_string(idx + 1));
      idx += 2;
    }
  }
  x = net.avgpool(x, 7, "avgpool");
  x = net.flatten(x);
  x = net.linear(x, "classifier.0");
  x = net.relu(x, "classifier.1");
  x = timed("dropout", [&] { return dropout(x, 0.5f, "classifier.2"); });
  x = net.linear(x, "classifier.3");
  x = net.relu(x, "classifier.4");
  x = timed("dropout", [&] { return dropout(x, 0.5f, "classifier.5"); });
  return net.linear(x, "classifier.6");
}

// torchvision resnet18: conv1, bn1, relu, maxpool, layer1..4 x 2 BasicBlocks, avgpool, fc.
Var resnet18_forward(const Net& net, Var x) {
  x = net.conv(x, "conv1", 2, 3, false);
  x = net.bn(x, "bn1");
  x = net.relu(x, "relu");
  x = net.maxpool(x, 3, 2, 1, "maxpool");
  int in_ch = 64;
  for (int layer = 1; layer <= 4; ++layer) {
    const int ch = 64 << (layer - 1);
    for (int block = 0; block < 2; ++block) {
      const std::string pre = "layer" + std::to_string(layer) + "." + std::to_string(block);
      const int stride = (block == 0 && layer > 1) ? 2 : 1;
      Var out = net.conv(x, pre + ".conv1", stride, 1, false);
      out = net.bn(out, pre + ".bn1");
      out = net.relu(out, pre + ".relu");
      out = net.conv(out, pre + ".conv2", 1, 1, false);
      out = net.bn(out, pre + ".bn2");
      Var identity = x;
      if (stride != 1 || in_ch != ch) {
        identity = net.conv(x, pre + ".downsample.0", stride, 0, false);
        identity = net.bn(identity, pre + ".downsample.1");
      }
      out = timed("add", [&] { return add(out, identity, pre); });
      x = net.relu(out, pre + ".relu");
      in_ch = ch;
    }
  }
  x = net.avgpool(x, 1, "avgpool");
  x = net.flatten(x);
  return net.linear(x, "fc");
}

// --- workloads ------------------------------------------------------------------------------------

struct Model {
  std::string name;
  Params params;
  Var (*forward)(const Net&, Var);
};

Model build_model(const std::string& name) {
  ModulePtr m = make_model(name, {.seed = kSeed});
  fill_synthetic(*m, kSeed);
  Model out{name, {}, name == "vgg16" ? &vgg16_forward : &resnet18_forward};
  for (auto& [k, v] : m->state_dict()) out.params[k] = v;
  return out;
}

Tensor make_input(int64_t n) { return synthetic_uniform(Shape{n, 3, 224, 224}, kSeed, "input", -2.0f, 2.0f); }

Tensor make_seed(int64_t n) {
  Tensor s = Tensor::zeros(Shape{n, 1000});
  for (int64_t i = 0; i < n; ++i) s.data()[i * 1000] = 1.0f;
  return s;
}

struct RunResult {
  Tensor logits, input_grad;
  double fwd_flops = 0, bwd_flops = 0;
};

// FLOPs of the conv/linear nodes of a recorded tape (forward, and backward-input products).
void count_flops(const Tape& t, RunResult& r) {
  for (const Node& n : t.nodes()) {
    if (n.kind == OpKind::Conv2d) {
      const Shape &x = t.value(n.inputs[0]).tensor.shape(), &w = t.value(n.inputs[1]).tensor.shape(),
                  &y = t.value(n.output).tensor.shape();
      const int64_t groups = x[1] / w[1];
      r.fwd_flops += 2.0 * y[0] * y[1] * y[2] * y[3] * w[1] * w[2] * w[3];
      // dcol = W_g^T g per group: (C/g*kH*kW) x (OH*OW) x (O/g), for N images and g groups.
      r.bwd_flops += 2.0 * y[0] * groups * (w[1] * w[2] * w[3]) * (y[2] * y[3]) * (y[1] / groups);
    } else if (n.kind == OpKind::Linear) {
      const Shape &x = t.value(n.inputs[0]).tensor.shape(), &w = t.value(n.inputs[1]).tensor.shape();
      const int64_t rows = x.numel() / x[-1];
      r.fwd_flops += 2.0 * rows * w[0] * w[1];
      r.bwd_flops += 2.0 * rows * w[1] * w[0];  // dx = g W: rows x in x out
    }
  }
}

RunResult run(const Model& m, const Tensor& x, const Tensor& seed, bool with_grad, const Workspace& ws,
              bool count = false) {
  RunResult r;
  Tape tape(TapeOptions{.record = with_grad || count}, ws);
  Var xv = tape.input(x, "input");
  Var y = m.forward(Net{m.params, tape}, xv);
  r.logits = y.value();
  if (count) count_flops(tape, r);
  if (with_grad) {
    static const RuleSet plain;
    static const RuleSet timed_rules = RuleSet{}.otherwise(std::make_shared<TimedGradient>());
    r.input_grad = backward(y, seed, xv, g_prof.on ? timed_rules : plain);
  }
  return r;
}

// --- validation -----------------------------------------------------------------------------------

std::string compare(const Tensor& got, const Tensor& want, double rtol_of_max, const char* what) {
  if (got.numel() != want.numel())
    return std::string(what) + ": " + std::to_string(got.numel()) + " vs " + std::to_string(want.numel()) +
           " elements";
  double scale = 1e-12, max_err = 0;
  int64_t worst = 0;
  for (int64_t i = 0; i < want.numel(); ++i) scale = std::max(scale, static_cast<double>(std::fabs(want.data()[i])));
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double e = std::fabs(static_cast<double>(got.data()[i]) - want.data()[i]);
    if (!(e <= max_err)) {
      max_err = e;
      worst = i;
    }
  }
  if (max_err <= rtol_of_max * scale) return "";
  std::ostringstream os;
  os << what << ": max |error| " << max_err << " > " << rtol_of_max << " * max|ref| (" << scale << "), worst at ["
     << worst << "]: " << got.data()[worst] << " vs " << want.data()[worst];
  return os.str();
}

// Relative L2 error. The input gradient of a ReLU network is piecewise constant in the
// weights' rounding: a pre-activation within float error of 0 flips its mask, so two correct
// float32 implementations differ by far more than rounding (measured on resnet18 b1: PyTorch's
// oneDNN and im2col paths differ from a float64 run by 1.3e-3 and 5.4e-3 relative L2, max error
// 2.3% of max|g| for the latter). The gradient is therefore compared in L2, the logits elementwise.
std::string compare_l2(const Tensor& got, const Tensor& want, double tol, const char* what) {
  if (got.numel() != want.numel()) return std::string(what) + ": element counts differ";
  double num = 0, den = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double d = static_cast<double>(got.data()[i]) - want.data()[i];
    num += d * d;
    den += static_cast<double>(want.data()[i]) * want.data()[i];
  }
  const double rel = std::sqrt(num / std::max(den, 1e-300));
  if (rel <= tol) return "";
  std::ostringstream os;
  os << what << ": relative L2 error " << rel << " > " << tol;
  return os.str();
}

std::string check_finite(const Tensor& t, const char* what) {
  for (float v : t.span())
    if (!std::isfinite(v)) return std::string(what) + ": non-finite value";
  return "";
}

Tensor read_f32(const std::filesystem::path& path, const Shape& shape) {
  std::ifstream f(path, std::ios::binary);
  BL_CHECK(f, "bench_engine: cannot open reference file ", path.string());
  Tensor t = Tensor::empty(shape);
  f.read(reinterpret_cast<char*>(t.data()), static_cast<std::streamsize>(sizeof(float) * t.numel()));
  BL_CHECK(f.gcount() == static_cast<std::streamsize>(sizeof(float) * t.numel()), "bench_engine: ", path.string(),
           " holds fewer than ", t.numel(), " floats");
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    bench::Options opt = bench::parse_args(argc, argv);
    if (opt.threads > 0) set_num_threads(opt.threads);
    g_prof.on = opt.has("--profile");
    const std::string reference = opt.get("--reference");
    std::vector<int64_t> batches{1, 16};
    if (opt.quick) batches = {1};
    bench::Reporter rep(opt);
    rep.note("threads: " + std::to_string(num_threads()) + ", gemm kernel: " + fn::gemm::kernel_name());

    for (const char* model_name : {"vgg16", "resnet18"}) {
      bool any = false;
      for (int64_t nb : batches)
        for (const char* kind : {"forward", "forward_input_grad"})
          any |= opt.selected(std::string(model_name) + "/b" + std::to_string(nb) + "/" + kind);
      if (!any) continue;
      const Model model = build_model(model_name);
      Workspace ws;
      Tensor logits_b1;  // for the batch-invariance check
      for (int64_t nb : batches) {
        const Tensor x = make_input(nb), seed = make_seed(nb);
        for (const bool with_grad : {false, true}) {
          const std::string name =
              std::string(model_name) + "/b" + std::to_string(nb) + "/" + (with_grad ? "forward_input_grad" : "forward");
          if (!opt.selected(name)) continue;
          const RunResult counted = run(model, x, seed, with_grad, ws, /*count=*/true);
          if (const std::string dump = opt.get("--dump"); !dump.empty() && nb == 1) {
            // Raw float32 files for offline comparison (same layout as the --reference files).
            const std::string base = dump + "/" + model_name + "_b1_";
            std::ofstream(base + "logits.f32", std::ios::binary)
                .write(reinterpret_cast<const char*>(counted.logits.data()), 4 * counted.logits.numel());
            if (with_grad)
              std::ofstream(base + "input_grad.f32", std::ios::binary)
                  .write(reinterpret_cast<const char*>(counted.input_grad.data()), 4 * counted.input_grad.numel());
          }
          const bool ok = rep.validate(name, [&]() -> std::string {
            std::string e = check_finite(counted.logits, "logits");
            if (e.empty() && with_grad) e = check_finite(counted.input_grad, "input gradient");
            if (e.empty() && nb == 1) logits_b1 = counted.logits;
            if (e.empty() && nb > 1 && !logits_b1.defined())
              logits_b1 = run(model, make_input(1), make_seed(1), false, ws).logits;
            if (e.empty() && nb > 1)
              e = compare(counted.logits.slice_batch(0, 1), logits_b1, 1e-4, "batch row 0 vs batch 1 logits");
            if (e.empty() && !reference.empty() && nb == 1) {
              const std::filesystem::path dir(reference);
              e = compare(counted.logits, read_f32(dir / (std::string(model_name) + "_b1_logits.f32"), Shape{1, 1000}),
                          1e-3, "logits vs PyTorch");
              if (e.empty() && with_grad)
                e = compare_l2(counted.input_grad,
                               read_f32(dir / (std::string(model_name) + "_b1_input_grad.f32"), x.shape()), 2e-2,
                               "input gradient vs PyTorch");
            }
            return e;
          });
          if (!ok) continue;  // a wrong result is not timed
          g_prof.fwd.clear();
          g_prof.bwd.clear();
          g_prof.count.clear();
          const bench::Stats s = bench::measure(opt, [&] { run(model, x, seed, with_grad, ws); });
          const double flops = counted.fwd_flops + (with_grad ? counted.bwd_flops : 0.0);
          const WorkspaceStats wst = ws.stats();
          rep.emit(bench::Record(name)
                       .add("model", model_name)
                       .add("batch", nb)
                       .add("workload", with_grad ? "forward_input_grad" : "forward")
                       .add("threads", num_threads())
                       .add("gflop", flops / 1e9)
                       .add("gflops", flops / s.median / 1e9)
                       .add("ws_cached_mb", static_cast<double>(wst.bytes_cached) / (1 << 20))
                       .add("reference", !reference.empty() && nb == 1),
                   s);
          if (g_prof.on) {
            // Per op kind, milliseconds per run (forward timed around each op call, backward
            // around each rule call; keys are the tape's op kind names).
            const double calls = s.repeats + opt.warmup;
            std::map<std::string, int> kinds;
            for (const auto& [k, t] : g_prof.fwd) kinds[k] = 1;
            for (const auto& [k, t] : g_prof.bwd) kinds[k] = 1;
            for (const auto& [k, unused] : kinds)
              rep.emit(bench::Record("profile/" + name + "/" + k)
                           .add("fwd_ms", 1e3 * g_prof.fwd[k] / calls)
                           .add("bwd_ms", 1e3 * g_prof.bwd[k] / calls)
                           .add("ops_per_run", static_cast<double>(g_prof.count[k]) / calls));
          }
        }
      }
    }
    return rep.exit_code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_engine: %s\n", e.what());
    return 2;
  }
}
