#include "attribution/concepts/concept_activations.h"

#include <cmath>

#include "attribution/core/layer_eval.h"
#include "engine/error.h"
#include "engine/tape.h"

namespace backlight {

std::vector<int> layer_ops(const Module& model, const std::vector<std::string>& layers, const Tensor& probe,
                           const Workspace& ws) {
  std::vector<int> ops;
  for (const std::string& l : layers) ops.push_back(layer_op_index(model, probe, l, ws));
  return ops;
}

std::vector<Eigen::MatrixXf> gather_activations(const Module& model, const std::vector<int>& ops,
                                                const std::vector<std::string>& names, ExampleSet& set,
                                                const Workspace& ws, int64_t max_examples,
                                                const std::function<void(int64_t)>& on_batch) {
  BL_CHECK(ops.size() == names.size() && !ops.empty(), "gather_activations: expected one name per op, got ",
           ops.size(), " ops and ", names.size(), " names");
  std::vector<std::vector<float>> rows(ops.size());
  std::vector<int64_t> features(ops.size(), -1);
  int64_t n = 0;
  for (Tensor batch = set.batches(); batch.defined(); batch = set.batches()) {
    const int64_t b = batch.size(0);
    BL_CHECK(n + b <= max_examples, "gather_activations: set '", set.name, "' holds more than ", max_examples,
             " examples (the activations of every example are kept); use a smaller set");
    Tape tape(TapeOptions{.record = false}, ws);
    std::vector<Tensor> got(ops.size());
    for (size_t i = 0; i < ops.size(); ++i) {
      bool dup = false;  // two names for one op: the first hook serves both
      for (size_t j = 0; j < i; ++j) dup |= ops[j] == ops[i];
      if (!dup)
        tape.set_output_hook(ops[i], [&got, i](const Tensor& t) {
          got[i] = t.is_cuda() ? t.to_cpu() : t.clone();  // the op's buffer is reused by later ops
          return t;
        });
    }
    (void)model.forward(tape.input(batch));
    for (size_t i = 0; i < ops.size(); ++i) {
      size_t src = i;
      for (size_t j = 0; j < i; ++j)
        if (ops[j] == ops[i]) src = j;
      const Tensor& t = got[src];
      BL_CHECK(t.defined() && t.size(0) == b, "gather_activations: layer '", names[i], "' produced no batch output");
      const int64_t p = t.numel() / b;
      BL_CHECK(features[i] < 0 || features[i] == p, "gather_activations: layer '", names[i], "' has ", p,
               " features in this batch of set '", set.name, "' but ", features[i], " before (inputs of different sizes?)");
      features[i] = p;
      for (int64_t k = 0; k < t.numel(); ++k)
        BL_CHECK(std::isfinite(t.data()[k]), "gather_activations: layer '", names[i], "' of set '", set.name,
                 "' has a non-finite value at flat index ", k, " of a batch");
      rows[i].insert(rows[i].end(), t.data(), t.data() + t.numel());
    }
    n += b;
    if (on_batch) on_batch(b);
  }
  BL_CHECK(n > 0, "gather_activations: set '", set.name, "' is empty");
  std::vector<Eigen::MatrixXf> out;
  for (size_t i = 0; i < ops.size(); ++i)
    out.emplace_back(Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
        rows[i].data(), n, features[i]));
  return out;
}

}  // namespace backlight
