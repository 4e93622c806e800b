// Graph -> Program: value slots, what is known when (load / per call / tape), constant folding
// at load, GELU, SiLU and GroupNorm pattern fusion, and the check that every op that reaches the tape is supported.
#include "models/onnx/build.h"

#include <cmath>
#include <map>

#include "engine/error.h"
#include "models/onnx/einsum.h"
#include "models/onnx/fold.h"
#include "models/onnx/names.h"
#include "models/onnx/supported.h"

namespace backlight::onnx {

namespace {

bool scalar_near(const Program& p, int slot, double value) {
  if (slot < 0 || p.known[slot] != Known::AtLoad || !p.constants[slot]) return false;
  const ConstTensor& c = *p.constants[slot];
  return c.numel() == 1 && !c.is_int && std::abs(c.at(0) - value) < 1e-4 * std::abs(value);
}

// Who reads and who writes each slot, taken when a fusion pass starts (absorbed steps count: a
// pass sees the steps as the passes before it left them; the graph output counts as one use).
struct SlotIndex {
  const Program& p;
  std::vector<int> uses;      // per slot: how many step inputs (and the graph output) read it
  std::vector<int> producer;  // per slot: the step writing it, or -1

  explicit SlotIndex(const Program& program)
      : p(program), uses(program.slot_names.size(), 0), producer(program.slot_names.size(), -1) {
    for (size_t k = 0; k < p.steps.size(); ++k) {
      for (int s : p.steps[k].in)
        if (s >= 0) ++uses[s];
      for (int s : p.steps[k].out)
        if (s >= 0) producer[s] = static_cast<int>(k);
    }
    if (p.output_slot >= 0) ++uses[p.output_slot];
  }

  // The single consumer step of slot (searched in the steps as they are now), or -1.
  int consumer(int slot) const {
    if (slot < 0 || uses[slot] != 1) return -1;
    for (size_t k = 0; k < p.steps.size(); ++k)
      for (int s : p.steps[k].in)
        if (s == slot) return static_cast<int>(k);
    return -1;
  }
};

// torch 1.13 exports nn.GELU() (opset <= 19) as x * (erf(x / sqrt(2)) + 1) * 0.5:
//   Div(x, 1.4142) -> Erf -> Add(., 1) -> Mul(x, .) -> Mul(., 0.5)
// The five nodes become one Gelu step (on the last node) so rules attach to the GELU as a whole.
void fuse_gelu(Program& p) {
  const SlotIndex slots(p);
  for (size_t e = 0; e < p.steps.size(); ++e) {
    Step& erf = p.steps[e];
    if (erf.node.op_type != "Erf" || erf.in.size() != 1 || erf.in[0] < 0) continue;
    const int d = slots.producer[erf.in[0]];
    if (d < 0 || slots.uses[erf.in[0]] != 1) continue;
    const Step& div = p.steps[d];
    const bool is_div = div.node.op_type == "Div" && div.in.size() == 2 && scalar_near(p, div.in[1], std::sqrt(2.0));
    const bool is_mul = div.node.op_type == "Mul" && div.in.size() == 2 && scalar_near(p, div.in[1], std::sqrt(0.5));
    if (!is_div && !is_mul) continue;
    const int x = div.in[0];
    const int a = slots.consumer(erf.out[0]);
    if (a < 0 || p.steps[a].node.op_type != "Add") continue;
    const Step& add = p.steps[a];
    const int one_slot = add.in[0] == erf.out[0] ? add.in[1] : add.in[0];
    if (!scalar_near(p, one_slot, 1.0)) continue;
    const int m1 = slots.consumer(add.out[0]);
    if (m1 < 0 || p.steps[m1].node.op_type != "Mul") continue;
    const Step& mul1 = p.steps[m1];
    if (!((mul1.in[0] == x && mul1.in[1] == add.out[0]) || (mul1.in[1] == x && mul1.in[0] == add.out[0]))) continue;
    const int m2 = slots.consumer(mul1.out[0]);
    if (m2 < 0 || p.steps[m2].node.op_type != "Mul") continue;
    Step& mul2 = p.steps[m2];
    const int half = mul2.in[0] == mul1.out[0] ? mul2.in[1] : mul2.in[0];
    if (!scalar_near(p, half, 0.5)) continue;
    for (int k : {d, static_cast<int>(e), a, m1}) p.steps[k].absorbed = true;
    mul2.node.op_type = "Gelu";
    mul2.node.attrs.clear();
    mul2.node.inputs = {p.slot_names[x]};
    mul2.in = {x};
  }
}

// torch 1.13 exports nn.SiLU / F.silu as Sigmoid(x) -> Mul(x, .) (either operand order): one
// Silu step (on the Mul) so rules see the activation, not a product of two activations.
void fuse_silu(Program& p) {
  const SlotIndex slots(p);
  for (Step& mul : p.steps) {
    if (mul.node.op_type != "Mul" || mul.absorbed || mul.known != Known::OnTape || mul.in.size() != 2) continue;
    for (int side = 0; side < 2; ++side) {
      const int sig_slot = mul.in[side], x = mul.in[1 - side];
      if (sig_slot < 0 || x < 0 || slots.uses[sig_slot] != 1 || slots.producer[sig_slot] < 0) continue;
      Step& sig = p.steps[slots.producer[sig_slot]];
      if (sig.node.op_type != "Sigmoid" || sig.absorbed || sig.in.size() != 1 || sig.in[0] != x) continue;
      sig.absorbed = true;
      mul.node.op_type = "Silu";
      mul.node.attrs.clear();
      mul.node.inputs = {p.slot_names[x]};
      mul.in = {x};
      break;
    }
  }
}

// torch 1.13 exports nn.GroupNorm(G, C) as
//   Reshape(x, [0, G, -1]) -> InstanceNormalization(., ones[G], zeros[G]) -> Reshape(., Shape(x))
//   -> Mul(., weight[C,1,..]) -> Add(., bias[C,1,..])
// (weight [1] = 1 and bias [1] = 0 without affine). The five nodes become one GroupNorm step (on
// the Add; inputs x, weight, bias or x alone; attributes num_groups, epsilon) so rules attach to
// the normaliser as a whole.
void fuse_group_norm(Program& p) {
  const SlotIndex slots(p);
  auto on_tape = [&](int k, std::string_view op) {
    return k >= 0 && p.steps[k].node.op_type == op && p.steps[k].known == Known::OnTape && !p.steps[k].absorbed;
  };
  auto constant = [&](int slot) -> const ConstTensor* {
    return slot >= 0 && p.known[slot] == Known::AtLoad && p.constants[slot] ? p.constants[slot].get() : nullptr;
  };
  auto all_equal = [](const ConstTensor& c, double v) {
    for (int64_t i = 0; i < c.numel(); ++i)
      if (c.at(i) != v) return false;
    return true;
  };
  // A per-channel vector [K] or [K, 1, ..., 1].
  auto per_channel = [](const ConstTensor& c) {
    for (size_t i = 1; i < c.dims.size(); ++i)
      if (c.dims[i] != 1) return false;
    return !c.is_int && !c.dims.empty();
  };
  for (size_t k = 0; k < p.steps.size(); ++k) {
    const Step& in = p.steps[k];
    if (!on_tape(static_cast<int>(k), "InstanceNormalization") || in.in.size() != 3 || in.out.size() != 1) continue;
    const ConstTensor *scale = constant(in.in[1]), *shift = constant(in.in[2]);
    if (!scale || !shift || !all_equal(*scale, 1.0) || !all_equal(*shift, 0.0) || scale->numel() < 1) continue;
    const int64_t groups = scale->numel();
    const int r1 = in.in[0] >= 0 && slots.uses[in.in[0]] == 1 ? slots.producer[in.in[0]] : -1;
    if (!on_tape(r1, "Reshape") || p.steps[r1].in.size() < 2) continue;
    const ConstTensor* rs = constant(p.steps[r1].in[1]);
    if (!rs || rs->numel() != 3 || !rs->is_int || rs->int_at(1) != groups || rs->int_at(2) != -1) continue;
    const int x = p.steps[r1].in[0];
    const int r2 = slots.consumer(in.out[0]);
    if (!on_tape(r2, "Reshape") || p.steps[r2].in.size() < 2 || p.steps[r2].in[0] != in.out[0]) continue;
    const int shape_step = p.steps[r2].in[1] >= 0 ? slots.producer[p.steps[r2].in[1]] : -1;
    if (shape_step < 0 || p.steps[shape_step].node.op_type != "Shape" || p.steps[shape_step].in.empty() ||
        p.steps[shape_step].in[0] != x || !p.steps[shape_step].node.attrs.empty())
      continue;
    const int m = slots.consumer(p.steps[r2].out[0]);
    if (!on_tape(m, "Mul") || p.steps[m].in.size() != 2) continue;
    const int w = p.steps[m].in[0] == p.steps[r2].out[0] ? p.steps[m].in[1] : p.steps[m].in[0];
    const int a = slots.consumer(p.steps[m].out[0]);
    if (!on_tape(a, "Add") || p.steps[a].in.size() != 2) continue;
    const int b = p.steps[a].in[0] == p.steps[m].out[0] ? p.steps[a].in[1] : p.steps[a].in[0];
    const ConstTensor *wc = constant(w), *bc = constant(b);
    if (!wc || !bc || !per_channel(*wc) || !per_channel(*bc) || wc->numel() != bc->numel()) continue;
    const bool identity = wc->numel() == 1 && wc->at(0) == 1.0 && bc->at(0) == 0.0;
    if (wc->numel() == 1 && !identity) continue;  // a scalar affine: not what GroupNorm writes
    Step& gn = p.steps[a];
    Attribute groups_attr, eps_attr;
    groups_attr.type = Attribute::Type::Int;
    groups_attr.i = groups;
    eps_attr.type = Attribute::Type::Float;
    eps_attr.f = attr_float(in.node, "epsilon", 1e-5f);
    for (int j : {r1, static_cast<int>(k), r2, m}) p.steps[j].absorbed = true;
    gn.node.op_type = "GroupNorm";
    gn.node.name = in.node.name;
    gn.node.attrs = {{"num_groups", groups_attr}, {"epsilon", eps_attr}};
    gn.in = identity ? std::vector<int>{x} : std::vector<int>{x, w, b};
    gn.node.inputs.clear();
    for (int slot : gn.in) gn.node.inputs.push_back(p.slot_names[slot]);
  }
}

// torch exports nn.Linear on inputs of rank > 2 as MatMul(x, W^T) + Add(., b): one `linear`
// node with its bias (so LRP sees the bias where it belongs and the layer has one node).
void fuse_linear_bias(Program& p) {
  const SlotIndex slots(p);
  for (size_t k = 0; k < p.steps.size(); ++k) {
    Step& mm = p.steps[k];
    if (mm.node.op_type != "MatMul" || mm.absorbed || mm.known != Known::OnTape || mm.in.size() != 2) continue;
    const int w = mm.in[1];
    if (w < 0 || p.known[w] != Known::AtLoad || !p.constants[w] || p.constants[w]->dims.size() != 2) continue;
    if (slots.uses[mm.out[0]] != 1) continue;
    for (size_t j = k + 1; j < p.steps.size(); ++j) {
      Step& add = p.steps[j];
      if (add.node.op_type != "Add" || add.in.size() != 2) continue;
      const int side = add.in[0] == mm.out[0] ? 1 : add.in[1] == mm.out[0] ? 0 : -1;
      if (side < 0) continue;
      const int b = add.in[side];
      if (b >= 0 && p.known[b] == Known::AtLoad && p.constants[b] && p.constants[b]->dims.size() == 1 &&
          p.constants[b]->dims[0] == p.constants[w]->dims[1]) {
        add.absorbed = true;
        mm.in.push_back(b);
        mm.node.inputs.push_back(p.slot_names[b]);
        mm.out = add.out;
      }
      break;
    }
  }
}

}  // namespace

Program build_program(const Graph& g) {
  BL_CHECK(g.opset >= kMinOpset && g.opset <= kMaxOpset, g.source, ": opset ", g.opset,
           " is not supported (supported: ", kMinOpset, " to ", kMaxOpset,
           "; re-export with torch.onnx.export(..., opset_version=17))");
  Program p;
  p.source = g.source;
  p.opset = g.opset;
  std::map<std::string, int, std::less<>> slot_of;
  auto new_slot = [&](const std::string& name, Known k, ConstPtr c) {
    const int id = static_cast<int>(p.slot_names.size());
    p.slot_names.push_back(name);
    p.known.push_back(k);
    p.constants.push_back(std::move(c));
    slot_of[name] = id;
    return id;
  };
  for (const auto& [name, c] : g.initializers) new_slot(name, Known::AtLoad, c);
  p.input_slot = new_slot(g.input, Known::OnTape, nullptr);

  const std::vector<std::string> paths = module_paths(g);
  for (size_t k = 0; k < g.nodes.size(); ++k) {
    const Node& n = g.nodes[k];
    Step s;
    s.node = n;
    s.path = paths[k];
    s.opset = g.opset;
    bool all_load = true, all_const = true;
    for (const std::string& name : n.inputs) {
      if (name.empty()) {
        s.in.push_back(-1);
        continue;
      }
      const auto it = slot_of.find(name);
      BL_CHECK(it != slot_of.end(), g.source, ": ", n.describe(), " reads '", name,
               "' before any node produces it (the graph is not in topological order)");
      s.in.push_back(it->second);
      all_load &= p.known[it->second] == Known::AtLoad;
      all_const &= p.known[it->second] != Known::OnTape;
    }
    if (n.op_type == "Shape") s.known = all_load ? Known::AtLoad : Known::PerCall;
    else if (is_foldable(n.op_type) && all_load) s.known = Known::AtLoad;
    else if (is_foldable(n.op_type) && all_const) s.known = Known::PerCall;
    std::vector<ConstPtr> folded;
    if (s.known == Known::AtLoad && n.op_type != "Shape") {
      std::vector<ConstPtr> in;
      for (int slot : s.in) in.push_back(slot >= 0 ? p.constants[slot] : nullptr);
      try {
        folded = eval_constant(n, in);
      } catch (const Error& e) {
        BL_THROW(g.source, ": folding constants: ", e.what());
      }
    } else if (s.known == Known::AtLoad) {
      folded = {shape_constant(n, p.constants[s.in[0]]->dims)};
    }
    for (size_t i = 0; i < n.outputs.size(); ++i) {
      if (n.outputs[i].empty()) {
        s.out.push_back(-1);
        continue;
      }
      s.out.push_back(new_slot(n.outputs[i], s.known, i < folded.size() ? folded[i] : nullptr));
    }
    p.steps.push_back(std::move(s));
  }
  BL_CHECK(!g.outputs.empty() && slot_of.count(g.outputs[0]), g.source, ": the graph output '",
           g.outputs.empty() ? "" : g.outputs[0], "' is not produced by any node");
  p.output_slot = slot_of.at(g.outputs[0]);
  fuse_gelu(p);
  fuse_silu(p);
  fuse_group_norm(p);
  fuse_linear_bias(p);
  // Where a folded weight came from (Identity/Transpose/Cast of an initializer keep its name).
  p.origin.assign(p.slot_names.size(), std::string());
  for (const auto& [name, c] : g.initializers) p.origin[slot_of.at(name)] = name;
  for (const Step& s : p.steps) {
    const std::string& op = s.node.op_type;
    if (s.known == Known::AtLoad && s.in.size() >= 1 && s.in[0] >= 0 && !s.out.empty() && s.out[0] >= 0 &&
        (op == "Identity" || op == "Transpose" || op == "Cast" || op == "Reshape" || op == "Unsqueeze"))
      p.origin[s.out[0]] = p.origin[s.in[0]];
  }
  for (const Step& s : p.steps) {
    if (s.known != Known::OnTape || s.absorbed) continue;
    check_supported(s.node, g.source);
    if (s.node.op_type == "Einsum") {  // the equation is checked at load, not on the first call
      try {
        plan_einsum(s.node);
      } catch (const Error& e) {
        BL_THROW(g.source, ": ", e.what());
      }
    }
  }
  return p;
}

}  // namespace backlight::onnx
