#pragma once
/// Occlusion, and the conventions of every ablation method (Captum 0.8's Occlusion here;
/// FeatureAblation, FeaturePermutation in feature_ablation.h; LayerFeatureAblation and
/// NeuronFeatureAblation in layer_ablation.h): replace a part of the input (or of a layer's
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
#include "attribution/core/result.h"
#include "attribution/core/target.h"
#include "attribution/perturbation/occlusion_options.h"
#include "engine/module.h"

namespace backlight {

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

}  // namespace backlight
