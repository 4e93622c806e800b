#pragma once
// `backlight roar`: the pieces of a remove-and-retrain job (Hooker et al. 2019), each cached in
// the job's cache folder so that a rerun skips what is finished (docs/evaluation.md, "ROAR"):
//   DIR/base-seed<S>.safetensors                 a model trained on the unmodified images
//   DIR/ranking-<method>.safetensors             the channel-summed attributions of the base model
//                                                ("train" [N,1,H,W], "test" [T,1,H,W])
//   DIR/<roar|kar>-<method>-<pct>-seed<S>.safetensors   a model retrained on modified images
// Every file is written atomically (write_safetensors: temporary + rename) and carries the job's
// fingerprint ("roar_job": data, recipe, method options) and its result (test accuracy) in its
// metadata; a file of another job, or one that does not parse, is recomputed.
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "attribution/metrics/roar.h"
#include "engine/module.h"
#include "models/training/train_classifier.h"
#include "tools/commands/roar_data.h"

namespace backlight::cli {

/// One training: mode "none" (unmodified images, fraction 0), "roar" or "kar".
struct RoarTask {
  std::string mode;
  std::string method;   ///< empty for "none"
  int percent = 0;      ///< fraction of pixels ranked on top, in percent
  uint64_t seed = 1;    ///< init and shuffling seed
  /// "base-seed1", "roar-saliency-30-seed2": the cache file's stem and the task's name in logs.
  std::string key() const;
};

/// What a finished training reports (also what its cache file's metadata holds).
struct RoarOutcome {
  double test_accuracy = 0, train_accuracy = 0, seconds = 0;
  bool cached = false;  ///< read from the cache, not trained in this run
};

class RoarJob {
 public:
  /// `job` is the fingerprint text (hashed into the files' metadata). Creates `cache_dir`.
  RoarJob(const RoarData& data, TrainRecipe recipe, std::string cache_dir, const std::string& job);

  /// The finished outcome of `task` from the cache, if there is one for this job.
  std::optional<RoarOutcome> cached(const RoarTask& task) const;
  /// Trains `task` from scratch (rankings must be available for roar/kar tasks), tests it and
  /// writes its cache file.
  RoarOutcome run(const RoarTask& task);
  /// The base model of `seed` (cached(base task) must hold, or it is trained first).
  ModulePtr base_model(uint64_t seed);

  /// Whether the ranking of `method` is in the cache.
  bool has_ranking(const std::string& method) const;
  /// Computes the ranking of `method` ("random", "sobel" or a registry method, run on `model`
  /// with the true labels as targets; CAM methods at layer `layer`) and caches it.
  void compute_ranking(const std::string& method, const Module& model, const std::string& layer);

  const std::string& fingerprint() const { return fingerprint_; }
  const std::vector<float>& mean() const { return mean_; }

 private:
  std::string path(const std::string& stem) const;
  struct Ranking {
    Tensor train, test;
  };
  Ranking load_ranking(const std::string& method) const;

  const RoarData& data_;
  TrainRecipe recipe_;
  std::string dir_, fingerprint_;
  std::vector<float> mean_;
};

}  // namespace backlight::cli
