#pragma once
/// Model-parameter randomisation test (Adebayo et al. 2018, "Sanity Checks for Saliency Maps"),
/// cascading variant: starting from the output end, the parameters of one more layer are
/// randomised at each step (the model is clone()d; the caller's model is never touched), and the
/// attribution of the randomised model is compared with the original one by Spearman rank
/// correlation. A method that explains the model (not just the input) decorrelates quickly.
///
/// Layers: the modules that own parameters directly, in reverse named_modules() order (last layer
/// first). Randomising a layer replaces every local parameter by Gaussian noise with the same
/// standard deviation as the trained tensor (0.01 for an all-constant tensor such as a zero
/// bias), drawn from Philox(seed, stream = step). Step 0 is the unmodified model (correlation 1
/// up to the method's own randomness); step k has the top k layers randomised.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "attribution/registry.h"

namespace backlight {

/// Cascading: step k has the top k layers randomised. Independent: step k has only layer k
/// randomised (the rest trained), so each layer's own influence shows.
enum class RandomisationMode { Cascading, Independent };

struct RandomisationOptions {
  uint64_t seed = 0;
  /// Rank |attribution| (Adebayo et al.'s absolute-value maps) instead of the signed values.
  bool absolute = true;
  /// Sum the attribution over channels (axis 1 of a 4-D map) before ranking.
  bool channel_sum = true;
  /// Stop after this many randomised layers; 0: all.
  int max_layers = 0;
  /// Used by model_randomisation (cascading_/independent_randomisation set it themselves).
  RandomisationMode mode = RandomisationMode::Cascading;
  /// Keep each step's attribution map in RandomisationStep::attribution (for figures).
  bool keep_maps = false;
};

struct RandomisationStep {
  std::string layer;   ///< module path of the layer randomised at this step ("" for step 0)
  Tensor correlation;  ///< Spearman correlation per item with the original attribution, [N]
  double mean = 0;     ///< mean over items
  Tensor attribution;  ///< the step's maps [N, ...] when keep_maps, else undefined
};

/// Runs registry method `method` on `inputs` for the original model and for each cascading
/// step. The target classes are resolved once on the original model, so every step explains the
/// same class. Returns 1 + (number of layers) steps. Throws when the model has no parameters.
std::vector<RandomisationStep> cascading_randomisation(std::string_view method, const Module& model,
                                                       const Tensor& inputs, const Target& target,
                                                       const MethodOptions& method_options = {},
                                                       const RandomisationOptions& options = {});

/// Independent layer randomisation (Adebayo et al. 2018, section 3.1 "independent"): as
/// cascading_randomisation, but step k starts from a fresh clone and randomises only layer k
/// (same noise as the cascade's step k: Philox(seed, stream = k)).
std::vector<RandomisationStep> independent_randomisation(std::string_view method, const Module& model,
                                                         const Tensor& inputs, const Target& target,
                                                         const MethodOptions& method_options = {},
                                                         const RandomisationOptions& options = {});

/// Either of the two by options.mode.
std::vector<RandomisationStep> model_randomisation(std::string_view method, const Module& model,
                                                   const Tensor& inputs, const Target& target,
                                                   const MethodOptions& method_options = {},
                                                   const RandomisationOptions& options = {});

/// Replaces every parameter owned directly by module `layer` of `work` with Gaussian noise of
/// the trained tensor's standard deviation (0.01 for a constant tensor), Philox(seed, stream).
/// Throws when `layer` is not a module of `work`.
void randomise_layer(Module& work, const std::string& layer, uint64_t seed, uint64_t stream);

/// Spearman rank correlation (Pearson of average ranks, ties share their mean rank); 0 when a
/// sample is constant.
double spearman(const std::vector<double>& a, const std::vector<double>& b);

/// Modules that own parameters directly, last layer first (the cascade order).
std::vector<std::string> parameter_layers_top_down(const Module& model);

}  // namespace backlight
