#include "tools/commands/evaluate_metrics.h"

#include <cmath>

#include "attribution/metrics/deletion_insertion.h"
#include "attribution/metrics/faithfulness.h"
#include "attribution/metrics/infidelity.h"
#include "attribution/metrics/localisation.h"
#include "attribution/metrics/pixel_faithfulness.h"
#include "attribution/metrics/randomisation.h"
#include "attribution/metrics/sensitivity.h"
#include "attribution/metrics/sensitivity_n.h"
#include "engine/error.h"
#include "tools/commands/flag_checks.h"

namespace backlight::cli {

namespace {

std::vector<double> values_of(const Tensor& t) { return {t.span().begin(), t.span().end()}; }

// CAM maps [N, 1, H, W] spread over the input channels: infidelity's dot product needs the
// input's shape (each channel gets 1/C of the pixel's attribution, so channel sums are kept).
Tensor expand_channels(const Tensor& a, int64_t c) {
  if (a.size(1) == c) return a;
  Tensor out = Tensor::empty(Shape{a.size(0), c, a.size(2), a.size(3)});
  const int64_t hw = a.size(2) * a.size(3), ac = a.size(1);
  for (int64_t n = 0; n < a.size(0); ++n)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t j = 0; j < hw; ++j) {
        float v = 0;
        for (int64_t k = 0; k < ac; ++k) v += a.data()[(n * ac + k) * hw + j];
        out.data()[(n * c + ch) * hw + j] = v / static_cast<float>(ac);
      }
  return out;
}

}  // namespace

const std::vector<std::string>& evaluate_metric_names() {
  static const std::vector<std::string> names{
      "pointing_game",  "relevance_mass",           "relevance_rank", "mask_iou",      "deletion",
      "insertion",      "infidelity",               "sensitivity_max", "fragility",     "fragility_spearman",
      "faithfulness_correlation",
      "sensitivity_n",  "pixel_faithfulness",       "randomisation"};
  return names;
}

bool metric_needs_masks(const std::string& metric) {
  return metric == "pointing_game" || metric == "relevance_mass" || metric == "relevance_rank" || metric == "mask_iou";
}

std::string metric_json_key(const std::string& metric) {
  if (metric == "deletion" || metric == "insertion") return metric + "_auc";
  return metric;
}

std::vector<FlagSpec> evaluate_metric_flags() {
  return {
      {.name = "curve-steps", .metavar = "K", .help = "deletion/insertion: steps over the image (default 64)"},
      {.name = "infidelity-samples", .metavar = "N", .help = "infidelity: perturbations per image (default 10)"},
      {.name = "infidelity-stdev", .metavar = "S", .help = "infidelity: Gaussian noise stdev (default 0.05)"},
      {.name = "sensitivity-samples", .metavar = "N", .help = "sensitivity_max: perturbations per image (default 10)"},
      {.name = "sensitivity-radius", .metavar = "R", .help = "sensitivity_max: L-inf radius (default 0.02)"},
      {.name = "faithfulness-subsets", .metavar = "N", .help = "faithfulness_correlation: random subsets (default 50)"},
      {.name = "faithfulness-size", .metavar = "K", .help = "faithfulness_correlation: pixels per subset (default 10%)"},
      {.name = "sensitivity-n-fractions", .metavar = "LIST",
       .help = "sensitivity_n: subset sizes as fractions (default 0.001,0.003,0.01,0.03,0.1,0.3,0.6,0.9)"},
      {.name = "sensitivity-n-samples", .metavar = "N", .help = "sensitivity_n: subsets per size (default 100)"},
      {.name = "pixel-step", .metavar = "K", .help = "pixel_faithfulness: pixels removed together (default 1)"},
      {.name = "iou-fraction", .metavar = "F", .help = "mask_iou: top fraction of pixels kept (default 0.1)"},
      {.name = "fragility-attack", .metavar = "A",
       .help = "fragility: perturbation random_sign|fgsm|pgd|topk (default random_sign, Ghorbani et al.'s baseline; "
               "topk: their top-k attack, saliency and input_x_gradient only)"},
      {.name = "fragility-epsilon", .metavar = "E", .help = "fragility: L-inf budget (default 8/255 = 0.0314)"},
      {.name = "fragility-steps", .metavar = "N", .help = "fragility: pgd / topk steps (default 10)"},
      {.name = "fragility-step-size", .metavar = "S", .help = "fragility: pgd / topk step (default epsilon/4)"},
      {.name = "fragility-top-k", .metavar = "K", .help = "fragility: the K most salient positions (default 2 %)"},
      {.name = "fragility-softplus-beta", .metavar = "B",
       .help = "fragility: topk's smoothed ReLU backward sigmoid(B z) (default 10)"},
  };
}

MetricParams metric_params_from_flags(const Args& args, uint64_t seed) {
  MetricParams p;
  p.seed = seed;
  p.curve_steps = positive_flag(args, "curve-steps", 1 << 20).value_or(p.curve_steps);
  p.infidelity_samples = static_cast<int>(positive_flag(args, "infidelity-samples", 1 << 20).value_or(p.infidelity_samples));
  p.infidelity_stdev = static_cast<float>(number_flag(args, "infidelity-stdev", 0, 1e6, true).value_or(p.infidelity_stdev));
  p.sensitivity_samples = static_cast<int>(positive_flag(args, "sensitivity-samples", 1 << 20).value_or(p.sensitivity_samples));
  p.sensitivity_radius = static_cast<float>(number_flag(args, "sensitivity-radius", 0, 1e6).value_or(p.sensitivity_radius));
  p.faithfulness_subsets = static_cast<int>(args.get_int("faithfulness-subsets", 2, 1 << 20).value_or(p.faithfulness_subsets));
  p.faithfulness_size = positive_flag(args, "faithfulness-size", 1 << 30).value_or(p.faithfulness_size);
  if (auto f = fraction_list_flag(args, "sensitivity-n-fractions")) p.sensitivity_n_fractions = *f;
  p.sensitivity_n_samples = static_cast<int>(args.get_int("sensitivity-n-samples", 2, 1 << 20).value_or(p.sensitivity_n_samples));
  p.pixel_step = positive_flag(args, "pixel-step", 1 << 30).value_or(p.pixel_step);
  p.iou_fraction = static_cast<float>(number_flag(args, "iou-fraction", 0, 1, true).value_or(p.iou_fraction));
  if (const auto a = args.get("fragility-attack")) {
    try {
      p.fragility.attack = fragility_attack_from_string(*a);
    } catch (const Error& e) {
      throw UsageError(std::string("evaluate: --fragility-attack: ") + e.what());
    }
  }
  p.fragility.epsilon = static_cast<float>(number_flag(args, "fragility-epsilon", 0, 1e6).value_or(p.fragility.epsilon));
  p.fragility.steps = positive_flag(args, "fragility-steps", 1 << 20).value_or(p.fragility.steps);
  p.fragility.step_size = static_cast<float>(number_flag(args, "fragility-step-size", 0, 1e6, true).value_or(0));
  p.fragility.top_k = positive_flag(args, "fragility-top-k", 1 << 30).value_or(0);
  p.fragility.softplus_beta = static_cast<float>(
      number_flag(args, "fragility-softplus-beta", 0, 1e6, true).value_or(p.fragility.softplus_beta));
  p.fragility.seed = seed;
  return p;
}

std::vector<double> metric_values(const std::string& metric, const MetricInput& in, const MetricParams& p) {
  const Tensor& a = in.attributions;
  if (metric_needs_masks(metric))
    BL_CHECK(in.masks.defined(), "evaluate: metric ", metric, " needs ground-truth masks (the shapes dataset)");
  if (metric == "pointing_game") return values_of(pointing_game(a, in.masks));
  if (metric == "relevance_mass") return values_of(relevance_mass_accuracy(a, in.masks));
  if (metric == "relevance_rank") return values_of(relevance_rank_accuracy(a, in.masks));
  if (metric == "mask_iou") return values_of(mask_iou(a, in.masks, p.iou_fraction));
  const int64_t hw = in.images.size(2) * in.images.size(3);
  const int64_t step = (hw + p.curve_steps - 1) / p.curve_steps;
  if (metric == "deletion")
    return values_of(deletion_curve(in.model, in.images, a, in.target, {.step = step, .batch = 65}).auc);
  if (metric == "insertion") {
    // Rows have no neighbourhood to blur: insertion starts from zeros.
    const InsertionStart start = in.tabular ? InsertionStart::Zero : InsertionStart::Blur;
    return values_of(
        insertion_curve(in.model, in.images, a, in.target, {.step = step, .insertion_start = start, .batch = 65}).auc);
  }
  if (metric == "infidelity")
    return values_of(infidelity(in.model, in.images, expand_channels(a, in.images.size(1)), in.target,
                                {.samples = p.infidelity_samples, .stdev = p.infidelity_stdev, .seed = p.seed,
                                 .normalize = true, .batch = 64}));
  if (metric == "sensitivity_max")
    return values_of(sensitivity_max(in.method, in.model, in.images, in.target, in.method_options,
                                     {.samples = p.sensitivity_samples, .radius = p.sensitivity_radius, .seed = p.seed}));
  if (metric == "fragility" || metric == "fragility_spearman") {
    FragilityOptions fo = p.fragility;
    fo.seed = p.seed;
    const FragilityResult r = attack_fragility(in.method, in.model, in.images, in.target, in.method_options, fo);
    return metric == "fragility" ? r.top_k_intersection : r.spearman;
  }
  if (metric == "faithfulness_correlation")
    return values_of(faithfulness_correlation(in.model, in.images, a, in.target,
                                              {.subsets = p.faithfulness_subsets,
                                               .subset_size = std::min(p.faithfulness_size, hw), .seed = p.seed,
                                               .batch = 256}));
  if (metric == "sensitivity_n")
    return values_of(sensitivity_n(in.model, in.images, a, in.target,
                                   {.fractions = p.sensitivity_n_fractions, .samples = p.sensitivity_n_samples,
                                    .seed = p.seed, .batch = 256})
                         .mean);
  if (metric == "pixel_faithfulness")
    return values_of(pixel_faithfulness(in.model, in.images, a, in.target, {.step = p.pixel_step}));
  if (metric == "randomisation") {
    // Spearman correlation of |map| after every layer is randomised (lower: the map depends on the model).
    const std::vector<RandomisationStep> steps =
        cascading_randomisation(in.method, in.model, in.images, in.target, in.method_options, {.seed = p.seed});
    return values_of(steps.back().correlation);
  }
  BL_THROW("evaluate: unknown metric '", metric, "'");
}

MeanSe mean_se(const std::vector<double>& v) {
  MeanSe r;
  if (v.empty()) return r;
  for (double x : v) r.mean += x;
  r.mean /= static_cast<double>(v.size());
  if (v.size() < 2) return r;
  double ss = 0;
  for (double x : v) ss += (x - r.mean) * (x - r.mean);
  r.se = std::sqrt(ss / static_cast<double>(v.size() - 1)) / std::sqrt(static_cast<double>(v.size()));
  return r;
}

}  // namespace backlight::cli
