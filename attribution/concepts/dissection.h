#pragma once
/// Network dissection (Bau, Zhou, Khosla, Oliva, Torralba 2017, "Network Dissection:
/// Quantifying Interpretability of Deep Visual Representations", CVPR): which concept, if any,
/// each unit (channel) of a convolutional layer detects.
///
/// For unit k with activation maps A_k(x) [h, w] over a dataset of images x:
///   T_k      = the (1 - quantile) order statistic of every value of A_k over the dataset
///              (rank ceil((1 - q) n), n = images * h * w); default q = 0.005
///   M_k(x)   = S_k(x) >= T_k, S_k(x) = A_k(x) upsampled bilinearly to the mask resolution
///              (half-pixel centres, PyTorch's align_corners=False, edges clamped)
///   IoU_k,c  = sum_x |M_k(x) & L_c(x)| / sum_x |M_k(x) | L_c(x)|   (counts over the dataset,
///              not an average of per-image ratios; L_c(x) the concept's binary mask, empty
///              when the image has none for c)
///   unit k detects concept c* = argmax_c IoU_k,c when IoU_k,c* > iou_threshold (0.04).
///
/// Passes over the dataset (each streams batches; nothing is held whole):
///   1. thresholds: one QuantileSketch per unit (relative error <= sketch_accuracy, see
///      quantile_sketch.h), and per unit the images with the largest maximum activation;
///   2. (exact only) the values inside each unit's sketch bucket are collected and the exact
///      order statistic selected;
///   3. IoU counts.
/// Units are processed in parallel (engine/parallel.h); results do not depend on the thread
/// count or the batch size.
///
/// Distributed (options.reducer, attribution/core/reducer.h): batch j (images j*batch ..) is
/// scanned by process j % size only. After pass 1 the sketches merge by adding bucket counts
/// and the top images by (activation desc, index asc); the exact pass sums the counts below each
/// bucket and gathers the values inside it; pass 3 sums the intersection and union counts. All of
/// it is integer or order-free, so every process ends with the single-process Dissection (same
/// thresholds, counts and IoU; only `seconds` differs), as long as no sketch collapsed its low
/// buckets (the top quantile is not affected by such a collapse either way).
///
/// Bad images and resume: with options.skip, an image whose load throws is reported and left out
/// (the result is the dissection of the readable images); with options.units, each batch's
/// activations and pass-3 counts are kept as units, so a rerun of the same job loads them instead
/// of running the forward again and ends with the same Dissection bit for bit.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "attribution/core/progress.h"
#include "attribution/core/reducer.h"
#include "attribution/core/unit_store.h"
#include "engine/module.h"

namespace backlight {

/// A concept of a concept-mask dataset.
struct Concept {
  std::string name;      ///< "red", "circle"
  std::string category;  ///< object, part, colour, texture, scene (free text, used for summaries)
};

/// One image of a concept-mask dataset with its masks.
struct ConceptImage {
  Tensor image;              ///< [3, H, W] RGB in [0, 1] (any size: resized to the model's input)
  int64_t mask_height = 0;   ///< every mask of this image has this resolution
  int64_t mask_width = 0;
  /// (concept index, mask_height * mask_width bytes, nonzero = inside). Concepts not listed
  /// have an empty mask on this image.
  std::vector<std::pair<int, std::vector<uint8_t>>> masks;
  std::string name;  ///< file name or "shapes:<index>", for reports
};

/// Random-access, read-only dataset (images are loaded on demand, never all at once).
class ConceptSource {
 public:
  virtual ~ConceptSource() = default;
  virtual const std::vector<Concept>& concepts() const = 0;
  virtual int64_t size() const = 0;
  /// Image i in [0, size()); may be called from one thread at a time.
  virtual ConceptImage load(int64_t i) const = 0;
  /// The name load(i) would give, without loading the image.
  virtual std::string name(int64_t i) const { return load(i).name; }
};

struct DissectionOptions {
  std::string layer;              ///< module path of a layer with output [N, K, h, w]
  double quantile = 0.005;        ///< top quantile q of T_k, in (0, 1)
  double iou_threshold = 0.04;    ///< detector when best IoU > this
  bool exact = false;             ///< exact T_k (one more pass)
  double sketch_accuracy = 1e-3;  ///< relative error bound of the one-pass T_k
  int64_t batch = 16;             ///< images per forward pass
  int64_t top_images = 4;         ///< per unit, the images with the largest max activation kept
  /// The model's input [C, H, W]; images of another size are resized bilinearly.
  std::vector<int64_t> input_shape{3, 64, 64};
  /// Per-channel mean and std applied to the [0, 1] images before the model (empty: none).
  std::vector<float> mean{}, std{};
  ProgressOptions progress{};
  /// Distributed run: this process's share of the batches and the collectives (nullptr: one
  /// process). Not owned; every process must call dissect with the same data and options.
  const Reducer* reducer = nullptr;
  /// Images that cannot be loaded (ConceptSource::load throws). Empty: the error stops the run.
  /// Set: each is passed here (index, error) by the process that met it and left out of every
  /// pass; Dissection::skipped lists them all.
  std::function<void(int64_t index, const std::string& error)> skip{};
  /// Resume (attribution/core/unit_store.h; nullptr: none). Per batch j of the dataset: unit
  /// "acts-<j>", the layer's activations (float [b, K, h, w]: 4 K h w bytes per image) with its
  /// images' indices, and "iou-<j>", its pass-3 counts (int64, K + concepts + K x concepts); keys
  /// from UnitStore::key. A batch with an image left out is not stored (a rerun tries the image
  /// again), nor are any IoU counts of such a run (they depend on the thresholds, i.e. on every
  /// image). The later passes read a stored batch's activations back instead of running its
  /// forward again.
  UnitStore* units = nullptr;
};

struct UnitDissection {
  int64_t unit = 0;
  double threshold = 0;      ///< T_k
  bool threshold_bounded = true;  ///< false: the sketch's merged bucket (see QuantileSketch)
  int best_concept = -1;     ///< index into concepts, -1 when every IoU is 0
  double iou = 0;            ///< IoU with best_concept
  bool detector = false;     ///< iou > iou_threshold
  /// (max activation over the map, image index), largest first, at most top_images.
  std::vector<std::pair<float, int64_t>> top_images;
};

struct Dissection {
  std::string layer;
  std::vector<Concept> concepts;
  std::vector<UnitDissection> units;  ///< one per channel, in channel order
  std::vector<double> iou;            ///< [units, concepts] row-major
  std::vector<int64_t> intersections, unions;  ///< the counts behind iou, same layout
  int64_t images = 0;  ///< images dissected (the dataset's, less the ones left out)
  /// Images left out (options.skip), of every process: (index, error), by index.
  std::vector<std::pair<int64_t, std::string>> skipped;
  /// This process's units (options.units; 0 without) and how many of them were loaded, not computed.
  int64_t units_here = 0, resumed_here = 0;
  int64_t passes = 0;
  double seconds = 0;  ///< wall time of all passes
};

/// Runs the passes above on `model` over `data`. Throws backlight::Error for an unknown layer
/// (listing module paths), a layer whose output is not [N, K, h, w], an empty dataset, options
/// out of range, images that are not 3-channel, masks whose size does not match their image's
/// mask resolution, or non-finite activations.
Dissection dissect(const Module& model, const ConceptSource& data, const DissectionOptions& options);

/// Number of detectors per category (categories in first-seen order of data.concepts()).
std::vector<std::pair<std::string, int64_t>> detectors_per_category(const Dissection& d);

/// The binarised, upsampled activation map M_k of one unit: `map` [h, w] bilinearly resized
/// (align_corners=False) to [out_h, out_w], then >= threshold. Row-major bytes (0/1).
std::vector<uint8_t> binarized_unit_map(std::span<const float> map, int64_t h, int64_t w, double threshold,
                                        int64_t out_h, int64_t out_w);

/// Bilinear resize of one [h, w] plane to [out_h, out_w] (align_corners=False, edges clamped;
/// PyTorch's F.interpolate(mode="bilinear") for upsampling), in double.
std::vector<double> resize_plane_bilinear(std::span<const float> plane, int64_t h, int64_t w, int64_t out_h,
                                          int64_t out_w);

/// The layer's output [N, K, h, w] for a batch of ConceptImages' images (resized and normalised
/// as `options` says). The montage uses it to redraw the top images' masks.
Tensor dissection_activations(const Module& model, std::span<const ConceptImage> images,
                              const DissectionOptions& options);

}  // namespace backlight
