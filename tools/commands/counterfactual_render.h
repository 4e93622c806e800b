#pragma once
/// Pictures and JSON of `backlight counterfactual` (tools/commands/counterfactual.cpp).
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "attribution/counterfactual/counterfactual.h"

namespace backlight::cli {

struct CfReport {
  const Tensor& x;                       ///< the input [1, ...]
  const CounterfactualResult& result;
  const std::vector<std::string>& names;  ///< feature names (may be empty)
  const CfMetric& metric;
  int64_t original_class = -1;
  bool tabular = false;
};

/// Images [1,C,H,W]: original | (counterfactual i | amplified difference i) for each i, labelled
/// with predictions and probabilities; [3, H', W'] in [0,1].
Tensor render_cf_images(const CfReport& r);

/// Tabular [1,F]: a table, one row per feature changed by any counterfactual (name, original,
/// value in each counterfactual, "-" where unchanged), then prediction and metric rows.
Tensor render_cf_table(const CfReport& r);

/// {desired_class, original_class, metrics{...}, counterfactuals[{prediction, probability, valid,
/// distance, changes[{feature, name, from, to}] (tabular)}]}.
nlohmann::json cf_json(const CfReport& r);

}  // namespace backlight::cli
