// Planning incremental occlusion: dirty rectangles node by node, storage per value, FLOP counts.
#include "attribution/perturbation/incremental/plan.h"

#include <algorithm>

#include "attribution/perturbation/incremental/region_ops.h"
#include "attribution/perturbation/incremental/replay.h"
#include "engine/error.h"

namespace backlight::incremental {

namespace {

bool is_unary(OpKind k) {
  switch (k) {
    case OpKind::Relu:
    case OpKind::Relu6:
    case OpKind::LeakyRelu:
    case OpKind::Sigmoid:
    case OpKind::Tanh:
    case OpKind::Gelu:
    case OpKind::Dropout:
    case OpKind::Scale:
    case OpKind::BatchNorm:
      return true;
    default: return false;
  }
}

bool is_window(OpKind k) { return k == OpKind::Conv2d || k == OpKind::MaxPool2d || k == OpKind::AvgPool2d; }
bool is_binary(OpKind k) { return k == OpKind::Add || k == OpKind::Sub || k == OpKind::Mul; }

// 2 * multiply-adds of one row (item) of a conv2d or linear node with an output of out_area
// pixels (conv) per channel; 0 for other nodes.
double node_flops(const Tape& tape, const Node& node, int64_t items, double out_area) {
  const Shape& out = tape.value(node.output).tensor.shape();
  if (node.kind == OpKind::Conv2d) {
    const Shape& w = tape.value(node.inputs.at(1)).tensor.shape();
    return 2.0 * static_cast<double>(w[0] * w[1] * w[2] * w[3]) * out_area;
  }
  if (node.kind == OpKind::Linear) {
    const Shape& w = tape.value(node.inputs.at(1)).tensor.shape();
    return 2.0 * static_cast<double>(out.numel() / items) * static_cast<double>(w[1]);
  }
  return 0.0;
}

bool spatial_batch_map(const Shape& s, int64_t items) { return s.rank() == 4 && s[0] == items; }

// Chooses Region or Full storage for a value with per-position dirty rectangles on an [H, W] map.
void choose_storage(ValuePlan& v, int64_t H, int64_t W, double full_fraction) {
  int64_t h = 1, w = 1;  // at least one pixel, so a position with nothing dirty still has a region
  for (const Rect& r : v.dirty) {
    h = std::max(h, r.y.size());
    w = std::max(w, r.x.size());
  }
  h = std::min(h, H);
  w = std::min(w, W);
  if (static_cast<double>(h * w) >= full_fraction * static_cast<double>(H * W)) {
    v.storage = Storage::Full;
    return;
  }
  v.storage = Storage::Region;
  v.h = h;
  v.w = w;
  v.stored.resize(v.dirty.size());
  for (size_t p = 0; p < v.dirty.size(); ++p) {
    const int64_t y0 = place(v.dirty[p].y, h, H), x0 = place(v.dirty[p].x, w, W);
    v.stored[p] = {{y0, y0 + h}, {x0, x0 + w}};
  }
}

// Dirty rectangle of value v at position p (the whole map when it has no spatial history).
Rect dirty_at(const ValuePlan& v, size_t p, const Shape& s) {
  if (v.dirty.empty()) return {{0, s[2]}, {0, s[3]}};
  return v.dirty[p];
}

}  // namespace

Rect window_rect(const OcclusionGeometry& g, int64_t j) {
  const int64_t k1 = (j / g.counts[0]) % g.counts[1], k2 = j / (g.counts[0] * g.counts[1]);
  return {clamp({k1 * g.stride[1], k1 * g.stride[1] + g.window[1]}, g.dims[1]),
          clamp({k2 * g.stride[2], k2 * g.stride[2] + g.window[2]}, g.dims[2])};
}

Plan make_plan(const Tape& tape, int input, int output, const OcclusionGeometry& g, double full_fraction) {
  Plan plan;
  plan.input = input;
  plan.output = output;
  plan.positions = g.positions;
  const Shape& xs = tape.value(input).tensor.shape();
  plan.items = xs[0];
  const int64_t items = plan.items;
  const int nv = tape.num_values(), nn = tape.num_nodes();
  plan.values.assign(nv, {});
  plan.steps.assign(nn, Step::Skip);
  if (g.rank != 3 || xs.rank() != 4) {
    plan.unsupported = "the inputs are not images [N, C, H, W] (got " + xs.str() + ")";
    return plan;
  }
  if (output == input || tape.value(output).producer < 0) {
    plan.unsupported = "the model output is not computed by tape ops";
    return plan;
  }

  // Nodes the output depends on (walking producers back from the output).
  std::vector<char> needed(nn, 0), value_needed(nv, 0);
  value_needed[output] = 1;
  for (int i = nn - 1; i >= 0; --i) {
    const Node& node = tape.node(i);
    if (!value_needed[node.output]) continue;
    needed[i] = 1;
    for (int id : node.inputs) value_needed[id] = 1;
  }

  std::vector<char> batched(nv, 0);
  batched[input] = 1;
  for (int id = 0; id < nv; ++id) {
    const Value& v = tape.value(id);
    if (id != input && v.producer < 0 && v.role == ValueRole::Input && value_needed[id]) {
      plan.unsupported = "the model reads a tape input other than the image ('" + v.name + "')";
      return plan;
    }
  }

  ValuePlan& in = plan.values[input];
  in.dirty.resize(g.positions);
  for (int64_t j = 0; j < g.positions; ++j) in.dirty[j] = window_rect(g, j);
  choose_storage(in, xs[2], xs[3], full_fraction);

  const double positions = static_cast<double>(g.positions);
  for (int i = 0; i < nn; ++i) {
    const Node& node = tape.node(i);
    if (!needed[i]) continue;
    for (int id : node.inputs) plan.values[id].last_use = i;
    bool any = false;
    for (int id : node.inputs) any |= batched[id] != 0;
    if (!any) continue;  // a constant: the recorded value serves every row
    batched[node.output] = 1;
    ValuePlan& out = plan.values[node.output];
    const Shape& os = tape.value(node.output).tensor.shape();
    const int x0 = node.inputs.at(0);
    const ValuePlan& vx = plan.values[x0];
    const Shape& xs0 = tape.value(x0).tensor.shape();
    bool only_first = batched[x0] != 0;
    for (size_t k = 1; k < node.inputs.size(); ++k) only_first &= !batched[node.inputs[k]];
    const double full = node_flops(tape, node, items, os.rank() == 4 ? static_cast<double>(os[2] * os[3]) : 1.0);
    plan.plain_flops += full * positions * static_cast<double>(items);
    double done = full;

    if (is_unary(node.kind) && only_first && spatial_batch_map(xs0, items)) {
      out.dirty = vx.dirty;
      out.storage = vx.storage;
      out.stored = vx.stored;
      out.h = vx.h;
      out.w = vx.w;
      plan.steps[i] = vx.storage == Storage::Region ? Step::Unary : Step::Full;
    } else if (is_window(node.kind) && only_first && spatial_batch_map(xs0, items)) {
      const auto [wy, wx] = window_axes(tape, node);
      out.dirty.resize(g.positions);
      for (int64_t p = 0; p < g.positions; ++p) {
        const Rect r = dirty_at(vx, p, xs0);
        out.dirty[p] = {reached_outputs(r.y, wy, os[2]), reached_outputs(r.x, wx, os[3])};
      }
      choose_storage(out, os[2], os[3], full_fraction);
      if (out.storage == Storage::Region) {
        plan.steps[i] = node.kind == OpKind::Conv2d      ? Step::Conv
                        : node.kind == OpKind::MaxPool2d ? Step::MaxPool
                                                         : Step::AvgPool;
        done = node_flops(tape, node, items, static_cast<double>(out.h * out.w));
      } else {
        plan.steps[i] = Step::Full;
      }
    } else if (is_binary(node.kind) && spatial_batch_map(os, items) &&
               std::all_of(node.inputs.begin(), node.inputs.end(),
                           [&](int id) { return batched[id] && tape.value(id).tensor.shape() == os; })) {
      out.dirty.resize(g.positions);
      for (int64_t p = 0; p < g.positions; ++p) {
        Rect r{};
        for (int id : node.inputs) r = hull(r, dirty_at(plan.values[id], p, os));
        out.dirty[p] = r;
      }
      choose_storage(out, os[2], os[3], full_fraction);
      plan.steps[i] = out.storage == Storage::Region ? Step::Binary : Step::Full;
    } else {
      std::string why = replay_unsupported(tape, node, batched, items);
      if (!why.empty()) {
        plan.unsupported = why;
        return plan;
      }
      out.storage = Storage::Full;
      plan.steps[i] = Step::Full;
    }
    plan.incremental_flops += done * positions * static_cast<double>(items);
  }
  plan.tail = nn;
  for (int i = 0; i < nn && plan.tail == nn; ++i)
    if (plan.steps[i] == Step::Full)
      for (int id : tape.node(i).inputs)
        if (!batched[id] && tape.value(id).tensor.numel() >= kStreamedWeightFloats) plan.tail = i;
  if (!batched[output]) plan.unsupported = "the model output does not depend on the input";
  else if (const Shape& o = tape.value(output).tensor.shape(); o.rank() < 1 || o[0] != items)
    plan.unsupported = "the model output " + o.str() + " has no batch axis of " + std::to_string(items);
  return plan;
}

}  // namespace backlight::incremental
