#pragma once
/// The plan of incremental occlusion: from one recorded forward pass of the unoccluded inputs
/// (a tape) and the occlusion windows, what each node has to recompute for each window position.
///
/// A window changes a rectangle of the input image. Through every spatially local node (conv2d,
/// max/avg pooling, element-wise and per-channel ops, add/sub/mul of equal-shape maps) the
/// changed ("dirty") rectangle grows by the node's receptive field (rect.h); outside it the
/// node's output equals the cached one. So per node and position the plan keeps the dirty
/// rectangle, and per value decides how the driver stores its rows:
///   Region  a [rows, C, h, w] tensor of one common rectangle size per value, placed over each
///           position's dirty rectangle (rectangles at the borders shifted inward, so the sizes
///           agree and one batched op computes every row); the rest is the cached value
///   Full    the whole value per row, once the rectangle covers (nearly) the map or the node is
///           not spatially local (adaptive pooling, flatten, linear, ...): from there on the
///           remaining nodes run normally on the batch
///   Constant the value does not depend on the input (parameters and what is computed from
///           them): the recorded tensor serves every row
/// Nodes that do not lead to the output are skipped. A node the driver cannot replay makes the
/// plan inapplicable (`unsupported` names it); occlusion then takes the plain path.
#include <string>
#include <vector>

#include "attribution/perturbation/incremental/rect.h"
#include "engine/tape.h"
#include "kernels/occlusion.h"

namespace backlight::incremental {

/// How the driver computes one node for a batch of window positions.
enum class Step {
  Skip,     ///< not needed for the output, or independent of the input
  Unary,    ///< element-wise or per-channel op (batchnorm) applied to a region tensor as it is
  Conv,     ///< conv2d of a region: batched input crop (zero outside the map), conv without padding
  MaxPool,  ///< max pooling of a region: crop padded with -inf, pooling without padding
  AvgPool,  ///< average pooling of a region: crop, the layer's own windows and divisors
  Binary,   ///< add/sub/mul of equal-shape maps: crops of both inputs at the output region
  Full,     ///< whole inputs per row (cached value + pasted region), the node's op replayed
};

enum class Storage { Constant, Region, Full };

/// One tape value in the plan.
struct ValuePlan {
  Storage storage = Storage::Constant;
  /// Dirty rectangle per window position (4-D batched values with a spatial history); empty
  /// when every element may have changed.
  std::vector<Rect> dirty;
  /// Region storage: the stored rectangle per position, all of size h x w, each containing the
  /// position's dirty rectangle and lying inside the map.
  std::vector<Rect> stored;
  int64_t h = 0, w = 0;
  int last_use = -1;  ///< index of the last node that reads the value (-1: none)
};

struct Plan {
  int input = -1, output = -1;  ///< value ids of the model input and output
  int64_t items = 0;            ///< N, the batch of the recorded pass
  int64_t positions = 0;        ///< window positions (the occlusion geometry's)
  std::vector<Step> steps;      ///< per node
  /// Where the driver stops splitting a batch's positions over the threads (each thread running
  /// nodes [0, tail) on its share with the ops inline) and runs nodes [tail, num_nodes) on the
  /// whole batch with the ops threaded inside: the first Full node that reads a weight of at
  /// least kStreamedWeightFloats (VGG's 25088 x 4096 classifier), which every thread would
  /// otherwise stream from memory for its few rows. num_nodes when there is none.
  int tail = 0;
  std::vector<ValuePlan> values;  ///< per value
  /// Floating-point operations (2 per multiply-add) of conv2d and linear nodes for all positions
  /// and items: the plain sweep (every forward in full) and this plan.
  double plain_flops = 0, incremental_flops = 0;
  /// Why the plan does not apply; empty when it does.
  std::string unsupported;
};

/// Fraction of a map's area from which a region is stored and computed as the whole map.
inline constexpr double kFullFraction = 0.85;

/// Weights of at least this many floats (16 MB, more than the caches hold) are read once per
/// batch rather than once per thread's share of it (Plan::tail).
inline constexpr int64_t kStreamedWeightFloats = int64_t{1} << 22;

/// Plans occlusion of the recorded input `input` (a [N, C, H, W] tape input) of a tape whose
/// output is value `output`, for the window positions of `g` (item dims [C, H, W]; a window over
/// a subset of the channels counts as all channels).
Plan make_plan(const Tape& tape, int input, int output, const OcclusionGeometry& g,
               double full_fraction = kFullFraction);

/// The input rectangle [H, W] of window position j of `g` (clipped to the map).
Rect window_rect(const OcclusionGeometry& g, int64_t j);

}  // namespace backlight::incremental
