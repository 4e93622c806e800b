#include "tools/cli/concept_data.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/error.h"
#include "io/image_io.h"
#include "io/npy.h"
#include "models/default_model.h"

namespace backlight::cli {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> out(1);
  for (char ch : line) {
    if (ch == ',') out.emplace_back();
    else if (ch != '\r') out.back() += ch;
  }
  return out;
}

std::vector<uint8_t> read_mask(const std::string& path, int64_t max_pixels, int64_t& h, int64_t& w) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  Tensor t;
  bool npy = ext == ".npy";
  if (npy) {
    t = load_npy(path);
    BL_CHECK(t.dim() == 2 || (t.dim() == 3 && t.size(0) == 1), "dissect: mask '", path, "' has shape ",
             t.shape().str(), ", expected [H, W] or [1, H, W]");
  } else {
    t = load_image(path, max_pixels);
  }
  h = t.size(t.dim() - 2), w = t.size(t.dim() - 1);
  std::vector<uint8_t> m(static_cast<size_t>(h * w));
  for (int64_t j = 0; j < h * w; ++j) m[j] = npy ? t.data()[j] != 0.0f : t.data()[j] >= 0.5f;
  return m;
}

}  // namespace

FolderConcepts::FolderConcepts(std::string dir, int64_t max_pixels) : dir_(std::move(dir)), max_pixels_(max_pixels) {
  std::error_code ec;
  BL_CHECK(fs::is_directory(dir_, ec), "dissect: --data '", dir_, "' is not a folder (expected a folder with ",
           "index.csv, or builtin:shapes)");
  const std::string index = (fs::path(dir_) / "index.csv").string();
  std::ifstream in(index);
  BL_CHECK(in.good(), "dissect: cannot read '", index, "' (a concept-mask dataset needs index.csv: see ",
           "docs/concepts.md)");
  std::string line;
  std::getline(in, line);
  const std::vector<std::string> header = split_csv(line);
  BL_CHECK((header == std::vector<std::string>{"image", "mask", "concept", "category"}), "dissect: '", index,
           "' line 1: expected the header 'image,mask,concept,category', got '", line, "'");
  for (int64_t no = 2; std::getline(in, line); ++no) {
    if (line.empty() || line == "\r") continue;
    const std::vector<std::string> f = split_csv(line);
    BL_CHECK(f.size() == 4 && !f[0].empty(), "dissect: '", index, "' line ", no,
             ": expected 4 fields 'image,mask,concept,category' with an image, got '", line, "'");
    auto it = std::find_if(images_.begin(), images_.end(), [&](const Entry& e) { return e.image == f[0]; });
    if (it == images_.end()) it = images_.insert(images_.end(), Entry{f[0], {}});
    if (f[1].empty() && f[2].empty() && f[3].empty()) continue;
    BL_CHECK(!f[1].empty() && !f[2].empty() && !f[3].empty(), "dissect: '", index, "' line ", no,
             ": a mask row needs mask, concept and category (or all three empty), got '", line, "'");
    int c = -1;
    for (size_t j = 0; j < concepts_.size(); ++j)
      if (concepts_[j].name == f[2]) c = static_cast<int>(j);
    if (c < 0) {
      c = static_cast<int>(concepts_.size());
      concepts_.push_back({f[2], f[3]});
    }
    BL_CHECK(concepts_[static_cast<size_t>(c)].category == f[3], "dissect: '", index, "' line ", no, ": concept '",
             f[2], "' has category '", f[3], "' here but '", concepts_[static_cast<size_t>(c)].category,
             "' earlier");
    it->masks.emplace_back(c, f[1]);
  }
  BL_CHECK(!images_.empty(), "dissect: '", index, "' lists no images");
  BL_CHECK(!concepts_.empty(), "dissect: '", index, "' lists no masks (no concepts to compare units with)");
}

std::vector<std::string> FolderConcepts::files(int64_t i) const {
  const Entry& e = images_.at(static_cast<size_t>(i));
  std::vector<std::string> out{(fs::path(dir_) / e.image).string()};
  for (const auto& [c, mask] : e.masks) out.push_back((fs::path(dir_) / mask).string());
  return out;
}

ConceptImage FolderConcepts::load(int64_t i) const {
  const Entry& e = images_.at(static_cast<size_t>(i));
  ConceptImage out;
  out.name = e.image;
  out.image = load_image((fs::path(dir_) / e.image).string(), max_pixels_);
  BL_CHECK(out.image.size(0) == 3, "dissect: '", e.image, "' has ", out.image.size(0), " channels, expected RGB");
  out.mask_height = out.image.size(1), out.mask_width = out.image.size(2);
  for (size_t j = 0; j < e.masks.size(); ++j) {
    int64_t h = 0, w = 0;
    const std::string path = (fs::path(dir_) / e.masks[j].second).string();
    std::vector<uint8_t> m = read_mask(path, max_pixels_, h, w);
    if (j == 0) out.mask_height = h, out.mask_width = w;
    BL_CHECK(h == out.mask_height && w == out.mask_width, "dissect: mask '", e.masks[j].second, "' of image '",
             e.image, "' is ", h, "x", w, ", but its first mask is ", out.mask_height, "x", out.mask_width,
             " (the masks of one image share one resolution)");
    // Two rows of one concept on one image: their union.
    auto same = std::find_if(out.masks.begin(), out.masks.end(), [&](const auto& p) { return p.first == e.masks[j].first; });
    if (same != out.masks.end()) {
      for (size_t p = 0; p < m.size(); ++p) same->second[p] |= m[p];
    } else {
      out.masks.emplace_back(e.masks[j].first, std::move(m));
    }
  }
  return out;
}

std::string hue_name(float r, float g, float b) {
  const float mx = std::max({r, g, b}), mn = std::min({r, g, b}), d = mx - mn;
  float hue = 0;
  if (d > 0) {
    if (mx == r) hue = 60.0f * std::fmod((g - b) / d + 6.0f, 6.0f);
    else if (mx == g) hue = 60.0f * ((b - r) / d + 2.0f);
    else hue = 60.0f * ((r - g) / d + 4.0f);
  }
  static const char* names[6] = {"red", "yellow", "green", "cyan", "blue", "magenta"};
  return names[static_cast<int>(std::lround(hue / 60.0f)) % 6];
}

namespace {
constexpr const char* kShapeColours[6] = {"red", "yellow", "green", "cyan", "blue", "magenta"};
}

ShapesConcepts::ShapesConcepts(int64_t count, int64_t height, int64_t width)
    : count_(count), config_{.height = height, .width = width} {
  BL_CHECK(count >= 1, "dissect: expected at least one shapes image, got ", count);
  for (std::string_view n : kShapeClassNames) concepts_.push_back({std::string(n), "object"});
  concepts_.push_back({"outline", "part"});
  for (const char* n : kShapeColours) concepts_.push_back({n, "colour"});
  concepts_.push_back({"noise", "texture"});
  concepts_.push_back({"stripes", "texture"});
}

std::string ShapesConcepts::name(int64_t i) const { return "shapes:" + std::to_string(kShapesHeldOutBegin + i); }

ConceptImage ShapesConcepts::load(int64_t i) const {
  BL_CHECK(i >= 0 && i < count_, "ShapesConcepts::load: index ", i, " outside [0, ", count_, ")");
  const ShapesSample s = make_shapes_sample(config_, kShapesCnnDataSeed, kShapesHeldOutBegin + i);
  const int64_t h = config_.height, w = config_.width;
  const std::vector<int32_t> owner = shapes_owner_map(config_, s);
  ConceptImage out;
  out.name = name(i);
  out.image = s.image;
  out.mask_height = h, out.mask_width = w;
  std::vector<std::vector<uint8_t>> m(concepts_.size(), std::vector<uint8_t>(static_cast<size_t>(h * w), 0));
  std::vector<int> colour(s.shapes.size());
  for (size_t j = 0; j < s.shapes.size(); ++j) {
    const auto& c = s.shapes[j].color;
    const std::string name = hue_name(c[0], c[1], c[2]);
    for (int q = 0; q < 6; ++q)
      if (name == kShapeColours[q]) colour[j] = 5 + q;
  }
  const int texture = s.background == ShapesBackground::Noise ? 11 : 12;
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      const size_t p = static_cast<size_t>(y * w + x);
      const int32_t o = owner[p];
      if (o < 0) {
        m[texture][p] = 1;
        continue;
      }
      m[static_cast<size_t>(s.shapes[o].kind)][p] = 1;
      m[static_cast<size_t>(colour[o])][p] = 1;
      const bool edge = y == 0 || x == 0 || y == h - 1 || x == w - 1 || owner[p - 1] != o || owner[p + 1] != o ||
                        owner[p - w] != o || owner[p + w] != o;
      if (edge) m[4][p] = 1;
    }
  for (size_t c = 0; c < m.size(); ++c)
    if (std::any_of(m[c].begin(), m[c].end(), [](uint8_t v) { return v != 0; }))
      out.masks.emplace_back(static_cast<int>(c), std::move(m[c]));
  return out;
}

}  // namespace backlight::cli
