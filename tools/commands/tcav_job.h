#pragma once
/// `backlight tcav` as one job over the processes of a Cluster (tools/cluster/cluster.h; one
/// process is the job of size 1, same code): the steps of attribution/concepts/tcav.h shared out.
///
///   activations  every (set, batch) pair of the concept and random sets, numbered in order, is
///                rank (number % size)'s: one forward per batch, all layers at once; the
///                activations are all-gathered and every rank assembles each set in batch order.
///   CAVs         CAV number j (layer-major, then set, then run) is trained on rank j % size with
///                its own seed (tcav_cav_seed: independent of rank and order); directions and
///                accuracies are all-gathered.
///   scores       input batch b is rank b % size's; its sign counts (integers) and magnitude sums
///                (double) are gathered on rank 0 and added in batch order.
/// Batches are fixed by --batch, and each is computed whole by one rank, so every number equals
/// the single-process run's bit for bit whatever the rank count (with the same threads per rank).
///
/// Examples that cannot be read are reported on stderr by the rank that met them and left out
/// (a set then has fewer examples); the leader lists them in the result.
///
/// Resume (`units`, attribution/core/unit_store.h): each unit above is kept once computed -
/// "act-<q>" the activations of (set, batch) pair q (float32, every layer: 4 x examples x
/// features bytes), "cav-<j>" CAV j's accuracy and direction, "score-<b>" input batch b's counts
/// and sums - and a rerun loads them instead of computing them (its bytes are what the collectives
/// carry, so the result is the uninterrupted run's bit for bit). A batch with an example left out
/// is not kept (a rerun tries the example again).
#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "attribution/concepts/tcav.h"
#include "attribution/core/unit_store.h"
#include "tools/cluster/cluster.h"
#include "tools/commands/input_batches.h"

namespace backlight::cli {

/// Reports an example that could not be read: (its name, what went wrong).
using SkipReport = std::function<void(const std::string& example, const std::string& error)>;

/// A set (concept, random or inputs) as numbered batches, so a rank reads only its own.
struct BatchedSet {
  std::string name;
  int64_t examples = 0;  ///< examples, counting unreadable ones
  int64_t batch = 32;    ///< batch b holds examples [b * batch, (b + 1) * batch)
  /// Batch b [n, C, H, W] without the examples that could not be read (each passed to `skip`);
  /// n may be 0. Called with increasing b on one rank.
  std::function<Tensor(int64_t b, const SkipReport& skip)> read;
  /// The files batch b reads (empty for generated sets): resume keys include their digest, so a
  /// changed file makes its units computed again.
  std::function<std::vector<std::string>(int64_t b)> files{};
  int64_t batches() const { return (examples + batch - 1) / batch; }
  /// Examples in batch b (counting unreadable ones).
  int64_t size_of(int64_t b) const { return std::min(batch, examples - b * batch); }
};

/// Examples `pick` of `files` (empty: all), resized to h x w.
BatchedSet folder_batches(std::string name, const ExampleFiles& files, int64_t h, int64_t w, int64_t batch,
                          int64_t max_pixels, std::vector<int64_t> pick = {});
/// A stream of `examples` examples in batches of `batch` (the built-in demo's generated sets):
/// batches before the requested one are generated and dropped.
BatchedSet stream_batches(ExampleSet set, int64_t examples, int64_t batch);

struct TcavJobResult {
  TcavResult result;                  ///< on rank 0 only
  std::vector<std::string> skipped;   ///< on rank 0: "set 'name': example: error", every rank's
  size_t skipped_here = 0;            ///< this rank's
  int64_t units_here = 0, resumed_here = 0;  ///< this rank's units (with `units`) and those loaded
};

/// TCAV over `cluster`'s ranks (see above). Options as tcav(); o.runs must be set (2 <= runs <=
/// randoms). Every rank returns; only rank 0's result is filled. Throws on every rank the same
/// error when one rank fails.
TcavJobResult tcav_job(const Module& model, const std::vector<BatchedSet>& concepts,
                       const std::vector<BatchedSet>& randoms, const BatchedSet& inputs, const TcavOptions& o,
                       const std::vector<int64_t>& input_shape, const Cluster& cluster, UnitStore* units = nullptr);

}  // namespace backlight::cli
