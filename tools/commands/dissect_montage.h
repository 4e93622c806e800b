#pragma once
/// The picture of `backlight dissect`: one row per top unit (best IoU first), showing the unit's
/// top-activating images at mask resolution with the thresholded, upsampled activation M_k drawn
/// over them (outside darkened, the boundary in yellow), labelled with unit, concept and IoU.
#include <cstdint>
#include <vector>

#include "attribution/concepts/dissection.h"

namespace backlight::cli {

/// Unit indices by best IoU, largest first (ties: lower unit first).
std::vector<int64_t> ranked_units(const Dissection& d);

/// The montage of the first `units` of `ranked` (re-runs the model on their top images).
Tensor dissection_montage(const Module& model, const ConceptSource& data, const DissectionOptions& options,
                          const Dissection& d, const std::vector<int64_t>& ranked, int64_t units);

}  // namespace backlight::cli
