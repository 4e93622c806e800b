#pragma once
/// The work of `backlight explain` for one group of inputs of the same size: load and prepare
/// inputs, pick default layers and neurons, run every method (one call for the whole group when
/// the method's result per image does not depend on the other images), and turn each image's
/// results into a record, a picture and JSON.
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "attribution/registry.h"
#include "engine/module.h"
#include "tools/commands/explain_config.h"

namespace backlight::cli {

/// What an input is: an image [1,C,H,W], a tabular row [1,F] or token ids [1,T] (explain_inputs.h).
enum class InputKind { Image, Tabular, Tokens };
/// "image", "tabular", "token ids".
std::string to_string(InputKind kind);

/// One prepared input.
struct ExplainInput {
  std::string source;  ///< the path, or "builtin:<name>"
  std::string stem;    ///< output name in batch mode (image_list.h: output_stems)
  Tensor shown;        ///< [3,H,W] in [0,1]: what the pictures show
  Tensor input;        ///< [1,C,H,W]: what the model gets (after --size, --mean, --std); [1,F] or [1,T] rows
  InputKind kind = InputKind::Image;  ///< non-image inputs have no `shown` picture
};

/// --image FILE: load (at most config.max_pixels pixels), resize (--size), normalise
/// (--mean/--std). Throws naming the path.
ExplainInput load_image_input(const std::string& path, const ExplainConfig& config);
/// [C,H,W] of any values -> [3,H,W] in [0,1] for display (min-max scaled when outside [0,1]).
Tensor displayable(const Tensor& chw);
/// No input flag: the default model's first embedded image (--mean/--std applied).
ExplainInput builtin_input(const ExplainConfig& config);

/// The module path of the feature maps entering the model's final pooling (the layer CAM
/// methods default to; attribution/cam/cam.h), found by one recorded forward pass of `input`.
/// Throws asking for --layer when that layer has no module path.
std::string default_layer(const Module& model, const Tensor& input);

/// When a layer, neuron or CAM method runs without --layer: sets config.options.layer to
/// default_layer(model, first.input) and says so on stderr (unless --json), so the summary and
/// the JSON name it. CAM methods find the same maps themselves: for them a model whose maps have
/// no module path leaves the layer empty instead of failing. No-op otherwise.
void resolve_default_layer(ExplainConfig& config, const Module& model, const ExplainInput& first);

/// Whether `method` may attribute a group of images in one call with the same result per image
/// as one call each: not for random draws that depend on an item's position in the batch
/// (sampling methods, the noise tunnel, a uniform baseline) nor for per-image default neurons.
/// feature_permutation is always grouped: it needs the other images.
bool groupable(const MethodInfo& method, const ExplainConfig& config);

/// LRP relevance conservation of one image (AttributionResult::relevance_start etc.).
struct Conservation {
  std::string rule_set;
  double start = 0, sum = 0, relative_error = 0;
};

struct MethodRun {
  std::string method;
  double seconds = 0;       ///< of its call; a grouped call's time is split evenly over the images
  Tensor attribution;       ///< [1, ...] for this image
  std::optional<Conservation> conservation;  ///< LRP-family methods only
};

/// Everything one image produced.
struct ExplainRecord {
  std::string source, stem;
  std::vector<int64_t> input_shape;
  Tensor output;                 ///< logits [1, classes]
  int64_t prediction = -1, target = -1;
  std::vector<int64_t> top5;
  std::vector<int64_t> neuron;   ///< the neuron used by neuron methods (given or default)
  std::vector<MethodRun> methods;
  double seconds = 0;
  std::string png;
  std::optional<std::string> npy;
  std::string error;             ///< non-empty: this image failed (batch: skipped; single: the run fails)
};

/// Runs every method of `config` on `inputs` (same [C,H,W]; options.layer already resolved),
/// allocating from `workspace` (reuse one across groups: fresh memory costs page faults).
/// The logits come first, from one inference pass: an input the model cannot take throws naming
/// the file, its shape and what the model expects (its first convolution's channels, the zoo's
/// fixed size, or the smallest square size that runs) instead of an op's message. A record whose
/// logits or attributions hold NaN/Inf gets `error` set (naming the tensor and index): no
/// picture may be drawn from it.
/// With `cuda_workspace` (--device cuda) the methods that have a CUDA path run there
/// (attribution/on_device.h) and the others on the CPU, saying so on stderr.
/// Throws on the first failure (the caller decides whether the run goes on).
std::vector<ExplainRecord> explain_group(const Module& model, std::span<const ExplainInput> inputs,
                                         const ExplainConfig& config, const Workspace& workspace,
                                         const Workspace* cuda_workspace = nullptr);

/// The picture for one image: input | one panel per method, labelled, plus the colour bar.
/// `class_names` names the classes in the input panel's label when not empty.
Tensor render_record(const ExplainInput& input, const ExplainRecord& record, const ExplainConfig& config,
                     std::span<const std::string_view> class_names);

/// The JSON record of one image (docs/cli.md, "JSON output").
nlohmann::json record_json(const ExplainRecord& record);
/// {"method", "sign", "colormap", "outlier_percent"} of the pictures.
nlohmann::json visual_json(const ExplainConfig& config);

}  // namespace backlight::cli
