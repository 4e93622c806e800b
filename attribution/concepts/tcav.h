#pragma once
/// TCAV, Testing with Concept Activation Vectors (Kim et al. 2018, ICML): how much a class's
/// prediction is sensitive to a human concept, at several layers, with a significance test.
///
///   1. Activations: every concept set and every random counterexample set is run once through
///      the model; all requested layers are captured in the same forward (concept_activations.h).
///   2. CAVs, per layer and run i = 0..R-1 (cav.h):
///        concept c, run i : classifier of concept c vs random set i
///        random,    run i : classifier of random set (i+1) mod R vs random set i
///      (R random sets; the random-vs-random CAVs are the null distribution, shared by every
///      concept of a layer since they do not depend on it).
///   3. Scores: the inputs (examples of the target class k) stream once; each batch is one
///      recorded forward and one backward from logit k to every layer together, and each layer's
///      gradient is dotted with all of that layer's CAVs (tcav_scores.h) before it is dropped.
///   4. Significance per (concept, layer): two-sided t-test of the R concept scores against the R
///      random scores (Student by default), Bonferroni across concepts x layers; a cell is
///      significant when its corrected p-value is below `alpha`. Insignificant cells are kept and
///      flagged (the picture and the JSON mark them).
#include <cstdint>
#include <string>
#include <vector>

#include "attribution/concepts/cav.h"
#include "attribution/concepts/concept_activations.h"
#include "attribution/concepts/tcav_scores.h"
#include "attribution/concepts/tcav_stats.h"
#include "attribution/core/progress.h"

namespace backlight {

struct TcavOptions {
  std::vector<std::string> layers;  ///< module paths, e.g. {"features.5", "features.10"}
  int64_t target = 0;               ///< class k whose logit is differentiated
  int runs = 0;                     ///< R; 0: as many as random sets. Needs 2 <= R <= random sets
  CavOptions cav{};                 ///< classifier; its seed is mixed with the run and layer
  TTestKind test = TTestKind::Student;
  double alpha = 0.05;              ///< significance level for the Bonferroni-corrected p-value
  int64_t max_set_examples = 5000;  ///< cap per concept/random set (their activations are kept)
  ProgressOptions progress{};
  const Workspace* workspace = nullptr;
};

/// One concept at one layer.
struct TcavCell {
  std::string concept_name, layer;
  std::vector<double> scores;          ///< sign-count TCAV score of every run [R]
  std::vector<double> magnitudes;      ///< magnitude score of every run [R]
  std::vector<double> cav_accuracies;  ///< held-out accuracy of every run's CAV [R]
  MeanStd score{}, magnitude{};
  TTest test{};              ///< concept scores vs the layer's random scores
  double p_corrected = 1;    ///< Bonferroni over concepts x layers
  bool significant = false;  ///< p_corrected < alpha
};

struct TcavResult {
  std::vector<std::string> concepts, layers;
  std::vector<TcavCell> cells;                     ///< concept-major: cells[c * layers + l]
  std::vector<std::vector<double>> random_scores;  ///< per layer, the R random-vs-random scores
  std::vector<std::vector<double>> random_accuracies;
  int runs = 0;
  int64_t inputs = 0;
  int64_t tests = 0;  ///< Bonferroni's multiplier
  const TcavCell& cell(size_t c, size_t l) const { return cells[c * layers.size() + l]; }
};

/// Step 3 alone: streams `inputs` once (one recorded forward and one backward from logit `target`
/// to every layer per batch) and scores each layer's CAVs (cavs[l]: [m_l, p_l], used as given) on
/// the gradients. Returns per layer one TcavScore per CAV row and counts the inputs into
/// `inputs_seen`. This is what equals Captum's TCAV given the same CAVs.
std::vector<std::vector<TcavScore>> tcav_score_inputs(const Module& model, const std::vector<std::string>& layers,
                                                      const std::vector<Eigen::MatrixXf>& cavs, ExampleSet& inputs,
                                                      int64_t target, const Workspace& ws, Progress* progress = nullptr,
                                                      int64_t* inputs_seen = nullptr);

/// The steps of tcav() one by one, for callers that share them among processes (the CLI's MPI
/// ranks, tools/commands/tcav_job.h): the same inputs give the same values wherever they run.
///
/// The seed of the CAV of `layer`, set `set` (concept index, or the number of concepts for the
/// random-vs-random CAVs) and `run`: the user's seed mixed with the three (splitmix64), so a CAV
/// does not depend on which process trains it or in which order.
uint64_t tcav_cav_seed(uint64_t seed, size_t layer, size_t set, size_t run);

/// Step 3 for one batch of inputs [b, ...]: one recorded forward and one backward from logit
/// `target` to every layer, each layer's gradients added to accs[l] (one per layer, built on
/// that layer's CAVs). Throws for a target outside the model's output or non-finite gradients.
void tcav_add_batch(const Module& model, const std::vector<std::string>& layers, const Tensor& batch, int64_t target,
                    const Workspace& ws, std::vector<TcavAccumulator>& accs);

/// Step 4: cells, random-vs-random scores, t-tests and Bonferroni from the scores and held-out
/// accuracies of every CAV (scores[l][row], accuracies[l][row], rows as tcav() orders them:
/// c * runs + i for concept c, concepts * runs + i for random-vs-random).
TcavResult tcav_result(std::vector<std::string> concepts, const std::vector<std::string>& layers, int runs,
                       const std::vector<std::vector<TcavScore>>& scores,
                       const std::vector<std::vector<double>>& accuracies, int64_t inputs, const TcavOptions& options);

/// Runs TCAV for `concepts` against `randoms` on `inputs` (each stream is read once). Throws
/// backlight::Error for no concepts or layers, fewer than 2 runs or fewer random sets than runs,
/// an unknown layer, empty sets, a target outside the model's classes, or a classifier failure.
TcavResult tcav(const Module& model, std::vector<ExampleSet> concepts, std::vector<ExampleSet> randoms,
                ExampleSet inputs, const TcavOptions& options);

}  // namespace backlight
