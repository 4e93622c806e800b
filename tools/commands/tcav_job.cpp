#include "tools/commands/tcav_job.h"

#include <algorithm>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>

#include "attribution/concepts/concept_activations.h"
#include "engine/error.h"
#include "tools/cluster/packing.h"
#include "tools/cluster/unit_cache.h"

namespace backlight::cli {

namespace {

using RowMatrixF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// "path" for an image or a one-example .npy, "path[row]" for a row of a stack.
std::string example_name(const ExampleFiles& f, const std::vector<int64_t>& first, int64_t ex) {
  const size_t file = static_cast<size_t>(std::upper_bound(first.begin(), first.end(), ex) - first.begin() - 1);
  if (f.counts[file] == 1) return f.paths[file];
  return f.paths[file] + "[" + std::to_string(ex - first[file]) + "]";
}

// Examples [n, ...] stacked into one batch; undefined when there are none.
Tensor stack(const std::vector<Tensor>& parts) {
  if (parts.empty()) return {};
  int64_t n = 0;
  for (const Tensor& t : parts) n += t.size(0);
  std::vector<int64_t> shape = parts[0].shape().to_vector();
  shape[0] = n;
  Tensor out = Tensor::empty(Shape(shape));
  float* dst = out.data();
  for (const Tensor& t : parts) dst = std::copy(t.data(), t.data() + t.numel(), dst);
  return out;
}

// The stream of one batch (what gather_activations reads).
ExampleSet one_batch(const std::string& name, Tensor t) {
  const int64_t n = t.size(0);
  return {name, [t, given = false]() mutable -> Tensor {
            if (given) return {};
            given = true;
            return t;
          },
          n};
}

}  // namespace

BatchedSet folder_batches(std::string name, const ExampleFiles& files, int64_t h, int64_t w, int64_t batch,
                          int64_t max_pixels, std::vector<int64_t> pick) {
  BL_CHECK(batch >= 1, "tcav: expected a batch size >= 1, got ", batch);
  if (pick.empty())
    for (int64_t i = 0; i < files.total; ++i) pick.push_back(i);
  auto f = std::make_shared<const ExampleFiles>(files);
  auto first = std::make_shared<std::vector<int64_t>>(1, 0);
  for (int64_t c : files.counts) first->push_back(first->back() + c);
  BatchedSet s{std::move(name), static_cast<int64_t>(pick.size()), batch, {}};
  auto picked = std::make_shared<const std::vector<int64_t>>(std::move(pick));
  s.files = [f, first, picked, batch](int64_t b) {
    std::vector<std::string> out;
    const size_t begin = static_cast<size_t>(b * batch), end = std::min(picked->size(), begin + static_cast<size_t>(batch));
    for (size_t k = begin; k < end; ++k) {
      const int64_t ex = (*picked)[k];
      const size_t file = static_cast<size_t>(std::upper_bound(first->begin(), first->end(), ex) - first->begin() - 1);
      if (out.empty() || out.back() != f->paths[file]) out.push_back(f->paths[file]);
    }
    return out;
  };
  s.read = [f, first, pick = picked, h, w, batch, max_pixels](int64_t b, const SkipReport& skip) -> Tensor {
    const size_t begin = static_cast<size_t>(b * batch), end = std::min(pick->size(), begin + static_cast<size_t>(batch));
    BL_CHECK(begin < end, "tcav: batch ", b, " is past the set's ", pick->size(), " examples");
    const std::vector<int64_t> part(pick->begin() + static_cast<std::ptrdiff_t>(begin),
                                    pick->begin() + static_cast<std::ptrdiff_t>(end));
    try {
      return example_batches(*f, h, w, batch, max_pixels, part)();
    } catch (const std::exception&) {
      // Some example of the batch does not read: read them one by one, leave out the bad ones.
    }
    std::vector<Tensor> good;
    for (int64_t ex : part) {
      try {
        good.push_back(example_batches(*f, h, w, 1, max_pixels, {ex})());
      } catch (const std::exception& e) {
        skip(example_name(*f, *first, ex), e.what());
      }
    }
    return stack(good);
  };
  return s;
}

BatchedSet stream_batches(ExampleSet set, int64_t examples, int64_t batch) {
  auto state = std::make_shared<std::pair<ExampleSet, int64_t>>(std::move(set), 0);
  BatchedSet s{state->first.name, examples, batch, {}};
  s.read = [state](int64_t b, const SkipReport&) -> Tensor {
    BL_CHECK(b >= state->second, "tcav: set '", state->first.name, "' is a stream: batch ", b, " was asked after ",
             state->second);
    for (; state->second < b; ++state->second) (void)state->first.batches();  // another rank's
    ++state->second;
    return state->first.batches();
  };
  return s;
}

TcavJobResult tcav_job(const Module& model, const std::vector<BatchedSet>& concepts,
                       const std::vector<BatchedSet>& randoms, const BatchedSet& inputs, const TcavOptions& o,
                       const std::vector<int64_t>& input_shape, const Cluster& cluster, UnitStore* units) {
  BL_CHECK(!concepts.empty(), "tcav: expected at least one concept set");
  BL_CHECK(!o.layers.empty(), "tcav: expected at least one layer");
  const int runs = o.runs;
  BL_CHECK(runs >= 2 && static_cast<int>(randoms.size()) >= runs, "tcav: ", runs, " runs need at least 2 and ",
           "as many random sets, got ", randoms.size());
  const size_t nl = o.layers.size(), nc = concepts.size(), nr = static_cast<size_t>(runs);
  const size_t rank = static_cast<size_t>(cluster.rank()), size = static_cast<size_t>(cluster.size());
  const Workspace ws;
  const std::vector<int> ops =
      layer_ops(model, o.layers, Tensor::zeros(Shape{1, input_shape.at(0), input_shape.at(1), input_shape.at(2)}), ws);

  TcavJobResult out;
  // Folder sets' files are not in the job's fingerprint: a unit's key carries the digest of the
  // files it depends on (a set batch: its own; a CAV: every concept and random set's; an input
  // batch: its own and the sets').
  std::vector<std::string> set_files;
  if (units) {
    for (const std::vector<BatchedSet>* group : {&concepts, &randoms})
      for (const BatchedSet& s : *group)
        for (int64_t b = 0; s.files && b < s.batches(); ++b)
          for (const std::string& f : s.files(b)) set_files.push_back(f);
  }
  const std::string sets_digest = set_files.empty() ? std::string() : files_digest(set_files);
  // Unit (kind, number): appended to `part` from `units` when an earlier run kept it; else
  // compute() appends it and returns whether it is complete (then it is kept).
  const auto unit = [&](std::string_view kind, int64_t number, std::vector<std::string> files, std::string& part,
                        const std::function<bool(Packer&, const std::function<void()>&)>& compute) {
    std::string key = units ? units->key(kind, number) : std::string();
    if (units && !files.empty()) key += "-" + files_digest(files);
    if (units) {
      ++out.units_here;
      if (const std::optional<std::string> bytes = units->load(key)) {
        part += *bytes;
        ++out.resumed_here;
        return;
      }
    }
    Packer one;
    // compute() calls started() once it knows the unit will be kept (a later run names it in flight).
    const std::function<void()> started = [&] {
      if (units) units->begin(key);
    };
    if (compute(one, started) && units) units->store(key, one.bytes());
    part += one.bytes();
  };
  std::vector<std::string> skipped;  // this rank's
  const std::string who = cluster.distributed() ? "tcav: " + cluster.describe() : "tcav";
  const auto reporter = [&](const BatchedSet& s) -> SkipReport {
    return [&skipped, &who, name = s.name](const std::string& example, const std::string& error) {
      std::cerr << who << ": skipped '" << example << "' of set '" << name << "': " << error << "\n";
      skipped.push_back("set '" + name + "': '" + example + "': " + error);
    };
  };

  // (set, batch) pairs of the concept and random sets, in order; pair q is rank q % size's.
  std::vector<const BatchedSet*> sets;
  for (const BatchedSet& s : concepts) sets.push_back(&s);
  for (size_t i = 0; i < nr; ++i) sets.push_back(&randoms[i]);
  std::vector<std::pair<size_t, int64_t>> pairs;
  for (size_t s = 0; s < sets.size(); ++s)
    for (int64_t b = 0; b < sets[s]->batches(); ++b) pairs.emplace_back(s, b);
  int64_t my_examples = 0;
  for (size_t q = rank; q < pairs.size(); q += size) my_examples += sets[pairs[q].first]->size_of(pairs[q].second);
  for (int64_t b = static_cast<int64_t>(rank); b < inputs.batches(); b += static_cast<int64_t>(size))
    my_examples += inputs.size_of(b);
  ProgressOptions po = o.progress;
  po.enabled = po.enabled && cluster.leader();
  Progress progress(cluster.distributed() ? "tcav (rank 0 of " + std::to_string(size) + ")" : "tcav",
                    std::max<int64_t>(my_examples, 1), po);

  // 1. Activations of this rank's batches, all-gathered.
  std::string error;
  std::string mine;
  try {
    for (size_t q = rank; q < pairs.size(); q += size) {
      const BatchedSet& set = *sets[pairs[q].first];
      unit("act", static_cast<int64_t>(q), set.files && units ? set.files(pairs[q].second) : std::vector<std::string>(), mine, [&](Packer& part, const std::function<void()>& started) {
        const size_t before = skipped.size();
        const Tensor t = set.read(pairs[q].second, reporter(set));
        if (!t.defined()) return false;
        if (skipped.size() == before) started();
        ExampleSet one = one_batch(set.name, t);
        const std::vector<Eigen::MatrixXf> acts =
            gather_activations(model, ops, o.layers, one, ws, std::numeric_limits<int64_t>::max());
        part.put<uint64_t>(q);
        part.put<int64_t>(t.size(0));
        for (const Eigen::MatrixXf& a : acts) {
          const RowMatrixF r = a;
          part.put_span(std::span<const float>(r.data(), static_cast<size_t>(r.size())));
        }
        return skipped.size() == before;
      });
      progress.advance(set.size_of(pairs[q].second));
    }
  } catch (const std::exception& e) {
    error = e.what();
  }
  cluster.fail_together(error);
  // CAVs and scores depend on whole sets: kept only when no rank left an example out.
  const bool whole_sets = cluster.all(skipped.empty());
  // rows[q][l]: pair q's activations of layer l, row-major.
  std::vector<std::vector<std::vector<float>>> rows(pairs.size());
  std::vector<int64_t> count(pairs.size(), 0);
  for (const std::string& part : cluster.all_gather(mine)) {
    Unpacker u(part, "tcav: gathering activations");
    while (!u.done()) {
      const size_t q = static_cast<size_t>(u.get<uint64_t>());
      BL_CHECK(q < pairs.size(), "tcav: a rank sent activations of batch ", q, " of ", pairs.size());
      count[q] = u.get<int64_t>();
      for (size_t l = 0; l < nl; ++l) rows[q].push_back(u.get_vector<float>());
    }
  }
  // Each set's activations [n, p_l] in batch order.
  std::vector<std::vector<Eigen::MatrixXf>> acts(sets.size(), std::vector<Eigen::MatrixXf>(nl));
  for (size_t s = 0; s < sets.size(); ++s) {
    int64_t n = 0;
    for (size_t q = 0; q < pairs.size(); ++q) n += pairs[q].first == s ? count[q] : 0;
    BL_CHECK(n >= 2, "tcav: set '", sets[s]->name, "' holds ", n, " readable example(s); at least 2 are needed");
    BL_CHECK(n <= o.max_set_examples, "tcav: set '", sets[s]->name, "' holds more than ", o.max_set_examples,
             " examples (the activations of every example are kept); use a smaller set or --max-set");
    for (size_t l = 0; l < nl; ++l) {
      std::vector<float> all;
      for (size_t q = 0; q < pairs.size(); ++q)
        if (pairs[q].first == s && count[q] > 0) all.insert(all.end(), rows[q][l].begin(), rows[q][l].end());
      const int64_t p = static_cast<int64_t>(all.size()) / n;
      BL_CHECK(p * n == static_cast<int64_t>(all.size()), "tcav: layer '", o.layers[l], "' of set '", sets[s]->name,
               "' has batches of different feature sizes");
      acts[s][l] = Eigen::Map<const RowMatrixF>(all.data(), n, p);
    }
  }
  rows.clear();

  // 2. CAV j = (l * (nc + 1) + c) * nr + i is rank j % size's; seeds from (l, c, i) only.
  const size_t per_layer = (nc + 1) * nr;
  std::string cav_part;
  try {
    for (size_t j = rank; j < nl * per_layer; j += size) {
      const size_t l = j / per_layer, c = (j % per_layer) / nr, i = j % nr;
      CavOptions co = o.cav;
      co.seed = tcav_cav_seed(o.cav.seed, l, c, i);
      unit("cav", static_cast<int64_t>(j), sets_digest.empty() ? std::vector<std::string>() : std::vector<std::string>{"sets " + sets_digest}, cav_part, [&](Packer& part, const std::function<void()>& started) {
        if (whole_sets) started();
        const Eigen::MatrixXf& pos = c < nc ? acts[c][l] : acts[nc + (i + 1) % nr][l];
        const Cav cav = train_cav(pos, acts[nc + i][l], co);
        part.put<uint64_t>(j);
        part.put<double>(cav.accuracy);
        part.put_span(std::span<const float>(cav.direction.data(), static_cast<size_t>(cav.direction.size())));
        return whole_sets;
      });
    }
  } catch (const std::exception& e) {
    error = e.what();
  }
  cluster.fail_together(error);
  std::vector<Eigen::MatrixXf> cavs(nl);
  std::vector<std::vector<double>> acc(nl, std::vector<double>(per_layer, 0.0));
  for (size_t l = 0; l < nl; ++l) cavs[l].resize(static_cast<int64_t>(per_layer), acts[nc][l].cols());
  acts.clear();
  for (const std::string& part : cluster.all_gather(cav_part)) {
    Unpacker u(part, "tcav: gathering CAVs");
    while (!u.done()) {
      const size_t j = static_cast<size_t>(u.get<uint64_t>());
      BL_CHECK(j < nl * per_layer, "tcav: a rank sent CAV ", j, " of ", nl * per_layer);
      const size_t l = j / per_layer, row = j % per_layer;
      acc[l][row] = u.get<double>();
      const std::vector<float> d = u.get_vector<float>();
      BL_CHECK(static_cast<int64_t>(d.size()) == cavs[l].cols(), "tcav: a CAV of layer '", o.layers[l], "' has ",
               d.size(), " features, expected ", cavs[l].cols());
      cavs[l].row(static_cast<int64_t>(row)) = Eigen::Map<const Eigen::RowVectorXf>(d.data(), cavs[l].cols());
    }
  }

  // 3. Input batch b is rank b % size's: per batch, sign counts and derivative sums per CAV.
  std::string score_part;
  try {
    for (int64_t b = static_cast<int64_t>(rank); b < inputs.batches(); b += static_cast<int64_t>(size)) {
      std::vector<std::string> files = inputs.files && units ? inputs.files(b) : std::vector<std::string>();
      if (!sets_digest.empty()) files.push_back("sets " + sets_digest);
      unit("score", b, std::move(files), score_part, [&](Packer& part, const std::function<void()>& started) {
        const size_t before = skipped.size();
        const Tensor t = inputs.read(b, reporter(inputs));
        if (!t.defined()) return false;
        if (whole_sets && skipped.size() == before) started();
        std::vector<TcavAccumulator> accs;
        for (const Eigen::MatrixXf& c : cavs) accs.emplace_back(c);
        tcav_add_batch(model, o.layers, t, o.target, ws, accs);
        part.put<int64_t>(b);
        part.put<int64_t>(t.size(0));
        for (const TcavAccumulator& a : accs) {
          part.put_span(std::span<const int64_t>(a.positive()));
          part.put_span(std::span<const double>(a.sums()));
        }
        return whole_sets && skipped.size() == before;
      });
      progress.advance(inputs.size_of(b));
    }
  } catch (const std::exception& e) {
    error = e.what();
  }
  progress.finish();
  cluster.fail_together(error);
  Packer skipped_part;
  for (const std::string& s : skipped) skipped_part.put_string(s);
  out.skipped_here = skipped.size();
  const std::vector<std::string> score_parts = cluster.gather(score_part);
  const std::vector<std::string> skipped_parts = cluster.gather(skipped_part.take());
  if (!cluster.leader()) return out;

  for (const std::string& part : skipped_parts) {
    Unpacker u(part, "tcav: gathering skipped examples");
    while (!u.done()) out.skipped.push_back(u.get_string());
  }
  struct BatchScores {
    int64_t n = 0;
    std::vector<std::vector<int64_t>> positive;
    std::vector<std::vector<double>> sums;
  };
  std::vector<std::pair<int64_t, BatchScores>> batches;
  for (const std::string& part : score_parts) {
    Unpacker u(part, "tcav: gathering scores");
    while (!u.done()) {
      const int64_t b = u.get<int64_t>();
      BatchScores s;
      s.n = u.get<int64_t>();
      for (size_t l = 0; l < nl; ++l) {
        s.positive.push_back(u.get_vector<int64_t>());
        s.sums.push_back(u.get_vector<double>());
        BL_CHECK(s.positive.back().size() == per_layer && s.sums.back().size() == per_layer,
                 "tcav: a rank sent scores of ", s.positive.back().size(), " CAVs, expected ", per_layer);
      }
      batches.emplace_back(b, std::move(s));
    }
  }
  // Batch order, whatever the rank count: integer counts are exact, the double sums meet in the
  // same order as in a single run.
  std::sort(batches.begin(), batches.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  int64_t n = 0;
  std::vector<std::vector<int64_t>> positive(nl, std::vector<int64_t>(per_layer, 0));
  std::vector<std::vector<double>> sums(nl, std::vector<double>(per_layer, 0.0));
  for (const auto& [b, s] : batches) {
    n += s.n;
    for (size_t l = 0; l < nl; ++l)
      for (size_t r = 0; r < per_layer; ++r) {
        positive[l][r] += s.positive[l][r];
        sums[l][r] += s.sums[l][r];
      }
  }
  BL_CHECK(n > 0, "tcav: none of the ", inputs.examples, " inputs of '", inputs.name, "' could be read");
  std::vector<std::vector<TcavScore>> scores(nl, std::vector<TcavScore>(per_layer));
  for (size_t l = 0; l < nl; ++l)
    for (size_t r = 0; r < per_layer; ++r)
      scores[l][r] = {static_cast<double>(positive[l][r]) / static_cast<double>(n), sums[l][r] / static_cast<double>(n)};
  std::vector<std::string> names;
  for (const BatchedSet& s : concepts) names.push_back(s.name);
  out.result = tcav_result(std::move(names), o.layers, runs, scores, acc, n, o);
  return out;
}

}  // namespace backlight::cli
