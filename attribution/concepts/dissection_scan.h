#pragma once
/// The batches one process of a dissection scans (attribution/concepts/dissection.h): batch j
/// (images j * batch ..) when owns_batch(reducer, j); which images of each pass 1 could read
/// (options.skip leaves the others out); and the units kept for resume (options.units):
/// "acts-<j>", batch j's layer activations with its images' indices, read back by the later
/// passes instead of a second forward. Internal to dissection.cpp.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "attribution/concepts/dissection.h"
#include "engine/workspace.h"

namespace backlight {

/// The model input [b, C, H, W] for images: resized bilinearly to options.input_shape and
/// normalised with options.mean/std. Throws for an image that is not [C, H, W].
Tensor dissection_input(std::span<const ConceptImage> images, const DissectionOptions& o);

class DissectionScan {
 public:
  /// `op` is the layer's op index; K, h, w its output's shape (checked on every batch).
  DissectionScan(const Module& model, const ConceptSource& data, const DissectionOptions& o, int op,
                 const Workspace& ws, int64_t k_units, int64_t h, int64_t w);

  size_t batches() const { return batches_.size(); }        ///< this process's
  int64_t batch_number(size_t m) const { return batches_[m]; }  ///< j of the m-th
  int64_t mine() const { return mine_; }                    ///< images in this process's batches
  /// The images pass 1 read of batch m (indices into the dataset).
  const std::vector<int64_t>& kept(size_t m) const { return kept_[m]; }
  /// Whether pass 1 read every image of batch m (only then are its units stored).
  bool complete(size_t m) const { return complete_[m] != 0; }
  /// Images this process left out: (index, error).
  const std::vector<std::pair<int64_t, std::string>>& skipped() const { return skipped_; }
  int64_t units = 0, resumed = 0;  ///< this process's units and those loaded from options.units

  /// Pass 1: fn(image indices, activations [b, K, h, w]) per batch with a readable image, from
  /// unit "acts-<j>" or computed (then stored when no image was left out).
  void first_pass(const std::function<void(const std::vector<int64_t>&, const Tensor&)>& fn);
  /// The images pass 1 read for batch m, loaded again (a failure now throws: they were readable).
  std::vector<ConceptImage> images(size_t m) const;
  /// Batch m's activations in a later pass: read back from the store, else a forward of `images`
  /// (loaded here when empty).
  Tensor activations(size_t m, std::vector<ConceptImage>& images) const;

 private:
  int64_t size_of(int64_t j) const { return std::min(o_.batch, data_.size() - j * o_.batch); }
  Tensor forward(std::span<const ConceptImage> images) const;
  Tensor stored_activations(int64_t j, std::vector<int64_t>* idx) const;

  const Module& model_;
  const ConceptSource& data_;
  const DissectionOptions& o_;
  int op_;
  const Workspace& ws_;
  int64_t k_, h_, w_;
  std::vector<int64_t> batches_;
  int64_t mine_ = 0;
  std::vector<std::vector<int64_t>> kept_;
  std::vector<char> complete_;
  std::vector<std::pair<int64_t, std::string>> skipped_;
};

}  // namespace backlight
