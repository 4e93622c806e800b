#pragma once
/// A table of text as a picture: a title, a header row and body rows in ruled cells, drawn with
/// the built-in font (render/font.h: ASCII only). `backlight evaluate` draws its methods x
/// metrics table (mean +- standard error per cell) with it.
///
///   title
///   +--------+----------+----------+
///   | header | header   | header   |   (bold: drawn twice, one pixel apart)
///   +--------+----------+----------+
///   | row    | cell     | cell     |   (first column left-aligned, others right-aligned)
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace backlight::cli {

struct TableOptions {
  std::string title{};
  int scale = 1;    ///< font scale (integer pixel replication), 1 to 4
  int padding = 6;  ///< pixels between text and cell rules
};

/// header: one label per column (at least one); rows: each exactly header.size() cells.
/// Returns [3, H, W] in [0, 1] on white. Throws backlight::Error for an empty header, a row of
/// another length or a scale outside 1..4.
Tensor table_picture(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                     const TableOptions& options = {});

}  // namespace backlight::cli
