#pragma once
/// A line chart with error bars: one line per series over shared x values, a marker at each point
/// and a vertical error bar (e.g. one standard deviation over seeds). The ROAR/KAR picture
/// (Hooker et al. 2019, Fig. 4: test accuracy against the fraction of pixels removed, one line
/// per attribution method).
///
///   title
///   1.0 |  o---o
///       |        \---o        legend: -o- series 0
///   0.5 |             o---o           -o- series 1
///   0.0 +-----------------------
///        x label: 0.1 0.3 ...
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace backlight::cli {

struct LineSeries {
  std::string name;           ///< legend entry
  std::vector<double> y;      ///< one per x value; NaN: no point
  std::vector<double> error{};  ///< empty, or one half-length per point (0: no bar)
};

struct LineChartOptions {
  std::string title{};      ///< lines separated by '\n'
  std::string x_label{};    ///< under the axis
  std::vector<double> x{};  ///< the shared x values (increasing); tick labels show them
  std::string x_format = "%.2f";  ///< printf format of the x tick labels
  double lo = 0.0, hi = 1.0;      ///< y range (values are clamped into it)
  int plot_width = 360, plot_height = 240;
};

/// Renders the chart -> [3, H, W] in [0, 1] on white. Throws backlight::Error for no series, no
/// x values, x not increasing, a series whose point or error count differs from the x count, or
/// lo >= hi.
Tensor line_chart(const std::vector<LineSeries>& series, const LineChartOptions& options);

}  // namespace backlight::cli
