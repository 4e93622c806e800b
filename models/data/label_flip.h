#pragma once
/// Deliberately wrong labels, for checking mislabel detection (TracIn self-influence,
/// docs/influence.md): `backlight train --flip-labels FRACTION --seed S` trains on labels that
/// these functions change, and `backlight influence --train builtin:shapes` reads the same
/// labels back from the checkpoints' metadata.
///
/// Determinism: whether index i is flipped, and to which class, depends only on (seed, i,
/// fraction): one Philox draw keyed by `seed` on stream i (engine/philox.h), so any subset of
/// the dataset can be relabelled without the rest. Each index is flipped with probability
/// `fraction` (so about fraction x N of N samples, not exactly), to one of the other classes,
/// uniformly.
#include <cstdint>

namespace backlight {

/// Whether sample `index` of a dataset relabelled with (seed, fraction) is flipped.
/// fraction in [0, 1]; throws backlight::Error otherwise.
bool label_flipped(uint64_t seed, int64_t index, double fraction);

/// The training label of sample `index`: `label` when not flipped, else another class in
/// [0, num_classes) (never `label`). num_classes >= 2, label in [0, num_classes).
int64_t flipped_label(uint64_t seed, int64_t index, double fraction, int64_t label, int64_t num_classes);

}  // namespace backlight
