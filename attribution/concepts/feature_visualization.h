#pragma once
/// Feature visualisation by activation maximisation (Erhan et al. 2009; Olah, Mordvintsev,
/// Schubert 2017, "Feature Visualization", Distill): an input image optimised with Adam to
/// maximise
///   objective(x) - l2 * mean((x - 0.5)^2) - l1 * mean(|x - 0.5|) - tv * mean(|dx| + |dy|)
/// where objective is one of
///   channel  mean over positions of channel c of `layer`'s output ([N, C, h, w] or [N, C])
///   neuron   one value of `layer`'s output (flat index into [C, h, w])
///   logit    output k of the model (the class logit; no softmax)
/// evaluated on a randomly transformed copy of x each step (jitter, scale, rotation, blur:
/// transformation robustness), x = ImageParam(theta) (image_param.h: Fourier-space,
/// colour-decorrelated by default). Seeded: the same options give the same image. The model
/// is evaluated on (x - mean) / std.
#include <cstdint>
#include <string>
#include <vector>

#include "attribution/concepts/image_param.h"
#include "engine/module.h"

namespace backlight {

enum class VisObjective { Channel, Neuron, Logit };

struct FeatureVisOptions {
  VisObjective objective = VisObjective::Channel;
  std::string layer;        ///< module path (channel, neuron)
  int64_t channel = 0;      ///< channel objective
  int64_t neuron = 0;       ///< neuron objective: flat index into the layer's [C, h, w]
  int64_t target = 0;       ///< logit objective
  int64_t steps = 256;
  double lr = 0.05;         ///< Adam step size (Lucid's default)
  uint64_t seed = 0;
  std::vector<int64_t> input_shape{3, 64, 64};
  std::vector<float> mean{}, std{};
  ImageParamOptions param{};
  TransformOptions transform{};
  double l2 = 0, l1 = 0, tv = 0;
};

struct FeatureVis {
  Tensor image;                 ///< [3, H, W] in (0, 1)
  double objective = 0;         ///< objective of `image` itself (no transformation)
  std::vector<double> history;  ///< objective of the transformed input at each step
  double seconds = 0;
};

/// Runs the optimisation. Throws backlight::Error for an unknown layer, a channel/neuron/target
/// outside the layer's or output's range, or options out of range (steps < 1, lr <= 0, input
/// shape not [3, H, W]).
FeatureVis visualize_feature(const Module& model, const FeatureVisOptions& options);

/// The objective of `image` [3, H, W] (no transformation, no regulariser), for tests and for
/// comparing with dataset images.
double feature_objective(const Module& model, const Tensor& image, const FeatureVisOptions& options);

}  // namespace backlight
