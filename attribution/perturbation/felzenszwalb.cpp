#include "attribution/perturbation/felzenszwalb.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "engine/error.h"

namespace backlight {

namespace detail {

// A product the compiler may not fuse into an FMA (the build uses -march=native; numpy's and
// scipy's loops round the product first). A safeguard: a fused build still matched the fixtures,
// but a last-bit change in a weight can reorder near-tied edges.
double unfused_mul(double a, double b) {
  double p = a * b;
  __asm__ volatile("" : "+x"(p));
  return p;
}

double pairwise_sum(const double* a, int64_t n) {
  if (n < 8) {
    double res = 0.0;
    for (int64_t i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (int j = 0; j < 8; ++j) r[j] = a[j];
    int64_t i = 8;
    for (; i < n - (n % 8); i += 8)
      for (int j = 0; j < 8; ++j) r[j] += a[i + j];
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  int64_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

namespace {

// numpy's `less` for doubles: NaNs sort last.
bool less(double a, double b) { return a < b || (b != b && a == a); }

void aheapsort(const double* v, int64_t* tosort, int64_t n) {
  int64_t* a = tosort - 1;  // 1-based heap indexing as numpy
  int64_t i, j, l, tmp;
  for (l = n >> 1; l > 0; --l) {
    tmp = a[l];
    for (i = l, j = l << 1; j <= n;) {
      if (j < n && less(v[a[j]], v[a[j + 1]])) j += 1;
      if (less(v[tmp], v[a[j]])) {
        a[i] = a[j];
        i = j;
        j += j;
      } else {
        break;
      }
    }
    a[i] = tmp;
  }
  for (; n > 1;) {
    tmp = a[n];
    a[n] = a[1];
    n -= 1;
    for (i = 1, j = 2; j <= n;) {
      if (j < n && less(v[a[j]], v[a[j + 1]])) j++;
      if (less(v[tmp], v[a[j]])) {
        a[i] = a[j];
        i = j;
        j += j;
      } else {
        break;
      }
    }
    a[i] = tmp;
  }
}

int msb(uint64_t n) {
  int depth = 0;
  while (n >>= 1) ++depth;
  return depth;
}

}  // namespace

std::vector<int64_t> numpy_argsort(const std::vector<double>& values) {
  const int64_t num = static_cast<int64_t>(values.size());
  std::vector<int64_t> order(values.size());
  for (int64_t i = 0; i < num; ++i) order[i] = i;
  if (num < 2) return order;
  // A transcription of numpy/core/src/npysort/quicksort.cpp aquicksort_ (numpy 1.24).
  constexpr int64_t kSmallQuicksort = 15;
  const double* v = values.data();
  int64_t* pl = order.data();
  int64_t* pr = pl + num - 1;
  std::vector<int64_t*> stack;
  std::vector<int> depth;
  int cdepth = msb(static_cast<uint64_t>(num)) * 2;
  for (;;) {
    if (cdepth < 0) {
      aheapsort(v, pl, pr - pl + 1);
    } else {
      while ((pr - pl) > kSmallQuicksort) {
        int64_t* pm = pl + ((pr - pl) >> 1);
        if (less(v[*pm], v[*pl])) std::swap(*pm, *pl);
        if (less(v[*pr], v[*pm])) std::swap(*pr, *pm);
        if (less(v[*pm], v[*pl])) std::swap(*pm, *pl);
        const double vp = v[*pm];
        int64_t* pi = pl;
        int64_t* pj = pr - 1;
        std::swap(*pm, *pj);
        for (;;) {
          do ++pi;
          while (less(v[*pi], vp));
          do --pj;
          while (less(vp, v[*pj]));
          if (pi >= pj) break;
          std::swap(*pi, *pj);
        }
        std::swap(*pi, *(pr - 1));
        if (pi - pl < pr - pi) {  // push the larger partition
          stack.push_back(pi + 1);
          stack.push_back(pr);
          pr = pi - 1;
        } else {
          stack.push_back(pl);
          stack.push_back(pi - 1);
          pl = pi + 1;
        }
        depth.push_back(--cdepth);
      }
      for (int64_t* pi = pl + 1; pi <= pr; ++pi) {  // insertion sort
        const int64_t vi = *pi;
        const double vp = v[vi];
        int64_t* pj = pi;
        int64_t* pk = pi - 1;
        while (pj > pl && less(vp, v[*pk])) *pj-- = *pk--;
        *pj = vi;
      }
    }
    if (stack.empty()) break;
    pr = stack.back();
    stack.pop_back();
    pl = stack.back();
    stack.pop_back();
    cdepth = depth.back();
    depth.pop_back();
  }
  return order;
}

std::vector<double> scipy_gaussian_kernel(double sigma, int radius) {
  std::vector<double> phi(2 * radius + 1);
  const double c = -0.5 / (sigma * sigma);
  for (int x = -radius; x <= radius; ++x) phi[x + radius] = std::exp(c * static_cast<double>(x * x));
  const double sum = pairwise_sum(phi.data(), static_cast<int64_t>(phi.size()));
  for (double& p : phi) p /= sum;
  return phi;
}

}  // namespace detail

namespace {

// scipy.ndimage mode 'reflect' (d c b a | a b c d | d c b a).
int64_t reflect(int64_t i, int64_t n) {
  if (n == 1) return 0;
  const int64_t period = 2 * n;
  i %= period;
  if (i < 0) i += period;
  return i < n ? i : period - 1 - i;
}

// scipy correlate1d with a symmetric kernel along a strided line: w0 x0 + sum_{j=r..1} (x_-j + x_j) w_j.
void smooth_line(const double* in, double* out, int64_t n, int64_t stride, const std::vector<double>& w, int r,
                 std::vector<double>& line) {
  line.resize(n + 2 * r);
  for (int64_t i = -r; i < n + r; ++i) line[i + r] = in[reflect(i, n) * stride];
  for (int64_t i = 0; i < n; ++i) {
    const double* x = line.data() + i + r;
    double acc = detail::unfused_mul(x[0], w[r]);
    for (int j = -r; j < 0; ++j) acc += detail::unfused_mul(x[j] + x[-j], w[r + j]);
    out[i * stride] = acc;
  }
}

int64_t find_root(const std::vector<int64_t>& forest, int64_t n) {
  while (forest[n] < n) n = forest[n];
  return n;
}

void set_root(std::vector<int64_t>& forest, int64_t n, int64_t root) {
  while (forest[n] < n) {
    const int64_t j = forest[n];
    forest[n] = root;
    n = j;
  }
  forest[n] = root;
}

// skimage.measure._ccomp.join_trees: both paths point to the smaller root.
void join_trees(std::vector<int64_t>& forest, int64_t n, int64_t m) {
  if (n == m) return;
  const int64_t root = std::min(find_root(forest, n), find_root(forest, m));
  set_root(forest, n, root);
  set_root(forest, m, root);
}

}  // namespace

Tensor felzenszwalb_segments(const Tensor& image, const FelzenszwalbOptions& options) {
  BL_CHECK(image.shape().rank() == 3 && image.shape()[0] >= 1 && image.shape()[1] >= 1 && image.shape()[2] >= 1,
           "felzenszwalb_segments: expected an image [C, H, W], got ", image.shape());
  BL_CHECK(options.scale > 0 && options.sigma >= 0 && options.min_size >= 0,
           "felzenszwalb_segments: expected scale > 0, sigma >= 0, min_size >= 0, got scale ", options.scale,
           ", sigma ", options.sigma, ", min_size ", options.min_size);
  BL_CHECK(!image.is_cuda(), "felzenszwalb_segments: expected a host tensor, got a CUDA tensor");
  const Tensor& host = image;
  const int64_t c = image.shape()[0], h = image.shape()[1], w = image.shape()[2];
  const int64_t hw = h * w;
  // Pixel-major copy [H, W, C] in double (skimage works on channel-last float64).
  std::vector<double> im(hw * c);
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t p = 0; p < hw; ++p) im[p * c + ch] = host.data()[ch * hw + p];
  if (options.sigma > 1e-15) {  // scipy skips axes whose sigma is ~0
    const int r = static_cast<int>(4.0 * options.sigma + 0.5);
    const std::vector<double> k = detail::scipy_gaussian_kernel(options.sigma, r);
    std::vector<double> tmp(im.size()), line;
    for (int64_t x = 0; x < w; ++x)  // axis 0 (rows) first, as gaussian_filter
      for (int64_t ch = 0; ch < c; ++ch) smooth_line(&im[x * c + ch], &tmp[x * c + ch], h, w * c, k, r, line);
    for (int64_t y = 0; y < h; ++y)
      for (int64_t ch = 0; ch < c; ++ch)
        smooth_line(&tmp[y * w * c + ch], &im[y * w * c + ch], w, c, k, r, line);
  }
  // Edges in skimage's order: right, down, down-right, up-right; pairs (a, b) as it stores them.
  std::vector<std::pair<int64_t, int64_t>> edges;
  std::vector<double> costs;
  edges.reserve(4 * hw);
  costs.reserve(4 * hw);
  std::vector<double> sq(c);
  auto add = [&](int64_t a, int64_t b) {
    for (int64_t ch = 0; ch < c; ++ch) {
      const double d = im[a * c + ch] - im[b * c + ch];
      sq[ch] = detail::unfused_mul(d, d);
    }
    edges.emplace_back(a, b);
    costs.push_back(std::sqrt(detail::pairwise_sum(sq.data(), c)));
  };
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x + 1 < w; ++x) add(y * w + x + 1, y * w + x);
  for (int64_t y = 0; y + 1 < h; ++y)
    for (int64_t x = 0; x < w; ++x) add((y + 1) * w + x, y * w + x);
  for (int64_t y = 0; y + 1 < h; ++y)
    for (int64_t x = 0; x + 1 < w; ++x) add((y + 1) * w + x + 1, y * w + x);
  for (int64_t y = 0; y + 1 < h; ++y)
    for (int64_t x = 0; x + 1 < w; ++x) add(y * w + x + 1, (y + 1) * w + x);
  const std::vector<int64_t> order = detail::numpy_argsort(costs);

  const double scale = options.scale / 255.0;
  std::vector<int64_t> forest(hw), size(hw, 1);
  for (int64_t p = 0; p < hw; ++p) forest[p] = p;
  std::vector<double> cint(hw, 0.0);
  for (int64_t e : order) {
    const int64_t s0 = find_root(forest, edges[e].first), s1 = find_root(forest, edges[e].second);
    if (s0 == s1) continue;
    // skimage keeps the thresholds in C floats; the comparison is double < float.
    const float inner0 = static_cast<float>(cint[s0] + scale / static_cast<double>(size[s0]));
    const float inner1 = static_cast<float>(cint[s1] + scale / static_cast<double>(size[s1]));
    if (costs[e] < static_cast<double>(std::min(inner0, inner1))) {
      join_trees(forest, s0, s1);
      const int64_t root = find_root(forest, s0);
      size[root] = size[s0] + size[s1];
      cint[root] = costs[e];
    }
  }
  for (int64_t e : order) {
    const int64_t s0 = find_root(forest, edges[e].first), s1 = find_root(forest, edges[e].second);
    if (s0 == s1) continue;
    if (size[s0] < options.min_size || size[s1] < options.min_size) {
      join_trees(forest, s0, s1);
      const int64_t root = find_root(forest, s0);
      size[root] = size[s0] + size[s1];
    }
  }
  // Roots are the smallest pixel of each tree, so numbering roots in pixel order is np.unique's.
  Tensor labels = Tensor::empty(Shape{h, w});
  std::vector<int64_t> id(hw, -1);
  int64_t next = 0;
  for (int64_t p = 0; p < hw; ++p) {
    const int64_t root = find_root(forest, p);
    if (id[root] < 0) id[root] = next++;
    labels.data()[p] = static_cast<float>(id[root]);
  }
  return labels;
}

}  // namespace backlight
