// bench_load_checks: the cost of issue 14's load-time weight check (models/weight_check.h: NaN/Inf
// and negative running variances) next to the explain runs it guards. Weights are the zoo
// model's random init (the scan reads every float whatever its value).
//
//   build/bench/bench_load_checks [--model vgg16] [--threads 2]        # the bench/README.md rows
//   build/bench/bench_load_checks --quick --model lenet5               # bench/smoke
//
// Rows: weight_check (ms per full scan of the state_dict), saliency and integrated_gradients
// (50 gausslegendre steps) on one input at the model's default size, and the scan as a
// percentage of each. Validation: the scan passes on the finite weights and throws on a copy
// with one NaN.
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <string>

#include "attribution/gradient/gradient_methods.h"
#include "attribution/path/integrated_gradients.h"
#include "bench/harness.h"
#include "engine/error.h"
#include "engine/parallel.h"
#include "models/weight_check.h"
#include "models/zoo.h"

using namespace backlight;

int main(int argc, char** argv) {
  try {
    bench::Options opt = bench::parse_args(argc, argv);
    if (opt.threads > 0) set_num_threads(opt.threads);
    bench::Reporter rep(opt);
    const std::string arch = opt.get("--model", "vgg16");
    const ModulePtr model = make_model(arch);
    const ModelInfo info = zoo_model_info(arch);
    const auto weights = model->state_dict();
    int64_t floats = 0;
    for (const auto& [k, t] : weights) floats += t.numel();
    rep.note("threads: " + std::to_string(num_threads()) + ", model " + arch + ", " + std::to_string(floats) +
             " weight floats (" + std::to_string(floats * 4 / 1000000) + " MB)");

    rep.validate("weight_check", [&]() -> std::string {
      try {
        check_weight_values(weights, arch);
      } catch (const Error& e) {
        return std::string("finite weights refused: ") + e.what();
      }
      auto bad = weights;
      bad.back().second = bad.back().second.clone();
      bad.back().second.data()[0] = std::numeric_limits<float>::quiet_NaN();
      try {
        check_weight_values(bad, arch);
        return "a NaN weight passed";
      } catch (const Error&) {
        return "";
      }
    });
    const bench::Stats scan = bench::measure(opt, [&] { check_weight_values(weights, arch); });
    rep.emit(bench::Record("weight_check/" + arch).add("mb", static_cast<double>(floats * 4) / 1e6), scan);

    std::vector<int64_t> dims{1};
    for (int64_t d : info.input) dims.push_back(d);
    std::mt19937_64 rng(1);
    Tensor x = Tensor::empty(Shape(dims));
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    for (float& v : x.span()) v = u(rng);
    const Workspace ws;
    const bench::Stats sal =
        bench::measure(opt, [&] { saliency(*model, x, Target::top1(), {.abs = true, .workspace = &ws}); });
    rep.emit(bench::Record("saliency/" + arch).add("scan_percent", 100 * scan.median / sal.median), sal);
    const int steps = opt.quick ? 4 : 50;
    const bench::Stats ig = bench::measure(
        opt, [&] { integrated_gradients(*model, x, Target::top1(), {.steps = steps, .workspace = &ws}); });
    rep.emit(bench::Record("integrated_gradients/" + arch)
                 .add("steps", steps)
                 .add("scan_percent", 100 * scan.median / ig.median),
             ig);
    return rep.exit_code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_load_checks: %s\n", e.what());
    return 2;
  }
}
