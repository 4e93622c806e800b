#include "attribution/concepts/tcav.h"

#include <memory>

#include "attribution/core/layer.h"
#include "attribution/core/pass.h"
#include "engine/error.h"

namespace backlight {

namespace {

using RowMatrixF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

}  // namespace

// The user's seed mixed with what the CAV is (splitmix64 finaliser).
uint64_t tcav_cav_seed(uint64_t seed, size_t layer, size_t set, size_t run) {
  const uint64_t a = layer, b = set, c = run;
  uint64_t z = seed ^ (a * 0x9E3779B97F4A7C15ULL) ^ (b * 0xC2B2AE3D27D4EB4FULL) ^ (c * 0x165667B19E3779F9ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

void tcav_add_batch(const Module& model, const std::vector<std::string>& layers, const Tensor& batch, int64_t target,
                    const Workspace& ws, std::vector<TcavAccumulator>& accs) {
  BL_CHECK(accs.size() == layers.size(), "tcav_add_batch: expected one accumulator per layer, got ", accs.size(),
           " for ", layers.size(), " layers");
  const RuleSet gradient("gradient");
  ForwardPass pass = forward_pass(model, batch, ws);
  BL_CHECK(pass.output.value().dim() == 2 && target >= 0 && target < pass.output.value().size(1),
           "tcav: target class ", target, " is outside the model's output ", pass.output.value().shape());
  std::vector<Var> wrt;
  for (const std::string& l : layers) wrt.push_back(layer_output(*pass.tape, l));
  const std::vector<Tensor> grads = target_backward(pass, Target::index(target), gradient, wrt);
  for (size_t l = 0; l < layers.size(); ++l) {
    const Tensor g = grads[l].is_cuda() ? grads[l].to_cpu() : grads[l];
    const int64_t b = g.size(0);
    accs[l].add(Eigen::Map<const RowMatrixF>(g.data(), b, g.numel() / b));
  }
}

std::vector<std::vector<TcavScore>> tcav_score_inputs(const Module& model, const std::vector<std::string>& layers,
                                                      const std::vector<Eigen::MatrixXf>& cavs, ExampleSet& inputs,
                                                      int64_t target, const Workspace& ws, Progress* progress,
                                                      int64_t* inputs_seen) {
  BL_CHECK(!layers.empty() && cavs.size() == layers.size(), "tcav_score_inputs: expected one CAV matrix per layer, got ",
           cavs.size(), " for ", layers.size(), " layers");
  std::vector<TcavAccumulator> accs;
  for (const Eigen::MatrixXf& c : cavs) accs.emplace_back(c);
  int64_t seen = 0;
  for (Tensor batch = inputs.batches(); batch.defined(); batch = inputs.batches()) {
    tcav_add_batch(model, layers, batch, target, ws, accs);
    seen += batch.size(0);
    if (progress) progress->advance(batch.size(0));
  }
  BL_CHECK(seen > 0, "tcav: the input set '", inputs.name, "' is empty");
  if (inputs_seen) *inputs_seen = seen;
  std::vector<std::vector<TcavScore>> out;
  for (const TcavAccumulator& a : accs) out.push_back(a.scores());
  return out;
}

TcavResult tcav(const Module& model, std::vector<ExampleSet> concepts, std::vector<ExampleSet> randoms,
                ExampleSet inputs, const TcavOptions& o) {
  BL_CHECK(!concepts.empty(), "tcav: expected at least one concept set");
  BL_CHECK(!o.layers.empty(), "tcav: expected at least one layer");
  const int runs = o.runs > 0 ? o.runs : static_cast<int>(randoms.size());
  BL_CHECK(runs >= 2, "tcav: the t-test needs at least 2 runs (random sets), got ", runs);
  BL_CHECK(static_cast<int>(randoms.size()) >= runs, "tcav: ", runs, " runs need ", runs,
           " random sets (one per run), got ", randoms.size());
  BL_CHECK(o.alpha > 0 && o.alpha < 1, "tcav: expected 0 < alpha < 1, got ", o.alpha);
  randoms.resize(static_cast<size_t>(runs));
  std::unique_ptr<Workspace> local;
  const Workspace& ws = pick_workspace(o.workspace, local);

  // The first batch of the first concept finds the layers' ops, then is handed back to the stream.
  Tensor first = concepts[0].batches();
  BL_CHECK(first.defined(), "tcav: concept set '", concepts[0].name, "' is empty");
  const std::vector<int> ops = layer_ops(model, o.layers, first, ws);
  {
    BatchSource rest = std::move(concepts[0].batches);
    concepts[0].batches = [first, rest, given = false]() mutable -> Tensor {
      if (!given) return given = true, first;
      return rest();
    };
  }

  int64_t total = inputs.expected;
  for (const auto* sets : {&concepts, &randoms})
    for (const ExampleSet& s : *sets) total += s.expected;
  Progress progress("tcav", std::max<int64_t>(total, 1), o.progress);
  const auto advance = [&progress](int64_t b) { progress.advance(b); };

  const size_t nl = o.layers.size(), nc = concepts.size(), nr = static_cast<size_t>(runs);
  // Activations [set][layer].
  std::vector<std::vector<Eigen::MatrixXf>> cact, ract;
  for (ExampleSet& s : concepts)
    cact.push_back(gather_activations(model, ops, o.layers, s, ws, o.max_set_examples, advance));
  for (ExampleSet& s : randoms)
    ract.push_back(gather_activations(model, ops, o.layers, s, ws, o.max_set_examples, advance));

  // CAVs per layer: rows [c * R + i] for the concepts, then [nc * R + i] for random-vs-random.
  TcavResult res;
  res.concepts.reserve(nc);
  for (const ExampleSet& s : concepts) res.concepts.push_back(s.name);
  res.layers = o.layers;
  res.runs = runs;
  std::vector<Eigen::MatrixXf> cavs(nl);
  std::vector<std::vector<double>> acc(nl);
  for (size_t l = 0; l < nl; ++l) {
    const int64_t p = ract[0][l].cols();
    cavs[l].resize(static_cast<int64_t>((nc + 1) * nr), p);
    for (size_t c = 0; c <= nc; ++c)
      for (size_t i = 0; i < nr; ++i) {
        CavOptions co = o.cav;
        co.seed = tcav_cav_seed(o.cav.seed, l, c, i);
        const Eigen::MatrixXf& pos = c < nc ? cact[c][l] : ract[(i + 1) % nr][l];
        const Cav cav = train_cav(pos, ract[i][l], co);
        cavs[l].row(static_cast<int64_t>(c * nr + i)) = cav.direction.transpose();
        acc[l].push_back(cav.accuracy);
      }
  }
  cact.clear();
  ract.clear();

  const std::vector<std::vector<TcavScore>> scores =
      tcav_score_inputs(model, o.layers, cavs, inputs, o.target, ws, &progress, &res.inputs);
  progress.finish();

  return tcav_result(std::move(res.concepts), o.layers, runs, scores, acc, res.inputs, o);
}

TcavResult tcav_result(std::vector<std::string> concepts, const std::vector<std::string>& layers, int runs,
                       const std::vector<std::vector<TcavScore>>& scores,
                       const std::vector<std::vector<double>>& acc, int64_t inputs, const TcavOptions& o) {
  const size_t nl = layers.size(), nc = concepts.size(), nr = static_cast<size_t>(runs);
  BL_CHECK(scores.size() == nl && acc.size() == nl, "tcav_result: expected scores and accuracies of ", nl, " layers");
  for (size_t l = 0; l < nl; ++l)
    BL_CHECK(scores[l].size() == (nc + 1) * nr && acc[l].size() == (nc + 1) * nr, "tcav_result: layer ", layers[l],
             " has ", scores[l].size(), " scores and ", acc[l].size(), " accuracies, expected ", (nc + 1) * nr);
  TcavResult res;
  res.concepts = std::move(concepts);
  res.layers = layers;
  res.runs = runs;
  res.inputs = inputs;
  res.tests = static_cast<int64_t>(nc * nl);
  res.random_scores.assign(nl, {});
  res.random_accuracies.assign(nl, {});
  for (size_t l = 0; l < nl; ++l) {
    for (size_t i = 0; i < nr; ++i) {
      res.random_scores[l].push_back(scores[l][nc * nr + i].sign_count);
      res.random_accuracies[l].push_back(acc[l][nc * nr + i]);
    }
  }
  for (size_t c = 0; c < nc; ++c)
    for (size_t l = 0; l < nl; ++l) {
      TcavCell cell;
      cell.concept_name = res.concepts[c];
      cell.layer = res.layers[l];
      for (size_t i = 0; i < nr; ++i) {
        cell.scores.push_back(scores[l][c * nr + i].sign_count);
        cell.magnitudes.push_back(scores[l][c * nr + i].magnitude);
        cell.cav_accuracies.push_back(acc[l][c * nr + i]);
      }
      cell.score = mean_std(cell.scores);
      cell.magnitude = mean_std(cell.magnitudes);
      cell.test = t_test(cell.scores, res.random_scores[l], o.test);
      cell.p_corrected = bonferroni(cell.test.p_value, res.tests);
      cell.significant = cell.p_corrected < o.alpha;
      res.cells.push_back(std::move(cell));
    }
  return res;
}

}  // namespace backlight
