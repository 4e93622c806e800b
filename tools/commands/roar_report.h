#pragma once
// `backlight roar`: the results of a job as JSON, a markdown table and the accuracy-vs-fraction
// chart (one line per method, error bars one standard deviation over the seeds).
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/tensor.h"
#include "tools/commands/roar_job.h"

namespace backlight::cli {

struct RoarResult {
  RoarTask task;
  RoarOutcome outcome;
};

/// The curves: {"unmodified": {mean, std, accuracies}, "curves": [{mode, method, points: [{percent,
/// fraction, mean, std, accuracies}]}]}, seeds in increasing order, std the sample standard
/// deviation (0 for one seed). `results` must hold every (mode, method, percent, seed) and the
/// base models of every seed; throws backlight::Error naming a missing one.
nlohmann::json roar_curves(const std::vector<RoarResult>& results, const std::vector<std::string>& modes,
                           const std::vector<std::string>& methods, const std::vector<int>& percents,
                           const std::vector<uint64_t>& seeds);

/// Markdown: one row per (mode, method), the unmodified model's accuracy first, then one column
/// per fraction, "mean +- std".
std::string roar_table(const nlohmann::json& curves);

/// One chart per mode side by side: test accuracy against the fraction of pixels removed (ROAR) or
/// kept (KAR), with the unmodified accuracy as every pixel present (at 0 removed, at 1 kept); [3, H, W].
Tensor roar_chart(const nlohmann::json& curves, const std::string& data_name);

}  // namespace backlight::cli
