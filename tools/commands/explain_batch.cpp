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
#include "tools/commands/explain_job.h"

namespace backlight::cli {

namespace {

using Clock = std::chrono::steady_clock;

// Shared by the workers; every member is touched under `mutex` only.
struct BatchState {
  std::mutex mutex;
  size_t next = 0;                                        // next input index to take
  std::vector<std::pair<size_t, ExplainRecord>> records;  // (input index, record), any order
  Progress* progress = nullptr;
  bool terminal = false;
};

// Takes the next `count` input indices [begin, end) (consecutive, so a chunk's images are
// neighbours in input order); empty when all are taken.
std::pair<size_t, size_t> take(BatchState& s, size_t count, size_t total) {
  std::lock_guard<std::mutex> lock(s.mutex);
  const size_t begin = s.next;
  s.next = std::min(total, s.next + count);
  return {begin, s.next};
}

void add(BatchState& s, size_t index, ExplainRecord r, int64_t advance) {
  std::lock_guard<std::mutex> lock(s.mutex);
  // "\r\033[K" clears a progress bar being drawn on the terminal before the message.
  if (!r.error.empty())
    std::cerr << (s.terminal ? "\r\033[K" : "") << "explain: skipped '" << r.source << "': " << r.error << "\n";
  s.records.emplace_back(index, std::move(r));
  if (advance) s.progress->advance(advance);
}

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
    const auto [begin, end] = take(s, static_cast<size_t>(c.chunk), paths.size());
    if (begin == end) return;
    std::vector<Loaded> loaded;
    for (size_t i = begin; i < end; ++i) {
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

int run_explain_batch(ExplainConfig& c, const Module& model, std::span<const std::string_view> names) {
  const auto start = Clock::now();
  const std::vector<std::string> paths = c.images_dir ? list_images(*c.images_dir) : c.images;
  BL_CHECK(!paths.empty(), "explain: no images (.png, .jpg, .jpeg, .bmp) in '", c.images_dir.value_or(""), "'");
  const std::vector<std::string> stems = output_stems(paths);
  // The default layer is the model's, not the image's: pick it once, on the first readable image.
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
  Progress progress("explain", static_cast<int64_t>(paths.size()));
  BatchState state;
  state.progress = &progress;
  state.terminal = isatty(fileno(stderr)) != 0;
  // Whole images per core: ops on small images do not keep several cores busy.
  // num_threads() is --threads (checked) or OMP_NUM_THREADS: held to the same cap.
  const int cores = std::clamp(num_threads(), 1, max_threads());
  const size_t chunks = (paths.size() + static_cast<size_t>(c.chunk) - 1) / static_cast<size_t>(c.chunk);
  const int workers = static_cast<int>(std::min<size_t>(static_cast<size_t>(std::max(cores, 1)), chunks));
  const int per_worker = std::max(1, cores / workers);
  std::vector<std::thread> pool;
  for (int w = 0; w < workers; ++w)
    pool.emplace_back([&, per_worker] {
      set_num_threads(per_worker);  // this thread's OpenMP regions
      work(state, c, model, paths, stems, names);
    });
  for (std::thread& t : pool) t.join();
  progress.finish();

  std::sort(state.records.begin(), state.records.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  size_t failed = 0;
  for (const auto& [i, r] : state.records) failed += !r.error.empty();
  if (c.json) {
    nlohmann::json results = nlohmann::json::array();
    for (const auto& [i, r] : state.records) results.push_back(record_json(r));
    nlohmann::json j = {{"command", "explain"},     {"mode", "batch"},
                              {"model", c.model},         {"weights", c.weights.value_or("builtin")},
                              {"images", paths.size()},   {"failed", failed},
                              {"seconds", seconds},       {"methods", c.methods},
                              {"visual", visual_json(c)}, {"out", c.out},
                              {"workers", workers},       {"results", results}};
    if (!c.options.layer.empty()) {
      j["layer"] = c.options.layer;
      j["layer_default"] = !c.layer_given;
    }
    std::cout << j.dump(2) << "\n";
  } else {
    for (const auto& [i, r] : state.records)
      if (r.error.empty())
        std::cout << r.source << " -> " << r.png << " (prediction " << r.prediction << ", target " << r.target
                  << ")\n";
    std::cout << "explained " << paths.size() - failed << " of " << paths.size() << " images in " << seconds << " s ("
              << static_cast<double>(paths.size()) / std::max(seconds, 1e-9) << " images/s, " << workers
              << " workers) into " << c.out << "/\nmodel: " << c.model << " (weights: " << c.weights.value_or("builtin")
              << ")";
    if (!c.options.layer.empty())
      std::cout << ", layer: " << c.options.layer
                << (c.layer_given ? " (--layer)" : " (default: the feature maps entering the final pooling)");
    std::cout << "\n";
  }
  if (failed) std::cerr << "explain: " << failed << " of " << paths.size() << " images failed (reported above)\n";
  return failed ? 1 : 0;
}

}  // namespace backlight::cli
