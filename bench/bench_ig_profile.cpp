// bench_ig_profile: where one IG chunk of an imported model spends its time, per op kind,
// forward and backward, at several batch sizes (rows), so batched runs can be compared with
// batch 1 per row (issue 16: IG-50 on EfficientNet / MobileNetV3 paid per row what one batch-1
// saliency call pays).
//
//   build/bench/bench_ig_profile --onnx M.onnx [--input x.npy] [--target K] [--rows 1,10,25]
//                                [--calls 3] [--size 224] [--clock cpu] [--threads 1]
//
// Per batch of rows (row r = alpha_r * x, alpha_r = (r + 0.5) / rows: IG's path from a zero
// baseline): a recorded forward (the tape's output hook stamps the time after every op, so op i's
// forward time is the gap since op i-1; the model's own code between ops counts to the next op),
// then the plain gradient of logit K with respect to the input through a rule that times each
// node's VJP. "accumulate" is the backward's time outside the rules (signals summed where a value
// feeds several nodes). Per line: op kind, ops per forward, forward / backward ms per row
// (median over --calls of the per-call sums), and the whole call's wall and process CPU time
// (user + sys from getrusage) per row. Nothing here is in the library: hooks and rules are the
// tape's public interface. --clock cpu stamps with the process CPU clock instead of the wall
// clock: on a loaded machine, with --threads 1, that is the work itself (with 2 threads it also
// counts OpenMP threads spinning while their partner is descheduled).
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <random>
#include <sstream>

#include "attribution/core/pass.h"
#include "bench/harness.h"
#include "engine/backward.h"
#include "engine/parallel.h"
#include "engine/rules/rule.h"
#include "engine/rules/rule_set.h"
#include "io/npy.h"
#include "models/onnx/model.h"

using namespace backlight;

namespace {

struct Times {
  std::map<std::string, double> fwd, bwd;
  std::map<std::string, int> ops;
};

bool g_cpu_clock = false;  // --clock cpu (set once in main, before any timing)
double stamp() { return g_cpu_clock ? bench::cpu_seconds() : bench::now_seconds(); }

// Op kind, with convolutions split by shape: "conv2d dw kxk sS" (depthwise), "conv2d 1x1",
// "conv2d kxk" (dense, stride S), "conv2d grouped".
std::string label(const Tape& tape, const Node& n) {
  std::string k(to_string(n.kind));
  if (n.kind != OpKind::Conv2d || n.inputs.size() < 2) return k;
  const auto* a = std::get_if<Conv2dAttrs>(&n.attrs);
  const Shape& w = tape.value(n.inputs[1]).tensor.shape();
  const Shape& x = tape.value(n.inputs[0]).tensor.shape();
  if (!a || w.rank() != 4) return k;
  const std::string win = std::to_string(w[2]) + "x" + std::to_string(w[3]) + " s" + std::to_string(a->stride_h);
  if (a->groups > 1 && w[1] == 1) return k + " dw " + win;
  if (a->groups > 1) return k + " grouped " + win;
  if (w[2] == 1 && w[3] == 1) return k + " 1x1" + (x[2] * x[3] <= 196 ? " (<=14x14)" : " (>14x14)");
  return k + " " + win;
}

class TimedGradient : public Rule {
 public:
  explicit TimedGradient(Times* t) : t_(t) {}
  std::string name() const override { return "timed_gradient"; }
  std::vector<Tensor> backward(const RuleContext& ctx, const Tensor& g) const override {
    const double t0 = stamp();
    std::vector<Tensor> r = plain_vjp(ctx, g);
    t_->bwd[label(ctx.tape(), ctx.node())] += stamp() - t0;
    return r;
  }

 private:
  Times* t_;
};

double rusage_seconds(bool sys) {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  const timeval& v = sys ? u.ru_stime : u.ru_utime;
  return static_cast<double>(v.tv_sec) + 1e-6 * static_cast<double>(v.tv_usec);
}

std::vector<int64_t> parse_list(const std::string& s) {
  std::vector<int64_t> v;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) v.push_back(std::stoll(item));
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const bench::Options opt = bench::parse_args(argc, argv);
    if (opt.threads > 0) set_num_threads(opt.threads);
    const std::string path = opt.get("--onnx");
    if (path.empty()) {
      std::printf("bench_ig_profile: no --onnx FILE given; nothing to do\n");
      return 0;
    }
    g_cpu_clock = opt.get("--clock") == "cpu";
    const int64_t size = std::stoll(opt.get("--size", "224"));
    const int repeats = std::stoi(opt.get("--calls", opt.quick ? "1" : "3"));
    const ModulePtr model = load_onnx_model(path, {1, 3, size, size});
    Tensor x;
    if (const std::string in = opt.get("--input"); !in.empty()) {
      x = cli::load_npy(in);
    } else {
      x = Tensor::empty(Shape{1, 3, size, size});
      std::mt19937_64 rng(1);
      std::uniform_real_distribution<float> d(-2.0f, 2.0f);
      for (float& v : x.span()) v = d(rng);
    }
    const int64_t target = std::stoll(opt.get("--target", "0"));
    const int64_t per = x.numel();
    Workspace ws;
    std::printf("# %s, threads %d, target %lld, %s clock\n", path.c_str(), num_threads(),
                static_cast<long long>(target), g_cpu_clock ? "process cpu" : "wall");
    for (const int64_t rows : parse_list(opt.get("--rows", "1,10"))) {
      std::vector<int64_t> dims = x.shape().to_vector();
      dims[0] = rows;
      Tensor batch = Tensor::empty(Shape(dims));
      for (int64_t r = 0; r < rows; ++r) {
        const float alpha = (static_cast<float>(r) + 0.5f) / static_cast<float>(rows);
        for (int64_t i = 0; i < per; ++i) batch.data()[r * per + i] = alpha * x.data()[i];
      }
      std::vector<Times> runs;
      std::vector<double> wall, fwd_wall, bwd_wall, user, sys;
      int num_ops = -1;
      for (int rep = 0; rep <= repeats; ++rep) {  // rep 0 warms the workspace up and counts ops
        Times t;
        std::vector<double> stamps;
        Tape tape(TapeOptions{}, ws);
        if (num_ops > 0) {
          stamps.reserve(num_ops);
          for (int i = 0; i < num_ops; ++i)
            tape.set_output_hook(i, [&stamps](const Tensor& y) {
              stamps.push_back(stamp());
              return y;
            });
        }
        const double u0 = rusage_seconds(false), s0 = rusage_seconds(true);
        const double t0 = stamp();
        const Var in = tape.input(batch);
        const Var out = model->forward(in);
        const double t1 = stamp();
        Tensor seed = Tensor::zeros(out.shape());
        for (int64_t r = 0; r < rows; ++r) seed.data()[r * out.shape()[1] + target] = 1.0f;
        const RuleSet rules = RuleSet{}.otherwise(std::make_shared<TimedGradient>(&t));
        const Tensor g = backward(out, seed, in, rules);
        const double t2 = stamp();
        const double u1 = rusage_seconds(false), s1 = rusage_seconds(true);
        if (num_ops < 0) {
          num_ops = tape.num_nodes();
          continue;
        }
        double prev = t0;
        for (int i = 0; i < tape.num_nodes() && i < static_cast<int>(stamps.size()); ++i) {
          const std::string k = label(tape, tape.node(i));
          t.fwd[k] += stamps[i] - prev;
          t.ops[k] += 1;
          prev = stamps[i];
        }
        double rules_sum = 0;
        for (const auto& [k, v] : t.bwd) rules_sum += v;
        t.bwd["(accumulate)"] = (t2 - t1) - rules_sum;
        t.fwd["(after last op)"] = t1 - prev;
        runs.push_back(std::move(t));
        wall.push_back(t2 - t0);
        fwd_wall.push_back(t1 - t0);
        bwd_wall.push_back(t2 - t1);
        user.push_back(u1 - u0);
        sys.push_back(s1 - s0);
      }
      const double nr = static_cast<double>(rows);
      auto med = [](std::vector<double> v) { return bench::summarize(std::move(v)).median; };
      std::printf("rows %lld: wall %.1f ms/row (fwd %.1f, bwd %.1f), user %.1f, sys %.1f ms/row\n",
                  static_cast<long long>(rows), 1e3 * med(wall) / nr, 1e3 * med(fwd_wall) / nr,
                  1e3 * med(bwd_wall) / nr, 1e3 * med(user) / nr, 1e3 * med(sys) / nr);
      std::map<std::string, int> kinds;
      for (const Times& t : runs) {
        for (const auto& [k, v] : t.fwd) kinds[k] = 1;
        for (const auto& [k, v] : t.bwd) kinds[k] = 1;
      }
      std::vector<std::pair<double, std::string>> order;
      for (const auto& [k, unused] : kinds) {
        std::vector<double> f, b;
        for (const Times& t : runs) {
          f.push_back(t.fwd.count(k) ? t.fwd.at(k) : 0.0);
          b.push_back(t.bwd.count(k) ? t.bwd.at(k) : 0.0);
        }
        order.push_back({med(f) + med(b), k});
      }
      std::sort(order.rbegin(), order.rend());
      for (const auto& [total, k] : order) {
        std::vector<double> f, b;
        for (const Times& t : runs) {
          f.push_back(t.fwd.count(k) ? t.fwd.at(k) : 0.0);
          b.push_back(t.bwd.count(k) ? t.bwd.at(k) : 0.0);
        }
        const int ops = runs.front().ops.count(k) ? runs.front().ops.at(k) : 0;
        std::printf("  rows %-3lld %-20s ops %4d  fwd %7.2f  bwd %7.2f  total %7.2f ms/row\n",
                    static_cast<long long>(rows), k.c_str(), ops, 1e3 * med(f) / nr, 1e3 * med(b) / nr,
                    1e3 * total / nr);
      }
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_ig_profile: %s\n", e.what());
    return 1;
  }
}
