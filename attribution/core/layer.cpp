#include "attribution/core/layer.h"

#include <cmath>
#include <set>

#include "engine/error.h"
#include "engine/parallel.h"

namespace backlight {

namespace {
bool under(std::string_view name, std::string_view layer) {
  return name == layer || (name.size() > layer.size() && name.substr(0, layer.size()) == layer &&
                           name[layer.size()] == '.');
}
}  // namespace

int layer_output_node(const Tape& tape, std::string_view layer) {
  BL_CHECK(!layer.empty(), "layer: no layer name given (use --layer NAME, a module path such as features.28)");
  if (layer.ends_with(kLayerInputSuffix)) {
    const std::string_view module = layer.substr(0, layer.size() - kLayerInputSuffix.size());
    BL_CHECK(!module.empty(), "layer '", layer, "': expected a module path before '@input'");
    for (int i = 0; i < tape.num_nodes(); ++i) {
      if (!under(tape.node(i).name, module)) continue;
      // The module's first node: every input it has comes from outside the module.
      BL_CHECK(!tape.node(i).inputs.empty(), "layer '", layer, "': the first op of module '", module,
               "' has no input");
      const int value = tape.node(i).inputs[0];
      for (int j = i - 1; j >= 0; --j)
        if (tape.node(j).output == value) return j;
      BL_THROW("layer '", layer, "': the input of module '", module,
               "' is the model input itself, not the output of a layer; attribute to the inputs instead");
    }
    return layer_output_node(tape, module);  // throws, listing the module paths seen
  }
  for (int i = tape.num_nodes() - 1; i >= 0; --i)
    if (under(tape.node(i).name, layer)) return i;
  std::set<std::string> seen;
  std::string list;
  for (const Node& n : tape.nodes())
    if (!n.name.empty() && seen.insert(n.name).second && seen.size() <= 60) list += (list.empty() ? "" : ", ") + n.name;
  BL_THROW("layer '", layer, "' not found in the model (module paths seen: ", list, ")");
}

Var layer_output(Tape& tape, std::string_view layer) {
  return tape.var(tape.node(layer_output_node(tape, layer)).output);
}

Tensor upsample_bilinear(const Tensor& maps, int64_t height, int64_t width) {
  BL_CHECK_SHAPE(maps.dim() == 4, "upsample_bilinear: expected maps [N,C,h,w], got ", maps.shape());
  const int64_t n = maps.size(0), c = maps.size(1), h = maps.size(2), w = maps.size(3);
  Tensor out = Tensor::empty(Shape{n, c, height, width});
  const double sy = static_cast<double>(h) / height, sx = static_cast<double>(w) / width;
  parallel_for(n * c, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p) {
      const float* src = maps.data() + p * h * w;
      float* dst = out.data() + p * height * width;
      for (int64_t y = 0; y < height; ++y) {
        // align_corners=false: source coordinate (y + 0.5) * scale - 0.5, clamped at 0.
        const double fy = std::max(0.0, (y + 0.5) * sy - 0.5);
        const int64_t y0 = std::min<int64_t>(static_cast<int64_t>(fy), h - 1), y1 = std::min<int64_t>(y0 + 1, h - 1);
        const float ly = static_cast<float>(fy - y0);
        for (int64_t x = 0; x < width; ++x) {
          const double fx = std::max(0.0, (x + 0.5) * sx - 0.5);
          const int64_t x0 = std::min<int64_t>(static_cast<int64_t>(fx), w - 1),
                        x1 = std::min<int64_t>(x0 + 1, w - 1);
          const float lx = static_cast<float>(fx - x0);
          dst[y * width + x] = (1 - ly) * ((1 - lx) * src[y0 * w + x0] + lx * src[y0 * w + x1]) +
                               ly * ((1 - lx) * src[y1 * w + x0] + lx * src[y1 * w + x1]);
        }
      }
    }
  });
  return out;
}

}  // namespace backlight
