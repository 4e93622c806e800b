#include "tools/commands/explain_batch.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>
#include <nlohmann/json.hpp>

#include "attribution/core/progress.h"
#include "engine/parallel.h"
#include "io/atomic_write.h"
#include "io/image_io.h"
#include "tools/cli/limits.h"
#include "tools/cli/image_list.h"
#include "io/npy.h"
#include "tools/cluster/cluster.h"
#include "tools/cluster/manifest.h"
#include "tools/commands/explain_job.h"

namespace backlight::cli {

namespace {

using Clock = std::chrono::steady_clock;

// Shared by the workers; every member is touched under `mutex` only.
struct BatchState {
  std::mutex mutex;
  std::vector<size_t> assigned;                           // this rank's input indices, ascending
  size_t next = 0;                                        // next position in `assigned`
  std::vector<std::pair<size_t, ExplainRecord>> records;  // (input index, record), any order
  Progress* progress = nullptr;
  Manifest* manifest = nullptr;                           // nullptr: --fresh
  std::string who;                                        // "explain" or "explain: rank 1"
  bool terminal = false;
};

// Takes the next `count` input indices (consecutive in `assigned`, so a chunk's images are
// neighbours in input order); empty when all are taken.
std::vector<size_t> take(BatchState& s, size_t count) {
  std::lock_guard<std::mutex> lock(s.mutex);
  const size_t begin = s.next;
  s.next = std::min(s.assigned.size(), s.next + count);
  return {s.assigned.begin() + static_cast<std::ptrdiff_t>(begin), s.assigned.begin() + static_cast<std::ptrdiff_t>(s.next)};
}

void add(BatchState& s, size_t index, ExplainRecord r, int64_t advance) {
  std::lock_guard<std::mutex> lock(s.mutex);
  // "\r\033[K" clears a progress bar being drawn on the terminal before the message.
  if (!r.error.empty())
    std::cerr << (s.terminal ? "\r\033[K" : "") << s.who << ": skipped '" << r.source << "': " << r.error << "\n";
  s.records.emplace_back(index, std::move(r));
  if (advance) s.progress->advance(advance);
}

// The input's identity for the manifest (an input that changed is explained again).
nlohmann::json input_identity(const std::string& path) { return file_identity(path).value_or(nlohmann::json()); }

struct Loaded {
  size_t index;
  ExplainInput input;
};

// One worker: load a chunk of --chunk images, explain its same-size groups, write the files;
// until no input is left.
void work(BatchState& s, const ExplainConfig& c, const Module& model, std::span<const std::string> paths,
          std::span<const std::string> stems, std::span<const std::string_view> names) {
  const Workspace workspace;  // one per worker, reused for every image it takes
  std::optional<Workspace> cuda_workspace;  // --device cuda: one CUDA context per worker
  if (c.device == "cuda") cuda_workspace = Workspace::for_cuda(0);
  for (;;) {
    const std::vector<size_t> chunk = take(s, static_cast<size_t>(c.chunk));
    if (chunk.empty()) return;
    std::vector<Loaded> loaded;
    for (size_t i : chunk) {
      if (s.manifest) s.manifest->start(stems[i]);  // a rerun then knows what was in flight
      try {
        ExplainInput in = load_image_input(paths[i], c);
        in.stem = stems[i];
        loaded.push_back({i, std::move(in)});
      } catch (const std::exception& e) {
        add(s, i, {.source = paths[i], .stem = stems[i], .error = e.what()}, 1);
      }
    }
    if (loaded.empty()) continue;
    // Same-size groups, in input order.
    std::map<std::vector<int64_t>, std::vector<size_t>> groups;  // shape -> positions in `loaded`
    for (size_t k = 0; k < loaded.size(); ++k) groups[loaded[k].input.input.shape().to_vector()].push_back(k);
    for (const auto& [shape, members] : groups) {
      std::vector<ExplainInput> group;
      for (size_t k : members) group.push_back(loaded[k].input);
      std::vector<ExplainRecord> recs;
      try {
        recs = explain_group(model, group, c, workspace, cuda_workspace ? &*cuda_workspace : nullptr);
      } catch (const std::exception& e) {
        for (size_t k : members)
          add(s, loaded[k].index, {.source = loaded[k].input.source, .stem = loaded[k].input.stem, .error = e.what()},
              1);
        continue;
      }
      for (size_t g = 0; g < group.size(); ++g) {
        ExplainRecord& r = recs[g];
        if (r.error.empty()) {
          // This image's files all or nothing; a failed write fails the image, not the run.
          try {
            StagedFiles files;
            r.png = c.out + "/" + r.stem + ".png";
            files.stage(r.png, encode_image(render_record(group[g], r, c, names), ImageFormat::Png, r.png));
            if (c.save) {
              r.npy = *c.save + "/" + r.stem + ".npy";
              files.stage(*r.npy, npy_bytes(r.methods.at(0).attribution));
            }
            files.commit();
            if (s.manifest) {
              std::vector<std::string> written{r.png};
              if (r.npy) written.push_back(*r.npy);
              s.manifest->done(r.stem, input_identity(r.source), written, record_json(r));
            }
          } catch (const std::exception& e) {
            r.error = e.what();
          }
        }
        add(s, loaded[members[g]].index, std::move(r), 1);
      }
    }
  }
}

}  // namespace

namespace {

// An item's result as rank 0 reports it: its JSON record (explain_job.h record_json), from this
// run or, resumed, from the manifest of an earlier one.
struct Reported {
  size_t index = 0;
  nlohmann::json record;
  bool resumed = false;
  bool failed() const { return record.value("status", "") != "ok"; }
};

// Which items an earlier run of the same job completed (outputs intact): every rank checks the
// sizes of all, the checksums of its share, and the ranks agree on the result.
std::vector<bool> completed_items(const Manifest& manifest, const Cluster& cluster,
                                  std::span<const std::string> paths, std::span<const std::string> stems) {
  std::vector<size_t> candidates;
  for (size_t i = 0; i < paths.size(); ++i) {
    const auto it = manifest.previous().find(stems[i]);
    if (it != manifest.previous().end() && Manifest::intact(it->second, input_identity(paths[i]), false))
      candidates.push_back(i);
  }
  std::string bad;  // this rank's failed checksums, as "index\n" lines
  for (size_t k : cluster.shard(candidates.size())) {
    const size_t i = candidates[k];
    if (!Manifest::intact(manifest.previous().at(stems[i]), input_identity(paths[i]), true))
      bad += std::to_string(i) + "\n";
  }
  std::vector<bool> done(paths.size(), false);
  for (size_t i : candidates) done[i] = true;
  for (const std::string& part : cluster.all_gather(bad)) {
    size_t pos = 0;
    while (pos < part.size()) {
      const size_t eol = part.find('\n', pos);
      done[std::stoull(part.substr(pos, eol - pos))] = false;
      pos = eol + 1;
    }
  }
  return done;
}

}  // namespace

int run_explain_batch(ExplainConfig& c, const Module& model, std::span<const std::string_view> names) {
  const auto start = Clock::now();
  const Cluster cluster("explain");  // one process, or this rank of an mpirun/srun job
  const std::vector<std::string> paths = c.images_dir ? list_images(*c.images_dir) : c.images;
  BL_CHECK(!paths.empty(), "explain: no images (.png, .jpg, .jpeg, .bmp) in '", c.images_dir.value_or(""), "'");
  const std::vector<std::string> stems = output_stems(paths);
  // The default layer is the model's, not the image's: pick it once, on the first readable image
  // (every rank picks the same one).
  for (const std::string& p : paths) {
    try {
      const ExplainInput first = load_image_input(p, c);
      resolve_default_layer(c, model, first);
      break;
    } catch (const std::exception&) {
      continue;  // reported by the worker that takes it
    }
  }
  // Output folders up front: workers writing their first files at once would race to create them.
  for (const std::string& dir : {c.out, c.save.value_or(c.out)}) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    BL_CHECK(!ec, "explain: cannot create output folder '", dir, "': ", ec.message());
  }

  // Resume: skip what an earlier run of the same job completed; shard the rest over the ranks.
  std::optional<Manifest> manifest;
  std::vector<bool> done(paths.size(), false);
  if (!c.fresh) {
    manifest.emplace(c.out, c.fingerprint, cluster.rank());
    done = completed_items(*manifest, cluster, paths, stems);
    if (cluster.leader())
      for (const auto& [rank, key] : manifest->interrupted())
        if (std::find(stems.begin(), stems.end(), key) != stems.end())
          std::cerr << "explain: resuming: an earlier run stopped while rank " << rank << " was explaining '" << key
                    << "'\n";
  }
  cluster.barrier();  // every rank has read the manifest before any appends to it
  std::vector<size_t> pending;
  for (size_t i = 0; i < paths.size(); ++i)
    if (!done[i]) pending.push_back(i);
  BatchState state;
  for (size_t k : cluster.shard(pending.size())) state.assigned.push_back(pending[k]);
  state.who = cluster.distributed() ? "explain: " + cluster.describe() : "explain";
  state.manifest = manifest ? &*manifest : nullptr;
  state.terminal = isatty(fileno(stderr)) != 0;
  const size_t resumed = paths.size() - pending.size();
  if (resumed && cluster.leader())
    std::cerr << "explain: resuming: " << resumed << " of " << paths.size()
              << " images are complete from an earlier run (--fresh redoes them)\n";

  // Rank 0 draws the bar for its share (the ranks' shares differ by at most one image).
  ProgressOptions progress_options;
  progress_options.enabled = cluster.leader();
  Progress progress(cluster.distributed() ? "explain (rank 0 of " + std::to_string(cluster.size()) + ")" : "explain",
                    static_cast<int64_t>(state.assigned.size()), progress_options);
  state.progress = &progress;
  // Whole images per core: ops on small images do not keep several cores busy.
  // num_threads() is --threads (checked) or OMP_NUM_THREADS: held to the same cap.
  const int cores = std::clamp(num_threads(), 1, max_threads());
  const size_t chunks = (state.assigned.size() + static_cast<size_t>(c.chunk) - 1) / static_cast<size_t>(c.chunk);
  const int workers = static_cast<int>(std::min<size_t>(static_cast<size_t>(cores), chunks));
  const int per_worker = std::max(1, cores / std::max(workers, 1));
  std::vector<std::thread> pool;
  for (int w = 0; w < workers; ++w)
    pool.emplace_back([&, per_worker] {
      set_num_threads(per_worker);  // this thread's OpenMP regions
      work(state, c, model, paths, stems, names);
    });
  for (std::thread& t : pool) t.join();
  progress.finish();

  // Every rank's records meet on rank 0, with the resumed ones, in input order.
  nlohmann::json mine = nlohmann::json::array();
  size_t failed_here = 0;
  for (const auto& [i, r] : state.records) {
    mine.push_back({{"index", i}, {"record", record_json(r)}});
    failed_here += !r.error.empty();
  }
  const std::vector<std::string> parts = cluster.gather(mine.dump());
  if (!cluster.leader()) return failed_here ? 1 : 0;  // rank 0 reports for the job
  std::vector<Reported> reported;
  for (const std::string& part : parts)
    for (const auto& item : nlohmann::json::parse(part))
      reported.push_back({.index = item["index"].get<size_t>(), .record = item["record"]});
  for (size_t i = 0; i < paths.size(); ++i)
    if (done[i]) reported.push_back({.index = i, .record = manifest->previous().at(stems[i]).record, .resumed = true});
  std::sort(reported.begin(), reported.end(), [](const Reported& a, const Reported& b) { return a.index < b.index; });

  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  size_t failed = 0;
  for (const Reported& r : reported) failed += r.failed();
  const size_t computed = paths.size() - resumed;
  if (c.json) {
    nlohmann::json results = nlohmann::json::array();
    for (const Reported& r : reported) {
      results.push_back(r.record);
      if (r.resumed) results.back()["resumed"] = true;
    }
    nlohmann::json j = {{"command", "explain"},     {"mode", "batch"},
                        {"model", c.model},         {"weights", c.weights.value_or("builtin")},
                        {"images", paths.size()},   {"failed", failed},
                        {"resumed", resumed},       {"seconds", seconds},
                        {"methods", c.methods},     {"visual", visual_json(c)},
                        {"out", c.out},             {"workers", workers},
                        {"ranks", cluster.size()},  {"results", results}};
    if (!c.options.layer.empty()) {
      j["layer"] = c.options.layer;
      j["layer_default"] = !c.layer_given;
    }
    std::cout << j.dump(2) << "\n";
  } else {
    for (const Reported& r : reported)
      if (!r.failed())
        std::cout << r.record.value("input", "") << " -> " << r.record["files"].value("png", "") << " (prediction "
                  << r.record["prediction"][0].get<int64_t>() << ", target " << r.record["target"][0].get<int64_t>()
                  << (r.resumed ? ", resumed" : "") << ")\n";
    std::cout << "explained " << computed - (failed) << " of " << paths.size() << " images in " << seconds << " s ("
              << static_cast<double>(computed) / std::max(seconds, 1e-9) << " images/s, " << workers << " workers";
    if (cluster.distributed()) std::cout << " on each of " << cluster.size() << " ranks";
    std::cout << ")";
    if (resumed) std::cout << ", " << resumed << " complete from an earlier run";
    std::cout << " into " << c.out << "/\nmodel: " << c.model << " (weights: " << c.weights.value_or("builtin") << ")";
    if (!c.options.layer.empty())
      std::cout << ", layer: " << c.options.layer
                << (c.layer_given ? " (--layer)" : " (default: the feature maps entering the final pooling)");
    std::cout << "\n";
  }
  if (failed) std::cerr << "explain: " << failed << " of " << paths.size() << " images failed (reported above)\n";
  return failed ? 1 : 0;
}

}  // namespace backlight::cli
