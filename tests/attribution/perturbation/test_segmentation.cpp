// Superpixel segmentations: grid cells, SLIC follows colour edges, ids compact and connected.
#include <set>

#include "attribution/perturbation/segmentation.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

namespace {

std::set<float> distinct(const Tensor& t) { return {t.data(), t.data() + t.numel()}; }

// Every id forms one 4-connected region.
bool connected(const Tensor& ids) {
  const int64_t h = ids.size(0), w = ids.size(1);
  for (float id : distinct(ids)) {
    std::vector<char> seen(h * w, 0);
    std::vector<int64_t> stack;
    int64_t count = 0, first = -1;
    for (int64_t p = 0; p < h * w; ++p)
      if (ids.data()[p] == id) ++count, first = first < 0 ? p : first;
    stack.push_back(first);
    seen[first] = 1;
    int64_t reached = 0;
    while (!stack.empty()) {
      const int64_t p = stack.back();
      stack.pop_back();
      ++reached;
      const int64_t y = p / w, x = p % w;
      for (int64_t q : {x > 0 ? p - 1 : -1, x + 1 < w ? p + 1 : -1, y > 0 ? p - w : -1, y + 1 < h ? p + w : -1})
        if (q >= 0 && !seen[q] && ids.data()[q] == id) seen[q] = 1, stack.push_back(q);
    }
    if (reached != count) return false;
  }
  return true;
}

}  // namespace

TEST_SUITE("attribution") {
  TEST_CASE("grid_segments: about the requested number of cells, ids 0..K-1") {
    const Tensor g = grid_segments(10, 20, 8);  // rows round(sqrt(8 * 10 / 20)) = 2, cols 4
    CHECK(distinct(g).size() == 8);
    CHECK(g.at({0, 0}) == 0.0f);
    CHECK(g.at({9, 19}) == 7.0f);
    CHECK(g.at({5, 0}) == 4.0f);
    CHECK(connected(g));
    CHECK(distinct(grid_segments(3, 3, 100)).size() == 9);  // at most one cell per pixel
  }

  TEST_CASE("slic_segments: superpixels follow a colour edge, are connected and numbered compactly") {
    // 3 x 24 x 30 image: left part red-ish, right part blue-ish, boundary at x = 13, some noise.
    std::mt19937_64 rng(kSeed);
    Tensor img = uniform({3, 24, 30}, rng, 0.0f, 0.05f);
    for (int64_t y = 0; y < 24; ++y)
      for (int64_t x = 0; x < 30; ++x) img.data()[(x < 13 ? 0 : 2) * 720 + y * 30 + x] += 1.0f;
    const Tensor ids = slic_segments(img, {.segments = 12});
    const std::set<float> d = distinct(ids);
    CHECK(d.size() >= 6);
    CHECK(*d.rbegin() == static_cast<float>(d.size() - 1));
    CHECK(connected(ids));
    // No superpixel straddles the edge.
    for (float id : d) {
      bool left = false, right = false;
      for (int64_t p = 0; p < 720; ++p)
        if (ids.data()[p] == id) (p % 30 < 13 ? left : right) = true;
      CHECK_FALSE((left && right));
    }
    BL_CHECK_CLOSE(slic_segments(img, {.segments = 12}), ids, 0.0, 0.0);  // deterministic
  }

  TEST_CASE("segment_images: one mask per image, shared by the channels") {
    std::mt19937_64 rng(kSeed);
    const Tensor imgs = uniform({2, 3, 12, 12}, rng);
    const Tensor m = segment_images(imgs, Segmentation::Grid, {.segments = 4});
    CHECK(m.shape() == Shape({2, 1, 12, 12}));
    CHECK(distinct(m).size() == 4);
    CHECK(segment_images(imgs, Segmentation::Slic, {.segments = 9}).shape() == Shape({2, 1, 12, 12}));
    CHECK(parse_segmentation("slic") == Segmentation::Slic);
    CHECK_THROWS_WITH_AS(parse_segmentation("quickshift"), doctest::Contains("unknown segmentation 'quickshift'"),
                         backlight::Error);
  }

}  // TEST_SUITE("attribution")
