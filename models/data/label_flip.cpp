#include "models/data/label_flip.h"

#include <algorithm>

#include "engine/error.h"
#include "engine/philox.h"

namespace backlight {

namespace {
// Streams of the flip decision and of the new class: far from the shapes generator's streams
// (which are the sample indices of the data seed), so the two never correlate.
constexpr uint64_t kFlipStream = 0x666c6970ull << 32;
}  // namespace

bool label_flipped(uint64_t seed, int64_t index, double fraction) {
  BL_CHECK(fraction >= 0.0 && fraction <= 1.0, "label_flipped: expected a fraction in [0, 1], got ", fraction);
  BL_CHECK(index >= 0, "label_flipped: expected index >= 0, got ", index);
  if (fraction == 0.0) return false;
  return philox::uniform(seed, kFlipStream + static_cast<uint64_t>(index), 0) < fraction;
}

int64_t flipped_label(uint64_t seed, int64_t index, double fraction, int64_t label, int64_t num_classes) {
  BL_CHECK(num_classes >= 2, "flipped_label: expected num_classes >= 2, got ", num_classes);
  BL_CHECK(label >= 0 && label < num_classes, "flipped_label: expected a label in [0, ", num_classes, "), got ",
           label);
  if (!label_flipped(seed, index, fraction)) return label;
  const float u = philox::uniform(seed, kFlipStream + static_cast<uint64_t>(index), 1);
  const int64_t shift = 1 + std::min<int64_t>(num_classes - 2, static_cast<int64_t>(u * static_cast<float>(num_classes - 1)));
  return (label + shift) % num_classes;
}

}  // namespace backlight
