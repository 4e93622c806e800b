#include "attribution/core/target.h"

#include <cmath>

#include "engine/error.h"
#include "engine/ops/ops.h"

namespace backlight {

Target Target::index(int64_t c) {
  Target t;
  t.kind_ = Kind::Index;
  t.classes_ = {c};
  return t;
}

Target Target::indices(std::vector<int64_t> cs) {
  Target t;
  t.kind_ = Kind::Indices;
  t.classes_ = std::move(cs);
  return t;
}

Target Target::function(std::function<Var(const Var& output)> f) {
  BL_CHECK(f, "Target::function: no function given");
  Target t;
  t.fn_ = std::move(f);
  return t;
}

std::vector<int64_t> Target::resolve(const Tensor& output) const {
  if (fn_) return {};
  BL_CHECK_SHAPE(output.dim() == 2, "target: class targets need a model output [N, classes], got ", output.shape(),
                 " (use Target::function for other outputs)");
  const int64_t n = output.size(0), classes = output.size(1);
  // Only top-1 reads the values (a copy to the host for a device output); class lists need the
  // shape alone.
  const Tensor values = kind_ == Kind::Top1 ? output.to_cpu() : Tensor();
  std::vector<int64_t> out(n);
  for (int64_t i = 0; i < n; ++i) {
    int64_t c = 0;
    switch (kind_) {
      case Kind::Top1: {
        const float* row = values.data() + i * classes;
        // torch.argmax: NaN counts as the maximum (the first NaN wins), so a NaN output is not
        // silently explained as some finite class.
        for (int64_t j = 1; j < classes && !std::isnan(row[c]); ++j)
          if (row[j] > row[c] || std::isnan(row[j])) c = j;
        break;
      }
      case Kind::Index: c = classes_[0]; break;
      case Kind::Indices:
        BL_CHECK(static_cast<int64_t>(classes_.size()) == n, "target: ", classes_.size(), " class indices for ", n,
                 " inputs; give one per input");
        c = classes_[i];
        break;
    }
    BL_CHECK(c >= 0 && c < classes, "target: class ", c, " out of range for a model with ", classes,
             " outputs (expected 0..", classes - 1, ")");
    out[i] = c;
  }
  return out;
}

std::vector<int64_t> Target::fixed_classes(int64_t items) const {
  if (fn_ || kind_ == Kind::Top1) return {};
  if (kind_ == Kind::Index) return std::vector<int64_t>(static_cast<size_t>(items), classes_[0]);
  BL_CHECK(static_cast<int64_t>(classes_.size()) == items, "target: ", classes_.size(), " class indices for ", items,
           " inputs; give one per input");
  return classes_;
}

Tensor one_hot_seed(const Shape& output_shape, const std::vector<int64_t>& classes) {
  Tensor seed = Tensor::zeros(output_shape);
  const int64_t k = output_shape[1];
  for (size_t i = 0; i < classes.size(); ++i) seed.data()[i * k + classes[i]] = 1.0f;
  return seed;
}

Var Target::select(const Var& output) const {
  if (fn_) {
    Var s = fn_(output);
    BL_CHECK_SHAPE(s.shape().numel() == output.shape()[0], "target function: expected one value per item (",
                   output.shape()[0], "), got shape ", s.shape());
    return s;
  }
  const std::vector<int64_t> cls = resolve(output.value());  // top-1 on CUDA: a sync
  Tape& t = output.tape();
  // output * one_hot summed over classes: a mul and a sum node, so rules see plain linear ops.
  // The mask goes where the tape's workspace allocates (a no-op on the CPU).
  Var mask = t.input(one_hot_seed(output.shape(), cls).to(t.workspace().device(), &t.workspace()), "target_mask");
  const int axes[] = {1};
  return sum(mul(output, mask), axes);
}

}  // namespace backlight
