#include "attribution/concepts/layer_similarity.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <optional>

#include "attribution/core/layer_eval.h"
#include "engine/error.h"
#include "engine/tape.h"
#include "engine/workspace.h"

namespace backlight {

namespace {

// The layers of one model, captured together.
struct ModelTap {
  const Module* model = nullptr;
  std::vector<std::string> names;
  std::vector<int> ops;
  std::vector<int64_t> features;
};

std::vector<Eigen::MatrixXd> capture(const ModelTap& tap, const Tensor& inputs, const Workspace& ws) {
  Tape tape(TapeOptions{.record = false}, ws);
  std::vector<Tensor> got(tap.ops.size());
  for (size_t i = 0; i < tap.ops.size(); ++i) {
    // Two names may resolve to the same op; the hook of the first then serves both.
    bool dup = false;
    for (size_t j = 0; j < i; ++j) dup |= tap.ops[j] == tap.ops[i];
    if (dup) continue;
    tape.set_output_hook(tap.ops[i], [&got, i](const Tensor& t) {
      got[i] = t.clone();
      return t;
    });
  }
  (void)tap.model->forward(tape.input(inputs));
  std::vector<Eigen::MatrixXd> out(tap.ops.size());
  const int64_t b = inputs.size(0);
  for (size_t i = 0; i < tap.ops.size(); ++i) {
    size_t src = i;
    for (size_t j = 0; j < i; ++j)
      if (tap.ops[j] == tap.ops[i]) src = j;
    const Tensor& t = got[src];
    BL_CHECK(t.defined() && t.size(0) == b, "layer_similarity: layer '", tap.names[i], "' produced no batch output");
    const int64_t p = t.numel() / b;
    BL_CHECK(tap.features.empty() || p == tap.features[i], "layer_similarity: layer '", tap.names[i], "' has ", p,
             " features in this batch but ", tap.features.empty() ? 0 : tap.features[i],
             " in the first (inputs of different sizes?)");
    for (int64_t k = 0; k < t.numel(); ++k)
      BL_CHECK(std::isfinite(t.data()[k]), "layer_similarity: layer '", tap.names[i], "' has a non-finite value (",
               t.data()[k], ") at flat index ", k, " of this batch");
    out[i] = Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(t.data(), b, p)
                 .cast<double>();
  }
  return out;
}

// Feature space, distributed: every sum and product added over the processes (in place).
void add_over_processes(const Reducer& red, std::vector<Eigen::VectorXd>& sa, std::vector<Eigen::VectorXd>& sb,
                        std::vector<Eigen::MatrixXd>& xxa, std::vector<Eigen::MatrixXd>& xxb,
                        std::vector<Eigen::MatrixXd>& xy) {
  std::vector<double> flat;
  auto put = [&](const auto& m) { flat.insert(flat.end(), m.data(), m.data() + m.size()); };
  for (auto* group : {&sa, &sb})
    for (const auto& v : *group) put(v);
  for (auto* group : {&xxa, &xxb, &xy})
    for (const auto& m : *group) put(m);
  const std::vector<double> total = red.sum(std::span<const double>(flat));
  size_t at = 0;
  auto take = [&](auto& m) {
    std::copy(total.begin() + static_cast<std::ptrdiff_t>(at), total.begin() + static_cast<std::ptrdiff_t>(at + m.size()),
              m.data());
    at += static_cast<size_t>(m.size());
  };
  for (auto* group : {&sa, &sb})
    for (auto& v : *group) take(v);
  for (auto* group : {&xxa, &xxb, &xy})
    for (auto& m : *group) take(m);
}

// Example space, distributed: every process's rows on process 0, in stream order (batch j is
// process j % size's (j / size)-th batch). Elsewhere the rows are left as they are.
void gather_rows(const Reducer& red, const std::vector<int64_t>& batch_rows, std::vector<std::vector<float>>& rows_a,
                 const std::vector<int64_t>& pa, std::vector<std::vector<float>>& rows_b,
                 const std::vector<int64_t>& pb) {
  std::string mine;
  pack_span(mine, std::span<const int64_t>(batch_rows));
  for (const auto& r : rows_a) pack_span(mine, std::span<const float>(r));
  for (const auto& r : rows_b) pack_span(mine, std::span<const float>(r));
  const std::vector<std::string> parts = red.gather(mine);
  if (red.rank() != 0) return;
  struct Part {
    std::vector<int64_t> rows, offset;  // per local batch: rows and first row
    std::vector<std::vector<float>> a, b;
  };
  std::vector<Part> got(parts.size());
  size_t batches = 0;
  for (size_t r = 0; r < parts.size(); ++r) {
    Unpacker u(parts[r]);
    got[r].rows = u.get_vector<int64_t>();
    int64_t at = 0;
    for (int64_t k : got[r].rows) got[r].offset.push_back(at), at += k;
    for (size_t i = 0; i < rows_a.size(); ++i) got[r].a.push_back(u.get_vector<float>());
    for (size_t j = 0; j < rows_b.size(); ++j) got[r].b.push_back(u.get_vector<float>());
    batches += got[r].rows.size();
  }
  const size_t size = parts.size();
  auto assemble = [&](std::vector<std::vector<float>>& rows, const std::vector<int64_t>& features, bool side_a) {
    for (size_t i = 0; i < rows.size(); ++i) {
      rows[i].clear();
      const size_t p = static_cast<size_t>(features[i]);
      for (size_t j = 0; j < batches; ++j) {
        const Part& part = got[j % size];
        const size_t k = j / size;
        BL_CHECK(k < part.rows.size(), "layer_similarity: process ", j % size, " sent ", part.rows.size(),
                 " batches, batch ", j, " of the stream is missing");
        const std::vector<float>& src = side_a ? part.a[i] : part.b[i];
        const size_t begin = static_cast<size_t>(part.offset[k]) * p, count = static_cast<size_t>(part.rows[k]) * p;
        rows[i].insert(rows[i].end(), src.begin() + static_cast<std::ptrdiff_t>(begin),
                       src.begin() + static_cast<std::ptrdiff_t>(begin + count));
      }
    }
  };
  assemble(rows_a, pa, true);
  assemble(rows_b, pb, false);
}

// Unit "rows-<j>": a batch's rows per layer as float32 (what capture() read before widening them
// to double, so reading them back gives the same doubles).
std::string pack_rows(const std::vector<Eigen::MatrixXd>& xa, const std::vector<Eigen::MatrixXd>* xb) {
  std::string out;
  pack(out, static_cast<int64_t>(xa.empty() ? 0 : xa[0].rows()));
  auto put = [&](const std::vector<Eigen::MatrixXd>& xs) {
    for (const Eigen::MatrixXd& x : xs) {
      const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> f = x.cast<float>();
      pack_span(out, std::span<const float>(f.data(), static_cast<size_t>(f.size())));
    }
  };
  put(xa);
  if (xb) put(*xb);
  return out;
}

// False when the bytes do not hold rows of these layers (then the batch is computed again).
bool unpack_rows(const std::string& bytes, const std::vector<int64_t>& pa, const std::vector<int64_t>* pb,
                 std::vector<Eigen::MatrixXd>& xa, std::vector<Eigen::MatrixXd>& xb) {
  try {
    Unpacker u(bytes);
    const int64_t n = u.get<int64_t>();
    if (n < 1) return false;
    auto get = [&](const std::vector<int64_t>& features, std::vector<Eigen::MatrixXd>& xs) {
      for (int64_t p : features) {
        const std::vector<float> v = u.get_vector<float>();
        if (static_cast<int64_t>(v.size()) != n * p) return false;
        xs.push_back(Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(v.data(), n, p)
                         .cast<double>());
      }
      return true;
    };
    xa.clear(), xb.clear();
    return get(pa, xa) && (!pb || get(*pb, xb)) && u.done();
  } catch (const Error&) {
    return false;
  }
}

// One batch j of this process's share: read(complete) gives its inputs (undefined: none left).
using BatchVisit = std::function<void(int64_t j, const std::function<Tensor(bool& complete)>& read)>;

LayerSimilarity scan_layers(const Module& model_a, const std::vector<std::string>& layers_a, const Module& model_b,
                            const std::vector<std::string>& layers_b, const Tensor& first,
                            const std::function<void(const BatchVisit&)>& drive, const LayerSimilarityOptions& o);

}  // namespace

std::vector<std::string> model_layer_names(const Module& model, const Tensor& probe) {
  Workspace ws;
  Tape tape(TapeOptions{}, ws);
  (void)model.forward(tape.input(probe.slice_batch(0, 1)));
  std::vector<std::string> names;
  for (int i = 0; i < tape.num_nodes(); ++i) {
    const std::string& n = tape.node(i).name;
    if (n.empty() || n == "input") continue;
    bool seen = false;
    for (const std::string& s : names) seen |= s == n;
    if (!seen) names.push_back(n);
  }
  return names;
}

LayerSimilarity layer_similarity(const Module& model_a, const std::vector<std::string>& layers_a,
                                 const Module& model_b, const std::vector<std::string>& layers_b,
                                 const BatchSource& next_batch, const LayerSimilarityOptions& o) {
  BL_CHECK(!o.reducer || (o.probe.defined() && o.probe.dim() >= 1 && o.probe.size(0) >= 1),
           "layer_similarity: a distributed run needs a probe input (a process may get no batch)");
  Tensor batch = next_batch();
  const Tensor first = batch;
  // Local batch k of this process is batch k * size + rank of the whole stream.
  const int64_t step = o.reducer ? o.reducer->size() : 1, offset = o.reducer ? o.reducer->rank() : 0;
  return scan_layers(model_a, layers_a, model_b, layers_b, first, [&](const BatchVisit& visit) {
    for (int64_t k = 0; batch.defined(); batch = next_batch(), ++k)
      visit(k * step + offset, [&](bool& complete) {
        complete = true;
        return batch;
      });
  }, o);
}

LayerSimilarity layer_similarity(const Module& model_a, const std::vector<std::string>& layers_a,
                                 const Module& model_b, const std::vector<std::string>& layers_b,
                                 const NumberedBatches& batches, const LayerSimilarityOptions& o) {
  BL_CHECK(o.probe.defined() && o.probe.dim() >= 1 && o.probe.size(0) >= 1,
           "layer_similarity: numbered batches need a probe input (a process may get no batch)");
  BL_CHECK(batches.count >= 0 && batches.read, "layer_similarity: expected a batch count >= 0 and a reader");
  return scan_layers(model_a, layers_a, model_b, layers_b, Tensor(), [&](const BatchVisit& visit) {
    for (int64_t j = 0; j < batches.count; ++j)
      if (owns_batch(o.reducer, j)) visit(j, [&batches, j](bool& complete) { return batches.read(j, complete); });
  }, o);
}

namespace {

LayerSimilarity scan_layers(const Module& model_a, const std::vector<std::string>& layers_a, const Module& model_b,
                            const std::vector<std::string>& layers_b, const Tensor& first,
                            const std::function<void(const BatchVisit&)>& drive, const LayerSimilarityOptions& o) {
  BL_CHECK(!layers_a.empty() && !layers_b.empty(), "layer_similarity: expected at least one layer on each side, got ",
           layers_a.size(), " and ", layers_b.size());
  const Reducer* red = o.reducer;
  const bool same = &model_a == &model_b;
  const bool shared = same && layers_a == layers_b;  // one capture serves both sides
  const bool rbf = o.measure == SimilarityMeasure::CkaRbf;
  Workspace ws;
  ModelTap ta{&model_a, layers_a, {}, {}}, tb{&model_b, layers_b, {}, {}};

  const Tensor& shapes = o.probe.defined() ? o.probe : first;
  BL_CHECK(shapes.defined(), "layer_similarity: the input stream is empty");
  for (ModelTap* t : {&ta, &tb}) {
    for (const std::string& name : t->names) t->ops.push_back(layer_op_index(*t->model, shapes, name, ws));
  }

  LayerSimilarity res{layers_a, layers_b, Eigen::MatrixXd(layers_a.size(), layers_b.size()), 0, ""};
  std::vector<Eigen::VectorXd> sa, sb;          // column sums
  std::vector<Eigen::MatrixXd> xxa, xxb, xy;    // feature space
  std::vector<std::vector<float>> rows_a, rows_b;  // example space
  std::vector<int64_t> batch_rows;              // rows of each of this process's batches
  bool feature = false, ready = false;
  const int64_t share = red && o.expected_examples > 0 ? (o.expected_examples + red->size() - 1) / red->size()
                                                       : o.expected_examples;
  Progress progress("similarity", share > 0 ? share : 1, o.progress);

  // Shapes known: choose the space (the same on every process: it depends on the layers and
  // the expected count only) and allocate the statistics.
  auto prepare = [&](const std::vector<Eigen::MatrixXd>& xa, const std::vector<Eigen::MatrixXd>& xb) {
    for (const auto& x : xa) ta.features.push_back(x.cols());
    for (const auto& x : xb) tb.features.push_back(x.cols());
    const int64_t n = o.expected_examples;
    bool fits = !rbf && n > 0;
    double fbytes = 0, ebytes = 0;
    for (int64_t p : ta.features) fits &= p < n, fbytes += 8.0 * p * (p + 1), ebytes += 4.0 * p * std::max<int64_t>(n, 1);
    for (int64_t q : tb.features) fits &= q < n, fbytes += 8.0 * q * (q + 1), ebytes += 4.0 * q * std::max<int64_t>(n, 1);
    for (int64_t p : ta.features)
      for (int64_t q : tb.features) fbytes += 8.0 * p * q;
    feature = fits && fbytes <= static_cast<double>(o.max_bytes);
    res.space = feature ? "feature" : "example";
    if (!feature) {
      BL_CHECK(o.measure != SimilarityMeasure::Cca && o.measure != SimilarityMeasure::Pwcca,
               "layer_similarity: ", to_string(o.measure), " needs more examples than features in every layer (",
               "every canonical correlation is 1 otherwise); got ", n, " examples and layers of up to ",
               std::max(*std::max_element(ta.features.begin(), ta.features.end()),
                        *std::max_element(tb.features.begin(), tb.features.end())),
               " features: use svcca, cka or more examples");
      BL_CHECK(ebytes <= static_cast<double>(o.max_bytes), "layer_similarity: keeping the activations of ", n,
               " examples needs about ", static_cast<int64_t>(ebytes / (1 << 20)), " MiB, above the cap of ",
               o.max_bytes >> 20, " MiB: use fewer layers or examples");
    }
    for (size_t i = 0; i < xa.size(); ++i) {
      sa.push_back(Eigen::VectorXd::Zero(ta.features[i]));
      if (feature) xxa.push_back(Eigen::MatrixXd::Zero(ta.features[i], ta.features[i]));
      else rows_a.emplace_back();
    }
    for (size_t j = 0; j < xb.size(); ++j) {
      sb.push_back(Eigen::VectorXd::Zero(tb.features[j]));
      if (feature) xxb.push_back(Eigen::MatrixXd::Zero(tb.features[j], tb.features[j]));
      else rows_b.emplace_back();
    }
    if (feature)
      for (size_t i = 0; i < xa.size(); ++i)
        for (size_t j = 0; j < xb.size(); ++j) xy.push_back(Eigen::MatrixXd::Zero(ta.features[i], tb.features[j]));
    ready = true;
  };
  if (o.probe.defined()) {
    const std::vector<Eigen::MatrixXd> pa = capture(ta, o.probe, ws);
    prepare(pa, shared ? pa : capture(tb, o.probe, ws));
  }

  // Each batch's rows: from unit "rows-<j>" or captured (and then stored when complete).
  drive([&](int64_t number, const std::function<Tensor(bool&)>& read) {
    std::vector<Eigen::MatrixXd> xa, xb;
    const std::string key = o.units ? o.units->key("rows", number) : std::string();
    bool have = false;
    if (o.units && ready) {
      ++res.units_here;
      if (const std::optional<std::string> bytes = o.units->load(key)) {
        have = unpack_rows(*bytes, ta.features, shared ? nullptr : &tb.features, xa, xb);
        if (!have) o.units->discard(key);  // not these layers' layout: computed again
      }
      if (have && shared) xb = xa;
      res.resumed_here += have;
    }
    if (!have) {
      bool complete = true;
      const Tensor batch = read(complete);
      if (!batch.defined()) {  // every input of the batch was left out
        batch_rows.push_back(0);
        return;
      }
      if (o.units && complete) o.units->begin(key);
      xa = capture(ta, batch, ws);
      xb = shared ? xa : capture(tb, batch, ws);
      if (!ready) prepare(xa, xb);
      if (o.units && complete) o.units->store(key, pack_rows(xa, shared ? nullptr : &xb));
    }
    const int64_t rows = xa.at(0).rows();
    for (size_t i = 0; i < xa.size(); ++i) {
      if (feature) {
        sa[i] += xa[i].colwise().sum().transpose();
        xxa[i].noalias() += xa[i].transpose() * xa[i];
        for (size_t j = 0; j < xb.size(); ++j) xy[i * xb.size() + j].noalias() += xa[i].transpose() * xb[j];
      } else {
        const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> f = xa[i].cast<float>();
        rows_a[i].insert(rows_a[i].end(), f.data(), f.data() + f.size());
      }
    }
    for (size_t j = 0; j < xb.size(); ++j) {
      if (feature) {
        sb[j] += xb[j].colwise().sum().transpose();
        xxb[j].noalias() += xb[j].transpose() * xb[j];
      } else {
        const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> f = xb[j].cast<float>();
        rows_b[j].insert(rows_b[j].end(), f.data(), f.data() + f.size());
      }
    }
    res.examples += rows;
    batch_rows.push_back(rows);
    progress.advance(rows);
  });
  progress.finish();
  bool root = true;  // this process computes the matrix
  if (red) {
    const int64_t mine = res.examples;
    res.examples = red->sum(std::span<const int64_t>(&mine, 1))[0];
    if (feature) {
      add_over_processes(*red, sa, sb, xxa, xxb, xy);
    } else {
      root = red->rank() == 0;
      gather_rows(*red, batch_rows, rows_a, ta.features, rows_b, tb.features);
    }
  }
  const int64_t n = res.examples;
  BL_CHECK(n >= (rbf && o.similarity.unbiased ? 4 : 2), "layer_similarity: need at least ",
           rbf && o.similarity.unbiased ? 4 : 2, " examples, the stream gave ", n);
  if (feature) {
    int64_t widest = 0;
    for (int64_t p : ta.features) widest = std::max(widest, p);
    for (int64_t q : tb.features) widest = std::max(widest, q);
    BL_CHECK(n > widest, "layer_similarity: the stream gave ", n, " examples, expected ", o.expected_examples,
             " (more than the widest layer's ", widest, " features)");
    const size_t nb = tb.names.size();
    for (size_t i = 0; i < ta.names.size(); ++i)
      for (size_t j = 0; j < nb; ++j)
        res.values(static_cast<int64_t>(i), static_cast<int64_t>(j)) = similarity_from_moments(
            o.measure, PairMoments::from_sums(n, sa[i], sb[j], xxa[i], xxb[j], xy[i * nb + j]), o.similarity);
    return res;
  }
  if (!root) {
    res.values.resize(0, 0);
    return res;
  }
  // Example space: one n x n object per layer, then every pair.
  // X X^T in float straight from the kept rows (p may be large; the n x n result is small), then
  // double for the centring and eigendecomposition.
  auto reduce = [&](const std::vector<float>& rows, int64_t p) -> Eigen::MatrixXd {
    BL_CHECK(static_cast<int64_t>(rows.size()) == n * p, "layer_similarity: kept ", rows.size(), " values for ", n,
             " examples of ", p, " features");
    const Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> x(rows.data(), n, p);
    Eigen::MatrixXf kf(n, n);
    kf.setZero();
    kf.selfadjointView<Eigen::Lower>().rankUpdate(x);
    const Eigen::MatrixXd k = Eigen::MatrixXf(kf.selfadjointView<Eigen::Lower>()).cast<double>();
    return rbf ? gram_rbf_from_linear(k, o.similarity.rbf_threshold)
               : example_coordinates_from_gram(k, o.similarity.rank_tolerance);
  };
  std::vector<Eigen::MatrixXd> za, zb;
  for (size_t i = 0; i < rows_a.size(); ++i) za.push_back(reduce(rows_a[i], ta.features[i]));
  for (size_t j = 0; j < rows_b.size(); ++j) zb.push_back(reduce(rows_b[j], tb.features[j]));
  for (size_t i = 0; i < za.size(); ++i)
    for (size_t j = 0; j < zb.size(); ++j)
      res.values(i, j) = rbf ? cka_from_grams(za[i], zb[j], o.similarity.unbiased)
                             : similarity(o.measure, za[i], zb[j], o.similarity);
  return res;
}

}  // namespace

}  // namespace backlight
