#pragma once
/// The shared core of the perturbation methods (occlusion, feature ablation and permutation,
/// Shapley value sampling, KernelSHAP, LIME, RISE): feature groups from a feature mask, batched
/// target evaluation of perturbed rows in inference mode, batch sizing and baselines.
///
/// Row layout (Captum's): a batch of perturbations of N items holds block-major rows
/// r = p*N + n (perturbation p of item n), so the class of row r is the class of item r % N.
/// Class targets are resolved once on the unperturbed inputs and kept for every perturbation.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "attribution/core/baseline.h"
#include "attribution/core/progress.h"
#include "attribution/core/target.h"
#include "engine/module.h"
#include "kernels/occlusion.h"

namespace backlight {

/// Feature groups: an integer id per element of every item, [mask_items, numel] with
/// mask_items 1 (one mask shared by all items) or N.
struct FeatureGroups {
  std::vector<int32_t> ids;
  int64_t mask_items = 1;
  int64_t numel = 0;
  int32_t min_id = 0;
  int32_t max_id = -1;
  /// The distinct ids in increasing order (Captum runs every id in [min, max]; ids absent from the
  /// mask change nothing, so the methods skip them).
  std::vector<int32_t> present;

  MaskRef ref() const { return MaskRef{ids.data(), mask_items}; }
  /// Item n's ids (numel values).
  const int32_t* item(int64_t n) const { return ids.data() + (mask_items == 1 ? 0 : n) * numel; }
};

/// Feature groups from a mask tensor whose values are integers (stored as float, exact up to
/// 2^24). Captum's rules: the mask's shape is broadcastable to the inputs' [N, ...] (compared
/// from the last dimension, each mask dimension equal or 1, rank at most the inputs' rank); a
/// leading dimension equal to N gives each item its own mask, 1 (or none) shares it. E.g. a mask
/// [1, 1, H, W] groups pixels across channels for inputs [N, 3, H, W]. Throws naming `who`, both
/// shapes, or the first non-integer value.
FeatureGroups feature_groups(const Tensor& mask, const Tensor& inputs, const char* who);
/// Captum's default: every element of an item is its own feature (ids 0 .. numel - 1, shared).
FeatureGroups element_groups(int64_t numel);
/// `mask` when defined, else element_groups.
FeatureGroups groups_or_elements(const Tensor& mask, const Tensor& inputs, const char* who);

/// A model and a target, evaluated on perturbed rows without recording (TapeOptions{.record =
/// false}: intermediate buffers go back to the workspace during the forward). With a CUDA
/// workspace the model and the rows are on that device and each batch is one forward there;
/// outputs, initial values and row values are always host tensors (the logits come back).
class RowEvaluator {
 public:
  /// Runs the unperturbed inputs once: stores the model output, resolves class targets (top-1 and
  /// index targets become fixed classes per item) and the target value per item.
  RowEvaluator(const Module& model, const Tensor& inputs, const Target& target, const Workspace& ws);

  /// Target value per row of a block-major batch [R, ...] with R a multiple of N -> [R].
  Tensor values(const Tensor& rows) const;
  /// The model output of an arbitrary batch, in inference mode.
  Tensor forward(const Tensor& rows) const;

  int64_t items() const { return items_; }
  const Tensor& output() const { return output_; }                  ///< model output for the inputs
  const Tensor& initial() const { return initial_; }                ///< target value per item [N]
  const std::vector<int64_t>& classes() const { return classes_; }  ///< empty for function targets
  const Workspace& workspace() const { return ws_; }

 private:
  const Module& model_;
  Target target_;
  const Workspace& ws_;
  int64_t items_ = 0;
  Tensor output_, initial_;
  std::vector<int64_t> classes_;
};

/// Runs fn(r0, r1), which returns a tensor [r1 - r0, ...] for rows [r0, r1) of a batch, on
/// disjoint row ranges covering [0, rows), one range per thread (one call when single-threaded,
/// on a CUDA workspace or already inside a parallel region), and concatenates the results along
/// dimension 0. Each call runs its own forward on its own tape with the ops inline, so small
/// perturbation batches use every core without per-op synchronisation.
Tensor split_rows(int64_t rows, const std::function<Tensor(int64_t r0, int64_t r1)>& fn, const Workspace& ws);

/// Perturbations per forward: `requested` when > 0, else enough to fill about 64 rows; never
/// more than `total`.
int64_t perturbations_per_batch(int requested, int64_t items, int64_t total);

/// The baseline for the inputs as a kernel argument: scalar for zero/constant baselines, else
/// the [N, ...] tensor made by make_baseline (kept alive in `storage`), on the device of `ws`
/// when given (a CUDA workspace: a device pointer).
BaselineRef baseline_ref(const Baseline& b, const Tensor& inputs, Tensor& storage, const Workspace* ws = nullptr);

/// A new shape with dimension 0 replaced by `rows`.
Shape with_batch(const Shape& s, int64_t rows);

/// Checks inputs [N, ...] with N >= 1 and finite values; throws naming `who` and the shape.
void check_perturbation_inputs(const Tensor& inputs, const char* who);

/// Target (or neuron) value per row of a block-major batch of perturbed rows.
using RowValuesFn = std::function<Tensor(const Tensor& rows)>;

/// FeatureAblation's loop, shared by feature, layer and neuron ablation: for every present id of
/// `groups`, `per_batch` ids per forward, rows = `inputs` [N, ...] with that group set to the
/// baseline (kernels mask_ablate), evaluated by `values` (host values [rows]). Returns diffs
/// [max_id - min_id + 1, N] on the host with diffs[(id - min_id)*N + n] = initial[n] - value
/// (zero for absent ids), ready for mask_scatter. Advances `bar` by one per id. With a CUDA `ws`
/// the inputs and the baseline are on that device and the rows are built there.
Tensor ablation_diffs(const Tensor& inputs, const FeatureGroups& groups, BaselineRef baseline, int64_t per_batch,
                      const RowValuesFn& values, const Tensor& initial, Progress& bar, const Workspace& ws);

/// attr [N, ...] (inputs' shape) from per-feature values [max_id - min_id + 1, N] (mask_scatter),
/// on the device of `ws` when it is a CUDA workspace (the values and the ids are copied there).
Tensor scatter_features(const Tensor& values, const FeatureGroups& groups, const Shape& shape,
                        const Workspace* ws = nullptr);

/// The methods registry's (the CLI's) default window for inputs [N, ...]: images [N, C, H, W]
/// get {C, ceil(H/8), ceil(W/8)} (all channels, an 8 x 8 grid of cells); other inputs 1 per
/// dimension (every element alone, Captum's default).
std::vector<int64_t> default_window(const Shape& inputs);
/// Feature groups as a grid of window-shaped cells: a mask [1, ...] (the inputs' per-item shape)
/// whose id is the row-major index of the cell containing the element (cells at the far borders
/// may be smaller). Throws naming the shapes unless window has one value >= 1 per dimension.
Tensor window_grid_mask(const Shape& inputs, std::span<const int64_t> window);

/// Philox streams of the seeded methods, one per method and purpose, so that no two methods or
/// purposes share random numbers for the same seed.
namespace perturbation_stream {
inline constexpr uint64_t kPermutation = 0x7065726d;  // "perm": feature_permutation
inline constexpr uint64_t kShapley = 0x73686170;      // "shap": shapley_value_sampling
inline constexpr uint64_t kKernelShap = 0x6b736870;   // "kshp": kernel_shap coalitions
inline constexpr uint64_t kLime = 0x6c696d65;         // "lime": lime samples
inline constexpr uint64_t kRiseGrid = 0x72697367;     // "risg": rise mask cells
inline constexpr uint64_t kRiseShift = 0x72697373;    // "riss": rise mask shifts
}  // namespace perturbation_stream

/// A uniformly random permutation of 0..n-1 (Fisher-Yates on Philox draws of stream
/// (stream_base, key)): the same for every thread count and batch size.
std::vector<int32_t> philox_permutation(int32_t n, uint64_t seed, uint64_t stream_base, uint64_t key);

}  // namespace backlight
