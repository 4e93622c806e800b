// `backlight explain`: the main job - an attribution map for one image, written as a PNG grid
// (input | heatmap), optionally the raw signal as .npy, and a summary as text or JSON.
// For now: placeholder model (placeholder_model.h) and plain saliency; the attribution methods
// and the embedded default model plug in here as they land.
#include <chrono>
#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>

#include "engine/backward.h"
#include "tools/cli/heatmap.h"
#include "tools/cli/image_io.h"
#include "tools/cli/npy.h"
#include "tools/commands/command.h"
#include "tools/commands/placeholder_model.h"

namespace backlight::cli {
namespace {

constexpr const char* kDefaultOut = "out/explain.png";

int64_t argmax(const Tensor& logits) {
  int64_t best = 0;
  for (int64_t i = 1; i < logits.numel(); ++i)
    if (logits.data()[i] > logits.data()[best]) best = i;
  return best;
}

/// Saliency (Simonyan et al. 2014): max over channels of |gradient|, [1,C,H,W] -> [H,W].
Tensor saliency_map(const Tensor& grad) {
  const int64_t c = grad.size(1), h = grad.size(2), w = grad.size(3), plane = h * w;
  Tensor map = Tensor::zeros({h, w});
  for (int64_t k = 0; k < c; ++k)
    for (int64_t i = 0; i < plane; ++i) map.data()[i] = std::max(map.data()[i], std::fabs(grad.data()[k * plane + i]));
  return map;
}

int run_explain(const Args& args) {
  // Argument checks first, so usage errors never wait for a forward pass.
  const std::optional<int64_t> target_flag = args.get_int("target");
  if (target_flag && (*target_flag < 0 || *target_flag >= PlaceholderCnn::kClasses))
    throw UsageError("explain: --target expects a class index in [0," + std::to_string(PlaceholderCnn::kClasses) +
                     "), got " + std::to_string(*target_flag));
  const std::string out_png = args.get_or("out", kDefaultOut);
  const std::optional<std::string> save_npy_path = args.get("save");
  const std::optional<std::string> image_path = args.get("image");

  const Tensor image = image_path ? load_image(*image_path) : test_pattern(64, 64);
  const int64_t h = image.size(1), w = image.size(2);

  const auto start = std::chrono::steady_clock::now();
  const PlaceholderCnn model;
  Tape tape;
  const Var x = tape.input(image.reshape({1, 3, h, w}), "input");
  const Var logits = model.forward(x);
  const int64_t prediction = argmax(logits.value());
  const int64_t target = target_flag.value_or(prediction);
  Tensor seed = Tensor::zeros(logits.shape());
  seed.data()[target] = 1.0f;
  const Tensor gradient = grad(logits, seed, x);  // [1,3,H,W]
  const Tensor map = saliency_map(gradient);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const Tensor panels[] = {image, heatmap_rgb(map)};
  write_png(out_png, tile_horizontal(panels));
  if (save_npy_path) save_npy(*save_npy_path, gradient);

  const std::vector<float> logit_values = logits.value().to_vector();
  if (args.flag("json")) {
    const nlohmann::json j = {
        {"command", "explain"},
        {"model", "placeholder_cnn"},
        {"method", "saliency"},
        {"image", image_path ? *image_path : "builtin:test_pattern"},
        {"input_shape", x.shape().to_vector()},
        {"logits", logit_values},
        {"prediction", prediction},
        {"target", target},
        {"seconds", seconds},
        {"files", {{"png", out_png}, {"npy", save_npy_path ? nlohmann::json(*save_npy_path) : nullptr}}},
    };
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::ostringstream ls;
  for (float v : logit_values) ls << " " << v;
  std::cout << "model:      placeholder_cnn (fixed random weights, until the default model lands)\n"
            << "image:      " << (image_path ? *image_path : "builtin test pattern") << " " << image.shape() << "\n"
            << "logits:    " << ls.str() << "\n"
            << "prediction: " << prediction << ", target: " << target << "\n"
            << "method:     saliency (" << seconds << " s)\n"
            << "wrote " << out_png << " (input | saliency heatmap)\n";
  if (save_npy_path) std::cout << "wrote " << *save_npy_path << " (gradient " << gradient.shape() << ")\n";
  return 0;
}

}  // namespace

Command explain_command() {
  return {
      .name = "explain",
      .summary = "attribution map for one image (the main job)",
      .description =
          "Runs the model on the image, takes the gradient of the target logit with respect to the\n"
          "input (saliency: max over channels of |gradient|) and writes a PNG grid: input | heatmap\n"
          "(blue-white-red, clipped at the 98th percentile of |values|).\n\n"
          "PLACEHOLDER: the model is a small fixed-weight CNN (conv-relu-conv-relu-mean-linear,\n"
          "4 classes) and the default image a synthetic 64x64 test pattern. Both are replaced by\n"
          "the embedded default model and image; more methods (--method) follow.",
      .flags =
          {
              {.name = "image", .metavar = "FILE", .help = "input image (PNG, JPEG, BMP); default: built-in test pattern"},
              {.name = "out", .metavar = "FILE.png", .help = std::string("output PNG grid; default: ") + kDefaultOut},
              {.name = "save", .metavar = "FILE.npy", .help = "also write the raw gradient (input shape, float32 .npy)"},
              {.name = "target", .metavar = "N", .help = "class to explain; default: the predicted class"},
              {.name = "json", .kind = FlagKind::Bool, .help = "print a JSON summary instead of text"},
          },
      .run = run_explain,
  };
}

}  // namespace backlight::cli
