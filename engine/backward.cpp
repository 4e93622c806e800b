#include "engine/backward.h"

#include "engine/functional/elementwise.h"

namespace backlight {

namespace {

// Adds `g` into slot `acc`. The first contribution is taken as is (no copy); later ones are
// summed in place when the slot owns its storage alone, else into a fresh buffer (a rule may
// have returned a view of its incoming signal, which must not be written to).
void accumulate(Tensor& acc, Tensor g, const Tape& tape, const char* what) {
  if (!acc.defined()) {
    acc = std::move(g);
    return;
  }
  BL_CHECK_SHAPE(acc.shape() == g.shape(), "backward: signals for ", what, " have shapes ", acc.shape(), " and ",
                 g.shape());
  if (acc.use_count() == 1) {
    fn::add_inplace(acc, g);
  } else {
    Tensor sum = tape.alloc(acc.shape());
    fn::add_into(sum, acc, g);
    acc = std::move(sum);
  }
}

}  // namespace

std::vector<Tensor> backward(const Tape& tape, std::span<const Var> outputs, std::span<const Tensor> seeds,
                             std::span<const Var> wrt, const RuleSet& rules) {
  BL_CHECK(tape.recording(), "backward: the tape was created in inference mode (TapeOptions::record = false)");
  BL_CHECK(outputs.size() == seeds.size(), "backward: ", outputs.size(), " outputs but ", seeds.size(), " seeds");
  const int nv = tape.num_values();
  auto check_var = [&](const Var& v, const char* what) {
    BL_CHECK(v.defined() && &v.tape() == &tape && v.id() >= 0 && v.id() < nv, "backward: ", what,
             " is not a value of this tape");
  };

  // depends[v]: v is a wrt value or computed from one; only these need a signal.
  std::vector<bool> depends(nv, false);
  for (const Var& w : wrt) {
    check_var(w, "a wrt variable");
    depends[w.id()] = true;
  }
  for (const Node& n : tape.nodes())
    for (int in : n.inputs)
      if (depends[in]) depends[n.output] = true;

  std::vector<Tensor> signal(nv);
  for (size_t i = 0; i < outputs.size(); ++i) {
    check_var(outputs[i], "an output");
    BL_CHECK_SHAPE(seeds[i].shape() == outputs[i].shape(), "backward: seed ", i, " has shape ", seeds[i].shape(),
                   ", expected the output's shape ", outputs[i].shape());
    // A host seed for a device output is copied over (seeds are small; a documented transfer).
    const Device dev = outputs[i].value().device();
    Tensor seed = seeds[i].device() == dev ? seeds[i].clone(&tape.workspace()) : seeds[i].to(dev, &tape.workspace());
    accumulate(signal[outputs[i].id()], std::move(seed), tape, "an output");
  }

  std::vector<bool> is_wrt(nv, false);
  for (const Var& w : wrt) is_wrt[w.id()] = true;

  std::vector<bool> needs;
  for (int ni = tape.num_nodes() - 1; ni >= 0; --ni) {
    const Node& n = tape.node(ni);
    if (!signal[n.output].defined()) continue;
    needs.assign(n.inputs.size(), false);
    bool any = false;
    for (size_t i = 0; i < n.inputs.size(); ++i) any |= (needs[i] = depends[n.inputs[i]]);
    if (any) {
      // std::vector<bool> is bit-packed; the context takes a span of plain bools.
      bool flags[64];
      BL_CHECK(n.inputs.size() <= 64, "backward: node ", n.name, " has more than 64 inputs");
      for (size_t i = 0; i < n.inputs.size(); ++i) flags[i] = needs[i];
      RuleContext ctx(tape, ni, std::span<const bool>(flags, n.inputs.size()));
      const Rule& rule = rules.rule_for(tape, ni);
      std::vector<Tensor> in_signals = rule.backward(ctx, signal[n.output]);
      BL_CHECK(in_signals.size() == n.inputs.size(), "backward: rule ", rule.name(), " returned ", in_signals.size(),
               " signals for node '", n.name, "' (", to_string(n.kind), ") with ", n.inputs.size(), " inputs");
      for (size_t i = 0; i < n.inputs.size(); ++i) {
        if (!needs[i]) continue;
        BL_CHECK(in_signals[i].defined(), "backward: rule ", rule.name(), " gave no signal for input ", i,
                 " of node '", n.name, "' (", to_string(n.kind), ")");
        BL_CHECK_SHAPE(in_signals[i].shape() == tape.value(n.inputs[i]).tensor.shape(), "backward: rule ",
                       rule.name(), " returned shape ", in_signals[i].shape(), " for input ", i, " of node '", n.name,
                       "' (", to_string(n.kind), "), expected ", tape.value(n.inputs[i]).tensor.shape());
        accumulate(signal[n.inputs[i]], std::move(in_signals[i]), tape, "a node input");
      }
    }
    // The output's signal is consumed; release it unless the caller asked for it.
    if (!is_wrt[n.output]) signal[n.output] = Tensor();
  }

  std::vector<Tensor> result;
  result.reserve(wrt.size());
  for (const Var& w : wrt) {
    Tensor s = signal[w.id()];
    // Unreached inputs get zeros on the tape's device.
    result.push_back(s.defined() ? s : Tensor::zeros(w.shape(), w.value().is_cuda() ? &tape.workspace() : nullptr));
  }
  return result;
}

Tensor backward(const Var& output, const Tensor& seed, const Var& wrt, const RuleSet& rules) {
  return backward(output.tape(), std::span<const Var>(&output, 1), std::span<const Tensor>(&seed, 1),
                  std::span<const Var>(&wrt, 1), rules)[0];
}

Tensor grad(const Var& output, const Tensor& seed, const Var& wrt) { return backward(output, seed, wrt, RuleSet()); }

}  // namespace backlight
