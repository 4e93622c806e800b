#include "attribution/concepts/dissection.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>

#include "attribution/concepts/dissection_scan.h"
#include "attribution/concepts/quantile_sketch.h"
#include "attribution/core/layer_eval.h"
#include "engine/error.h"
#include "engine/parallel.h"
#include "engine/workspace.h"

namespace backlight {

namespace {

// Source rows/columns and weights of a bilinear resize along one axis (PyTorch's
// area_pixel_compute_source_index with align_corners=False, then clamped neighbours).
struct Axis {
  std::vector<int64_t> i0, i1;
  std::vector<double> w;
};

Axis bilinear_axis(int64_t in, int64_t out) {
  Axis a;
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  for (int64_t d = 0; d < out; ++d) {
    double src = (static_cast<double>(d) + 0.5) * scale - 0.5;
    if (src < 0) src = 0;
    const int64_t i0 = std::min<int64_t>(static_cast<int64_t>(src), in - 1);
    a.i0.push_back(i0);
    a.i1.push_back(std::min<int64_t>(i0 + 1, in - 1));
    a.w.push_back(src - static_cast<double>(i0));
  }
  return a;
}

inline double bilinear_at(const float* p, int64_t w, const Axis& ay, const Axis& ax, int64_t y, int64_t x) {
  const double wy = ay.w[y], wx = ax.w[x];
  const float* r0 = p + ay.i0[y] * w;
  const float* r1 = p + ay.i1[y] * w;
  const int64_t x0 = ax.i0[x], x1 = ax.i1[x];
  return (1 - wy) * ((1 - wx) * r0[x0] + wx * r0[x1]) + wy * ((1 - wx) * r1[x0] + wx * r1[x1]);
}

// M_k into `out` (out_h * out_w bytes); returns the number of pixels set. Rows whose two source
// rows stay below the threshold are skipped (a bilinear value never exceeds its corners).
int64_t binarize(const float* map, int64_t h, int64_t w, double t, const Axis& ay, const Axis& ax,
                 const std::vector<float>& row_max, uint8_t* out) {
  const int64_t oh = static_cast<int64_t>(ay.w.size()), ow = static_cast<int64_t>(ax.w.size());
  (void)h;
  int64_t n = 0;
  for (int64_t y = 0; y < oh; ++y) {
    uint8_t* o = out + y * ow;
    if (std::max(row_max[ay.i0[y]], row_max[ay.i1[y]]) < t) {
      std::fill(o, o + ow, uint8_t{0});
      continue;
    }
    for (int64_t x = 0; x < ow; ++x) {
      o[x] = bilinear_at(map, w, ay, ax, y, x) >= t ? 1 : 0;
      n += o[x];
    }
  }
  return n;
}

void keep_top(std::vector<std::pair<float, int64_t>>& top, float v, int64_t index, int64_t k) {
  if (k <= 0) return;
  if (static_cast<int64_t>(top.size()) == k && !(v > top.back().first)) return;
  top.emplace_back(v, index);
  std::stable_sort(top.begin(), top.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  if (static_cast<int64_t>(top.size()) > k) top.pop_back();
}

// Distributed pass 1: every process's sketches merged (bucket counts added) and top images
// merged by (activation desc, index asc) - the order keep_top produces over the whole stream.
void merge_pass1(const Reducer& red, std::vector<QuantileSketch>& sketches,
                 std::vector<std::vector<std::pair<float, int64_t>>>& tops, int64_t top_images) {
  std::string mine;
  for (size_t k = 0; k < sketches.size(); ++k) {
    const std::string s = sketches[k].to_bytes();
    pack_span(mine, std::span<const char>(s.data(), s.size()));
    std::vector<float> v;
    std::vector<int64_t> idx;
    for (const auto& [value, index] : tops[k]) v.push_back(value), idx.push_back(index);
    pack_span(mine, std::span<const float>(v));
    pack_span(mine, std::span<const int64_t>(idx));
  }
  const std::vector<std::string> parts = red.all_gather(mine);
  std::vector<QuantileSketch> merged;
  std::vector<std::vector<std::pair<float, int64_t>>> all(sketches.size());
  for (const std::string& part : parts) {
    Unpacker u(part);
    for (size_t k = 0; k < sketches.size(); ++k) {
      const std::vector<char> bytes = u.get_vector<char>();
      QuantileSketch s = QuantileSketch::from_bytes(std::string_view(bytes.data(), bytes.size()));
      if (merged.size() <= k) merged.push_back(std::move(s));
      else merged[k].merge(s);
      const std::vector<float> v = u.get_vector<float>();
      const std::vector<int64_t> idx = u.get_vector<int64_t>();
      for (size_t i = 0; i < v.size(); ++i) all[k].emplace_back(v[i], idx[i]);
    }
  }
  for (size_t k = 0; k < sketches.size(); ++k) {
    std::sort(all[k].begin(), all[k].end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    if (static_cast<int64_t>(all[k].size()) > top_images) all[k].resize(static_cast<size_t>(top_images));
  }
  sketches = std::move(merged);
  tops = std::move(all);
}

}  // namespace

std::vector<double> resize_plane_bilinear(std::span<const float> plane, int64_t h, int64_t w, int64_t out_h,
                                          int64_t out_w) {
  BL_CHECK(h >= 1 && w >= 1 && out_h >= 1 && out_w >= 1 && static_cast<int64_t>(plane.size()) == h * w,
           "resize_plane_bilinear: expected a [", h, ", ", w, "] plane (", h * w, " values) and an output of at least",
           " 1x1, got ", plane.size(), " values and ", out_h, "x", out_w);
  const Axis ay = bilinear_axis(h, out_h), ax = bilinear_axis(w, out_w);
  std::vector<double> out(static_cast<size_t>(out_h * out_w));
  for (int64_t y = 0; y < out_h; ++y)
    for (int64_t x = 0; x < out_w; ++x) out[static_cast<size_t>(y * out_w + x)] = bilinear_at(plane.data(), w, ay, ax, y, x);
  return out;
}

std::vector<uint8_t> binarized_unit_map(std::span<const float> map, int64_t h, int64_t w, double threshold,
                                        int64_t out_h, int64_t out_w) {
  BL_CHECK(h >= 1 && w >= 1 && out_h >= 1 && out_w >= 1 && static_cast<int64_t>(map.size()) == h * w,
           "binarized_unit_map: expected a [", h, ", ", w, "] map and an output of at least 1x1, got ", map.size(),
           " values and ", out_h, "x", out_w);
  const Axis ay = bilinear_axis(h, out_h), ax = bilinear_axis(w, out_w);
  std::vector<float> row_max(static_cast<size_t>(h));
  for (int64_t r = 0; r < h; ++r) row_max[r] = *std::max_element(map.begin() + r * w, map.begin() + (r + 1) * w);
  std::vector<uint8_t> out(static_cast<size_t>(out_h * out_w));
  binarize(map.data(), h, w, threshold, ay, ax, row_max, out.data());
  return out;
}

Tensor dissection_activations(const Module& model, std::span<const ConceptImage> images, const DissectionOptions& o) {
  BL_CHECK(!images.empty(), "dissection_activations: expected at least one image");
  Workspace ws;
  const Tensor x = dissection_input(images, o);
  return eval_layer(model, x, layer_op_index(model, x, o.layer, ws), ws).layer;
}

Dissection dissect(const Module& model, const ConceptSource& data, const DissectionOptions& o) {
  BL_CHECK(o.quantile > 0 && o.quantile < 1, "dissect: expected quantile in (0, 1), got ", o.quantile);
  BL_CHECK(o.iou_threshold >= 0 && o.iou_threshold < 1, "dissect: expected iou_threshold in [0, 1), got ",
           o.iou_threshold);
  BL_CHECK(o.batch >= 1 && o.top_images >= 0, "dissect: expected batch >= 1 and top_images >= 0, got ", o.batch,
           " and ", o.top_images);
  BL_CHECK(o.input_shape.size() == 3, "dissect: expected input_shape [C, H, W], got ", o.input_shape.size(),
           " values");
  BL_CHECK((o.mean.empty() || o.mean.size() == static_cast<size_t>(o.input_shape[0])) &&
               (o.std.empty() || o.std.size() == static_cast<size_t>(o.input_shape[0])),
           "dissect: expected one mean and std per input channel (", o.input_shape[0], ")");
  const int64_t n = data.size();
  BL_CHECK(n >= 1, "dissect: the dataset is empty");
  const auto start = std::chrono::steady_clock::now();
  const std::vector<Concept>& concepts = data.concepts();
  const int64_t nc = static_cast<int64_t>(concepts.size());

  Workspace ws;
  // The layer's shape from the first readable image, so a process without batches has it too.
  ConceptImage first;
  for (int64_t i = 0;; ++i) {
    try {
      first = data.load(i);
      break;
    } catch (const std::exception& e) {
      if (!o.skip) throw;
      BL_CHECK(i + 1 < n, "dissect: none of the ", n, " images could be read (the last: ", e.what(), ")");
    }
  }
  const Tensor first_input = dissection_input(std::span(&first, 1), o);
  const int op = layer_op_index(model, first_input, o.layer, ws);
  const Tensor probe = eval_layer(model, first_input, op, ws).layer;
  BL_CHECK(probe.dim() == 4, "dissect: layer '", o.layer, "' has output ", probe.shape().str(),
           ", expected [N, K, h, w] (a convolutional layer)");
  const Reducer* red = o.reducer;

  Dissection d;
  d.layer = o.layer;
  d.concepts = concepts;
  const int64_t k_units = probe.size(1), h = probe.size(2), w = probe.size(3);
  std::vector<QuantileSketch> sketches(static_cast<size_t>(k_units),
                                       QuantileSketch({.relative_accuracy = o.sketch_accuracy}));
  std::vector<std::vector<std::pair<float, int64_t>>> tops(static_cast<size_t>(k_units));
  DissectionScan scan(model, data, o, op, ws, k_units, h, w);

  // Pass 1: sketches and top images.
  scan.first_pass([&](const std::vector<int64_t>& index, const Tensor& a) {
    const int64_t b = a.size(0), plane = h * w;
    parallel_for(k_units, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t k = lo; k < hi; ++k)
        for (int64_t i = 0; i < b; ++i) {
          const float* p = a.data() + (i * k_units + k) * plane;
          sketches[k].add(std::span<const float>(p, static_cast<size_t>(plane)));
          keep_top(tops[k], *std::max_element(p, p + plane), index[static_cast<size_t>(i)], o.top_images);
        }
    });
  });
  d.passes = 1;
  d.skipped = scan.skipped();
  if (red) {
    merge_pass1(*red, sketches, tops, o.top_images);
    std::string mine;
    for (const auto& [i, error] : scan.skipped()) {
      pack(mine, i);
      pack_span(mine, std::span<const char>(error.data(), error.size()));
    }
    d.skipped.clear();
    for (const std::string& part : red->all_gather(mine)) {
      Unpacker u(part);
      while (!u.done()) {
        const int64_t i = u.get<int64_t>();
        const std::vector<char> e = u.get_vector<char>();
        d.skipped.emplace_back(i, std::string(e.begin(), e.end()));
      }
    }
    std::sort(d.skipped.begin(), d.skipped.end());
  }
  d.images = n - static_cast<int64_t>(d.skipped.size());
  BL_CHECK(d.images >= 1, "dissect: none of the ", n, " images could be read");

  const double p = 1.0 - o.quantile;
  std::vector<double> thresholds(static_cast<size_t>(k_units));
  d.units.resize(static_cast<size_t>(k_units));
  for (int64_t k = 0; k < k_units; ++k) {
    thresholds[k] = sketches[k].quantile(p);
    d.units[k].unit = k;
    d.units[k].threshold_bounded = sketches[k].bounded(p);
    d.units[k].top_images = tops[k];
  }

  if (o.exact) {  // Pass 2: the exact order statistic inside each unit's bucket.
    const int64_t total = d.images * h * w;
    const int64_t rank = quantile_rank(p, total);
    std::vector<BucketRange> ranges;
    for (const QuantileSketch& s : sketches) ranges.push_back(s.quantile_range(p));
    std::vector<int64_t> below(static_cast<size_t>(k_units), 0);
    std::vector<std::vector<float>> inside(static_cast<size_t>(k_units));
    Progress progress("dissect (exact)", scan.mine(), o.progress);
    for (size_t m = 0; m < scan.batches(); ++m) {
      if (scan.kept(m).empty()) continue;
      std::vector<ConceptImage> images;
      const Tensor a = scan.activations(m, images);
      const int64_t b = a.size(0), plane = h * w;
      parallel_for(k_units, 1, [&](int64_t lo, int64_t hi) {
        for (int64_t k = lo; k < hi; ++k)
          for (int64_t i = 0; i < b; ++i) {
            const float* q = a.data() + (i * k_units + k) * plane;
            for (int64_t j = 0; j < plane; ++j) {
              if (q[j] < ranges[k].lo) ++below[k];
              else if (q[j] <= ranges[k].hi) inside[k].push_back(q[j]);
            }
          }
      });
      progress.advance(b);
    }
    progress.finish();
    if (red) {  // counts below add up; the values inside the bucket are gathered (few: one bucket's)
      below = red->sum(std::span<const int64_t>(below));
      std::string mine;
      for (const std::vector<float>& v : inside) pack_span(mine, std::span<const float>(v));
      std::vector<std::vector<float>> all(static_cast<size_t>(k_units));
      for (const std::string& part : red->all_gather(mine)) {
        Unpacker u(part);
        for (int64_t k = 0; k < k_units; ++k) {
          const std::vector<float> v = u.get_vector<float>();
          all[k].insert(all[k].end(), v.begin(), v.end());
        }
      }
      inside = std::move(all);
    }
    for (int64_t k = 0; k < k_units; ++k) {
      const int64_t r = rank - below[k];
      BL_CHECK(r >= 1 && r <= static_cast<int64_t>(inside[k].size()), "dissect: internal error: unit ", k,
               " has its quantile outside the sketch's bucket (rank ", r, " of ", inside[k].size(), ")");
      std::nth_element(inside[k].begin(), inside[k].begin() + (r - 1), inside[k].end());
      thresholds[k] = inside[k][static_cast<size_t>(r - 1)];
      d.units[k].threshold_bounded = true;
    }
    d.passes += 1;
  }
  for (int64_t k = 0; k < k_units; ++k) d.units[k].threshold = thresholds[k];

  // Last pass: intersection and union counts, per batch (unit "iou-<j>"), added in any order
  // (integers).
  std::vector<int64_t> act_count(static_cast<size_t>(k_units), 0), mask_count(static_cast<size_t>(nc), 0);
  d.intersections.assign(static_cast<size_t>(k_units * nc), 0);
  Progress progress("dissect (IoU)", scan.mine(), o.progress);
  for (size_t m = 0; m < scan.batches(); ++m) {
    if (scan.kept(m).empty()) continue;
    const std::string key = o.units ? o.units->key("iou", scan.batch_number(m)) : std::string();
    std::vector<int64_t> acts, masks, inters;
    bool have = false;
    if (o.units) {
      ++scan.units;
      if (const std::optional<std::string> bytes = o.units->load(key)) {
        try {
          Unpacker u(*bytes);
          acts = u.get_vector<int64_t>(), masks = u.get_vector<int64_t>(), inters = u.get_vector<int64_t>();
          have = u.done() && static_cast<int64_t>(acts.size()) == k_units && static_cast<int64_t>(masks.size()) == nc &&
                 static_cast<int64_t>(inters.size()) == k_units * nc;
        } catch (const Error&) {
          have = false;
        }
        if (!have) o.units->discard(key);  // not this job's layout: computed again
        scan.resumed += have;
      }
    }
    if (!have) {
      if (o.units && d.skipped.empty()) o.units->begin(key);
      acts.assign(static_cast<size_t>(k_units), 0), masks.assign(static_cast<size_t>(nc), 0);
      inters.assign(static_cast<size_t>(k_units * nc), 0);
      std::vector<ConceptImage> images = scan.images(m);
      const Tensor a = scan.activations(m, images);
      const int64_t b = a.size(0), plane = h * w;
      for (int64_t i = 0; i < b; ++i) {
        const ConceptImage& im = images[static_cast<size_t>(i)];
        const int64_t mh = im.mask_height, mw = im.mask_width;
        BL_CHECK(mh >= 1 && mw >= 1, "dissect: image '", im.name, "' has mask resolution ", mh, "x", mw);
        for (const auto& [c, mask] : im.masks) {
          BL_CHECK(c >= 0 && c < nc && static_cast<int64_t>(mask.size()) == mh * mw, "dissect: image '", im.name,
                   "': mask of concept ", c, " has ", mask.size(), " pixels, expected ", mh, "x", mw,
                   " (and a concept index below ", nc, ")");
          for (uint8_t v : mask) masks[c] += v != 0;
        }
        const Axis ay = bilinear_axis(h, mh), ax = bilinear_axis(w, mw);
        parallel_for(k_units, 1, [&](int64_t lo, int64_t hi) {
          std::vector<uint8_t> bin(static_cast<size_t>(mh * mw));
          std::vector<float> row_max(static_cast<size_t>(h));
          for (int64_t k = lo; k < hi; ++k) {
            const float* q = a.data() + (i * k_units + k) * plane;
            for (int64_t r = 0; r < h; ++r) row_max[r] = *std::max_element(q + r * w, q + (r + 1) * w);
            if (*std::max_element(row_max.begin(), row_max.end()) < thresholds[k]) continue;
            const int64_t on = binarize(q, h, w, thresholds[k], ay, ax, row_max, bin.data());
            if (on == 0) continue;
            acts[k] += on;
            for (const auto& [c, mask] : im.masks) {
              int64_t inter = 0;
              for (size_t j = 0; j < bin.size(); ++j) inter += bin[j] & (mask[j] != 0);
              inters[k * nc + c] += inter;
            }
          }
        });
      }
      if (o.units && d.skipped.empty()) {  // the thresholds are the whole dataset's
        std::string bytes;
        pack_span(bytes, std::span<const int64_t>(acts));
        pack_span(bytes, std::span<const int64_t>(masks));
        pack_span(bytes, std::span<const int64_t>(inters));
        o.units->store(key, bytes);
      }
    }
    for (int64_t k = 0; k < k_units; ++k) act_count[k] += acts[k];
    for (int64_t c = 0; c < nc; ++c) mask_count[c] += masks[c];
    for (int64_t q = 0; q < k_units * nc; ++q) d.intersections[q] += inters[q];
    progress.advance(static_cast<int64_t>(scan.kept(m).size()));
  }
  progress.finish();
  d.passes += 1;
  d.units_here = scan.units, d.resumed_here = scan.resumed;
  if (red) {
    act_count = red->sum(std::span<const int64_t>(act_count));
    mask_count = red->sum(std::span<const int64_t>(mask_count));
    d.intersections = red->sum(std::span<const int64_t>(d.intersections));
  }

  d.iou.assign(static_cast<size_t>(k_units * nc), 0.0);
  d.unions.assign(static_cast<size_t>(k_units * nc), 0);
  for (int64_t k = 0; k < k_units; ++k) {
    UnitDissection& u = d.units[k];
    for (int64_t c = 0; c < nc; ++c) {
      const int64_t inter = d.intersections[k * nc + c];
      const int64_t uni = act_count[k] + mask_count[c] - inter;
      d.unions[k * nc + c] = uni;
      const double iou = uni > 0 ? static_cast<double>(inter) / static_cast<double>(uni) : 0.0;
      d.iou[k * nc + c] = iou;
      if (iou > u.iou) u.iou = iou, u.best_concept = static_cast<int>(c);
    }
    u.detector = u.best_concept >= 0 && u.iou > o.iou_threshold;
  }
  d.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return d;
}

std::vector<std::pair<std::string, int64_t>> detectors_per_category(const Dissection& d) {
  std::vector<std::pair<std::string, int64_t>> out;
  for (const Concept& c : d.concepts) {
    bool seen = false;
    for (const auto& [cat, n] : out) seen |= cat == c.category;
    if (!seen) out.emplace_back(c.category, 0);
  }
  for (const UnitDissection& u : d.units)
    if (u.detector)
      for (auto& [cat, n] : out)
        if (cat == d.concepts[static_cast<size_t>(u.best_concept)].category) ++n;
  return out;
}

}  // namespace backlight
