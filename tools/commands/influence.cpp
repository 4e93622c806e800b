// `backlight influence`: TracIn (attribution/influence/tracin.h) from training checkpoints. For
// test examples, the training examples that helped (proponents) and hurt (opponents) most; with
// --self-influence, the training examples ranked by self-influence (likely mislabelled first).
// The job under it (flags, this rank's batches, waves, resume, gathering) is influence_job.h's;
// this file runs the two modes on it and reports (text, JSON, picture).
#include <algorithm>
#include <iomanip>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "attribution/core/packing.h"
#include "attribution/core/progress.h"
#include "attribution/influence/tracin.h"
#include "io/image_io.h"
#include "render/grid.h"
#include "render/resize.h"
#include "tools/cluster/cluster.h"
#include "tools/cluster/unit_cache.h"
#include "tools/commands/command.h"
#include "tools/commands/influence_data.h"
#include "tools/commands/influence_job.h"
#include "tools/commands/influence_units.h"

namespace backlight::cli {
namespace {

std::string score_text(float v) {
  std::ostringstream os;
  os << std::setprecision(3) << v;
  return os.str();
}

std::vector<int64_t> predictions(const Module& model, const Tensor& images) {
  Tape tape(TapeOptions{.record = false});
  const Tensor z = model.forward(tape.input(images)).value();
  std::vector<int64_t> out;
  for (int64_t i = 0; i < z.size(0); ++i) {
    const float* r = z.data() + i * z.size(1);
    out.push_back(std::max_element(r, r + z.size(1)) - r);
  }
  return out;
}

// Panels of one row, all resized to the size of the first.
Tensor row_grid(std::vector<Panel> panels, int64_t size) {
  for (Panel& p : panels)
    if (p.image.size(1) != size || p.image.size(2) != size) p.image = resize_image(p.image, size, size);
  return make_grid(panels, GridOptions{.min_panel_size = 96, .gap = 6});
}

// Rows stacked vertically on white, left-aligned.
Tensor stack_rows(const std::vector<Tensor>& rows) {
  int64_t h = 0, w = 0;
  for (const Tensor& r : rows) {
    h += r.size(1);
    w = std::max(w, r.size(2));
  }
  Tensor out = Tensor::full(Shape{3, h, w}, 1.0f);
  int64_t y0 = 0;
  for (const Tensor& r : rows) {
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < r.size(1); ++y)
        std::copy(r.data() + (c * r.size(1) + y) * r.size(2), r.data() + (c * r.size(1) + y + 1) * r.size(2),
                  out.data() + (c * h + y0 + y) * w);
    y0 += r.size(1);
  }
  return out;
}

nlohmann::json example_json(const InfluenceSetup& s, int64_t index, float score, int64_t label) {
  nlohmann::json j = {{"index", index}, {"score", score}, {"source", s.train.name(index)}, {"label", label},
                      {"class", class_name(s.arch, label)}};
  if (s.train.has_flips) j["flipped"] = s.train.flipped(index);
  return j;
}

// Labels of the training examples named in `ranked` (one batch load each: few of them).
std::vector<int64_t> labels_of(const InfluenceSetup& s, const std::vector<int64_t>& idx) {
  std::vector<int64_t> out;
  for (int64_t i : idx) out.push_back(s.train.source.load(i, 1).labels.at(0));
  return out;
}

std::vector<Panel> ranked_panels(const InfluenceSetup& s, const Ranked& r, const std::vector<int64_t>& labels,
                                 const char* tag) {
  std::vector<Panel> out;
  for (size_t i = 0; i < r.indices.size(); ++i) {
    std::string label = std::string(tag) + std::to_string(i + 1) + " " + score_text(r.scores[i]) + " " +
                        class_name(s.arch, labels[i]) + " #" + std::to_string(r.indices[i]);
    if (s.train.has_flips && s.train.flipped(r.indices[i])) label += " FLIPPED";
    out.push_back({s.train.image(r.indices[i]), label});
  }
  return out;
}

int run_self_influence(const Args& args, InfluenceSetup& s, const Cluster& cluster, UnitCache& cache) {
  const InfluenceUnits u = units_of(cluster, s, {});
  // This rank's values, from the cache (batches an earlier run of the job finished) or computed.
  std::vector<float> values(static_cast<size_t>(u.n), 0.0f);
  const std::vector<int64_t> pending = pending_batches(s, u, cache, [&](int64_t b, const std::string& bytes) {
    const auto v = unpack_batch_self(bytes, u.end(b) - u.begin(b));
    if (v) std::copy(v->begin(), v->end(), values.begin() + u.begin(b));
    return v.has_value();
  });
  const size_t resumed = report_resumed(cache, cluster, "influence", static_cast<size_t>(u.total));
  Progress progress = tracin_progress("tracin self-influence", cluster, s, u, pending);
  Tensor self;
  const std::string error = run_waves(
      s, u, pending, cache, progress, [&] { self = tracin_self_influence(s.checkpoints, s.train.source, s.options); },
      [&](int64_t b) {
        std::copy(self.data() + u.begin(b), self.data() + u.end(b), values.begin() + u.begin(b));
        if (batch_read(s, u, b))
          cache.store(batch_key(s, u, b), pack_batch_self(std::span<const float>(values).subspan(
                                              static_cast<size_t>(u.begin(b)), static_cast<size_t>(u.end(b) - u.begin(b)))));
      });
  progress.finish();
  cluster.fail_together(error);
  // Every rank's entries meet on rank 0 in index order (exact: each entry is computed whole by
  // one rank, in the same batch as in a single run).
  Packer p;
  {
    std::vector<int64_t> indices;
    std::vector<float> mine;
    for (int64_t b : u.batches)
      for (int64_t i = u.begin(b); i < u.end(b); ++i) indices.push_back(i), mine.push_back(values[static_cast<size_t>(i)]);
    p.put_span(std::span<const int64_t>(indices));
    p.put_span(std::span<const float>(mine));
    pack_skipped(p, *s.train.skipped);
  }
  const std::vector<std::string> parts = cluster.gather(p.take());
  if (!cluster.leader()) return s.train.skipped->errors.empty() ? 0 : 1;
  const int64_t n = s.train.source.size;
  std::vector<float> all(static_cast<size_t>(n), 0.0f);
  std::map<int64_t, std::string> skipped;
  for (const std::string& part : parts) {
    Unpacker u(part, "influence: gathering self-influence");
    const std::vector<int64_t> idx = u.get_vector<int64_t>();
    const std::vector<float> v = u.get_vector<float>();
    BL_CHECK(idx.size() == v.size(), "influence: a rank sent ", idx.size(), " indices and ", v.size(), " values");
    for (size_t k = 0; k < idx.size(); ++k) all.at(static_cast<size_t>(idx[k])) = v[k];
    unpack_skipped(u, skipped);
  }
  std::vector<int64_t> good;
  for (int64_t i = 0; i < n; ++i)
    if (!skipped.count(i)) good.push_back(i);
  const Ranked r = top_k_of(all, good, std::min(n, s.top), true);
  const std::vector<int64_t> labels = labels_of(s, r.indices);
  nlohmann::json j = {{"method", to_string(s.options.method)}, {"checkpoints", s.infos.size()},
                      {"train", s.train.description}, {"train_size", n}, {"ranks", cluster.size()},
                      {"resumed", resumed}, {"skipped", skipped_json(s, skipped)}};
  j["self_influence"] = nlohmann::json::array();
  for (size_t i = 0; i < r.indices.size(); ++i) j["self_influence"].push_back(example_json(s, r.indices[i], r.scores[i], labels[i]));
  if (s.train.has_flips) {
    // precision at k for every k up to --top: how many of the k highest are flipped ones
    int64_t flipped_total = 0, hits = 0;
    for (int64_t i = 0; i < n; ++i) flipped_total += s.train.flipped(i);
    for (int64_t i : r.indices) hits += s.train.flipped(i);
    j["flipped_total"] = flipped_total;
    j["precision_at_top"] = static_cast<double>(hits) / static_cast<double>(std::max<size_t>(1, r.indices.size()));
  }
  if (args.flag("json")) {
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << "self-influence (" << to_string(s.options.method) << ", " << s.infos.size() << " checkpoints) of "
              << s.train.description << ", highest first:\n";
    for (size_t i = 0; i < r.indices.size(); ++i)
      std::cout << "  " << std::setw(3) << i + 1 << "  " << std::setw(10) << score_text(r.scores[i]) << "  "
                << s.train.name(r.indices[i]) << "  label " << class_name(s.arch, labels[i])
                << (s.train.has_flips && s.train.flipped(r.indices[i]) ? "  (flipped)" : "") << "\n";
    if (s.train.has_flips)
      std::cout << "precision at " << r.indices.size() << ": " << j["precision_at_top"].get<double>() << " ("
                << j["flipped_total"].get<int64_t>() << " of " << n << " labels flipped)\n";
  }
  if (const auto out = args.get("out"); out && !r.indices.empty()) {
    std::vector<Panel> panels = ranked_panels(s, r, labels, "S");
    std::vector<Tensor> rows;
    for (size_t b = 0; b < panels.size(); b += 10)
      rows.push_back(row_grid({panels.begin() + static_cast<std::ptrdiff_t>(b),
                               panels.begin() + static_cast<std::ptrdiff_t>(std::min(panels.size(), b + 10))},
                              panels[0].image.size(1)));
    write_png(*out, stack_rows(rows));
    std::cerr << "influence: wrote " << *out << "\n";
  }
  return finish_skipped(skipped, n);
}

int run_influence(const Args& args) {
  const Cluster cluster("influence");  // one process, or this rank of an mpirun/srun job
  InfluenceSetup s = influence_setup(args);
  if (cluster.distributed()) s.train.skipped->who = "influence: " + cluster.describe();
  if (args.flag("self-influence") && args.has("test"))
    throw UsageError("influence: --self-influence ranks the training set; drop --test");
  const auto test_spec = args.get("test");
  if (!args.flag("self-influence") && !test_spec)
    throw UsageError("influence: --test IMG|DIR|builtin:<class> is required (or --self-influence)");
  UnitCache cache = open_unit_cache(args, cluster);
  if (args.flag("self-influence")) return run_self_influence(args, s, cluster, cache);
  const TestSet test = test_set(*test_spec);
  const int64_t t = test.images.size(0);
  // Label of each test example: --label, or the class the last checkpoint predicts.
  const ModulePtr last = s.checkpoints.back().load();
  const std::vector<int64_t> pred = predictions(*last, test.images);
  LabeledBatch tb{test.images, pred};
  if (const auto k = args.get_int("label", 0, 1 << 20)) std::fill(tb.labels.begin(), tb.labels.end(), *k);

  // Per test example the lists to merge: each of this rank's batches' top-k proponents and
  // opponents, from the cache (batches an earlier run of the job finished) or computed.
  const InfluenceUnits u = units_of(cluster, s, test.names);
  std::vector<std::vector<Ranked>> pro_lists(static_cast<size_t>(t)), opp_lists(static_cast<size_t>(t));
  const auto add = [&](const BatchRanking& r) {
    for (int64_t i = 0; i < t; ++i) {
      pro_lists[static_cast<size_t>(i)].push_back(r[static_cast<size_t>(i)].first);
      opp_lists[static_cast<size_t>(i)].push_back(r[static_cast<size_t>(i)].second);
    }
  };
  const std::vector<int64_t> pending = pending_batches(s, u, cache, [&](int64_t b, const std::string& bytes) {
    const auto r = unpack_batch_ranking(bytes, t, s.top, u.begin(b), u.end(b));
    if (r) add(*r);
    return r.has_value();
  });
  const size_t resumed = report_resumed(cache, cluster, "influence", static_cast<size_t>(u.total));
  Progress progress = tracin_progress("tracin", cluster, s, u, pending);
  Tensor scores;
  const std::string error = run_waves(
      s, u, pending, cache, progress, [&] { scores = tracin_influence(s.checkpoints, s.train.source, tb, s.options); },
      [&](int64_t b) {
        std::vector<int64_t> good;  // the batch's examples that were read
        {
          std::lock_guard<std::mutex> lock(s.train.skipped->mutex);
          for (int64_t i = u.begin(b); i < u.end(b); ++i)
            if (!s.train.skipped->errors.count(i)) good.push_back(i);
        }
        BatchRanking r;
        for (int64_t i = 0; i < t; ++i) {
          const std::span<const float> row(scores.data() + i * u.n, static_cast<size_t>(u.n));
          r.emplace_back(top_k_of(row, good, s.top, true), top_k_of(row, good, s.top, false));
        }
        add(r);
        if (static_cast<int64_t>(good.size()) == u.end(b) - u.begin(b)) cache.store(batch_key(s, u, b), pack_batch_ranking(r));
      });
  progress.finish();
  cluster.fail_together(error);
  const int64_t n = u.n;
  // Per test example, this rank's top-k proponents and opponents (the merge of its batches'
  // lists); rank 0 merges the ranks' (the k best of the k bests are the k best of all, with
  // top_k's tie rule: lower index first).
  Packer p;
  {
    for (int64_t i = 0; i < t; ++i) {
      pack_ranked(p, merge_top_k(pro_lists[static_cast<size_t>(i)], s.top, true));
      pack_ranked(p, merge_top_k(opp_lists[static_cast<size_t>(i)], s.top, false));
    }
    pack_skipped(p, *s.train.skipped);
  }
  const std::vector<std::string> parts = cluster.gather(p.take());
  if (!cluster.leader()) return s.train.skipped->errors.empty() ? 0 : 1;
  std::vector<std::vector<Ranked>> pro_parts(static_cast<size_t>(t)), opp_parts(static_cast<size_t>(t));
  std::map<int64_t, std::string> skipped;
  for (const std::string& part : parts) {
    Unpacker u(part, "influence: gathering proponents and opponents");
    for (int64_t i = 0; i < t; ++i) {
      pro_parts[static_cast<size_t>(i)].push_back(unpack_ranked(u));
      opp_parts[static_cast<size_t>(i)].push_back(unpack_ranked(u));
    }
    unpack_skipped(u, skipped);
  }

  nlohmann::json j = {{"method", to_string(s.options.method)}, {"checkpoints", s.infos.size()},
                      {"train", s.train.description}, {"train_size", n}, {"ranks", cluster.size()},
                      {"resumed", resumed}, {"skipped", skipped_json(s, skipped)}, {"tests", nlohmann::json::array()}};
  std::vector<Tensor> rows;
  for (int64_t i = 0; i < t; ++i) {
    const Ranked pro = merge_top_k(pro_parts[static_cast<size_t>(i)], s.top, true);
    const Ranked opp = merge_top_k(opp_parts[static_cast<size_t>(i)], s.top, false);
    const std::vector<int64_t> pl = labels_of(s, pro.indices), ol = labels_of(s, opp.indices);
    nlohmann::json tj = {{"source", test.names[static_cast<size_t>(i)]},
                         {"label", tb.labels[static_cast<size_t>(i)]},
                         {"class", class_name(s.arch, tb.labels[static_cast<size_t>(i)])},
                         {"predicted", class_name(s.arch, pred[static_cast<size_t>(i)])},
                         {"proponents", nlohmann::json::array()},
                         {"opponents", nlohmann::json::array()}};
    for (size_t k = 0; k < pro.indices.size(); ++k) tj["proponents"].push_back(example_json(s, pro.indices[k], pro.scores[k], pl[k]));
    for (size_t k = 0; k < opp.indices.size(); ++k) tj["opponents"].push_back(example_json(s, opp.indices[k], opp.scores[k], ol[k]));
    j["tests"].push_back(tj);
    if (!args.flag("json")) {
      std::cout << test.names[static_cast<size_t>(i)] << " (label " << tj["class"].get<std::string>() << ", predicted "
                << tj["predicted"].get<std::string>() << "), " << to_string(s.options.method) << " over "
                << s.infos.size() << " checkpoints:\n";
      for (const auto* part : {"proponents", "opponents"}) {
        std::cout << "  " << part << ":\n";
        for (const auto& e : tj[part])
          std::cout << "    " << std::setw(10) << score_text(e["score"].get<float>()) << "  " << e["source"].get<std::string>()
                    << "  label " << e["class"].get<std::string>()
                    << (e.contains("flipped") && e["flipped"].get<bool>() ? "  (flipped)" : "") << "\n";
      }
    }
    if (args.has("out") && !pro.indices.empty()) {
      const Tensor img = test.images.slice_batch(i, i + 1).reshape({3, test.images.size(2), test.images.size(3)});
      const int64_t size = s.train.image(pro.indices.at(0)).size(1);
      std::vector<Panel> top{{img, "test: " + tj["class"].get<std::string>()}};
      for (Panel& p : ranked_panels(s, pro, pl, "P")) top.push_back(std::move(p));
      std::vector<Panel> bottom{{Tensor::full(Shape{3, size, size}, 1.0f), "opponents:"}};
      for (Panel& p : ranked_panels(s, opp, ol, "O")) bottom.push_back(std::move(p));
      rows.push_back(row_grid(top, size));
      rows.push_back(row_grid(bottom, size));
    }
  }
  if (args.flag("json")) std::cout << j.dump(2) << "\n";
  if (const auto out = args.get("out"); out && !rows.empty()) {
    write_png(*out, stack_rows(rows));
    std::cerr << "influence: wrote " << *out << "\n";
  }
  return finish_skipped(skipped, n);
}

}  // namespace

Command influence_command() {
  return {
      .name = "influence",
      .summary = "training examples that most influenced a prediction (TracIn), or self-influence",
      .description =
          "TracIn (Pruthi et al. 2020) from training checkpoints: influence(z, z') = sum over checkpoints of\n"
          "lr_i * grad L(z) . grad L(z') on the chosen layers (default: the last Linear layer), with the\n"
          "per-example cross-entropy (sum reduction). For every --test example: the --top training examples\n"
          "with the highest scores (proponents) and the lowest (opponents); the test label is --label or the\n"
          "class the last checkpoint predicts. With --self-influence: training examples ranked by\n"
          "sum lr_i |grad L(z)|^2 (mislabelled and unusual examples first). Methods: tracincp (exact, any\n"
          "Linear/Conv2d layers), fast (TracInCPFast: one Linear layer, (a.a')(g.g'), weight only) and\n"
          "fast-rand-proj (fast on random projections of a and g, --projection-dim rows, --seed).\n"
          "Checkpoints: backlight train --save-every N --checkpoint-dir DIR. Training data are streamed in\n"
          "batches of --batch. Progress on stderr. See docs/influence.md.\n"
          "Under mpirun/srun the training batches are shared among the processes and the results merged\n"
          "on rank 0, equal to a single run's (docs/cluster.md). A rerun of the same command resumes: batches\n"
          "finished by an earlier run (kept beside --out, or in --cache DIR) are loaded, not recomputed.",
      .flags =
          {
              {.name = "model", .metavar = "NAME", .help = "architecture of the checkpoints (default: their \"arch\" metadata, else shapes_cnn)"},
              {.name = "checkpoints", .metavar = "DIR", .help = "folder of checkpoint *.safetensors with \"lr\" metadata (required)"},
              {.name = "train", .metavar = "DIR|builtin:shapes", .help = "training set: class subfolders, or the shapes samples the checkpoints were trained on"},
              {.name = "train-limit", .metavar = "N", .help = "use only the first N training examples"},
              {.name = "test", .metavar = "IMG|DIR|builtin:<class>", .help = "test image(s) to explain"},
              {.name = "label", .metavar = "K", .help = "class of the test examples' loss (default: the prediction)"},
              {.name = "layers", .metavar = "A,B", .help = "Linear/Conv2d module paths (default: the last Linear layer)"},
              {.name = "method", .metavar = "NAME", .help = "tracincp (default), fast or fast-rand-proj"},
              {.name = "projection-dim", .metavar = "K", .help = "fast-rand-proj: rows of each random projection; default 16"},
              {.name = "seed", .metavar = "S", .help = "fast-rand-proj: projection seed; default 0"},
              {.name = "top", .metavar = "K", .help = "proponents, opponents or self-influence entries shown; default 10"},
              {.name = "self-influence", .kind = FlagKind::Bool, .help = "rank the training examples by self-influence"},
              {.name = "batch", .metavar = "N", .help = "training examples per batch; default 64"},
              {.name = "threads", .metavar = "N", .help = "CPU threads; default: all"},
              {.name = "out", .metavar = "FILE.png", .help = "picture: test image, proponents and opponents (or the top self-influence)"},
              {.name = "json", .kind = FlagKind::Bool, .help = "print JSON instead of text"},
              {.name = "cache", .metavar = "DIR", .help = "keep finished training batches here; a rerun resumes from them (default: FILE.png.backlight-cache beside --out)"},
              {.name = "fresh", .kind = FlagKind::Bool, .help = "recompute every batch (ignore those of an earlier run)"},
          },
      .run = run_influence,
  };
}

}  // namespace backlight::cli
