#include "tools/commands/sanity_chunks.h"

#include <algorithm>
#include <iostream>
#include <span>
#include <thread>

#include "attribution/core/packing.h"
#include "attribution/core/progress.h"
#include "attribution/metrics/randomisation.h"
#include "attribution/metrics/scoring.h"
#include "attribution/registry.h"
#include "engine/error.h"
#include "engine/parallel.h"
#include "engine/tape.h"
#include "engine/workspace.h"
#include "io/image_io.h"
#include "models/data/shapes.h"
#include "models/default_model.h"
#include "render/resize.h"
#include "tools/commands/sanity_maps.h"

namespace backlight::cli {

namespace {

// Chunk k's key; for a folder, with the digest of its files (a changed image is computed again).
std::string chunk_suffix(const SanityJob& job, int64_t k) {
  if (job.data.files.empty()) return "";
  const int64_t begin = k * job.chunk, end = std::min(job.data.count, begin + job.chunk);
  return "-" + files_digest(std::span<const std::string>(job.data.files).subspan(static_cast<size_t>(begin),
                                                                               static_cast<size_t>(end - begin)));
}
std::string chunk_key(const SanityJob& job, int64_t k) { return "chunk-" + std::to_string(k) + chunk_suffix(job, k); }

// A chunk's unit: its first readable image, then per readable image its index and similarities.
std::string pack_chunk(const ChunkOutput& o) {
  Packer p;
  p.put<int64_t>(o.first);
  std::vector<int64_t> index;
  std::vector<double> values;
  for (const auto& [i, v] : o.images) index.push_back(i), values.insert(values.end(), v.begin(), v.end());
  p.put_span(std::span<const int64_t>(index));
  p.put_span(std::span<const double>(values));
  return p.take();
}

// The figure's unit: size, input image, then the maps per method and step.
std::string pack_figure(const ChunkOutput& o) {
  Packer p;
  p.put<int64_t>(o.height);
  p.put<int64_t>(o.width);
  p.put_span(std::span<const float>(o.first_image.data(), static_cast<size_t>(o.first_image.numel())));
  p.put<uint64_t>(o.planes.size());
  for (const std::vector<float>& pl : o.planes) p.put_span(std::span<const float>(pl));
  return p.take();
}

std::optional<ChunkOutput> unpack_figure(const std::string& bytes, size_t planes) {
  try {
    Unpacker u(bytes, "sanity: cached figure");
    ChunkOutput o;
    o.height = u.get<int64_t>();
    o.width = u.get<int64_t>();
    const std::vector<float> img = u.get_vector<float>();
    if (o.height <= 0 || o.width <= 0 || static_cast<int64_t>(img.size()) != 3 * o.height * o.width) return std::nullopt;
    o.first_image = Tensor::empty(Shape{3, o.height, o.width});
    std::copy(img.begin(), img.end(), o.first_image.data());
    if (u.get<uint64_t>() != planes) return std::nullopt;
    for (size_t k = 0; k < planes; ++k) {
      o.planes.push_back(u.get_vector<float>());
      if (static_cast<int64_t>(o.planes.back().size()) != o.height * o.width) return std::nullopt;
    }
    if (!u.done()) return std::nullopt;
    return o;
  } catch (const Error&) {
    return std::nullopt;  // another build's format: computed again
  }
}

}  // namespace

void run_sanity_chunk(const SanityJob& job, int64_t k, ChunkOutput& out, std::mutex& report, bool quiet) {
  const int64_t begin = k * job.chunk, end = std::min(job.data.count, begin + job.chunk);
  const ShapesConfig c{};
  std::vector<int64_t> index;
  Tensor images;
  Target target = Target::top1();
  if (job.data.files.empty()) {
    const ShapesBatch b = make_shapes_batch(c, kShapesCnnDataSeed, kShapesHeldOutBegin + begin, end - begin);
    images = b.images;
    target = Target::indices(b.labels);
    for (int64_t i = begin; i < end; ++i) index.push_back(i);
  } else {
    std::vector<Tensor> good;
    for (int64_t i = begin; i < end; ++i) {
      const std::string& file = job.data.files[static_cast<size_t>(i)];
      try {
        Tensor img = load_image(file, job.data.max_pixels);
        if (img.size(0) != 3) throw Error("not an RGB image (" + std::to_string(img.size(0)) + " channels)");
        if (img.size(1) != c.height || img.size(2) != c.width) img = resize_image(img, c.height, c.width);
        good.push_back(img);
        index.push_back(i);
      } catch (const std::exception& e) {
        if (!quiet) {
          std::lock_guard<std::mutex> lock(report);
          std::cerr << job.who << ": skipped '" << file << "': " << e.what() << "\n";
        }
        out.skipped.emplace_back(i, "'" + file + "': " + e.what());
      }
    }
    if (good.empty()) return;
    images = Tensor::empty(Shape{static_cast<int64_t>(good.size()), 3, c.height, c.width});
    for (size_t j = 0; j < good.size(); ++j)
      std::copy(good[j].data(), good[j].data() + good[j].numel(), images.data() + static_cast<int64_t>(j) * good[j].numel());
  }
  if (job.permuted && job.data.files.size() > 0) {
    // Both models explain the real model's classes (as model randomisation resolves its targets
    // once on the original model).
    Tape tape(TapeOptions{.record = false});
    target = Target::indices(target.resolve(job.model->forward(tape.input(images)).value()));
  }
  const size_t n = index.size(), nm = job.methods.size(), ns = job.steps;
  for (size_t j = 0; j < n; ++j) out.images.emplace_back(index[j], std::vector<double>(nm * ns * kSanityMeasures, 0.0));
  out.first = index[0];
  out.first_image = metrics::item(images, 0).reshape({3, c.height, c.width}).clone();
  out.height = c.height;
  out.width = c.width;
  const Workspace workspace;  // this worker's buffers
  for (size_t m = 0; m < nm; ++m) {
    MethodOptions mo;
    mo.seed = job.seed;
    mo.workspace = &workspace;
    for (const MethodInfo& info : methods())
      if (info.name == job.methods[m] && (info.needs_layer || info.family == "cam")) mo.layer = job.layer;
    const RandomisationOptions ro{.seed = job.seed,
                                  .mode = job.mode == "independent" ? RandomisationMode::Independent : RandomisationMode::Cascading,
                                  .keep_maps = true};
    std::vector<RandomisationStep> steps;
    if (job.permuted) {  // data randomisation: the real model's maps, then the permuted-label model's
      steps.push_back({.layer = "", .attribution = attribute(job.methods[m], *job.model, images, target, mo).attribution});
      steps.push_back({.layer = "permuted_labels",
                       .attribution = attribute(job.methods[m], *job.permuted, images, target, mo).attribution});
    } else {
      steps = model_randomisation(job.methods[m], *job.model, images, target, mo, ro);
    }
    BL_CHECK(steps.size() == ns, "sanity: ", job.methods[m], " gave ", steps.size(), " randomisation steps, expected ", ns);
    for (size_t st = 0; st < ns; ++st) {
      for (size_t j = 0; j < n; ++j) {
        const int64_t i = static_cast<int64_t>(j);
        const SanitySimilarity sim = sanity_image_similarity(steps[0].attribution, steps[st].attribution, i);
        double* v = out.images[j].second.data() + (m * ns + st) * kSanityMeasures;
        v[0] = sim.spearman;
        v[1] = sim.spearman_abs;
        v[2] = sim.ssim;
        v[3] = sim.hog;
      }
      const MapPlane u = sanity_plane(steps[st].attribution, 0, true);
      out.planes.emplace_back(u.values.begin(), u.values.end());
    }
  }
}

std::vector<ChunkOutput> run_sanity_chunks(const SanityJob& job, const std::vector<int64_t>& pending, int threads,
                                           int per_worker, const Cluster& cluster, UnitCache& cache) {
  std::vector<ChunkOutput> outs(pending.size());
  ProgressOptions po;
  po.enabled = cluster.leader();
  Progress progress(cluster.distributed() ? "sanity (rank 0 of " + std::to_string(cluster.size()) + ")" : "sanity",
                    std::max<int64_t>(1, static_cast<int64_t>(pending.size())), po);
  std::mutex mutex, report;
  size_t next = 0;
  const int workers = static_cast<int>(
      std::min<size_t>(static_cast<size_t>(std::max(threads / std::max(per_worker, 1), 1)), pending.size()));
  std::vector<std::thread> pool;
  for (int w = 0; w < workers; ++w)
    pool.emplace_back([&] {
      set_num_threads(per_worker);  // this thread's OpenMP regions
      for (;;) {
        size_t k;
        {
          std::lock_guard<std::mutex> lock(mutex);
          if (next >= pending.size()) return;
          k = next++;
        }
        try {
          cache.begin(chunk_key(job, pending[k]));
          run_sanity_chunk(job, pending[k], outs[k], report);
          if (outs[k].skipped.empty()) cache.store(chunk_key(job, pending[k]), pack_chunk(outs[k]));
        } catch (const std::exception& e) {
          outs[k].error = e.what();
        }
        std::lock_guard<std::mutex> lock(report);
        progress.advance(1);
      }
    });
  for (std::thread& t : pool) t.join();
  progress.finish();
  return outs;
}

std::optional<ChunkOutput> cached_sanity_chunk(const SanityJob& job, UnitCache& cache, int64_t k) {
  const std::optional<std::string> bytes = cache.load(chunk_key(job, k));
  if (!bytes) return std::nullopt;
  try {
    Unpacker u(*bytes, "sanity: cached " + chunk_key(job, k));
    ChunkOutput o;
    o.resumed = true;
    o.first = u.get<int64_t>();
    const std::vector<int64_t> index = u.get_vector<int64_t>();
    const std::vector<double> values = u.get_vector<double>();
    const size_t per = job.methods.size() * job.steps * kSanityMeasures;
    const int64_t begin = k * job.chunk, end = std::min(job.data.count, begin + job.chunk);
    // Stored chunks had every image readable: all of [begin, end), the first one first.
    bool ok = u.done() && values.size() == index.size() * per && static_cast<int64_t>(index.size()) == end - begin &&
              o.first == begin;
    for (size_t j = 0; ok && j < index.size(); ++j) ok = index[j] == begin + static_cast<int64_t>(j);
    if (!ok) {
      cache.discard(chunk_key(job, k));
      return std::nullopt;
    }
    for (size_t j = 0; j < index.size(); ++j) {
      o.images.emplace_back(index[j], std::vector<double>(values.begin() + static_cast<std::ptrdiff_t>(j * per),
                                                          values.begin() + static_cast<std::ptrdiff_t>((j + 1) * per)));
    }
    return o;
  } catch (const Error&) {
    cache.discard(chunk_key(job, k));  // another build's format: computed again
    return std::nullopt;
  }
}

ChunkOutput sanity_figure(const SanityJob& job, const ChunkOutput& chunk, int64_t first, int per_worker,
                          UnitCache& cache) {
  const std::string key = "figure-" + std::to_string(first) + chunk_suffix(job, first / job.chunk);
  const size_t planes = job.methods.size() * job.steps;
  if (!chunk.resumed) {
    ChunkOutput o;
    o.first = chunk.first;
    o.first_image = chunk.first_image;
    o.planes = chunk.planes;
    o.height = chunk.height;
    o.width = chunk.width;
    cache.store(key, pack_figure(o));  // for a rerun that resumes this chunk
    return o;
  }
  if (const std::optional<std::string> bytes = cache.load(key)) {
    if (std::optional<ChunkOutput> o = unpack_figure(*bytes, planes)) {
      o->first = first;
      return std::move(*o);
    }
    cache.discard(key);
  }
  // Run the chunk again, on a worker like the one that ran it first (same OpenMP threads: same maps).
  ChunkOutput o;
  std::string error;
  std::thread worker([&] {
    set_num_threads(per_worker);
    std::mutex report;
    try {
      run_sanity_chunk(job, first / job.chunk, o, report, /*quiet=*/true);
    } catch (const std::exception& e) {
      error = e.what();
    }
  });
  worker.join();
  BL_CHECK(error.empty(), "sanity: drawing the figure of image ", first, ": ", error);
  BL_CHECK(o.first == first, "sanity: the figure's image ", first, " is no longer the first readable one of its chunk");
  cache.store(key, pack_figure(o));
  return o;
}

}  // namespace backlight::cli
