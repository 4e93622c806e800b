#pragma once
/// A grouped (vertical) bar chart with error bars and significance marks: the TCAV picture (Kim et al.
/// 2018, Fig. 4 and 5: one group of bars per concept, one bar per layer, the bar the mean score
/// over runs, the error bar one standard deviation). Each bar may carry a mark printed above it
/// ("*", "**", "***") and may be drawn faded (TCAV: not significant, labelled "ns"), and a
/// reference value drawn as a short dashed line across it (TCAV: the random-vs-random mean).
///
///   title
///   1.0 |   *           ns
///       |  [#][#]      [.][.]    legend: [#] series 0  [#] series 1
///   0.5 |--[#][#]------[.][.]--
///   0.0 +-------------------------
///          group 0      group 1
///
/// (render/bar_chart.h is the other chart: horizontal per-feature bars for tabular explanations.)
#include <limits>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace backlight::cli {

struct GroupedBar {
  double value = 0;
  double error = 0;      ///< half-length of the error bar (0: none)
  std::string mark{};    ///< printed above the bar (e.g. "*", "ns")
  bool faded = false;    ///< drawn light (TCAV: not significant)
  double reference = std::numeric_limits<double>::quiet_NaN();  ///< dashed line across the bar
};

struct BarGroup {
  std::string label;
  std::vector<GroupedBar> bars;  ///< one per series, in series order
};

struct GroupedBarChartOptions {
  std::string title{};                ///< lines separated by '\n'
  std::vector<std::string> series{};  ///< legend names; bar i of each group is series i
  double lo = 0.0, hi = 1.0;          ///< y range (values are clamped into it)
  int plot_height = 240;              ///< pixels of the y range
  int bar_width = 18;
};

/// Renders the chart -> [3, H, W] in [0, 1] on white. Throws backlight::Error for no groups, a
/// group whose bar count differs from the series count, or lo >= hi.
Tensor grouped_bar_chart(const std::vector<BarGroup>& groups, const GroupedBarChartOptions& options);

}  // namespace backlight::cli
