#pragma once
// `backlight influence`: its units of work and their bytes - for the gather on rank 0 and for
// resuming (tools/cluster/unit_cache.h). A unit is training batch b (examples [b * batch,
// (b + 1) * batch)), rank b % ranks's. Its result: per test example the batch's top-k proponents
// and opponents, or, with --self-influence, the batch's self-influence values. Merging the
// batches' top-k lists gives the top-k of their union (merge_top_k), so resumed batches give the
// uninterrupted run's rankings bit for bit.
//
// The library computes a batch as a sum over the checkpoints (one checkpoint in memory at a time),
// so a batch is complete only when the last checkpoint has seen it: the CLI runs a rank's pending
// batches in waves (at most kInfluenceWaves calls of tracin_influence, each over all checkpoints)
// and stores each wave's batches when it ends. A kill costs at most the wave in flight; each wave
// loads the checkpoints and computes the test gradients again.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "attribution/core/packing.h"
#include "attribution/influence/tracin.h"
#include "models/checkpoints.h"

namespace backlight::cli {

/// Most waves per rank when resuming is on (one wave, all pending batches, when it is off).
constexpr size_t kInfluenceWaves = 8;

/// `pending` (ascending batches) cut into consecutive waves: at most kInfluenceWaves of nearly
/// equal size when `resumable`, else one.
std::vector<std::vector<int64_t>> influence_waves(const std::vector<int64_t>& pending, bool resumable);

/// The digest of what every unit reads besides its training examples: the checkpoint files and
/// the test examples (files_digest: names, sizes, modification times).
std::string influence_job_digest(std::span<const CheckpointInfo> checkpoints, std::span<const std::string> tests);

/// Batch b's unit key: "batch-B-<digest of the job digest and the batch's example names>" (a
/// changed training image, checkpoint or test image makes another key).
std::string influence_batch_key(const std::string& job_digest, int64_t b, std::span<const std::string> example_names);

void pack_ranked(Packer& p, const Ranked& r);
Ranked unpack_ranked(Unpacker& u);

/// Test mode: per test example its (proponents, opponents) over one batch.
using BatchRanking = std::vector<std::pair<Ranked, Ranked>>;
std::string pack_batch_ranking(const BatchRanking& r);
/// nullopt unless the bytes hold `tests` pairs of lists of at most `top` entries of examples in
/// [begin, end) (a unit of another format or job is computed again).
std::optional<BatchRanking> unpack_batch_ranking(const std::string& bytes, int64_t tests, int64_t top, int64_t begin,
                                                 int64_t end);

/// Self-influence: the batch's values, one per example. nullopt unless the bytes hold `count`.
std::string pack_batch_self(std::span<const float> values);
std::optional<std::vector<float>> unpack_batch_self(const std::string& bytes, int64_t count);

}  // namespace backlight::cli
