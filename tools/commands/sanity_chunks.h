#pragma once
// `backlight sanity`: the unit of work - a chunk of --chunk images - and how a rank's workers run
// its chunks. Chunk k is images [k * chunk, (k + 1) * chunk) of the job, rank k % ranks's; a
// chunk's similarities are the same whichever rank or worker computes it (with the same OpenMP
// threads per worker), so they can be gathered in image order (docs/cluster.md) and kept as
// resume units (tools/cluster/unit_cache.h): "chunk-K" holds the similarities of its readable
// images, "figure-I" the figure's maps of image I (the job's first readable image).
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/module.h"
#include "engine/tensor.h"
#include "tools/cluster/cluster.h"
#include "tools/cluster/unit_cache.h"

namespace backlight::cli {

constexpr int kSanityMeasures = 4;  // spearman, spearman_abs, ssim, hog

/// The images: held-out shapes (true classes) or an image folder resized to 64x64 (top-1 classes),
/// read chunk by chunk.
struct SanityData {
  std::string name;
  std::vector<std::string> files;  // empty: builtin:shapes
  int64_t count = 0;
  int64_t max_pixels = 0;
};

/// What the job needs to run a chunk.
struct SanityJob {
  SanityData data;
  const Module* model = nullptr;
  const Module* permuted = nullptr;  // --mode labels: the permuted-label model (steps: real, permuted)
  std::vector<std::string> methods;
  std::string mode, layer, who;  // who: "sanity" or "sanity: rank 1 of 2"
  uint64_t seed = 0;
  int64_t chunk = 2;
  size_t steps = 0;  // 1 + parameter layers
};

/// One chunk's results: per readable image its [method][step][measure] similarities, the figure's
/// maps of the chunk's first readable image, and the images that could not be read.
struct ChunkOutput {
  std::vector<std::pair<int64_t, std::vector<double>>> images;
  std::vector<std::pair<int64_t, std::string>> skipped;  // (index, "'path': error")
  int64_t first = -1;                                  // the figure's image, -1: none readable
  Tensor first_image;                                  // [3, h, w]; undefined for a resumed chunk
  std::vector<std::vector<float>> planes;              // [method * steps + step], unit maps [h * w]
  int64_t height = 0, width = 0;
  std::string error;
  bool resumed = false;  // loaded from the unit cache (no figure maps)
};

/// Runs chunk k into `out`; unreadable images are reported on stderr (under `report`) unless
/// `quiet`.
void run_sanity_chunk(const SanityJob& job, int64_t k, ChunkOutput& out, std::mutex& report, bool quiet = false);

/// The rank's chunks `pending` run by workers of `per_worker` OpenMP threads each (at most
/// `threads` in all); each finished chunk without unreadable images is stored in `cache`
/// ("chunk-K"; one with unreadable images is tried again by a rerun). Outputs in `pending`'s order.
/// Progress: rank 0's share.
std::vector<ChunkOutput> run_sanity_chunks(const SanityJob& job, const std::vector<int64_t>& pending, int threads,
                                           int per_worker, const Cluster& cluster, UnitCache& cache);

/// Chunk k from the cache (its similarities and first readable image, no maps), when complete and
/// of this job's shape.
std::optional<ChunkOutput> cached_sanity_chunk(const SanityJob& job, UnitCache& cache, int64_t k);

/// The figure's maps (`out.first_image`, `out.planes`, size) of image `first`: from `chunk` when it
/// has them, else from the cache ("figure-<first>"), else by running the image's chunk again on a
/// worker of `per_worker` threads (a resumed chunk keeps no maps). Stores them in the cache unless
/// they were loaded from it. Throws when the chunk no longer starts with that image.
ChunkOutput sanity_figure(const SanityJob& job, const ChunkOutput& chunk, int64_t first, int per_worker,
                          UnitCache& cache);

}  // namespace backlight::cli
