#pragma once
/// `backlight explain`'s flags and their validation: the flag table (for --help) and the parsed,
/// checked configuration the run uses. Every usage problem throws UsageError (exit 2) naming the
/// flag and the accepted values, before any work starts.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "attribution/registry.h"
#include "tools/cli/args.h"
#include "render/heatmap.h"

namespace backlight::cli {

inline constexpr const char* kExplainDefaultOut = "out/explain.png";
inline constexpr const char* kExplainDefaultOutDir = "out/explain";
inline constexpr const char* kExplainDefaultMethods = "saliency,integrated_gradients,lrp,grad_cam";
/// Default methods for tabular rows and token ids (no feature maps for grad_cam).
inline constexpr const char* kExplainDefaultNonImageMethods = "saliency,integrated_gradients,lrp";
/// Default --chunk when feature_permutation runs (it shuffles features across the images of a call).
inline constexpr int kExplainPermutationChunk = 16;

struct ExplainConfig {
  // model
  std::string model = "shapes_cnn";    ///< --model; after loading: the architecture actually run
  bool model_given = false;            ///< --model was given (checked against the weights' "arch")
  std::optional<std::string> weights;
  bool allow_nonfinite_weights = false;  ///< --allow-nonfinite-weights: skip the load-time value check
  std::string device = "cpu";
  // inputs: one of --image (once or repeated), --images DIR, --input FILE.npy, or the built-in image
  std::vector<std::string> images;     ///< --image values, in order
  std::optional<std::string> images_dir;
  std::optional<std::string> npy_input;
  bool batch = false;                  ///< --images, or --image given more than once
  int64_t size_shorter = 0;            ///< --size N (shorter side), 0 when absent
  int64_t size_h = 0, size_w = 0;      ///< --size HxW, 0 when absent
  std::vector<float> mean{0, 0, 0}, stdev{1, 1, 1};
  int64_t max_pixels = 0;              ///< --max-pixels (default kDefaultMaxPixels): decoded and resized images
  bool mean_std_given = false;         ///< --mean/--std given (else an .onnx file's metadata applies)
  // non-image inputs (--input FILE.npy of tabular rows or token ids; explain_inputs.h)
  std::optional<std::string> tokens_file;         ///< --tokens: token strings, one per line, line i = id i
  std::optional<std::string> feature_names_file;  ///< --feature-names: one name per line, one per feature
  std::optional<int64_t> baseline_token;          ///< --baseline-token ID (token ids; default 0)
  std::optional<std::string> html;                ///< --html FILE.html (token ids; default --out as .html)
  std::vector<std::string> token_names, feature_names;  ///< the files' lines (read by check_input_kind)
  bool model_takes_ids = false;                   ///< the model's input is integer ids (ONNX input type)
  std::vector<int64_t> model_input_shape;         ///< the model's input shape when known (ONNX), batch 1
  // attribution
  std::vector<std::string> methods;
  bool methods_given = false;          ///< --method given (else non-image inputs drop the CAM default)
  MethodOptions options;               ///< baselines from a .npy are loaded at run time
  std::optional<std::string> baseline_npy;
  bool layer_given = false, neuron_given = false;
  std::optional<int64_t> target_class;  ///< nullopt: top1
  int chunk = 1;                       ///< batch mode: images per method call (--chunk)
  bool fresh = false;                  ///< --fresh: batch mode ignores the resume manifest
  std::string fingerprint;             ///< the job's identity for the resume manifest (tools/cluster/manifest.h)
  // output
  std::string out;                     ///< PNG file (single) or folder (batch)
  std::optional<std::string> save;     ///< .npy file (single) or folder (batch)
  bool json = false;
  VisualOptions visual;
  bool colorbar = true;
};

/// The flag table shown by `backlight explain --help`.
std::vector<FlagSpec> explain_flags();

/// Validates the parsed flags; also applies --threads. Throws UsageError.
ExplainConfig parse_explain_config(const Args& args);

}  // namespace backlight::cli
