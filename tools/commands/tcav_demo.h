#pragma once
/// The built-in TCAV demo data (`backlight tcav` without data flags), generated offline from the
/// shapes dataset (models/data/shapes.h) batch by batch:
///   shape concepts   "circle", "square", "triangle", "cross": shapes images whose large target
///                    shape is of that class (indices from 3,000,000 on, never used in training)
///   colour concepts  "red", "green", "blue": shapes images whose target shape has that colour
///                    (mean over its mask: the channel at least 0.25 above both others), so they
///                    differ from random images in the colour only
///   random sets      shapes images of any class (set i: indices 4,000,000 + i * size ...)
///   inputs           held-out shapes images (kShapesHeldOutBegin on) of the target class
#include <cstdint>
#include <string>

#include "attribution/concepts/concept_activations.h"

namespace backlight::cli {

/// Whether `name` is a demo concept (listed in the error for unknown names).
bool is_demo_concept(const std::string& name);
std::string demo_concept_names();

/// `count` examples of demo concept `name`, size h x w, in batches of `batch`.
ExampleSet demo_concept(const std::string& name, int64_t count, int64_t h, int64_t w, int64_t batch, uint64_t seed);
/// Random set `index` (any class).
ExampleSet demo_random_set(int64_t index, int64_t count, int64_t h, int64_t w, int64_t batch);
/// `count` held-out shapes images of class `label`.
ExampleSet demo_inputs(int64_t label, int64_t count, int64_t h, int64_t w, int64_t batch);

}  // namespace backlight::cli
