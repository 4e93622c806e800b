#include "engine/losses.h"

#include <array>
#include <string>

#include "engine/error.h"
#include "engine/ops/ops.h"

namespace backlight {

Var cross_entropy(const Var& logits, std::span<const int64_t> targets, std::string_view name) {
  const Shape& s = logits.shape();
  BL_CHECK_SHAPE(s.rank() == 2, "cross_entropy: expected logits [N,C], got ", s);
  const int64_t n = s[0], c = s[1];
  BL_CHECK_SHAPE(static_cast<int64_t>(targets.size()) == n, "cross_entropy: expected ", n,
                 " targets (one per row of logits ", s, "), got ", targets.size());
  Tensor one_hot = Tensor::zeros(s);
  for (int64_t i = 0; i < n; ++i) {
    BL_CHECK(targets[i] >= 0 && targets[i] < c, "cross_entropy: target ", i, " is ", targets[i],
             ", expected a class index in [0, ", c, ")");
    one_hot.data()[i * c + targets[i]] = 1.0f;
  }
  const std::string base(name);
  auto sub = [&](const char* suffix) { return base + "." + suffix; };
  Tape& t = logits.tape();
  const std::array<int, 1> classes{1}, batch{0};
  const Var log_p = log_softmax(logits, 1, sub("log_softmax"));
  const Var picked = mul(log_p, t.input(one_hot, sub("target")), sub("pick"));
  const Var per_row = sum(picked, classes, false, sub("sum"));
  return scale(mean(per_row, batch, true, sub("mean")), -1.0f, base);
}

}  // namespace backlight
