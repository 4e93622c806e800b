// Relevance balance per node: sum of the relevance a node receives against the sum it hands to its
// inputs, under a built-in rule set, on the imported tiny Swin (tools/reference/make_onnx_swin_fixtures.py)
// with the absorbers zeroed. A conserving rule loses nothing at its node; the test lists the nodes
// that do, so a conservation gap points at an op (docs/rules.md "Conservation on Swin").
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <string>
#include <vector>

#include "attribution/gradient/gradient_methods.h"
#include "engine/rules/builtin_sets.h"
#include "engine/rules/rule_set.h"
#include "models/onnx/model.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

namespace {

double total(const Tensor& t) {
  double s = 0;
  for (int64_t i = 0; i < t.numel(); ++i) s += t.data()[i];
  return s;
}

struct Balance {
  int node = 0;
  std::string name, kind;
  double in = 0;         ///< relevance the node receives (per batch)
  double to_values = 0;  ///< handed to activation / input operands
  double to_consts = 0;  ///< handed to parameters and buffers
};

// Runs the rule `inner` picks and records the balance; test-only, one log per run.
class Tracer final : public Rule {
 public:
  Tracer(RuleSet inner, std::vector<Balance>* log, std::mutex* mu) : inner_(std::move(inner)), log_(log), mu_(mu) {}
  std::string name() const override { return "trace"; }
  std::vector<Tensor> backward(const RuleContext& ctx, const Tensor& r) const override {
    std::vector<Tensor> out = inner_.rule_for(ctx.tape(), ctx.node_index()).backward(ctx, r);
    Balance b{ctx.node_index(), ctx.name(), std::string(to_string(ctx.kind())), total(r), 0, 0};
    for (size_t i = 0; i < out.size(); ++i) {
      if (!out[i].defined()) continue;
      const ValueRole role = ctx.input_role(static_cast<int>(i));
      (role == ValueRole::Parameter || role == ValueRole::Buffer ? b.to_consts : b.to_values) += total(out[i]);
    }
    std::lock_guard<std::mutex> lock(*mu_);
    log_->push_back(std::move(b));
    return out;
  }

 private:
  RuleSet inner_;
  std::vector<Balance>* log_;
  std::mutex* mu_;
};

void zero_biases(Module& m) {
  for (const auto& [name, t] : m.named_parameters())
    if (name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0)
      REQUIRE(m.set_tensor(name, Tensor::zeros(t.shape())));
}

}  // namespace

TEST_SUITE("attribution") {

TEST_CASE("lrp balance per node: cp_lrp on the imported tiny Swin loses relevance at no node") {
  const ModulePtr model = load_onnx_model(std::string(BACKLIGHT_TEST_DATA) + "/onnx/tiny_swin.onnx");
  zero_biases(*model);
  std::mt19937_64 rng(kSeed);
  const Tensor x = uniform({2, 3, 40, 40}, rng, -1.0f, 1.0f);
  std::vector<Balance> log;
  std::mutex mu;
  const RuleParams tiny{{"epsilon", 1e-12f}, {"stabilizer", 1e-12f}};
  const RuleSet traced = RuleSet("traced_cp_lrp")
                             .when(any_node(), std::make_shared<Tracer>(make_rule_set("cp_lrp", tiny), &log, &mu));
  const AttributionResult r = lrp(*model, x, Target::top1(), {.rule_set = &traced});
  REQUIRE(!log.empty());
  std::sort(log.begin(), log.end(), [](const Balance& a, const Balance& b) { return a.node > b.node; });
  std::string worst;
  double lost_total = 0;
  for (const Balance& b : log) {
    const double lost = b.in - b.to_values;  // what neither reaches an activation
    lost_total += lost;
    if (std::fabs(lost) > 1e-3 * 2)  // per batch of 2 items with a start of 1 each
      worst += "\n  " + b.kind + " '" + b.name + "' (node " + std::to_string(b.node) + "): in " +
               std::to_string(b.in) + ", to activations " + std::to_string(b.to_values) + ", to constants " +
               std::to_string(b.to_consts);
  }
  MESSAGE("tiny_swin, cp_lrp, zero biases: relevance sums ", r.relevance_sum.data()[0], ", ",
          r.relevance_sum.data()[1], "; lost at nodes in total ", lost_total, worst);
  CHECK(worst.empty());
  for (int64_t n = 0; n < 2; ++n) CHECK(r.conservation_error.data()[n] < 2e-3);
}

}  // TEST_SUITE
