#pragma once
/// Region compute of incremental occlusion: the ops of the spatially local nodes evaluated only
/// on a rectangle of their output, for a batch of rows at once (row r = p*N + n: window position
/// p of the batch, item n), plus the gathers that build their inputs.
///
/// A batched [N, C, H, W] value is held per row either whole ([R, C, H, W]) or as a region: a
/// [R, C, h, w] tensor over a rectangle of the map per position (all of size h x w); elsewhere
/// the row equals the cached (recorded, unoccluded) value of its item. Every op below first
/// gathers a crop [R, C, ch, cw] of its input (region values where stored, cached values
/// elsewhere, a fill value outside the map), then runs the engine's own op on the crop without
/// padding: one batched call (one GEMM-based conv) per node and batch. CPU, all cores; every
/// tensor from `ws`.
#include <span>
#include <utility>

#include "attribution/perturbation/incremental/rect.h"
#include "engine/tape.h"
#include "kernels/occlusion.h"

namespace backlight::incremental {

/// One batched 4-D value for the rows of a batch.
struct RegionValue {
  Tensor base;  ///< [N, C, H, W] the cached value of every item
  Tensor rows;  ///< [R, C, h, w] region rows, [R, C, H, W] whole rows, or undefined (= base)
  std::span<const Rect> stored;  ///< region rectangle per position of the batch; empty: whole rows
};

/// dst [R, C, ch, cw] (ch, cw = each crop's size): the value over `crops[p]` for the rows of
/// position p; `fill` outside the map.
Tensor gather(const RegionValue& v, int64_t rows, std::span<const Rect> crops, float fill, const Workspace& ws);
/// The whole value per row, [R, C, H, W].
Tensor materialise(const RegionValue& v, int64_t rows, const Workspace& ws);

/// The sliding-window axes (rows, columns) of a conv2d or pooling node of `tape`.
std::pair<AxisWindow, AxisWindow> window_axes(const Tape& tape, const Node& node);

/// Output [R, C', h, w] of a conv2d / max pooling / average pooling node over the output
/// rectangles `out` (one per position, all h x w) from its input `x`.
Tensor region_conv(const Tape& tape, const Node& node, const RegionValue& x, int64_t rows,
                   std::span<const Rect> out, const Workspace& ws);
Tensor region_maxpool(const Tape& tape, const Node& node, const RegionValue& x, int64_t rows,
                      std::span<const Rect> out, const Workspace& ws);
Tensor region_avgpool(const Tape& tape, const Node& node, const RegionValue& x, int64_t rows,
                      std::span<const Rect> out, const Workspace& ws);
/// Output [R, C, h, w] of an add / sub / mul node of two equal-shape maps over `out`.
Tensor region_binary(const Node& node, const RegionValue& a, const RegionValue& b, int64_t rows,
                     std::span<const Rect> out, const Workspace& ws);

/// The occluded inputs of window positions first .. first + count - 1 over rectangles `stored`
/// (one per position, all h x w): the inputs [N, C, H, W] with every element of the window set
/// to the baseline, as kernels occlude_batch, but only inside the rectangles -> [count*N, C, h, w].
Tensor occluded_region(const Tensor& inputs, const OcclusionGeometry& g, BaselineRef baseline, int64_t first,
                       int64_t count, std::span<const Rect> stored, const Workspace& ws);

}  // namespace backlight::incremental
