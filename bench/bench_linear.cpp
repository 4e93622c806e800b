// bench_linear: the CPU linear layer (engine/functional/linear.cpp) on text-encoder, VGG
// classifier and small shapes, forward and input gradient, against Eigen's products (what linear
// ran on ranks 2 and 3 before it moved to fn::gemm: Eigen's GEMM from 8 rows on, below that the
// matrix-vector product with the features split across threads).
//
//   bench_linear [--json] [--quick] [--only bert/] [--variant gemm|eigen] [--threads N]
//
// Configurations <shape>/<rows>/<forward|input_grad>:
//   text     the test fixture's encoder (tests/data/onnx/text_encoder.onnx): 32 -> 96 (in_proj),
//            32 -> 64, 64 -> 32 at 16 rows (one sequence of 16 tokens) and 256 (16 sequences,
//            one occlusion batch)
//   bert     BERT-base widths: 768 -> 768, 768 -> 3072, 3072 -> 768 at 128 rows (one sequence)
//            and 2048 (16 sequences)
//   vgg_fc   VGG-16 classifier.0, 25088 -> 4096 (411 MB of weight), at 1 and 16 rows
// Before timing, gemm is checked against eigen (|a - b| <= 1e-5 depth + 1e-4 |eigen|) and, for its
// batch invariance, its first row against the same row computed alone (bit for bit). Each line
// carries the load average (/proc/loadavg, 1 min) read right after the timing.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "bench/harness.h"
#include "engine/eigen.h"
#include "engine/functional/linear.h"
#include "engine/parallel.h"
#include "bench/random_tensor.h"

using namespace backlight;
using bench::uniform;

namespace {

double load1() {
  double l = -1;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &l) != 1) l = -1;
    std::fclose(f);
  }
  return l;
}

using Strided = Eigen::Map<RowMatrix, Eigen::Unaligned, Eigen::OuterStride<>>;
using ConstStrided = Eigen::Map<const RowMatrix, Eigen::Unaligned, Eigen::OuterStride<>>;

// The Eigen products linear ran before (main at 828e9c3, ranks 2 and 3).
Tensor eigen_forward(const Tensor& x, const Tensor& w, const Tensor& b) {
  const int64_t in = w.size(1), out = w.size(0), rows = x.numel() / in;
  Tensor y = Tensor::empty(Shape{rows, out});
  const auto X = mat(x.data(), rows, in);
  if (rows < 8) {
    parallel_for(out, 64, [&](int64_t lo, int64_t hi) {
      Strided Y(y.data() + lo, rows, hi - lo, Eigen::OuterStride<>(out));
      Y.noalias() = X * mat(w.data() + lo * in, hi - lo, in).transpose();
      Y.rowwise() += ConstVecMap(b.data() + lo, hi - lo).transpose();
    });
    return y;
  }
  auto Y = mat(y.data(), rows, out);
  Y.noalias() = X * mat(w.data(), out, in).transpose();
  Y.rowwise() += ConstVecMap(b.data(), out).transpose();
  return y;
}

Tensor eigen_input_grad(const Tensor& g, const Tensor& w) {
  const int64_t in = w.size(1), out = w.size(0), rows = g.numel() / out;
  Tensor dx = Tensor::empty(Shape{rows, in});
  const auto G = mat(g.data(), rows, out);
  if (rows < 8) {
    parallel_for(in, 64, [&](int64_t lo, int64_t hi) {
      Strided D(dx.data() + lo, rows, hi - lo, Eigen::OuterStride<>(in));
      D.noalias() = G * ConstStrided(w.data() + lo, out, hi - lo, Eigen::OuterStride<>(in));
    });
    return dx;
  }
  mat(dx.data(), rows, in).noalias() = G * mat(w.data(), out, in);
  return dx;
}

struct Case {
  std::string shape;
  int64_t in, out;
  std::vector<int64_t> rows;
};

}  // namespace

int main(int argc, char** argv) {
  try {
    bench::Options opt = bench::parse_args(argc, argv);
    if (opt.threads > 0) set_num_threads(opt.threads);
    const std::string only_variant = opt.get("--variant");
    bench::Reporter rep(opt);
    std::vector<Case> cases = {{"text/in_proj", 32, 96, {16, 256}}, {"text/linear1", 32, 64, {16, 256}},
                               {"text/linear2", 64, 32, {16, 256}}, {"bert/attn_out", 768, 768, {128, 2048}},
                               {"bert/ffn_up", 768, 3072, {128, 2048}}, {"bert/ffn_down", 3072, 768, {128, 2048}},
                               {"vgg_fc/classifier.0", 25088, 4096, {1, 16}}};
    if (opt.quick) cases = {{"text/in_proj", 32, 96, {16, 256}}, {"bert/ffn_up", 768, 3072, {128}}};
    Workspace ws;
    for (const Case& c : cases) {
      const Tensor w = uniform({c.out, c.in}, 1), b = uniform({c.out}, 2);
      for (const int64_t rows : c.rows) {
        const Tensor x = uniform({rows, c.in}, 3), g = uniform({rows, c.out}, 4);
        for (const bool fwd : {true, false}) {
          const std::string name = c.shape + "/" + std::to_string(rows) + (fwd ? "/forward" : "/input_grad");
          if (!opt.selected(name)) continue;
          auto run_gemm = [&] {
            return fwd ? fn::linear_forward(x, w, b, &ws) : fn::linear_backward_input(g, w, x.shape(), &ws);
          };
          auto run_eigen = [&] { return fwd ? eigen_forward(x, w, b) : eigen_input_grad(g, w); };
          if (!rep.validate(name, [&]() -> std::string {
                const Tensor got = run_gemm(), want = run_eigen();
                // float32 sums of `depth` products of [-1, 1] values in two orders.
                const double atol = 1e-5 * static_cast<double>(fwd ? c.in : c.out);
                for (int64_t i = 0; i < want.numel(); ++i)
                  if (std::fabs(got.data()[i] - want.data()[i]) > atol + 1e-4 * std::fabs(want.data()[i]))
                    return "gemm differs from eigen at " + std::to_string(i);
                const Tensor alone =
                    fwd ? fn::linear_forward(x.slice_batch(0, 1).clone(), w, b, &ws)
                        : fn::linear_backward_input(g.slice_batch(0, 1).clone(), w, Shape{1, c.in}, &ws);
                if (std::memcmp(alone.data(), got.data(), sizeof(float) * alone.numel()) != 0)
                  return "gemm: row 0 alone differs from row 0 in the batch";
                return {};
              }))
            continue;
          const double gflop = 2.0 * rows * c.in * c.out * 1e-9;
          for (const std::string variant : {"gemm", "eigen"}) {
            if (!only_variant.empty() && only_variant != variant) continue;
            const bench::Stats s = variant == "gemm" ? bench::measure(opt, run_gemm) : bench::measure(opt, run_eigen);
            rep.emit(bench::Record(name)
                         .add("variant", variant)
                         .add("threads", num_threads())
                         .add("ms", s.median * 1e3)
                         .add("GFLOP/s", gflop / s.median)
                         .add("load1", load1()),
                     s);
          }
        }
      }
    }
    return rep.exit_code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_linear: %s\n", e.what());
    return 1;
  }
}
