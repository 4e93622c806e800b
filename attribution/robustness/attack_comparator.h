#pragma once
/// Attack comparison (Captum 0.8's captum.robust.AttackComparator idea): the model's accuracy, and
/// optionally how much an explanation moves, under each of a list of perturbations of the same
/// inputs. Captum's comparator takes any metric of the model output; this one reports the fixed
/// set below per perturbation (the unperturbed inputs are the first row, "original"):
///
///   accuracy            fraction of items whose argmax equals their label
///   label_probability   mean softmax probability of the label
///   top_k_intersection, spearman
///                       with an attribution method: mean over items of the fragility measures
///                       (attribution/metrics/fragility.h) between the method's map of the label on
///                       the original and on the perturbed input (1 on the original row)
///
/// A perturbation tried num_attempts times (random ones) counts as Captum's: accuracy and
/// probability are averaged over the attempts, the maps compared on the last attempt.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "attribution/registry.h"
#include "engine/module.h"

namespace backlight {

struct NamedPerturbation {
  std::string name;                                   ///< e.g. "fgsm eps=0.03"
  std::function<Tensor(const Tensor& inputs)> apply;  ///< perturbed inputs, the same shape
  int64_t num_attempts = 1;
};

struct ComparatorOptions {
  std::string method;          ///< attribution method (registry name); empty: no fragility columns
  MethodOptions method_options;
  int64_t top_k = 0;           ///< fragility k (0: 10 % of the positions)
};

struct ComparisonRow {
  std::string name;
  double accuracy = 0;
  double label_probability = 0;
  std::optional<double> top_k_intersection, spearman;
};

/// Rows for "original" and each perturbation, in order. inputs [N, ...] on the CPU, one label per
/// item. Throws naming the perturbation that returned another shape, or a label out of range.
std::vector<ComparisonRow> compare_attacks(const Module& model, const Tensor& inputs, const std::vector<int64_t>& labels,
                                           const std::vector<NamedPerturbation>& perturbations,
                                           const ComparatorOptions& options = {});

}  // namespace backlight
