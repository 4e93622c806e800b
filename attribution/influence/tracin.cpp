#include "attribution/influence/tracin.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "attribution/influence/layer_gradients.h"
#include "engine/eigen.h"
#include "engine/error.h"
#include "engine/philox.h"

namespace backlight {

namespace {

// What a batch contributes to scores. CP: `a` = per-example gradients [N, D]. Fast: `a` = layer
// inputs [N, in] and `g` = output gradients [N, out] (projected for FastRandProj).
struct Rep {
  Tensor a, g;
};

// Gaussian projection [k, dim] with N(0, 1/k) entries; undefined (= identity) when dim <= k.
Tensor projection(uint64_t seed, uint64_t stream, int64_t dim, int64_t k) {
  if (dim <= k) return Tensor();
  Tensor p = Tensor::empty(Shape{k, dim});
  const float scale = 1.0f / std::sqrt(static_cast<float>(k));
  for (int64_t i = 0; i < k * dim; ++i) p.data()[i] = scale * philox::normal(seed, stream, static_cast<uint64_t>(i));
  return p;
}

Tensor project(const Tensor& x, const Tensor& p) {
  if (!p.defined()) return x;
  Tensor out = Tensor::empty(Shape{x.size(0), p.size(0)});
  mat(out.data(), x.size(0), p.size(0)).noalias() =
      mat(x.data(), x.size(0), x.size(1)) * mat(p.data(), p.size(0), p.size(1)).transpose();
  return out;
}

class Representer {
 public:
  explicit Representer(const TracInOptions& o) : o_(o) {
    BL_CHECK(o.method == TracInMethod::CP || o.layers.size() <= 1, "tracin: method ", to_string(o.method),
             " takes one Linear layer, got ", o.layers.size(), " layers");
    BL_CHECK(o.method != TracInMethod::FastRandProj || o.projection_dim >= 1,
             "tracin: expected projection_dim >= 1, got ", o.projection_dim);
  }

  Rep operator()(const Module& model, const LabeledBatch& b) {
    const std::vector<LayerFactors> f = layer_factors(model, b, o_.layers);
    if (o_.method == TracInMethod::CP) return {per_example_gradients(f), Tensor()};
    BL_CHECK(!f[0].conv, "tracin: method ", to_string(o_.method), " needs a Linear layer; '", f[0].layer,
             "' is a Conv2d (use --method tracincp)");
    if (o_.method == TracInMethod::Fast) return {f[0].input, f[0].grad_output};
    if (!projected_) {
      pa_ = projection(o_.seed, 0, f[0].input.size(1), o_.projection_dim);
      pg_ = projection(o_.seed, 1, f[0].grad_output.size(1), o_.projection_dim);
      projected_ = true;
    }
    return {project(f[0].input, pa_), project(f[0].grad_output, pg_)};
  }

 private:
  const TracInOptions& o_;
  bool projected_ = false;
  Tensor pa_, pg_;
};

void check_inputs(std::span<const TracInCheckpoint> checkpoints, const ExampleSource& train,
                  const TracInOptions& o) {
  BL_CHECK(!checkpoints.empty(), "tracin: no checkpoints (TracIn sums over training checkpoints)");
  for (size_t i = 0; i < checkpoints.size(); ++i) {
    BL_CHECK(checkpoints[i].lr > 0 && std::isfinite(checkpoints[i].lr), "tracin: checkpoint ", i,
             " has learning rate ", checkpoints[i].lr, "; expected > 0");
    BL_CHECK(static_cast<bool>(checkpoints[i].load), "tracin: checkpoint ", i, " has no loader");
  }
  BL_CHECK(train.size > 0 && train.load, "tracin: empty training source");
  BL_CHECK(o.batch_size >= 1, "tracin: expected batch_size >= 1, got ", o.batch_size);
}

LabeledBatch load_checked(const ExampleSource& src, int64_t begin, int64_t count) {
  LabeledBatch b = src.load(begin, count);
  BL_CHECK(b.inputs.defined() && b.inputs.dim() >= 1 && b.inputs.size(0) == count &&
               static_cast<int64_t>(b.labels.size()) == count,
           "tracin: the training source returned a batch of ", b.inputs.defined() ? b.inputs.size(0) : 0,
           " inputs and ", b.labels.size(), " labels for examples [", begin, ", ", begin + count, ")");
  return b;
}

// The test examples' representation, computed in batches and stacked.
Rep represent_all(Representer& rep, const Module& model, const LabeledBatch& test, int64_t batch) {
  const int64_t t = test.inputs.size(0);
  std::vector<Rep> parts;
  for (int64_t b = 0; b < t; b += batch) {
    const int64_t e = std::min(t, b + batch);
    parts.push_back(rep(model, {test.inputs.slice_batch(b, e),
                                std::vector<int64_t>(test.labels.begin() + b, test.labels.begin() + e)}));
  }
  if (parts.size() == 1) return parts[0];
  auto stack = [&](Tensor Rep::*field) {
    if (!(parts[0].*field).defined()) return Tensor();
    const int64_t cols = (parts[0].*field).size(1);
    Tensor out = Tensor::empty(Shape{t, cols});
    int64_t row = 0;
    for (const Rep& p : parts) {
      std::copy((p.*field).data(), (p.*field).data() + (p.*field).numel(), out.data() + row * cols);
      row += (p.*field).size(0);
    }
    return out;
  };
  return {stack(&Rep::a), stack(&Rep::g)};
}

ConstMatMap rows(const Tensor& x) { return mat(x.data(), x.size(0), x.size(1)); }

// Training examples in the batches options.batch_filter selects (all without a filter).
int64_t assigned_examples(int64_t n, const TracInOptions& o) {
  if (!o.batch_filter) return n;
  int64_t m = 0;
  for (int64_t b = 0; b < n; b += o.batch_size)
    if (o.batch_filter(b / o.batch_size)) m += std::min(o.batch_size, n - b);
  return m;
}

// top_k's order: better score first, ties by lower index.
bool better(float a, int64_t ia, float b, int64_t ib, bool largest) {
  if (a != b) return largest ? a > b : a < b;
  return ia < ib;
}

}  // namespace

std::string_view to_string(TracInMethod m) {
  switch (m) {
    case TracInMethod::CP: return "tracincp";
    case TracInMethod::Fast: return "fast";
    case TracInMethod::FastRandProj: return "fast-rand-proj";
  }
  return "?";
}

TracInMethod tracin_method_from_string(std::string_view name) {
  for (TracInMethod m : {TracInMethod::CP, TracInMethod::Fast, TracInMethod::FastRandProj})
    if (to_string(m) == name) return m;
  BL_THROW("tracin: unknown method '", name, "' (expected tracincp, fast or fast-rand-proj)");
}

Tensor tracin_influence(std::span<const TracInCheckpoint> checkpoints, const ExampleSource& train,
                        const LabeledBatch& test, const TracInOptions& o) {
  check_inputs(checkpoints, train, o);
  BL_CHECK(test.inputs.defined() && test.inputs.dim() >= 1 && test.inputs.size(0) >= 1 &&
               static_cast<int64_t>(test.labels.size()) == test.inputs.size(0),
           "tracin_influence: expected test inputs [T, ...] with T >= 1 and T labels");
  const int64_t t = test.inputs.size(0), n = train.size;
  Tensor scores = Tensor::zeros(Shape{t, n});
  MatMap s = mat(scores.data(), t, n);
  Representer rep(o);
  const int64_t total = assigned_examples(n, o) * static_cast<int64_t>(checkpoints.size());
  int64_t done = 0;
  for (const TracInCheckpoint& ck : checkpoints) {
    const ModulePtr model = ck.load();
    BL_CHECK(model != nullptr, "tracin: a checkpoint loader returned no model");
    const Rep rt = represent_all(rep, *model, test, o.batch_size);
    const float lr = static_cast<float>(ck.lr);
    for (int64_t b = 0; b < n; b += o.batch_size) {
      if (o.batch_filter && !o.batch_filter(b / o.batch_size)) continue;
      const int64_t count = std::min(o.batch_size, n - b);
      const Rep rz = rep(*model, load_checked(train, b, count));
      if (!rt.g.defined()) {
        s.middleCols(b, count).noalias() += lr * (rows(rt.a) * rows(rz.a).transpose());
      } else {
        const RowMatrix aa = rows(rt.a) * rows(rz.a).transpose();
        const RowMatrix gg = rows(rt.g) * rows(rz.g).transpose();
        s.middleCols(b, count) += lr * aa.cwiseProduct(gg);
      }
      done += count;
      if (o.progress) o.progress(done, total);
    }
  }
  return scores;
}

Tensor tracin_self_influence(std::span<const TracInCheckpoint> checkpoints, const ExampleSource& train,
                             const TracInOptions& o) {
  check_inputs(checkpoints, train, o);
  const int64_t n = train.size;
  std::vector<double> acc(static_cast<size_t>(n), 0.0);
  Representer rep(o);
  const int64_t total = assigned_examples(n, o) * static_cast<int64_t>(checkpoints.size());
  int64_t done = 0;
  for (const TracInCheckpoint& ck : checkpoints) {
    const ModulePtr model = ck.load();
    BL_CHECK(model != nullptr, "tracin: a checkpoint loader returned no model");
    for (int64_t b = 0; b < n; b += o.batch_size) {
      if (o.batch_filter && !o.batch_filter(b / o.batch_size)) continue;
      const int64_t count = std::min(o.batch_size, n - b);
      const Rep rz = rep(*model, load_checked(train, b, count));
      const Eigen::VectorXf na = rows(rz.a).rowwise().squaredNorm();
      const Eigen::VectorXf ng = rz.g.defined() ? Eigen::VectorXf(rows(rz.g).rowwise().squaredNorm())
                                                : Eigen::VectorXf::Ones(count);
      for (int64_t i = 0; i < count; ++i)
        acc[static_cast<size_t>(b + i)] += ck.lr * static_cast<double>(na[i]) * static_cast<double>(ng[i]);
      done += count;
      if (o.progress) o.progress(done, total);
    }
  }
  Tensor out = Tensor::empty(Shape{n});
  for (int64_t i = 0; i < n; ++i) out.data()[i] = static_cast<float>(acc[static_cast<size_t>(i)]);
  return out;
}

Ranked top_k(std::span<const float> scores, int64_t k, bool largest) {
  std::vector<int64_t> all(scores.size());
  std::iota(all.begin(), all.end(), int64_t{0});
  return top_k_of(scores, all, k, largest);
}

Ranked top_k_of(std::span<const float> scores, std::span<const int64_t> candidates, int64_t k, bool largest) {
  BL_CHECK(k >= 0, "top_k: expected k >= 0, got ", k);
  std::vector<int64_t> idx(candidates.begin(), candidates.end());
  for (int64_t i : idx)
    BL_CHECK(i >= 0 && static_cast<size_t>(i) < scores.size(), "top_k: candidate ", i, " outside the ",
             scores.size(), " scores");
  const size_t m = std::min(idx.size(), static_cast<size_t>(k));
  std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(m), idx.end(), [&](int64_t x, int64_t y) {
    return better(scores[static_cast<size_t>(x)], x, scores[static_cast<size_t>(y)], y, largest);
  });
  Ranked r;
  for (size_t i = 0; i < m; ++i) {
    r.indices.push_back(idx[i]);
    r.scores.push_back(scores[static_cast<size_t>(idx[i])]);
  }
  return r;
}

Ranked merge_top_k(std::span<const Ranked> parts, int64_t k, bool largest) {
  BL_CHECK(k >= 0, "merge_top_k: expected k >= 0, got ", k);
  std::vector<std::pair<float, int64_t>> all;
  for (const Ranked& p : parts) {
    BL_CHECK(p.indices.size() == p.scores.size(), "merge_top_k: a part has ", p.indices.size(), " indices and ",
             p.scores.size(), " scores");
    for (size_t i = 0; i < p.indices.size(); ++i) all.emplace_back(p.scores[i], p.indices[i]);
  }
  const size_t m = std::min(all.size(), static_cast<size_t>(k));
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(m), all.end(),
                    [&](const auto& x, const auto& y) { return better(x.first, x.second, y.first, y.second, largest); });
  Ranked r;
  for (size_t i = 0; i < m; ++i) {
    r.indices.push_back(all[i].second);
    r.scores.push_back(all[i].first);
  }
  return r;
}

}  // namespace backlight
