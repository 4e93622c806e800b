// Incremental occlusion: the driver running a plan over batches of window positions.
#include "attribution/perturbation/incremental/incremental_occlusion.h"

#include <algorithm>
#include <exception>

#include "attribution/perturbation/incremental/region_ops.h"
#include "attribution/perturbation/incremental/replay.h"
#include "attribution/perturbation/incremental/streamed_linear.h"
#include "attribution/core/pass.h"
#include "attribution/core/rows.h"
#include "engine/error.h"
#include "engine/parallel.h"

namespace backlight {

namespace incremental {

namespace {

// The rows of every value for one batch of positions [first, first + count).
class BatchRun {
 public:
  BatchRun(const Recording& rec, int64_t first, int64_t count, const Workspace& ws)
      : tape_(*rec.tape), plan_(rec.plan), first_(first), count_(count), rows_(count * rec.plan.items), ws_(ws),
        live_(static_cast<size_t>(tape_.num_values())) {}

  Tensor& rows(int id) { return live_[id]; }

  // Value `id` as the region ops read it.
  RegionValue region(int id) const {
    const ValuePlan& v = plan_.values[id];
    RegionValue r{tape_.value(id).tensor, live_[id], {}};
    if (v.storage == Storage::Region) r.stored = stored(id);
    return r;
  }

  std::span<const Rect> stored(int id) const {
    return std::span<const Rect>(plan_.values[id].stored).subspan(first_, count_);
  }

  // Input `id` of a node replayed on whole rows: the recorded constant, or whole rows.
  Tensor whole(int id) const {
    const ValuePlan& v = plan_.values[id];
    if (v.storage == Storage::Constant) return tape_.value(id).tensor;
    if (v.storage == Storage::Full) return live_[id];
    return materialise(region(id), rows_, ws_);
  }

  // Node i for this batch (its rows, as the plan stores them).
  Tensor run(int i) const {
    const Node& node = tape_.node(i);
    const int x = node.inputs.at(0);
    switch (plan_.steps[i]) {
      case Step::Skip: break;
      case Step::Unary: {
        // The op applies to the region tensor as it is (element-wise or per channel).
        std::vector<Tensor> in;
        for (int id : node.inputs) in.push_back(id == x ? live_[x] : tape_.value(id).tensor);
        return replay(tape_, node, in, rows_, ws_);
      }
      case Step::Conv: return region_conv(tape_, node, region(x), rows_, stored(node.output), ws_);
      case Step::MaxPool: return region_maxpool(tape_, node, region(x), rows_, stored(node.output), ws_);
      case Step::AvgPool: return region_avgpool(tape_, node, region(x), rows_, stored(node.output), ws_);
      case Step::Binary:
        return region_binary(node, region(x), region(node.inputs.at(1)), rows_, stored(node.output), ws_);
      case Step::Full: {
        std::vector<Tensor> in;
        for (int id : node.inputs) in.push_back(whole(id));
        if (node.kind == OpKind::Linear && in[1].numel() >= kStreamedWeightFloats)
          return streamed_linear(in[0], in[1], in.size() > 2 ? in[2] : Tensor(), ws_);
        return replay(tape_, node, in, rows_, ws_);
      }
    }
    BL_THROW("incremental occlusion: node ", i, " has no step");
  }

 private:
  const Tape& tape_;
  const Plan& plan_;
  int64_t first_, count_, rows_;
  const Workspace& ws_;
  std::vector<Tensor> live_;
};

}  // namespace

Recording record_and_plan(const Module& model, const Tensor& item, const OcclusionGeometry& g, const Workspace& ws) {
  Recording rec;
  rec.tape = std::make_unique<Tape>(TapeOptions{}, ws);
  if (item.dim() != 4) {  // no sliding windows over an image: nothing to record
    rec.plan.unsupported = "the inputs are not images [N, C, H, W] (got " + item.shape().str() + ")";
    return rec;
  }
  const Var x = rec.tape->input(item, "input");
  const Var y = model.forward(x);
  rec.plan = make_plan(*rec.tape, x.id(), y.id(), g);
  return rec;
}

bool use_plan(const Plan& plan, IncrementalMode mode) {
  if (mode == IncrementalMode::Off) return false;
  if (mode == IncrementalMode::On) {
    BL_CHECK(plan.unsupported.empty(), "occlusion: incremental mode 'on' does not apply to this model: ",
             plan.unsupported);
    return true;
  }
  return plan.unsupported.empty() && plan.incremental_flops <= kAutoFlopRatio * plan.plain_flops;
}

namespace {

// Runs nodes [begin, end) of the plan on `run`'s rows, dropping rows nothing reads any more.
void run_nodes(const Recording& rec, BatchRun& run, int begin, int end) {
  const Plan& plan = rec.plan;
  for (int i = begin; i < end; ++i) {
    if (plan.steps[i] == Step::Skip) continue;
    const Node& node = rec.tape->node(i);
    run.rows(node.output) = run.run(i);
    for (int id : node.inputs)
      if (plan.values[id].last_use == i && id != plan.output) run.rows(id) = Tensor();
  }
}

// Values computed before the plan's tail that the tail (or the result) reads.
std::vector<int> crossing_values(const Recording& rec) {
  const Plan& plan = rec.plan;
  std::vector<int> ids;
  for (int id = 0; id < rec.tape->num_values(); ++id) {
    const ValuePlan& v = plan.values[id];
    const int producer = rec.tape->value(id).producer;
    if (v.storage != Storage::Constant && (id == plan.input || producer < plan.tail) &&
        (v.last_use >= plan.tail || id == plan.output))
      ids.push_back(id);
  }
  return ids;
}

// Row blocks of one value (same trailing shape) stacked along dimension 0.
Tensor stack_parts(const std::vector<Tensor>& parts, const Workspace& ws) {
  if (parts.size() == 1) return parts[0];
  Shape s = parts[0].shape();
  int64_t rows = 0;
  for (const Tensor& t : parts) rows += t.size(0);
  s[0] = rows;
  Tensor out = Tensor::empty(s, &ws);
  float* dst = out.data();
  for (const Tensor& t : parts) {
    std::copy(t.data(), t.data() + t.numel(), dst);
    dst += t.numel();
  }
  return out;
}

// One item's occlusion sweep: diffs[j*N + n] for every window j.
struct ItemRun {
  const Recording& rec;
  const Tensor& item;  // [1, C, H, W]
  const OcclusionGeometry& g;
  BaselineRef baseline;  // this item's
  const Target& target;
  int64_t klass;  // resolved class (class targets)
  float initial;  // f(x_n)
  int64_t n, items;
  const Workspace& ws;

  // The occluded input rows of positions [first, first + count).
  Tensor input_rows(const BatchRun& run, int64_t first, int64_t count) const {
    const Plan& plan = rec.plan;
    if (plan.values[plan.input].storage == Storage::Region)
      return occluded_region(item, g, baseline, first, count, run.stored(plan.input), ws);
    Tensor rows = Tensor::empty(with_batch(item.shape(), count), &ws);
    occlude_batch_cpu(item.data(), 1, baseline, g, first, count, rows.data());
    return rows;
  }

  // Positions [first, first + count). Nodes before the plan's tail run as one share of the
  // positions per thread with the ops inline, as RowEvaluator's split_rows: one parallel region
  // per op would make every small op wait for the slowest core, which on a shared machine costs
  // more than the op. The tail (e.g. VGG's 100M-weight classifier) runs on all rows at once with
  // the ops threaded inside, so its weights are read once per batch.
  void batch(int64_t first, int64_t count, const std::vector<int>& crossing, float* diffs) const {
    const Plan& plan = rec.plan;
    const int64_t parts = in_parallel_region() ? 1 : std::min<int64_t>(num_threads(), count);
    std::vector<std::vector<Tensor>> blocks(crossing.size(), std::vector<Tensor>(static_cast<size_t>(parts)));
    std::vector<std::exception_ptr> errors(static_cast<size_t>(parts));
    parallel_for(parts, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t t = lo; t < hi; ++t) {
        const int64_t a = count * t / parts, b = count * (t + 1) / parts;
        try {
          BatchRun run(rec, first + a, b - a, ws);
          run.rows(plan.input) = input_rows(run, first + a, b - a);
          run_nodes(rec, run, 0, plan.tail);
          for (size_t k = 0; k < crossing.size(); ++k) blocks[k][t] = run.rows(crossing[k]);
        } catch (...) {  // exceptions must not leave an OpenMP region
          errors[t] = std::current_exception();
        }
      }
    });
    for (const std::exception_ptr& e : errors)
      if (e) std::rethrow_exception(e);
    BatchRun run(rec, first, count, ws);
    for (size_t k = 0; k < crossing.size(); ++k) run.rows(crossing[k]) = stack_parts(blocks[k], ws);
    blocks.clear();
    run_nodes(rec, run, plan.tail, rec.tape->num_nodes());
    const Tensor out = run.whole(plan.output);
    const Tensor v = target.is_function() ? target_rows(out, target, {})
                                          : target_rows(out, target, std::vector<int64_t>(count, klass));
    for (int64_t p = 0; p < count; ++p) diffs[(first + p) * items + n] = initial - v.data()[p];
  }
};

}  // namespace

Tensor occlusion_diffs(const Module& model, Recording first_item, const Tensor& inputs, const OcclusionGeometry& g,
                       BaselineRef baseline, const RowEvaluator& eval, const Target& target, int64_t per,
                       Progress& bar, const Workspace& ws) {
  const int64_t items = inputs.size(0);
  Tensor diffs = Tensor::empty(Shape{g.positions, items});
  for (int64_t n = 0; n < items; ++n) {
    // Items one at a time: memory holds one item's cached activations, whatever N is.
    const Tensor item = inputs.slice_batch(n, n + 1);
    const Recording rec = n == 0 ? std::move(first_item) : record_and_plan(model, item, g, ws);
    BL_CHECK(rec.plan.unsupported.empty(), "occlusion: incremental plan of item ", n, ": ", rec.plan.unsupported);
    BaselineRef item_baseline = baseline;
    if (baseline.data) item_baseline.data += n * baseline.item_stride;
    const ItemRun run{rec,    item, g, item_baseline, target, target.is_function() ? 0 : eval.classes().at(n),
                      eval.initial().data()[n], n, items, ws};
    const std::vector<int> crossing = crossing_values(rec);
    for (int64_t first = 0; first < g.positions; first += per) {
      const int64_t count = std::min(per, g.positions - first);
      run.batch(first, count, crossing, diffs.data());
      bar.advance(count);
    }
  }
  bar.finish();
  return diffs;
}

}  // namespace incremental

IncrementalOcclusionInfo incremental_occlusion_info(const Module& model, const Tensor& inputs,
                                                    const OcclusionOptions& options) {
  check_perturbation_inputs(inputs, "occlusion");
  std::unique_ptr<Workspace> local;
  const Workspace& ws = pick_workspace(options.workspace, local);
  const std::vector<int64_t> item(inputs.shape().dims().begin() + 1, inputs.shape().dims().end());
  const OcclusionGeometry g = occlusion_geometry(item, options.window, options.stride);
  const incremental::Recording rec = incremental::record_and_plan(model, inputs.slice_batch(0, 1), g, ws);
  IncrementalOcclusionInfo info;
  info.applies = rec.plan.unsupported.empty();
  info.reason = rec.plan.unsupported;
  info.chosen = info.applies && incremental::use_plan(rec.plan, options.incremental);
  info.plain_flops = rec.plan.plain_flops;
  info.incremental_flops = rec.plan.incremental_flops;
  return info;
}

}  // namespace backlight
