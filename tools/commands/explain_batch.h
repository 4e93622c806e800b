#pragma once
/// `backlight explain` batch mode (--images DIR, or several --image): every image is explained
/// and written as <out>/<stem>.png (and <save>/<stem>.npy); unreadable images and failing groups
/// are reported on stderr and skipped; progress on stderr. Work is spread over the cores as
/// whole images: one worker per core (--threads), each running its ops single-threaded, one
/// image per method call by default; --chunk N groups up to N same-size images into one call
/// where explain_job.h's groupable() allows. Measured on 2 cores (docs/cli.md, "Batch mode"):
/// workers with one image per call use the least CPU time and memory; grouping only pays when
/// ops are multi-threaded, and grouped path methods multiply memory by the group size.
#include <span>
#include <string_view>

#include "engine/module.h"
#include "tools/commands/explain_config.h"

namespace backlight::cli {

/// Runs batch mode; prints the text or JSON summary on stdout. Returns the exit status: 0, or 1
/// when any image failed.
int run_explain_batch(ExplainConfig& config, const Module& model, std::span<const std::string_view> class_names);

}  // namespace backlight::cli
