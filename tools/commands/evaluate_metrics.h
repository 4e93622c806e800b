#pragma once
/// The metrics `backlight evaluate` can compute (attribution/metrics/), their parameters as
/// flags (defaults: the papers' or the reference implementations'), and the per-image values of
/// one (method, metric) pair. docs/evaluation.md lists them; docs/metrics.md defines them.
#include <cstdint>
#include <string>
#include <vector>

#include "attribution/metrics/fragility_attack.h"
#include "attribution/registry.h"
#include "tools/cli/args.h"

namespace backlight::cli {

/// Every metric name `--metrics` accepts, in table order.
const std::vector<std::string>& evaluate_metric_names();

/// The default selection (the table evaluate has always printed).
inline constexpr const char* kDefaultEvaluateMetrics = "pointing_game,relevance_mass,deletion,insertion,infidelity";

/// Metrics that need ground-truth masks (the shapes dataset), not available for --model FILE.onnx.
bool metric_needs_masks(const std::string& metric);

/// The JSON key of a metric's mean at the top level of a method's record (kept for the keys
/// evaluate wrote before --metrics: deletion_auc, insertion_auc; otherwise the metric name).
std::string metric_json_key(const std::string& metric);

/// The metric parameters, one flag each (evaluate_metric_flags()).
struct MetricParams {
  int64_t curve_steps = 64;          ///< --curve-steps: deletion/insertion steps over the image
  int infidelity_samples = 10;       ///< --infidelity-samples (Captum's n_perturb_samples)
  float infidelity_stdev = 0.05f;    ///< --infidelity-stdev: Gaussian noise stdev
  int sensitivity_samples = 10;      ///< --sensitivity-samples (Captum's n_perturb_samples)
  float sensitivity_radius = 0.02f;  ///< --sensitivity-radius (Captum's perturb_radius)
  int faithfulness_subsets = 50;     ///< --faithfulness-subsets (Quantus' nr_runs)
  int64_t faithfulness_size = 0;     ///< --faithfulness-size: pixels per subset; 0: 10%
  std::vector<double> sensitivity_n_fractions{0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 0.6, 0.9};  ///< --sensitivity-n-fractions
  int sensitivity_n_samples = 100;   ///< --sensitivity-n-samples: subsets per size
  int64_t pixel_step = 1;            ///< --pixel-step: pixels removed together (Melis & Jaakkola: 1)
  float iou_fraction = 0.1f;         ///< --iou-fraction: top fraction of pixels for mask_iou
  /// fragility / fragility_spearman (Ghorbani et al. 2019; attribution/metrics/fragility_attack.h):
  /// --fragility-attack, --fragility-epsilon, --fragility-steps, --fragility-step-size,
  /// --fragility-top-k, --fragility-softplus-beta (topk); the bounds are the data's value range
  /// (shapes: [0, 1]), not a flag.
  FragilityOptions fragility{};
  uint64_t seed = 1;
};

/// The flag table entries of the parameters above (appended to evaluate's flags).
std::vector<FlagSpec> evaluate_metric_flags();

/// Reads the parameter flags (usage errors, exit 2, for values out of range), seed from --seed.
MetricParams metric_params_from_flags(const Args& args, uint64_t seed);

/// What one metric needs to score one method's attributions on a batch.
struct MetricInput {
  const Module& model;
  const Tensor& images;  ///< [N, C, H, W] (rows: [N, 1, 1, F])
  const Tensor& masks;   ///< [N, 1, H, W] ground truth; undefined without masks
  const Target& target;
  const std::string& method;
  const MethodOptions& method_options;
  const Tensor& attributions;  ///< [N, C', H, W]
  bool tabular = false;        ///< rows: insertion starts from zeros
};

/// Per-image values of `metric` ([N]). Throws backlight::Error for an unknown metric.
std::vector<double> metric_values(const std::string& metric, const MetricInput& in, const MetricParams& p);

/// Mean and standard error (sample standard deviation / sqrt(N); 0 for N = 1) of `values`.
struct MeanSe {
  double mean = 0, se = 0;
};
MeanSe mean_se(const std::vector<double>& values);

}  // namespace backlight::cli
