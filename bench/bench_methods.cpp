// bench_methods: end-to-end attribution methods on zoo models (issue 9; the IG and occlusion
// variants of issue 6). Workloads, settings and the FLOP model: bench/method_workloads.h.
//
//   bench_methods [--json] [--quick] [--model resnet18,vgg16,mnist_cnn] [--batch 1,16]
//                 [--workload saliency,ig,...] [--only resnet18/b1/ig] [--save DIR]
//                 [--ig-batch ROWS] [--sg-batch SAMPLES] [--ppe N] [--shapley-samples N]
//                 [--no-gemm | --gemm-only] [--list]
//
// Configurations are named <model>/b<batch>/<workload>. --quick (the CI smoke) defaults to
// mnist_cnn at batch 1 and two timed calls; slow workloads get fewer timed calls by themselves
// (a warm-up call over 2 s: 2 timed calls; over 10 s: 1; over 60 s: that call is the
// measurement, timed_first_call = true). One Workspace per model is kept across
// calls, so buffers are reused as a user's repeated calls would.
//
// Each record: model, batch, workload, gflop (the workload's FLOPs by the model in
// method_workloads.h), gflops (achieved), efficiency (gflops / the GEMM rate measured at the
// start of the same run, "machine/gemm"), plus the harness's median/min/max seconds and repeats.
//
// Validation before timing (a failed check is reported and the workload is not timed):
// attributions finite, of the expected shape and not all zero; ig (fused) equals ig_plain on a
// 4-step rule (relative L2 <= 1e-4; chunking and kernels vs the plain loop); smoothgrad with zero
// noise equals saliency; deeplift's summation-to-delta residual and shapley's efficiency residual
// are small; grad_cam >= 0; occlusion_incremental equals plain occlusion (on the stride = window grid).
//
// --save DIR writes, per configuration, <model>_b<batch>_<workload>.npy (the attribution of the
// validated warm-up call) and what compare.py needs to run the same work in Captum/Zennit:
// <model>_b<batch>_input.npy, ..._targets.npy (class per item, as float),
// ..._smoothgrad_noisy.npy (the noisy rows, sample-minor), ..._shapley_perms.npy ([samples,
// features] as float) and ..._shapley_mask.npy.
// The IG workloads use a zero baseline (ig_plain relies on it: x_k = alpha_k x).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "attribution/perturbation/occlusion.h"
#include "attribution/gradient/gradient_methods.h"
#include "attribution/perturbation/incremental/incremental_occlusion.h"
#include "attribution/path/integration.h"
#include "attribution/gradient/noise_tunnel.h"
#include "attribution/core/pass.h"
#include "attribution/perturbation/perturbation.h"
#include "attribution/registry.h"
#include "bench/gemm_ceiling.h"
#include "bench/harness.h"
#include "bench/method_workloads.h"
#include "engine/canonize.h"
#include "engine/flops.h"
#include "engine/parallel.h"
#include "models/synthetic_weights.h"
#include "models/zoo.h"
#include "io/npy.h"

using namespace backlight;

namespace {

constexpr uint64_t kSeed = 2024;

// A positive integer option value; throws naming the option otherwise.
int64_t positive(const std::string& option, const std::string& text) {
  size_t used = 0;
  int64_t v = 0;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  BL_CHECK(used == text.size() && v >= 0, option, ": expected a non-negative integer, got '", text, "'");
  return v;
}

// Feature groups of a window_grid_mask: ids 0 .. max.
int64_t mask_features(const Tensor& mask) {
  int64_t features = 0;
  for (int64_t i = 0; i < mask.numel(); ++i)
    features = std::max<int64_t>(features, static_cast<int64_t>(mask.data()[i]) + 1);
  return features;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string part; std::getline(ss, part, ',');)
    if (!part.empty()) out.push_back(part);
  return out;
}

// --- the unfused IG baseline ------------------------------------------------------------------------

// Integrated gradients the straightforward way (zero baseline): for every step its own
// interpolated tensor, one forward and backward of the N items, the gradient kept in a full
// [steps, N, ...] buffer; the weighted sum and the product with the input at the end.
Tensor ig_plain(const Module& model, const Tensor& x, const Target& target, int steps, const Workspace& ws) {
  const IntegrationRule rule = integration_rule(Integration::GaussLegendre, steps);
  const int64_t numel = x.numel();
  Tensor grads = Tensor::empty(Shape{static_cast<int64_t>(steps), numel});
  const RuleSet gradient("gradient");
  for (int k = 0; k < steps; ++k) {
    Tensor xk = Tensor::empty(x.shape());
    for (int64_t i = 0; i < numel; ++i) xk.data()[i] = static_cast<float>(rule.alphas[k]) * x.data()[i];
    ForwardPass pass = forward_pass(model, xk, ws);
    const std::vector<Var> wrt{pass.input};
    const Tensor g = target_backward(pass, target, gradient, wrt)[0];
    std::copy(g.data(), g.data() + numel, grads.data() + k * numel);
  }
  Tensor attr = Tensor::zeros(x.shape());
  for (int k = 0; k < steps; ++k)
    for (int64_t i = 0; i < numel; ++i)
      attr.data()[i] += static_cast<float>(rule.weights[k]) * grads.data()[k * numel + i];
  for (int64_t i = 0; i < numel; ++i) attr.data()[i] *= x.data()[i];
  return attr;
}

// --- checks ----------------------------------------------------------------------------------------

std::string check_attr(const Tensor& a, const Shape& expect, const char* what) {
  if (!a.defined()) return std::string(what) + ": no attribution";
  if (a.shape() != expect) return std::string(what) + ": shape " + a.shape().str() + ", expected " + expect.str();
  double sum_abs = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    if (!std::isfinite(a.data()[i])) return std::string(what) + ": non-finite value at " + std::to_string(i);
    sum_abs += std::fabs(a.data()[i]);
  }
  if (sum_abs == 0) return std::string(what) + ": all zero";
  return "";
}

double rel_l2(const Tensor& a, const Tensor& b) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < b.numel(); ++i) {
    const double d = static_cast<double>(a.data()[i]) - b.data()[i];
    num += d * d;
    den += static_cast<double>(b.data()[i]) * b.data()[i];
  }
  return std::sqrt(num / std::max(den, 1e-300));
}

std::string expect_close(const Tensor& got, const Tensor& want, double tol, const char* what) {
  if (got.shape() != want.shape()) return std::string(what) + ": shapes differ";
  const double e = rel_l2(got, want);
  if (e <= tol) return "";
  return std::string(what) + ": relative L2 error " + std::to_string(e) + " > " + std::to_string(tol);
}

// --- one model ------------------------------------------------------------------------------------

struct Settings {
  std::vector<std::string> workloads;
  std::vector<int64_t> batches;
  int ig_batch = 0, sg_batch = 0, ppe = 0, shapley_samples = 25;
  std::string save_dir;
  double gemm_gflops = 0;
};

class ModelBench {
 public:
  ModelBench(const std::string& name, const bench::Options& opt, bench::Reporter& rep, const Settings& s)
      : setup_(bench::model_setup(name)), opt_(opt), rep_(rep), s_(s) {
    model_ = make_model(name, {.seed = kSeed});
    fill_synthetic(*model_, kSeed);
    std::vector<int64_t> shape{1};
    shape.insert(shape.end(), setup_.item.begin(), setup_.item.end());
    Tape tape;
    model_->forward(tape.input(Tensor::zeros(Shape(shape))));
    flops_ = forward_flops(tape);
    for (const Node& n : tape.nodes()) node_names_.push_back(n.name);
    classes_ = zoo_model_info(name).num_classes;
    lrp_model_ = model_;
    for (const auto& [path, m] : model_->named_modules())
      if (m->type_name().rfind("BatchNorm", 0) == 0) lrp_model_ = merge_batchnorm(*model_, Shape(shape));
  }

  void run_batch(int64_t batch) {
    std::vector<int64_t> shape{batch};
    shape.insert(shape.end(), setup_.item.begin(), setup_.item.end());
    x_ = synthetic_uniform(Shape(shape), kSeed, "input", setup_.input_lo, setup_.input_hi);
    // Target: each item's top-1 class (explaining the prediction; with a fixed class, Grad-CAM's
    // ReLU can zero a whole map of a random-weight network), resolved once and passed as indices.
    Tape tape(TapeOptions{.record = false}, ws_);
    const Tensor logits = model_->forward(tape.input(x_)).value();
    std::vector<int64_t> cls;
    Tensor cls_f = Tensor::empty(Shape{batch});
    for (int64_t n = 0; n < batch; ++n) {
      const float* row = logits.data() + n * classes_;
      cls.push_back(std::max_element(row, row + classes_) - row);
      cls_f.data()[n] = static_cast<float>(cls.back());
    }
    target_ = Target::indices(cls);
    prefix_ = setup_.name + "/b" + std::to_string(batch) + "/";
    file_prefix_ = setup_.name + "_b" + std::to_string(batch) + "_";
    if (!s_.save_dir.empty()) {
      cli::save_npy(s_.save_dir + "/" + file_prefix_ + "input.npy", x_);
      cli::save_npy(s_.save_dir + "/" + file_prefix_ + "targets.npy", cls_f);
    }
    for (const std::string& w : s_.workloads)
      if (opt_.selected(prefix_ + w)) run_workload(w, batch);
  }

 private:
  MethodOptions base_options() const {
    MethodOptions o;
    o.workspace = &ws_;
    o.seed = kSeed;
    return o;
  }

  NoiseTunnelOptions smoothgrad_options(int samples, float stdev) const {
    // 3x224x224 images: max(1, 32 / N) samples per chunk (at most 32 rows per forward); small
    // inputs: all samples at once.
    const int64_t n = x_.size(0);
    const bool large = x_.numel() / n >= 10000;
    const int per_chunk =
        s_.sg_batch > 0 ? s_.sg_batch : large ? static_cast<int>(std::max<int64_t>(1, 32 / n)) : samples;
    return {.type = NoiseTunnelType::SmoothGrad, .samples = samples, .stdev = stdev, .stdev_relative = true,
            .seed = kSeed, .samples_batch_size = std::min(per_chunk, samples)};
  }

  int ig_rows() const {
    if (s_.ig_batch > 0) return s_.ig_batch;
    // 3x224x224 images: 10 rows per forward (Captum's best internal_batch_size at batch 1; at
    // batch 16 one step of 16 rows); small inputs: all steps in one forward.
    return x_.numel() / x_.size(0) >= 10000 ? 10 : 1 << 20;
  }

  Tensor smoothgrad(int samples, float stdev) const {
    MethodOptions inner = base_options();
    return noise_tunnel([&](const Tensor& xs, const Target& t) { return attribute("saliency", *model_, xs, t, inner); },
                        x_, target_, smoothgrad_options(samples, stdev))
        .attribution;
  }

  AttributionResult occlusion_run(bool incremental, bool coarse = false) const {
    // occlusion: one full forward per window position (the library's plain path);
    // occlusion_incremental: cached activations, only the window's reach recomputed per layer.
    OcclusionOptions o{.window = setup_.occlusion_window,
                       .stride = coarse ? setup_.occlusion_window : setup_.occlusion_stride,
                       .perturbations_per_eval = s_.ppe,
                       .incremental = incremental ? IncrementalMode::On : IncrementalMode::Off,
                       .workspace = &ws_};
    o.progress.enabled = false;
    return occlusion(*model_, x_, target_, o);
  }

  MethodOptions shapley_options() const {
    MethodOptions o = base_options();
    o.window = setup_.shapley_cell;
    o.samples = s_.shapley_samples;
    o.batch = s_.ppe;
    return o;
  }

  // One call of workload `w`; returns the full result (attribution, delta).
  AttributionResult call(const std::string& w) const {
    MethodOptions o = base_options();
    if (w == "ig") {
      o.steps = 50;
      o.integration = Integration::GaussLegendre;
      o.batch = ig_rows();
      return attribute("integrated_gradients", *model_, x_, target_, o);
    }
    if (w == "ig_plain") return {.attribution = ig_plain(*model_, x_, target_, 50, ws_)};
    if (w == "smoothgrad") return {.attribution = smoothgrad(20, 0.15f)};
    if (w == "grad_cam") {
      o.layer = setup_.cam_layer;
      return attribute("grad_cam", *model_, x_, target_, o);
    }
    if (w.rfind("lrp_", 0) == 0) {
      // BatchNorm folded once per model, as lrp() recommends for repeated calls and as Zennit's
      // canonizer does when its hooks are registered (compare.py registers them once).
      LrpOptions lo;
      lo.rules = w;
      lo.merge_batchnorm = false;
      lo.workspace = &ws_;
      return lrp(*lrp_model_, x_, target_, lo);
    }
    if (w == "occlusion" || w == "occlusion_incremental") return occlusion_run(w == "occlusion_incremental");
    if (w == "shapley") return attribute("shapley_value_sampling", *model_, x_, target_, shapley_options());
    return attribute(w, *model_, x_, target_, o);  // saliency, deeplift, guided_backprop
  }

  Shape expected_shape(const std::string& w) const {
    if (w != "grad_cam") return x_.shape();
    return Shape{x_.size(0), 1, x_.size(2), x_.size(3)};
  }

  // Method-specific validation beyond check_attr (see the top of the file).
  std::string validate(const std::string& w, const AttributionResult& r) const {
    std::string e = check_attr(r.attribution, expected_shape(w), w.c_str());
    if (!e.empty()) return e;
    if (w == "ig") {  // fused and chunked == the plain loop, on a 4-step rule (2 steps per chunk)
      MethodOptions o = base_options();
      o.steps = 4;
      o.integration = Integration::GaussLegendre;
      o.batch = static_cast<int>(2 * x_.size(0));
      const Tensor fused = attribute("integrated_gradients", *model_, x_, target_, o).attribution;
      // 2e-3, not float round-off: the batched rows take other GEMM/Winograd tiles, and on the deep
      // 224-px models a pre-activation within float32 epsilon of 0 can then land on the other side
      // of a ReLU. Measured (VGG-16, synthetic weights): ONE flipped gate of 100352 at features.25
      // (float64 value -5.1e-7 at scale 5.4) moves the input gradient by 7e-4 relative L2; the two
      // IG paths differed by 4.8e-4 (vgg16 b1) and 7.8e-4 (resnet18 b16). A wrong weight or scale
      // in the fused path is O(1).
      return expect_close(fused, ig_plain(*model_, x_, target_, 4, ws_), 2e-3, "ig (4 steps) vs ig_plain");
    }
    if (w == "smoothgrad") {  // zero noise: the mean of identical saliency maps
      // The 2-sample batch takes other GEMM tiles than the 1-row saliency call, so float32
      // rounding differs (measured 3e-6 relative L2 on VGG-16); a wrong mean or scale is O(1).
      const Tensor plain = attribute("saliency", *model_, x_, target_, base_options()).attribution;
      return expect_close(smoothgrad(2, 0.0f), plain, 1e-4, "smoothgrad with zero noise vs saliency");
    }
    if (w == "deeplift" || w == "shapley") {
      // Summation-to-delta / efficiency: sum(attr) = f(x) - f(baseline) up to float rounding.
      // result.delta is that residual; f(x) - f(baseline) = sum(attr) - delta sets the scale.
      const int64_t n = x_.size(0), per = x_.numel() / n;
      for (int64_t i = 0; i < n; ++i) {
        double sum = 0;
        for (int64_t k = 0; k < per; ++k) sum += r.attribution.data()[i * per + k];
        const double d = std::fabs(r.delta.data()[i]), change = std::fabs(sum - r.delta.data()[i]);
        if (!(d <= 1e-3 * std::max(change, 1.0)))
          return w + ": residual " + std::to_string(d) + " for item " + std::to_string(i) + " (f(x) - f(baseline) = " +
                 std::to_string(sum - r.delta.data()[i]) + ")";
      }
    }
    if (w == "grad_cam")
      for (int64_t i = 0; i < r.attribution.numel(); ++i)
        if (r.attribution.data()[i] < 0) return "grad_cam: negative value after the ReLU";
    if (w == "occlusion_incremental")  // vs the plain path on the stride = window grid (4x fewer positions)
      return expect_close(occlusion_run(true, true).attribution, occlusion_run(false, true).attribution, 1e-4,
                          "occlusion_incremental vs occlusion (stride = window)");
    return "";
  }

  void save_extras(const std::string& w) const {
    const std::string base = s_.save_dir + "/" + file_prefix_;
    if (w == "smoothgrad") {
      const NoiseTunnelOptions nt = smoothgrad_options(20, 0.15f);
      cli::save_npy(base + "smoothgrad_noisy.npy", noisy_inputs(x_, nt, 0, nt.samples));
    }
    if (w == "shapley") {
      const Tensor mask = window_grid_mask(x_.shape(), setup_.shapley_cell);
      cli::save_npy(base + "shapley_mask.npy", mask);
      const int32_t features = static_cast<int32_t>(mask_features(mask));
      Tensor perms = Tensor::empty(Shape{s_.shapley_samples, features});
      for (int s = 0; s < s_.shapley_samples; ++s) {
        const std::vector<int32_t> p =
            philox_permutation(features, kSeed, perturbation_stream::kShapley, static_cast<uint64_t>(s));
        for (int32_t k = 0; k < features; ++k) perms.data()[s * features + k] = static_cast<float>(p[k]);
      }
      cli::save_npy(base + "shapley_perms.npy", perms);
    }
  }

  bench::WorkloadShape workload_shape(int64_t batch) const {
    bench::WorkloadShape ws{.batch = batch, .shapley_samples = s_.shapley_samples, .cam_layer = setup_.cam_layer};
    ws.positions = occlusion_geometry(setup_.item, setup_.occlusion_window, setup_.occlusion_stride).positions;
    ws.features = mask_features(window_grid_mask(x_.shape(), setup_.shapley_cell));
    return ws;
  }

  void run_workload(const std::string& w, int64_t batch) {
    const std::string name = prefix_ + w;
    // Warm-up call (untimed by the harness): also the result that is validated and saved.
    double first_s = 0, first_cpu = 0;
    AttributionResult first;
    const bool ok = rep_.validate(name, [&] {
      const double c0 = bench::cpu_seconds(), t0 = bench::now_seconds();
      first = call(w);
      first_s = bench::now_seconds() - t0;
      first_cpu = bench::cpu_seconds() - c0;
      return validate(w, first);
    });
    if (!ok) return;  // a wrong result is not timed
    if (!s_.save_dir.empty()) {
      cli::save_npy(s_.save_dir + "/" + file_prefix_ + w + ".npy", first.attribution);
      save_extras(w);
    }
    bench::Options o = opt_;
    o.warmup = 0;  // the validated call above was the warm-up
    if (first_s > 10 && o.max_repeats > 1) o.min_repeats = o.max_repeats = 1;
    else if (first_s > 2 && o.max_repeats > 2) o.min_repeats = o.max_repeats = 2;
    if (first_s > 2) o.min_time = 0;
    // Over a minute per call (VGG-16 occlusion): the first call is the measurement (its warm-up
    // share, a few page faults, is far below 1%), which halves the cost of such a workload.
    const bool single = first_s > 60 && opt_.check && o.max_repeats <= 2;
    bench::Stats st;
    if (single) st = {.median = first_s, .min = first_s, .max = first_s, .cpu_median = first_cpu, .repeats = 1};
    else st = bench::measure(o, [&] { call(w); });
    const double flops = bench::workload_flops(w, flops_, node_names_, workload_shape(batch));
    const double gflops = flops / st.median / 1e9;
    bench::Record extra(name);
    if (w == "occlusion_incremental") {
      // The plan's conv/linear FLOPs against the plain sweep's (item 0): how much work it skips.
      const OcclusionOptions sweep{.window = setup_.occlusion_window, .stride = setup_.occlusion_stride};
      const IncrementalOcclusionInfo info = incremental_occlusion_info(*model_, x_.slice_batch(0, 1), sweep);
      extra.add("plan_flop_fraction", info.plain_flops > 0 ? info.incremental_flops / info.plain_flops : 0.0);
    }
    bench::Record rec = bench::Record(name)
                  .add("model", setup_.name)
                  .add("batch", batch)
                  .add("workload", w)
                  .add("threads", num_threads())
                  .add("gflop", flops / 1e9)
                  .add("gflops", gflops)
                  .add("efficiency", s_.gemm_gflops > 0 ? gflops / s_.gemm_gflops : 0.0)
                  .add("first_call_s", first_s)
                  .add("timed_first_call", single);
    for (auto& f : extra.fields) rec.fields.push_back(f);
    rep_.emit(rec, st);
  }

  bench::ModelSetup setup_;
  const bench::Options& opt_;
  bench::Reporter& rep_;
  const Settings& s_;
  ModulePtr model_;
  ModulePtr lrp_model_;  ///< model_ with BatchNorm folded into the convs (when it has any)
  FlopCount flops_;
  std::vector<std::string> node_names_;
  int64_t classes_ = 0;
  Workspace ws_;
  Tensor x_;
  Target target_;
  std::string prefix_, file_prefix_;
};

}  // namespace

int main(int argc, char** argv) {
  try {
    bench::Options opt = bench::parse_args(argc, argv);
    if (opt.threads > 0) set_num_threads(opt.threads);
    if (opt.has("--list")) {
      for (const std::string& w : bench::method_workloads()) std::printf("%s\n", w.c_str());
      return 0;
    }
    Settings s;
    const std::vector<std::string> models =
        split(opt.get("--model", opt.quick ? "mnist_cnn" : "resnet18,vgg16,mnist_cnn"));
    for (const std::string& b : split(opt.get("--batch", opt.quick ? "1" : "1,16")))
      s.batches.push_back(std::max<int64_t>(1, positive("--batch", b)));
    s.workloads = split(opt.get("--workload", ""));
    if (s.workloads.empty()) s.workloads = bench::method_workloads();
    for (const std::string& w : s.workloads) {
      const auto all = bench::method_workloads();
      BL_CHECK(std::find(all.begin(), all.end(), w) != all.end(), "unknown workload '", w, "' (--list shows them)");
    }
    s.ig_batch = static_cast<int>(positive("--ig-batch", opt.get("--ig-batch", "0")));
    s.sg_batch = static_cast<int>(positive("--sg-batch", opt.get("--sg-batch", "0")));
    s.ppe = static_cast<int>(positive("--ppe", opt.get("--ppe", "0")));
    const std::string shapley = opt.get("--shapley-samples", "25");
    s.shapley_samples = static_cast<int>(std::max<int64_t>(1, positive("--shapley-samples", shapley)));
    s.save_dir = opt.get("--save");
    if (!s.save_dir.empty()) std::filesystem::create_directories(s.save_dir);

    bench::Reporter rep(opt);
    rep.note("threads: " + std::to_string(num_threads()));
    if (!opt.has("--no-gemm")) {
      // The machine's GEMM rate for the efficiency column, measured in this run (2048^3, or 512^3
      // with --quick); only backlight's kernel (the faster one here), whatever --only says.
      bench::Options g = opt;
      g.only.clear();
      s.gemm_gflops = bench::gemm_ceiling(g, rep, /*with_eigen=*/false);
      rep.emit(bench::Record("machine/gemm").add("gflops", s.gemm_gflops));
      if (opt.has("--gemm-only")) return rep.exit_code();
    }
    for (const std::string& m : models) {
      bool any = false;
      for (int64_t b : s.batches)
        for (const std::string& w : s.workloads) any |= opt.selected(m + "/b" + std::to_string(b) + "/" + w);
      if (!any) continue;
      ModelBench mb(m, opt, rep, s);
      for (int64_t b : s.batches) mb.run_batch(b);
    }
    return rep.exit_code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_methods: %s\n", e.what());
    return 2;
  }
}
