#pragma once
/// The end-to-end attribution workloads of bench_methods (issue 9) and their FLOP model.
///
/// A workload is one attribution call on a batch of a zoo model with synthetic weights
/// (models/synthetic_weights.h, seed 2024: bench/compare.py fills torchvision / convert_torch.py
/// modules with the same numbers). Settings per workload (both sides of compare.py run them):
///   saliency               |d target / d x|
///   ig                     IntegratedGradients, 50 steps, Gauss-Legendre, zero baseline, chunked
///                          (--ig-batch rows per forward; the library's fused kernels)
///   ig_plain               the same sum, unfused: one forward+backward per step on its own
///                          interpolated tensor, every step's gradient kept in a full
///                          [steps, N, ...] buffer, summed at the end (the baseline of issue 6)
///   smoothgrad             NoiseTunnel(saliency), 20 samples, stdev 0.15 x (max - min) per item
///   deeplift               DeepLIFT Rescale, zero baseline
///   guided_backprop        guided backpropagation
///   grad_cam               Grad-CAM at `cam_layer` (resnet18 layer4, vgg16 features.28, mnist_cnn
///                          features.6), ReLU, bilinear upsampling to the input
///   lrp_epsilon_plus_flat, lrp_epsilon_gamma_box   the rule sets (BatchNorm folded once per
///                          model, not per call: Zennit's canonizer is also applied once)
///   occlusion              window 3x16x16 stride 3x8x8 (mnist_cnn: 1x4x4 stride 1x2x2), zero,
///                          IncrementalMode::Off (one full forward per window position)
///   occlusion_incremental  the same with IncrementalMode::On (attribution/perturbation/incremental/)
///   shapley                ShapleyValueSampling, feature groups 16x16 cells (mnist_cnn: 4x4),
///                          25 permutations (--shapley-samples), zero baseline
/// Targets: each item's top-1 class (resolved once, passed as class indices). Inputs:
/// synthetic_uniform(seed 2024, "input"), in [-2, 2) for 3x224x224 models and [0, 1) for mnist_cnn.
///
/// FLOP model (F = one image's forward FLOPs, counted from the tape by engine/flops.h; B = batch;
/// an input-gradient backward costs F: the transposed product of every conv/linear has the
/// forward's multiply-adds; work a method does not need, like parameter gradients, is not
/// counted; a method's extra target-resolving forwards are not counted either):
///   saliency, guided_backprop      2F B
///   ig, ig_plain                   steps x 2F B
///   smoothgrad                     samples x 2F B
///   deeplift                       3F B          (paired forward of inputs and baselines, one backward)
///   grad_cam                       (F + the forward FLOPs of the nodes after the layer) B
///   lrp_*                          (F + sum over conv/linear nodes of k_rule x node FLOPs) B with
///                                  k = 1 epsilon (z reused from the forward), 2 z+ / flat (one
///                                  modified forward + its transpose; x- terms vanish after ReLU),
///                                  4 gamma (two output-sign groups), 6 z-box (three terms)
///   occlusion                      (positions + 1) x F B
///   shapley                        (samples x (features - 1) + 2) x F B
#include <cstdint>
#include <string>
#include <vector>

#include "engine/flops.h"

namespace backlight::bench {

/// Every workload name, in run order.
inline std::vector<std::string> method_workloads() {
  return {"saliency",         "ig",
          "ig_plain",         "smoothgrad",
          "deeplift",         "guided_backprop",
          "grad_cam",         "lrp_epsilon_plus_flat",
          "lrp_epsilon_gamma_box", "occlusion",
          "occlusion_incremental", "shapley"};
}

/// Per-model settings of the workloads.
struct ModelSetup {
  std::string name;
  std::vector<int64_t> item;            ///< [C, H, W]
  float input_lo = -2.0f, input_hi = 2.0f;
  std::string cam_layer;
  std::vector<int64_t> occlusion_window, occlusion_stride;
  std::vector<int64_t> shapley_cell;    ///< feature group cell (window_grid_mask)
};

inline ModelSetup model_setup(const std::string& name) {
  if (name == "mnist_cnn") return {name, {1, 28, 28}, 0.0f, 1.0f, "features.6", {1, 4, 4}, {1, 2, 2}, {1, 4, 4}};
  const std::string cam = name == "vgg16" ? "features.28" : "layer4";
  return {name, {3, 224, 224}, -2.0f, 2.0f, cam, {3, 16, 16}, {3, 8, 8}, {3, 16, 16}};
}

/// What the FLOP model needs besides the forward count.
struct WorkloadShape {
  int64_t batch = 1;
  int steps = 50;            ///< ig
  int samples = 20;          ///< smoothgrad
  int64_t positions = 0;     ///< occlusion
  int64_t features = 0;      ///< shapley
  int shapley_samples = 25;
  std::string cam_layer;
};

/// The forward FLOPs (per image) of the nodes after the last node recorded under `layer`.
inline double flops_after_layer(const FlopCount& f, const std::vector<std::string>& node_names,
                                const std::string& layer) {
  int last = -1;
  for (int i = 0; i < static_cast<int>(node_names.size()); ++i)
    if (node_names[i] == layer || node_names[i].rfind(layer + ".", 0) == 0) last = i;
  double sum = 0;
  for (const NodeFlops& n : f.nodes)
    if (n.node > last) sum += n.flops;
  return sum;
}

/// Workload FLOPs by the model above. `f` is the per-image forward count; `node_names` the
/// module path of every node of that tape (for grad_cam's layer).
inline double workload_flops(const std::string& w, const FlopCount& f, const std::vector<std::string>& node_names,
                             const WorkloadShape& s) {
  const double F = f.total, B = static_cast<double>(s.batch);
  if (w == "saliency" || w == "guided_backprop") return 2 * F * B;
  if (w == "ig" || w == "ig_plain") return s.steps * 2 * F * B;
  if (w == "smoothgrad") return s.samples * 2 * F * B;
  if (w == "deeplift") return 3 * F * B;
  if (w == "grad_cam") return (F + flops_after_layer(f, node_names, s.cam_layer)) * B;
  if (w == "lrp_epsilon_plus_flat" || w == "lrp_epsilon_gamma_box") {
    const bool gamma_box = w == "lrp_epsilon_gamma_box";
    double bwd = 0;
    bool first_conv = true, first_any = true;
    for (const NodeFlops& n : f.nodes) {
      double k = n.kind == OpKind::Linear ? 1 : (gamma_box ? 4 : 2);  // epsilon | gamma | z+
      if (gamma_box && n.kind == OpKind::Conv2d && first_conv) k = 6;  // z-box on the first conv
      if (!gamma_box && first_any) k = 2;                              // flat on the first layer
      if (n.kind == OpKind::Conv2d) first_conv = false;
      first_any = false;
      bwd += k * n.flops;
    }
    return (F + bwd) * B;
  }
  if (w == "occlusion" || w == "occlusion_incremental") return static_cast<double>(s.positions + 1) * F * B;
  if (w == "shapley") return (static_cast<double>(s.shapley_samples) * static_cast<double>(s.features - 1) + 2) * F * B;
  return 0;
}

}  // namespace backlight::bench
