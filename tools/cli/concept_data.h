#pragma once
/// Concept-mask datasets for network dissection (attribution/concepts/dissection.h), read one
/// image at a time:
///
///   FolderConcepts  DIR/index.csv naming images, masks, concepts and categories (the format is
///                   documented in docs/concepts.md, "Concept-mask datasets");
///   ShapesConcepts  the built-in shapes dataset (models/data/shapes.h) with masks derived from
///                   its drawn shapes: object (circle, square, triangle, cross: every drawn shape
///                   of that kind), part (outline: shape pixels next to another shape or the
///                   background), colour (red, yellow, green, cyan, blue, magenta: a shape's
///                   pixels by the hue of its colour, 60-degree bins) and texture (noise, stripes:
///                   the background's pixels by its kind). No scene concepts.
#include <cstdint>
#include <string>
#include <vector>

#include "attribution/concepts/dissection.h"
#include "models/data/shapes.h"

namespace backlight::cli {

/// DIR/index.csv: header `image,mask,concept,category`, then one row per (image, mask); an image
/// without masks has one row with the last three fields empty. Paths are relative to DIR (no
/// commas); masks are PNG (inside where the first channel >= 0.5) or float32 .npy [H, W] or
/// [1, H, W] (inside where nonzero); all masks of one image share one resolution. Images keep the
/// order of their first row. Throws backlight::Error naming the file and line for malformed rows,
/// a concept listed under two categories, or a missing index.
class FolderConcepts : public ConceptSource {
 public:
  explicit FolderConcepts(std::string dir, int64_t max_pixels);
  const std::vector<Concept>& concepts() const override { return concepts_; }
  int64_t size() const override { return static_cast<int64_t>(images_.size()); }
  ConceptImage load(int64_t i) const override;
  std::string name(int64_t i) const override { return images_.at(static_cast<size_t>(i)).image; }
  /// The files image i reads (the image, then its masks), as paths (for resume keys).
  std::vector<std::string> files(int64_t i) const;

 private:
  struct Entry {
    std::string image;
    std::vector<std::pair<int, std::string>> masks;  ///< concept index, path
  };
  std::string dir_;
  int64_t max_pixels_;
  std::vector<Concept> concepts_;
  std::vector<Entry> images_;
};

/// `count` held-out images of the shapes dataset (seed kShapesCnnDataSeed from index
/// kShapesHeldOutBegin), generated at height x width; masks at the image resolution.
class ShapesConcepts : public ConceptSource {
 public:
  ShapesConcepts(int64_t count, int64_t height, int64_t width);
  const std::vector<Concept>& concepts() const override { return concepts_; }
  int64_t size() const override { return count_; }
  ConceptImage load(int64_t i) const override;
  std::string name(int64_t i) const override;

 private:
  int64_t count_;
  ShapesConfig config_;
  std::vector<Concept> concepts_;
};

/// The colour concept of an RGB colour: "red", "yellow", "green", "cyan", "blue" or "magenta"
/// (hue to the nearest multiple of 60 degrees).
std::string hue_name(float r, float g, float b);

}  // namespace backlight::cli
