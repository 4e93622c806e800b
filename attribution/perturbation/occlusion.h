#pragma once
/// Ablation methods, as Captum 0.8's Occlusion, FeatureAblation, FeaturePermutation,
/// LayerFeatureAblation and NeuronFeatureAblation: replace a part of the input (or of a layer's
/// output) and attribute the change of the target to the replaced elements,
///   attr[n, e] = f_t(x_n) - f_t(x_n with the part containing e replaced)
/// Every method takes the model, a batch of inputs [N, ...], a target (class index per item,
/// top-1, or a function of the output; classes are resolved on the unperturbed inputs and kept)
/// and its options. Forwards run without recording (inference mode), `perturbations_per_eval`
/// perturbations x N items per forward (0: about 64 rows), on all cores; the result does not
/// depend on that batching (tested). result.output holds the model output for the inputs; no
/// delta. A progress bar appears on stderr for runs over ~2 s (options.progress). The model is
/// never changed. Devices: occlusion (plain path) and feature_ablation also run on a CUDA
/// workspace (model on its device; host inputs are copied over): batches, forwards, scatter and
/// average on the device, result.attribution left there (output and target on the host);
/// incremental occlusion and the other methods here are CPU-only.
///
/// Kernels: kernels/occlusion.h (occlude_batch / mask_ablate build the batches, occlusion_scatter
/// and mask_scatter accumulate the differences).
#include <string>
#include <vector>

#include "attribution/core/baseline.h"
#include "attribution/core/neuron.h"
#include "attribution/core/progress.h"
#include "attribution/core/result.h"
#include "attribution/core/target.h"
#include "engine/module.h"

namespace backlight {

/// Whether occlusion runs incrementally (attribution/perturbation/incremental/incremental_occlusion.h).
enum class IncrementalMode {
  Auto,  ///< when the model's graph is supported and the plan saves at least 20% of the FLOPs
         ///< (never on a CUDA workspace: the plain path runs on the device)
  On,    ///< always; throws naming the first unsupported op when the graph is not supported,
         ///< and on a CUDA workspace (incremental occlusion is CPU-only)
  Off,   ///< never: one full forward per window position
};

struct OcclusionOptions {
  /// Window shape per input dimension without the batch axis (e.g. {3, 15, 15} for [N,3,H,W]).
  std::vector<int64_t> window;
  /// Step per dimension: empty (1 everywhere), one value for all dimensions, or one per dimension;
  /// each at most the window where the window is smaller than the input (Captum's rule).
  std::vector<int64_t> stride;
  /// The occluding value: zero, a constant, or any Baseline kind (a tensor [N, ...] or one item).
  Baseline baseline = Baseline::zero();
  int perturbations_per_eval = 0;  ///< window positions per forward; 0: automatic
  /// Incremental occlusion: cache the unoccluded activations and recompute, per window, only
  /// the part of each layer the window can reach (exact up to float32 round-off).
  IncrementalMode incremental = IncrementalMode::Auto;
  ProgressOptions progress;
  const Workspace* workspace = nullptr;
};
/// Occlusion (Zeiler & Fergus 2014), exactly Captum's Occlusion: windows at origins 0, s, 2s, ...
/// along every dimension, ceil((D - w) / s) + 1 of them, the last one clipped at the border (never
/// wrapped); each element's attribution is the mean of f(x) - f(x occluded) over the windows that
/// cover it (Captum's total / overlap count). Throws naming the shapes for a window that does not
/// fit or a stride larger than the window. By default (options.incremental = Auto) image models
/// whose graph allows it run incrementally: one recorded forward per item, then per window only
/// the part of each layer the window reaches (attribution/perturbation/incremental/incremental_occlusion.h);
/// perturbations_per_eval then counts window positions of one item per batch.
AttributionResult occlusion(const Module& model, const Tensor& inputs, const Target& target,
                            const OcclusionOptions& options);

struct FeatureAblationOptions {
  /// Integer feature ids (as float) broadcastable to the inputs: [N or 1, ...] or fewer leading
  /// dimensions (attribution/perturbation/perturbation.h feature_groups). Undefined: every element alone.
  Tensor feature_mask;
  Baseline baseline = Baseline::zero();
  int perturbations_per_eval = 0;  ///< features per forward; 0: automatic
  ProgressOptions progress;
  const Workspace* workspace = nullptr;
};
/// FeatureAblation: each feature group in turn is set to the baseline; every element of the group
/// gets f(x) - f(x ablated) (no averaging: groups do not overlap). Ids absent from the mask are
/// skipped (Captum runs a forward for every id in [min, max]; absent ids change nothing).
AttributionResult feature_ablation(const Module& model, const Tensor& inputs, const Target& target,
                                   const FeatureAblationOptions& options = {});

struct FeaturePermutationOptions {
  /// As FeatureAblationOptions::feature_mask, but shared by all items ([1, ...] or fewer
  /// dimensions): the same features are permuted in every item.
  Tensor feature_mask;
  int perturbations_per_eval = 0;
  uint64_t seed = 0;
  ProgressOptions progress;
  const Workspace* workspace = nullptr;
};
/// FeaturePermutation (Breiman 2001; Molnar's permutation feature importance), Captum semantics:
/// for each feature, its elements are shuffled across the batch by a random non-identity
/// permutation of the N items; attr = f(x) - f(x permuted) per item. Needs N >= 2. The
/// permutation of feature j depends only on (seed, j) (Philox), so results do not depend on
/// perturbations_per_eval; Captum draws with torch.randperm, so its numbers match in distribution.
AttributionResult feature_permutation(const Module& model, const Tensor& inputs, const Target& target,
                                      const FeaturePermutationOptions& options = {});

struct LayerFeatureAblationOptions {
  std::string layer;  ///< module path; its output (the last op the module records) is ablated
  /// Integer ids broadcastable to the layer output [N or 1, ...]; undefined: every unit alone
  /// (Captum's default), unless `channels` is set.
  Tensor layer_mask;
  bool channels = false;  ///< without a mask: one group per channel (dimension 1) of the layer
  /// Replacement for ablated units: zero (Captum's default), a constant, or a tensor of the layer
  /// output's shape ([N, ...] or one item).
  Baseline layer_baseline = Baseline::zero();
  int perturbations_per_eval = 0;
  ProgressOptions progress;
  const Workspace* workspace = nullptr;
};
/// LayerFeatureAblation: ablates groups of a layer's output units by substituting the layer's
/// output during the forward (Tape::set_output_hook; no hook in the model) and attributes
/// f(x) - f(x with the group ablated) to every unit of the group. The attribution has the
/// layer output's shape [N, ...] (also in result.layer_map).
AttributionResult layer_feature_ablation(const Module& model, const Tensor& inputs, const Target& target,
                                         const LayerFeatureAblationOptions& options);

using NeuronFeatureAblationOptions = FeatureAblationOptions;
/// NeuronFeatureAblation: FeatureAblation of the input features measured at one neuron of a
/// layer instead of the model output: attr = neuron(x) - neuron(x ablated). Input-shaped.
AttributionResult neuron_feature_ablation(const Module& model, const Tensor& inputs, const Neuron& neuron,
                                          const NeuronFeatureAblationOptions& options = {});

}  // namespace backlight
