#pragma once
/// A labelled matrix picture: the layer-by-layer similarity heatmap (Kornblith et al. 2019,
/// Fig. 4) and any other small matrix of values in [lo, hi]. Row labels on the left, column
/// labels below (written vertically), the value printed in each cell when cells are large
/// enough, a title above and a colour bar on the right.
///
///   title
///   row label | cell cell cell | colour bar (hi at top, lo at bottom)
///             | col labels (vertical)
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "render/colormap.h"

namespace backlight::cli {

struct MatrixPictureOptions {
  std::string title{};
  float lo = 0.0f, hi = 1.0f;  ///< colour range (values are clamped to it)
  Colormap map = Colormap::Viridis;
  int cell = 40;               ///< cell side in pixels (values printed when >= 28)
};

/// values: rows x cols (row-major, rows * cols entries); labels: one per row / column.
/// Returns [3,H,W] in [0,1]. Throws backlight::Error for mismatched sizes or an empty matrix.
Tensor matrix_picture(const std::vector<double>& values, const std::vector<std::string>& row_labels,
                      const std::vector<std::string>& col_labels, const MatrixPictureOptions& options = {});

}  // namespace backlight::cli
