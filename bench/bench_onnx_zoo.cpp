// An imported ONNX model against the zoo's build of the same architecture with the same weights:
// equal attributions first, then the time of each (issue 16: an imported ResNet-18 within 5% of
// the zoo's).
//
//   /usr/bin/python3 tools/export_onnx.py --arch resnet18 --out /tmp/resnet18.onnx
//   build/bench/bench_onnx_zoo --onnx /tmp/resnet18.onnx --zoo resnet18 [--size 224] [--batch 1]
//
// The zoo model takes every parameter and buffer of the imported one by name (the export keeps
// the state-dict names). Validation: logits, saliency and LRP (the rule set `auto` picks) within
// 1e-4 of the largest value. Timing alternates the two models call by call, so a change of load
// hits both. Without --onnx (bench/smoke) it prints a note and exits 0.
#include <cmath>
#include <cstdio>
#include <random>

#include "attribution/gradient/gradient_methods.h"
#include "bench/harness.h"
#include "engine/tape.h"
#include "models/onnx/model.h"
#include "models/zoo.h"

using namespace backlight;

namespace {

std::string compare(const Tensor& a, const Tensor& b, const char* what) {
  if (a.shape() != b.shape()) return std::string(what) + ": shapes differ";
  double scale = 1e-12, err = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    scale = std::max(scale, static_cast<double>(std::fabs(b.data()[i])));
    err = std::max(err, static_cast<double>(std::fabs(a.data()[i] - b.data()[i])));
  }
  if (err <= 1e-4 * scale) return "";
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s: max abs difference %.3g of max |value| %.3g", what, err, scale);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const bench::Options opt = bench::parse_args(argc, argv);
    bench::Reporter rep(opt);
    const std::string path = opt.get("--onnx");
    if (path.empty()) {
      rep.note("bench_onnx_zoo: no --onnx FILE given (export one with tools/export_onnx.py); nothing to do");
      return rep.exit_code();
    }
    const std::string zoo = opt.get("--zoo", "resnet18");
    const int64_t size = std::stoll(opt.get("--size", "224")), batch = std::stoll(opt.get("--batch", "1"));
    const ModulePtr imported = load_onnx_model(path, {batch, 3, size, size});
    const ModulePtr built = make_model(zoo);
    int copied = 0;
    for (const auto& [name, t] : imported->named_parameters()) copied += built->set_tensor(name, t);
    for (const auto& [name, t] : imported->named_buffers()) copied += built->set_tensor(name, t);
    std::mt19937_64 rng(1);
    std::uniform_real_distribution<float> d(-1.0f, 1.0f);
    Tensor x = Tensor::empty(Shape{batch, 3, size, size});
    for (float& v : x.span()) v = d(rng);
    const Target target = Target::top1();
    const std::string base = zoo + "/b" + std::to_string(batch) + "/" + std::to_string(size);
    rep.validate(base + "/equal", [&] {
      std::string r = compare(saliency(*imported, x, target).attribution, saliency(*built, x, target).attribution,
                              "saliency");
      const AttributionResult li = lrp(*imported, x, target), lz = lrp(*built, x, target);
      if (r.empty()) r = compare(li.output, lz.output, "logits");
      if (r.empty()) r = compare(li.attribution, lz.attribution, ("lrp " + li.rule_set).c_str());
      if (r.empty() && li.rule_set != lz.rule_set) r = "rule sets differ: " + li.rule_set + " vs " + lz.rule_set;
      return r;
    });
    for (const char* method : {"saliency", "lrp"}) {
      const std::string name = base + "/" + method;
      if (!opt.selected(name)) continue;
      auto run = [&](const Module& m) {
        return std::string(method) == "saliency" ? saliency(m, x, target) : lrp(m, x, target);
      };
      // Alternate: one call of each per step.
      bool which = false;
      std::vector<double> ti, tz;
      const bench::Stats both = bench::measure(opt, [&] {
        const double t0 = bench::now_seconds();
        run(which ? *built : *imported);
        (which ? tz : ti).push_back(bench::now_seconds() - t0);
        which = !which;
      });
      const bench::Stats si = bench::summarize(ti), sz = bench::summarize(tz);
      rep.emit(bench::Record(name)
                   .add("params_copied", copied)
                   .add("onnx_ms", si.median * 1e3)
                   .add("zoo_ms", sz.median * 1e3)
                   .add("onnx_over_zoo", si.median / sz.median),
               both);
    }
    return rep.exit_code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_onnx_zoo: %s\n", e.what());
    return 1;
  }
}
