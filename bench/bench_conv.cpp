// bench_conv: conv2d forward and backward-input over the ResNet-18 and VGG-16 layer shapes
// (3x224x224 input), batch 1 and 16, all cores, plus the GEMM ceiling at 2048^3 (Eigen's
// product and backlight's fn::gemm kernel).
//
//   bench_conv [--json] [--quick] [--only resnet18/layer1] [--batches 1,16] [--min-time S]
//
// Rows per layer and batch: fwd and bwd_input are the dispatcher's choice (conv.h; the totals
// sum these); where the Winograd path applies (3x3 stride 1) also fwd_gemm / fwd_winograd and
// bwd_input_gemm / bwd_input_winograd, the two paths called directly (e.g. --only _winograd).
// Every row is validated against the double-accumulating reference (engine/functional/
// conv_ref.h) on a random sample of elements before it is timed; err_rel is the largest error on
// 1000 further samples relative to the largest |output|.
// GFLOP/s counts 2*MACs of the product actually computed: forward 2*N*O*OH*OW*(C/g)*kH*kW, and
// backward-input (the transposed product W^T g, then col2im) the same multiply-adds. GB/s counts
// input, weight and output bytes once (the floor of the traffic; what depthwise convs are bound by).
// Depthwise and grouped layers of EfficientNet-B0, ConvNeXt-T, MobileNetV3-L, ResNeXt-50 follow.
#include <Eigen/Core>
#include <cmath>
#include <functional>
#include <map>
#include <random>
#include <sstream>

#include "bench/gemm_ceiling.h"
#include "bench/harness.h"
#include "engine/eigen.h"
#include "engine/functional/conv.h"
#include "engine/functional/conv_paths.h"
#include "engine/functional/conv_ref.h"
#include "engine/functional/gemm.h"
#include "engine/parallel.h"

using namespace backlight;

namespace {

struct Layer {
  const char* model;
  const char* name;  // module path(s) covered
  int64_t c, hw, o, k, stride, pad;
  int count;  // how many layers of the network have this shape
  int64_t groups = 1;  // depthwise: groups == c
};

// Unique conv shapes of torchvision resnet18 and vgg16 at 224x224.
const Layer kLayers[] = {
    {"resnet18", "conv1", 3, 224, 64, 7, 2, 3, 1},
    {"resnet18", "layer1.*.conv*", 64, 56, 64, 3, 1, 1, 4},
    {"resnet18", "layer2.0.conv1", 64, 56, 128, 3, 2, 1, 1},
    {"resnet18", "layer2.0.downsample.0", 64, 56, 128, 1, 2, 0, 1},
    {"resnet18", "layer2.*.conv* (rest)", 128, 28, 128, 3, 1, 1, 3},
    {"resnet18", "layer3.0.conv1", 128, 28, 256, 3, 2, 1, 1},
    {"resnet18", "layer3.0.downsample.0", 128, 28, 256, 1, 2, 0, 1},
    {"resnet18", "layer3.*.conv* (rest)", 256, 14, 256, 3, 1, 1, 3},
    {"resnet18", "layer4.0.conv1", 256, 14, 512, 3, 2, 1, 1},
    {"resnet18", "layer4.0.downsample.0", 256, 14, 512, 1, 2, 0, 1},
    {"resnet18", "layer4.*.conv* (rest)", 512, 7, 512, 3, 1, 1, 3},
    {"vgg16", "features.0", 3, 224, 64, 3, 1, 1, 1},
    {"vgg16", "features.2", 64, 224, 64, 3, 1, 1, 1},
    {"vgg16", "features.5", 64, 112, 128, 3, 1, 1, 1},
    {"vgg16", "features.7", 128, 112, 128, 3, 1, 1, 1},
    {"vgg16", "features.10", 128, 56, 256, 3, 1, 1, 1},
    {"vgg16", "features.12,14", 256, 56, 256, 3, 1, 1, 2},
    {"vgg16", "features.17", 256, 28, 512, 3, 1, 1, 1},
    {"vgg16", "features.19,21", 512, 28, 512, 3, 1, 1, 2},
    {"vgg16", "features.24,26,28", 512, 14, 512, 3, 1, 1, 3},
    // Depthwise and grouped convolutions of imported models (issue 16): memory-bound, so the rows
    // also report GB/s (input + weight + output bytes once).
    {"efficientnet_b0", "features.1.0.block.0 (dw)", 32, 112, 32, 3, 1, 1, 1, 32},
    {"efficientnet_b0", "features.3.0.block.1 (dw)", 144, 56, 144, 5, 2, 2, 1, 144},
    {"efficientnet_b0", "features.6.*.block.1 (dw)", 1152, 7, 1152, 5, 1, 2, 3, 1152},
    {"convnext_tiny", "features.1.*.block.0 (dw)", 96, 56, 96, 7, 1, 3, 3, 96},
    {"mobilenet_v3_large", "features.4.block.1 (dw)", 72, 56, 72, 5, 2, 2, 1, 72},
    {"resnext50_32x4d", "layer1.*.conv2 (g32)", 128, 56, 128, 3, 1, 1, 3, 32},
};

// Max |got - ref| over 1000 sampled elements, relative to max |got| over all elements.
double sampled_error_rel(const Tensor& got, const std::function<double(int64_t)>& ref, std::mt19937_64& rng) {
  std::uniform_int_distribution<int64_t> pick(0, got.numel() - 1);
  double err = 0, top = 0;
  for (int s = 0; s < 1000; ++s) {
    const int64_t i = pick(rng);
    err = std::max(err, std::fabs(got.data()[i] - ref(i)));
  }
  for (float v : got.span()) top = std::max<double>(top, std::fabs(v));
  return top > 0 ? err / top : err;
}

std::string shape_str(const fn::ConvGeometry& g) {
  std::ostringstream os;
  os << g.c << "x" << g.h << "x" << g.w << "->" << g.o << "x" << g.oh << "x" << g.ow << " k" << g.kh << " s"
     << g.a.stride_h << " p" << g.a.pad_h;
  return os.str();
}

}  // namespace

int main(int argc, char** argv) {
  try {
    bench::Options opt = bench::parse_args(argc, argv);
    if (opt.threads > 0) set_num_threads(opt.threads);
    if (opt.min_time == 1.0 && !opt.quick) opt.min_time = 0.5;  // many configurations: shorter floor
    std::vector<int64_t> batches{1, 16};
    if (std::string b = opt.get("--batches"); !b.empty()) {
      batches.clear();
      std::stringstream ss(b);
      for (std::string part; std::getline(ss, part, ',');) batches.push_back(std::stoll(part));
    }
    if (opt.quick) batches = {1};
    bench::Reporter rep(opt);
    rep.note("threads: OpenMP " + std::to_string(num_threads()) + ", Eigen " + std::to_string(Eigen::nbThreads()));
    bench::gemm_ceiling(opt, rep);

    Workspace ws;
    // Per model and batch: sum over layers of count * median, for the conv share of a network run.
    std::map<std::string, std::array<double, 4>> totals;  // fwd s, fwd flops, bwd s, bwd flops
    for (int64_t nb : batches)
      for (const Layer& l : kLayers) {
        const std::string base = std::string(l.model) + "/" + l.name + "/b" + std::to_string(nb);
        const bool do_fwd = opt.selected(base + "/fwd") || opt.selected(base + "/fwd_gemm") ||
                            opt.selected(base + "/fwd_winograd");
        const bool do_bwd = opt.selected(base + "/bwd_input") || opt.selected(base + "/bwd_input_gemm") ||
                            opt.selected(base + "/bwd_input_winograd");
        if (!do_fwd && !do_bwd) continue;
        const int64_t hw = opt.quick ? std::min<int64_t>(l.hw, 28) : l.hw;
        const Conv2dAttrs a{.stride_h = static_cast<int>(l.stride), .stride_w = static_cast<int>(l.stride),
                            .pad_h = static_cast<int>(l.pad), .pad_w = static_cast<int>(l.pad),
                            .groups = static_cast<int>(l.groups)};
        std::mt19937_64 rng(0xdeadbeef);
        Tensor x = bench::random_normal(Shape{nb, l.c, hw, hw}, rng, 1.0f);
        Tensor w = bench::random_normal(Shape{l.o, l.c / l.groups, l.k, l.k}, rng,
                                        std::sqrt(2.0f / static_cast<float>(l.c / l.groups * l.k * l.k)));
        Tensor b = bench::random_normal(Shape{l.o}, rng, 0.1f);
        const fn::ConvGeometry g = fn::conv2d_geometry(x.shape(), w.shape(), a);
        Tensor gy = bench::random_normal(Shape{g.n, g.o, g.oh, g.ow}, rng, 1.0f);
        const double flops = 2.0 * g.n * g.o * g.oh * g.ow * g.k();
        const double bytes = 4.0 * (x.numel() + w.numel() + g.n * g.o * g.oh * g.ow);
        const std::string total_key = std::string(l.model) + "/b" + std::to_string(nb);
        const float* bp = b.data();
        auto ref_y = [&](int64_t i) {
          const int64_t ox = i % g.ow, oy = i / g.ow % g.oh, o = i / (g.ow * g.oh) % g.o, n = i / (g.ow * g.oh * g.o);
          return fn::ref::conv2d_forward_at(x.data(), w.data(), bp, g, n, o, oy, ox);
        };
        auto ref_dx = [&](int64_t i) {
          const int64_t ix = i % g.w, iy = i / g.w % g.h, c = i / (g.w * g.h) % g.c, n = i / (g.w * g.h * g.c);
          return fn::ref::conv2d_backward_input_at(gy.data(), w.data(), g, n, c, iy, ix);
        };
        // One row: validate on sampled elements, then time; err_rel = max sampled |error| / max |out|.
        // Returns the median seconds (0 when not run).
        auto row = [&](const std::string& name, const std::function<void(Tensor&)>& run, Tensor out,
                       const std::function<double(int64_t)>& ref) -> double {
          if (!opt.selected(name)) return 0.0;
          const bool ok = rep.validate(name, [&] {
            run(out);
            return bench::check_sample(out, ref, rng);
          });
          if (!ok) return 0.0;  // a wrong result is not timed
          const double err = sampled_error_rel(out, ref, rng);
          const bench::Stats s = bench::measure(opt, [&] { run(out); });
          rep.emit(bench::Record(name).add("shape", shape_str(g)).add("count", l.count).add("gflop", flops / 1e9)
                       .add("gflops", flops / s.median / 1e9).add("gbps", bytes / s.median / 1e9)
                       .add("err_rel", err), s);
          return s.median;
        };
        Tensor y = Tensor::empty(Shape{g.n, g.o, g.oh, g.ow}), dx = Tensor::empty(x.shape());
        const bool wino = fn::conv_paths::winograd_applies(g);
        if (do_fwd) {
          // The dispatcher's choice (the totals), then, where Winograd applies, both paths.
          const double t = row(base + "/fwd", [&](Tensor& out) { out = fn::conv2d_forward(x, w, b, a, &ws); }, y, ref_y);
          if (t > 0) {
            totals[total_key][0] += l.count * t;
            totals[total_key][1] += l.count * flops;
          }
          if (wino) {
            row(base + "/fwd_gemm",
                [&](Tensor& out) { fn::conv_paths::forward_gemm(x.data(), w.data(), bp, g, out.data(), &ws); }, y, ref_y);
            row(base + "/fwd_winograd",
                [&](Tensor& out) { fn::conv_paths::forward_winograd(x.data(), w.data(), bp, g, out.data(), &ws); }, y,
                ref_y);
          }
        }
        if (do_bwd) {
          const double t = row(base + "/bwd_input",
                               [&](Tensor& out) { out = fn::conv2d_backward_input(gy, w, x.shape(), a, &ws); }, dx, ref_dx);
          if (t > 0) {
            totals[total_key][2] += l.count * t;
            totals[total_key][3] += l.count * flops;
          }
          if (wino) {
            // The GEMM path the dispatcher takes for stride 1 without Winograd (conv.cpp).
            row(base + "/bwd_input_gemm", [&](Tensor& out) {
              if (2 * g.cg() >= g.og()) fn::conv_paths::backward_input_flipped(gy.data(), w.data(), g, out.data(), &ws);
              else fn::conv_paths::backward_input_col2im(gy.data(), w.data(), g, out.data(), &ws);
            }, dx, ref_dx);
            row(base + "/bwd_input_winograd",
                [&](Tensor& out) { fn::conv_paths::backward_input_winograd(gy.data(), w.data(), g, out.data(), &ws); },
                dx, ref_dx);
          }
        }
      }
    for (const auto& [key, t] : totals) {
      bench::Record r("total/" + key);
      if (t[0] > 0) r.add("fwd_convs_s", t[0]).add("fwd_gflops", t[1] / t[0] / 1e9);
      if (t[2] > 0) r.add("bwd_input_convs_s", t[2]).add("bwd_gflops", t[3] / t[2] / 1e9);
      rep.emit(r);
    }
    return rep.exit_code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_conv: %s\n", e.what());
    return 2;
  }
}
