// LayerFeatureAblation and NeuronFeatureAblation: FeatureAblation's loop (ablation_diffs) with
// the layer output substituted (layer) or read (neuron) through Tape::set_output_hook.
#include <memory>

#include "attribution/perturbation/layer_ablation.h"
#include "attribution/core/layer_eval.h"
#include "attribution/core/pass.h"
#include "attribution/perturbation/perturbation.h"
#include "attribution/core/rows.h"
#include "engine/error.h"

namespace backlight {

namespace {

// One group per channel (dimension 1) of a layer output [N, C, ...]: a mask [1, C, 1, ...].
Tensor channel_mask(const Shape& layer_shape) {
  BL_CHECK_SHAPE(layer_shape.rank() >= 2,
                 "layer_feature_ablation: channel groups need a layer output [N, C, ...], got ", layer_shape);
  std::vector<int64_t> d(static_cast<size_t>(layer_shape.rank()), 1);
  d[1] = layer_shape[1];
  Tensor m = Tensor::empty(Shape(d));
  for (int64_t c = 0; c < d[1]; ++c) m.data()[c] = static_cast<float>(c);
  return m;
}

}  // namespace

AttributionResult layer_feature_ablation(const Module& model, const Tensor& inputs, const Target& target,
                                         const LayerFeatureAblationOptions& opt) {
  check_perturbation_inputs(inputs, "layer_feature_ablation");
  std::unique_ptr<Workspace> local;
  const Workspace& ws = pick_workspace(opt.workspace, local);
  const int op = layer_op_index(model, inputs, opt.layer, ws);
  const LayerEval le = eval_layer(model, inputs, op, ws);
  const int64_t items = inputs.size(0);

  AttributionResult r;
  r.output = le.output.clone();
  Tensor initial;
  if (target.is_function()) {
    initial = target_rows(r.output, target, {});
  } else {
    r.target = target.resolve(r.output);
    initial = target_rows(r.output, target, r.target);
  }
  const Tensor mask = opt.layer_mask.defined() ? opt.layer_mask
                      : opt.channels           ? channel_mask(le.layer.shape())
                                               : Tensor();
  const FeatureGroups groups = groups_or_elements(mask, le.layer, "layer_feature_ablation");
  Tensor base_storage;
  const BaselineRef base = baseline_ref(opt.layer_baseline, le.layer, base_storage);
  const int64_t features = static_cast<int64_t>(groups.present.size());
  const int64_t per = perturbations_per_batch(opt.perturbations_per_eval, items, features);

  // The model runs on the repeated inputs; the layer's output is replaced by the ablated rows
  // (each thread's slice of the batch substitutes its slice of the rows).
  auto values = [&](const Tensor& layer_rows) {
    const int64_t reps = layer_rows.size(0) / items;
    const Tensor repeated = repeat_rows(inputs, reps, ws);
    const Tensor out = split_rows(
        layer_rows.size(0),
        [&](int64_t r0, int64_t r1) {
          const Tensor part = layer_rows.slice_batch(r0, r1);
          Tape tape(TapeOptions{.record = false}, ws);
          tape.set_output_hook(op, [&](const Tensor& computed) {
            BL_CHECK_SHAPE(computed.shape() == part.shape(), "layer_feature_ablation: layer '", opt.layer,
                           "' produced ", computed.shape(), " for the repeated batch, expected ", part.shape());
            return part;
          });
          return model.forward(tape.input(repeated.slice_batch(r0, r1))).value();
        },
        ws);
    return target.is_function() ? target_rows(out, target, {})
                                : target_rows(out, target, row_classes(r.target, reps, false));
  };
  Progress bar("layer_feature_ablation", features, opt.progress);
  const Tensor diffs = ablation_diffs(le.layer, groups, base, per, values, initial, bar, ws);
  bar.finish();
  r.attribution = scatter_features(diffs, groups, le.layer.shape());
  r.layer_map = r.attribution;
  return r;
}

AttributionResult neuron_feature_ablation(const Module& model, const Tensor& inputs, const Neuron& neuron,
                                          const NeuronFeatureAblationOptions& opt) {
  check_perturbation_inputs(inputs, "neuron_feature_ablation");
  std::unique_ptr<Workspace> local;
  const Workspace& ws = pick_workspace(opt.workspace, local);
  const int op = layer_op_index(model, inputs, neuron.layer, ws);
  // The neuron's value per row, read in the hook (the layer's buffer is reused once the forward
  // moves on, so it is read there rather than copied out).
  auto run = [&](const Tensor& rows, Tensor* output) {
    Tensor v;
    Tape tape(TapeOptions{.record = false}, ws);
    tape.set_output_hook(op, [&](const Tensor& layer) {
      v = neuron_values(neuron, layer);
      return layer;
    });
    const Tensor out = model.forward(tape.input(rows)).value();
    if (output) *output = out.clone();
    BL_CHECK(v.defined(), "neuron_feature_ablation: layer '", neuron.layer, "' did not run");
    return v;
  };
  auto values = [&](const Tensor& rows) {
    return split_rows(
        rows.size(0), [&](int64_t r0, int64_t r1) { return run(rows.slice_batch(r0, r1), nullptr); }, ws);
  };
  Tensor model_output;
  const Tensor initial = run(inputs, &model_output);
  AttributionResult r;
  r.output = model_output;
  const FeatureGroups groups = groups_or_elements(opt.feature_mask, inputs, "neuron_feature_ablation");
  Tensor base_storage;
  const BaselineRef base = baseline_ref(opt.baseline, inputs, base_storage);
  const int64_t features = static_cast<int64_t>(groups.present.size());
  const int64_t per = perturbations_per_batch(opt.perturbations_per_eval, inputs.size(0), features);
  Progress bar("neuron_feature_ablation", features, opt.progress);
  const Tensor diffs = ablation_diffs(inputs, groups, base, per, values, initial, bar, ws);
  bar.finish();
  r.attribution = scatter_features(diffs, groups, inputs.shape());
  return r;
}

}  // namespace backlight
