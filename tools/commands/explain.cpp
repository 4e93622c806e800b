// `backlight explain`: the main job - attribution maps for one image (or .npy tensor), or for a
// folder of images (batch mode), with one or more methods, written as a labelled PNG grid
// (input | one picture per method | colour bar), optionally the raw attribution as .npy, and a
// summary as text or JSON. Defaults: the embedded shapes_cnn model on its first embedded image,
// methods saliency, integrated_gradients, lrp, grad_cam. Flags: explain_config.cpp; the work per
// group of images: explain_job.cpp; the flag reference: docs/cli.md.
#include <charconv>
#include <iostream>
#include <random>
#include <nlohmann/json.hpp>

#include "engine/cuda/device.h"
#include "models/default_model.h"
#include "models/onnx/model.h"
#include "models/safetensors.h"
#include "models/state_dict.h"
#include "models/zoo.h"
#include "io/atomic_write.h"
#include "io/file_checks.h"
#include "tools/cli/finite_check.h"
#include "io/image_io.h"
#include "io/npy.h"
#include "tools/cluster/cluster.h"
#include "tools/commands/command.h"
#include "tools/commands/explain_batch.h"
#include "tools/commands/explain_inputs.h"
#include "tools/commands/explain_job.h"

namespace backlight::cli {
namespace {

// An .onnx model; its metadata (tools/export_onnx.py) supplies --size/--mean/--std not given.
ModulePtr load_onnx_explain_model(ExplainConfig& c) {
  check_input_file(c.model, "explain: --model");
  OnnxModelInfo info;
  ModulePtr m = load_onnx_model(c.model, {}, &info);
  c.model_takes_ids = info.input_is_int;  // token ids: --input must hold integers (explain_inputs.h)
  c.model_input_shape = info.input_shape;
  if (!c.mean_std_given && info.mean.size() == 3 && info.std.size() == 3) {
    c.mean = info.mean;
    c.stdev = info.std;
  }
  if (c.size_shorter == 0 && c.size_h == 0 && info.image_size.size() == 2 && !c.npy_input) {
    c.size_h = info.image_size[0];
    c.size_w = info.image_size[1];
  }
  return m;
}

// Loads the model and sets c.model to the architecture actually run (the weights' "arch").
ModulePtr load_explain_model(ExplainConfig& c) {
  if (c.model.ends_with(".onnx")) return load_onnx_explain_model(c);
  if (c.weights) {
    check_input_file(*c.weights, "explain: --weights");
    const SafeTensorsFile file = read_safetensors(*c.weights);
    const auto arch = file.metadata.find("arch");
    BL_CHECK(!c.model_given || arch == file.metadata.end() || arch->second == c.model, "explain: --model ", c.model,
             " but '", *c.weights, "' holds weights of ", arch == file.metadata.end() ? "" : arch->second);
    // The embedded model's architecture is not in the zoo (backlight train writes it): build it here.
    if (arch != file.metadata.end()) c.model = arch->second;
    if (arch != file.metadata.end() && arch->second == "shapes_cnn") {
      std::mt19937_64 rng(0);  // every tensor is overwritten by the weights
      const auto classes = file.metadata.find("num_classes");
      int64_t n = kNumShapeClasses;
      if (classes != file.metadata.end()) {
        const std::string& v = classes->second;
        const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
        BL_CHECK(ec == std::errc() && end == v.data() + v.size() && n >= 1 && n <= (int64_t{1} << 24), "explain: '",
                 *c.weights, "': metadata num_classes must be an integer in [1, 16777216], got '", v.substr(0, 40), "'");
      }
      ModulePtr m = make_shapes_cnn(rng, n);
      load_weights(*m, file, LoadOptions{.strict = true, .arch = "shapes_cnn",
                                         .allow_nonfinite_weights = c.allow_nonfinite_weights});
      return m;
    }
    return load_model(*c.weights, ModelConfig{.allow_nonfinite_weights = c.allow_nonfinite_weights});
  }
  if (c.model == "shapes_cnn") return default_model();
  std::cerr << "explain: warning: --model " << c.model << " without --weights uses random weights\n";
  return make_model(c.model);
}

int run_single(ExplainConfig& c, const Module& model, std::span<const std::string_view> names) {
  if (c.model_takes_ids && !c.npy_input)
    throw UsageError("explain: model " + c.model + " takes token ids; give them with --input FILE.npy (int64 [N,T])");
  const ExplainInput in = c.npy_input          ? load_npy_input(*c.npy_input, c)
                          : !c.images.empty() ? load_image_input(c.images[0], c)
                                              : builtin_input(c);
  check_input_kind(c, in);  // methods and flags that do not fit the input's kind: exit 2
  if (in.kind == InputKind::Tokens && !c.layer_given) {
    c.options.layer = embedding_layer(model, in.input);
    if (!c.json)
      std::cerr << "explain: token ids: gradient methods attribute at '" << c.options.layer
                << "' (the embedding lookup; --layer chooses another)\n";
  } else {
    resolve_default_layer(c, model, in);
  }
  const Workspace workspace;
  std::optional<Workspace> cuda_workspace;  // --device cuda (checked in run_explain)
  if (c.device == "cuda") cuda_workspace = Workspace::for_cuda(0);
  ExplainRecord r =
      explain_group(model, std::span(&in, 1), c, workspace, cuda_workspace ? &*cuda_workspace : nullptr).at(0);
  if (!r.error.empty()) throw Error(r.error);  // non-finite logits or attribution
  r.png = c.out;
  r.npy = c.save;
  // Both outputs or neither: staged as temporaries, renamed once both are complete.
  StagedFiles files;
  std::string html;
  if (in.kind == InputKind::Image)
    files.stage(c.out, encode_image(render_record(in, r, c, names), image_format_for(c.out).value_or(ImageFormat::Png), c.out));
  else
    html = stage_non_image_outputs(in, r, c, files);  // token boxes + HTML, or a bar chart
  if (c.save) files.stage(*c.save, npy_bytes(r.methods.at(0).attribution));
  files.commit();
  if (c.json) {
    nlohmann::json j = {{"command", "explain"}, {"model", c.model}, {"weights", c.weights ? *c.weights : "builtin"}};
    j.update(record_json(r));
    j.erase("status");
    if (in.kind != InputKind::Image) {
      j["input_kind"] = to_string(in.kind);
      j.update(non_image_json(in, r, c));
      j.erase("kind");
      if (!html.empty()) j["files"]["html"] = html;
    }
    j["visual"] = visual_json(c);
    if (!c.options.layer.empty()) {
      j["layer"] = c.options.layer;
      j["layer_default"] = !c.layer_given;
    }
    if (!r.neuron.empty()) j["neuron_default"] = !c.neuron_given;
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  for (const MethodRun& m : r.methods) std::cerr << "explain: " << m.method << " done in " << m.seconds << " s\n";
  std::cout << "model:      " << c.model << " (weights: " << c.weights.value_or("builtin") << ")\ninput:      "
            << in.source << " " << in.input.shape() << "\nprediction: " << r.prediction << ", target: " << r.target;
  if (!c.options.layer.empty())
    std::cout << "\nlayer:      " << c.options.layer
              << (c.layer_given                    ? " (--layer)"
                  : in.kind == InputKind::Tokens ? " (default: the embedding lookup on the token ids)"
                                                 : " (default: the feature maps entering the final pooling)");
  if (!r.neuron.empty()) {
    std::cout << "\nneuron:     ";
    for (size_t i = 0; i < r.neuron.size(); ++i) std::cout << (i ? "," : "") << r.neuron[i];
    std::cout << (c.neuron_given ? " (--neuron)" : " (default: the layer's most active unit)");
  }
  std::cout << "\nmethods:   ";
  for (const std::string& m : c.methods) std::cout << " " << m;
  std::cout << " (" << r.seconds << " s)\n";
  if (in.kind == InputKind::Image)
    std::cout << "wrote " << c.out << " (input | one " << to_string(c.visual.method) << " per method)\n";
  else if (in.kind == InputKind::Tokens)
    std::cout << "wrote " << c.out << " (tokens coloured by attribution, one row per method)\nwrote " << html
              << " (the same as an HTML page)\n";
  else
    std::cout << "wrote " << c.out << " (bar chart per method)\n";
  if (c.save)
    std::cout << "wrote " << *c.save << " (" << c.methods[0] << ", " << r.methods[0].attribution.shape() << ")\n";
  return 0;
}

// Every input and output path, before the model loads: a run writes everything it was asked for
// or nothing, and does not fail on a path after the work.
void check_paths(const ExplainConfig& c) {
  for (const std::string& image : c.images) check_input_file(image, "explain: --image");
  if (c.npy_input) check_input_file(*c.npy_input, "explain: --input");
  if (c.baseline_npy) check_input_file(*c.baseline_npy, "explain: --baseline");
  if (c.batch) {
    check_output_dir(c.out, "explain: --out");
    if (c.save) check_output_dir(*c.save, "explain: --save");
  } else {
    check_output_file(c.out, "explain: --out");
    if (c.save) check_output_file(*c.save, "explain: --save");
    BL_CHECK(!c.save || *c.save != c.out, "explain: --out and --save name the same file '", c.out, "'");
    if (c.html) check_output_file(*c.html, "explain: --html");
    if (c.tokens_file) check_input_file(*c.tokens_file, "explain: --tokens");
    if (c.feature_names_file) check_input_file(*c.feature_names_file, "explain: --feature-names");
  }
}

int run_explain(const Args& args) {
  ExplainConfig config = parse_explain_config(args);  // usage errors before any work
  // Under mpirun/srun only batch mode splits its work; one image would be explained N times.
  if (!config.batch && launched_size() > 1)
    throw UsageError("explain: started as " + std::to_string(launched_size()) +
                     " MPI processes, but only batch mode (--images DIR or several --image) shares its images "
                     "across processes; run one image as one process");
  check_paths(config);
  if (config.device == "cuda") {
    require_cuda_device("explain");  // then the methods of cuda_methods() (attribution/on_device.h) run on
                                     // device 0, the others on the CPU (docs/cuda.md)
  }
  const ModulePtr model = load_explain_model(config);
  if (config.baseline_npy) {
    Tensor b = load_npy(*config.baseline_npy);
    check_finite(b, "explain: --baseline '" + *config.baseline_npy + "'");
    config.options.baselines = {Baseline::given(std::move(b))};
  }
  // Class names for the labels: only the embedded model's are known.
  std::vector<std::string_view> names;
  if (config.model == "shapes_cnn" && !config.weights) names.assign(kShapeClassNames.begin(), kShapeClassNames.end());
  return config.batch ? run_explain_batch(config, *model, names) : run_single(config, *model, names);
}

}  // namespace

Command explain_command() {
  return {
      .name = "explain",
      .summary = "attribution maps for one image or a folder of images (the main job)",
      .description =
          "Runs the model on the image, attributes the target with each --method and writes a PNG grid:\n"
          "input | one picture per method | colour bar, each panel labelled. Pictures follow Captum's\n"
          "visualize_image_attr: channel sum, --sign selects values, the top --outlier-percent of the\n"
          "attribution mass saturates, --visual draws a heat map (bwr for signed maps, inferno for\n"
          "magnitudes), a blend over the grey image, a masked image or alpha scaling. Layer and CAM maps\n"
          "are upsampled bilinearly; layer and neuron methods default to the feature maps entering the\n"
          "final pooling and to the layer's most active unit. Default: the embedded shapes_cnn model on\n"
          "its first embedded image with saliency, integrated_gradients, lrp and grad_cam.\n"
          "Batch mode (--images DIR or several --image): one DIR/<stem>.png per image into --out DIR,\n"
          "progress on stderr, unreadable images reported and skipped (exit 1 if any failed).\n"
          "`backlight methods` (docs/methods.md) and docs/rules.md list methods and rule sets;\n"
          "docs/cli.md is the full reference.",
      .flags = explain_flags(),
      .run = run_explain,
  };
}

}  // namespace backlight::cli
