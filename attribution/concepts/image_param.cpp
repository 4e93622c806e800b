#include "attribution/concepts/image_param.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"

namespace backlight {

namespace {

constexpr double kPi = 3.14159265358979323846;
// Lucid's color_correlation_svd_sqrt (rows: output RGB, columns: decorrelated channels).
constexpr double kColourSqrt[9] = {0.26, 0.09, 0.02, 0.27, 0.00, -0.05, 0.27, -0.09, 0.03};

double sigmoid(double z) { return 1.0 / (1.0 + std::exp(-z)); }

}  // namespace

ImageParam::ImageParam(int64_t height, int64_t width, ImageParamOptions options)
    : h_(height), w_(width), wf_(width / 2 + 1), o_(options) {
  BL_CHECK(height >= 2 && width >= 2, "ImageParam: expected an image of at least 2x2, got ", height, "x", width);
  BL_CHECK(options.decay_power >= 0, "ImageParam: expected decay_power >= 0, got ", options.decay_power);
  scale_.resize(static_cast<size_t>(h_ * wf_));
  const double k = 1.0 / (4.0 * std::sqrt(static_cast<double>(h_ * w_)));
  const double floor_f = 1.0 / static_cast<double>(std::max(h_, w_));
  for (int64_t u = 0; u < h_; ++u)
    for (int64_t v = 0; v < wf_; ++v) {
      const double fy = static_cast<double>(std::min(u, h_ - u)) / static_cast<double>(h_);
      const double fx = static_cast<double>(v) / static_cast<double>(w_);
      scale_[u * wf_ + v] = k / std::pow(std::max(std::sqrt(fy * fy + fx * fx), floor_f), o_.decay_power);
    }
  // Tables [u][h] and [v][w] (the products taken modulo H, W so the angles stay exact).
  for (int64_t u = 0; u < h_; ++u)
    for (int64_t i = 0; i < h_; ++i) {
      const double a = 2 * kPi * static_cast<double>(u * i % h_) / static_cast<double>(h_);
      cos_h_.push_back(std::cos(a)), sin_h_.push_back(std::sin(a));
    }
  for (int64_t v = 0; v < wf_; ++v)
    for (int64_t i = 0; i < w_; ++i) {
      const double a = 2 * kPi * static_cast<double>(v * i % w_) / static_cast<double>(w_);
      cos_w_.push_back(std::cos(a)), sin_w_.push_back(std::sin(a));
    }
  double max_norm = 0;
  for (int j = 0; j < 3; ++j)
    max_norm = std::max(max_norm, std::sqrt(kColourSqrt[j] * kColourSqrt[j] + kColourSqrt[3 + j] * kColourSqrt[3 + j] +
                                            kColourSqrt[6 + j] * kColourSqrt[6 + j]));
  for (int i = 0; i < 9; ++i) colour_[i] = o_.decorrelate_colour ? kColourSqrt[i] / max_norm : (i % 4 == 0 ? 1.0 : 0.0);
}

int64_t ImageParam::num_params() const {
  return o_.kind == ImageParamKind::Pixel ? 3 * h_ * w_ : 3 * h_ * wf_ * 2;
}

std::vector<double> ImageParam::init(std::mt19937_64& rng, double sd) const {
  std::normal_distribution<double> n(0.0, sd);
  std::vector<double> t(static_cast<size_t>(num_params()));
  for (double& v : t) v = n(rng);
  return t;
}

std::vector<double> ImageParam::pre_sigmoid(const std::vector<double>& theta) const {
  BL_CHECK(static_cast<int64_t>(theta.size()) == num_params(), "ImageParam: expected ", num_params(),
           " parameters, got ", theta.size());
  const int64_t plane = h_ * w_;
  std::vector<double> y(static_cast<size_t>(3 * plane));
  if (o_.kind == ImageParamKind::Pixel) {
    y = theta;
  } else {
    std::vector<double> dr(static_cast<size_t>(h_ * w_)), di(dr.size());
    for (int64_t c = 0; c < 3; ++c) {
      const double* t = theta.data() + c * h_ * wf_ * 2;
      // D[u, w] = sum_v C[u, v] e^{i 2 pi v w / W},  C = s (a - i b)
      for (int64_t u = 0; u < h_; ++u)
        for (int64_t x = 0; x < w_; ++x) {
          double re = 0, im = 0;
          for (int64_t v = 0; v < wf_; ++v) {
            const double s = scale_[u * wf_ + v], cr = s * t[(u * wf_ + v) * 2], ci = -s * t[(u * wf_ + v) * 2 + 1];
            const double co = cos_w_[v * w_ + x], si = sin_w_[v * w_ + x];
            re += cr * co - ci * si;
            im += cr * si + ci * co;
          }
          dr[u * w_ + x] = re, di[u * w_ + x] = im;
        }
      // y[h, w] = Re sum_u D[u, w] e^{i 2 pi u h / H}
      for (int64_t hh = 0; hh < h_; ++hh)
        for (int64_t x = 0; x < w_; ++x) {
          double acc = 0;
          for (int64_t u = 0; u < h_; ++u) {
            acc += dr[u * w_ + x] * cos_h_[u * h_ + hh] - di[u * w_ + x] * sin_h_[u * h_ + hh];
          }
          y[c * plane + hh * w_ + x] = acc;
        }
    }
  }
  std::vector<double> z(y.size());
  for (int64_t p = 0; p < plane; ++p)
    for (int64_t c = 0; c < 3; ++c)
      z[c * plane + p] = colour_[c * 3] * y[p] + colour_[c * 3 + 1] * y[plane + p] + colour_[c * 3 + 2] * y[2 * plane + p];
  return z;
}

std::vector<double> ImageParam::render(const std::vector<double>& theta) const {
  std::vector<double> z = pre_sigmoid(theta);
  for (double& v : z) v = sigmoid(v);
  return z;
}

std::vector<double> ImageParam::backward(const std::vector<double>& theta, const std::vector<double>& g) const {
  const int64_t plane = h_ * w_;
  BL_CHECK(static_cast<int64_t>(g.size()) == 3 * plane, "ImageParam::backward: expected a gradient of ", 3 * plane,
           " values, got ", g.size());
  const std::vector<double> z = pre_sigmoid(theta);
  std::vector<double> gz(z.size()), gy(z.size());
  for (size_t i = 0; i < z.size(); ++i) {
    const double s = sigmoid(z[i]);
    gz[i] = g[i] * s * (1 - s);
  }
  for (int64_t p = 0; p < plane; ++p)
    for (int64_t j = 0; j < 3; ++j)
      gy[j * plane + p] = colour_[j] * gz[p] + colour_[3 + j] * gz[plane + p] + colour_[6 + j] * gz[2 * plane + p];
  if (o_.kind == ImageParamKind::Pixel) return gy;
  std::vector<double> out(static_cast<size_t>(num_params()));
  std::vector<double> gdr(static_cast<size_t>(h_ * w_)), gdi(gdr.size());
  for (int64_t c = 0; c < 3; ++c) {
    const double* gyc = gy.data() + c * plane;
    for (int64_t u = 0; u < h_; ++u)
      for (int64_t x = 0; x < w_; ++x) {
        double re = 0, im = 0;
        for (int64_t hh = 0; hh < h_; ++hh) {
          re += gyc[hh * w_ + x] * cos_h_[u * h_ + hh];
          im -= gyc[hh * w_ + x] * sin_h_[u * h_ + hh];
        }
        gdr[u * w_ + x] = re, gdi[u * w_ + x] = im;
      }
    double* o = out.data() + c * h_ * wf_ * 2;
    for (int64_t u = 0; u < h_; ++u)
      for (int64_t v = 0; v < wf_; ++v) {
        double gcr = 0, gci = 0;
        for (int64_t x = 0; x < w_; ++x) {
          const double co = cos_w_[v * w_ + x], si = sin_w_[v * w_ + x];
          gcr += gdr[u * w_ + x] * co + gdi[u * w_ + x] * si;
          gci += -gdr[u * w_ + x] * si + gdi[u * w_ + x] * co;
        }
        const double s = scale_[u * wf_ + v];
        o[(u * wf_ + v) * 2] = s * gcr;
        o[(u * wf_ + v) * 2 + 1] = -s * gci;
      }
  }
  return out;
}

Transform::Transform(int64_t height, int64_t width, const TransformOptions& o, std::mt19937_64& rng)
    : h_(height), w_(width) {
  BL_CHECK(o.jitter >= 0 && o.scale >= 0 && o.scale < 1 && o.rotate_degrees >= 0 && o.blur_sigma >= 0,
           "Transform: expected jitter >= 0, scale in [0, 1), rotate_degrees >= 0 and blur_sigma >= 0");
  std::uniform_int_distribution<int64_t> j(-o.jitter, o.jitter);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  const double dy = static_cast<double>(j(rng)), dx = static_cast<double>(j(rng));
  const double s = 1 + o.scale * u(rng), a = o.rotate_degrees * kPi / 180 * u(rng);
  setup(dy, dx, s, a, o.blur_sigma);
}

Transform::Transform(int64_t height, int64_t width, double dy, double dx, double scale, double angle, double blur)
    : h_(height), w_(width) {
  setup(dy, dx, scale, angle, blur);
}

void Transform::setup(double dy, double dx, double scale, double angle, double blur_sigma) {
  if (blur_sigma > 0) {
    const int64_t r = static_cast<int64_t>(std::ceil(3 * blur_sigma));
    double sum = 0;
    for (int64_t k = -r; k <= r; ++k) kernel_.push_back(std::exp(-0.5 * k * k / (blur_sigma * blur_sigma))), sum += kernel_.back();
    for (double& v : kernel_) v /= sum;
  }
  const double cy = 0.5 * static_cast<double>(h_ - 1), cx = 0.5 * static_cast<double>(w_ - 1);
  const double co = std::cos(angle), si = std::sin(angle);
  for (int64_t y = 0; y < h_; ++y)
    for (int64_t x = 0; x < w_; ++x) {
      const double qy = static_cast<double>(y) - cy - dy, qx = static_cast<double>(x) - cx - dx;
      const double py = std::clamp((co * qy + si * qx) / scale + cy, 0.0, static_cast<double>(h_ - 1));
      const double px = std::clamp((-si * qy + co * qx) / scale + cx, 0.0, static_cast<double>(w_ - 1));
      const int64_t y0 = static_cast<int64_t>(py), x0 = static_cast<int64_t>(px);
      const int64_t y1 = std::min(y0 + 1, h_ - 1), x1 = std::min(x0 + 1, w_ - 1);
      const double wy = py - static_cast<double>(y0), wx = px - static_cast<double>(x0);
      taps_.push_back({y0 * w_ + x0, y0 * w_ + x1, y1 * w_ + x0, y1 * w_ + x1, (1 - wy) * (1 - wx), (1 - wy) * wx,
                       wy * (1 - wx), wy * wx});
    }
}

namespace {

// One separable blur pass along rows (step 1) or columns (step w), or its adjoint.
void blur_pass(const std::vector<double>& k, const double* in, double* out, int64_t h, int64_t w, bool along_rows,
               bool adjoint) {
  const int64_t r = static_cast<int64_t>(k.size() / 2);
  const int64_t n = along_rows ? w : h;
  std::fill(out, out + h * w, 0.0);
  for (int64_t line = 0; line < (along_rows ? h : w); ++line) {
    auto at = [&](int64_t i) { return along_rows ? line * w + i : i * w + line; };
    for (int64_t i = 0; i < n; ++i)
      for (int64_t t = -r; t <= r; ++t) {
        const int64_t j = std::clamp<int64_t>(i + t, 0, n - 1);
        if (adjoint) out[at(j)] += k[t + r] * in[at(i)];
        else out[at(i)] += k[t + r] * in[at(j)];
      }
  }
}

}  // namespace

std::vector<double> Transform::apply(const std::vector<double>& x) const {
  const int64_t plane = h_ * w_;
  BL_CHECK(static_cast<int64_t>(x.size()) == 3 * plane, "Transform: expected ", 3 * plane, " values, got ", x.size());
  std::vector<double> b = x, tmp(x.size()), out(x.size());
  for (int64_t c = 0; c < 3 && !kernel_.empty(); ++c) {
    blur_pass(kernel_, b.data() + c * plane, tmp.data() + c * plane, h_, w_, true, false);
    blur_pass(kernel_, tmp.data() + c * plane, b.data() + c * plane, h_, w_, false, false);
  }
  for (int64_t c = 0; c < 3; ++c) {
    const double* in = b.data() + c * plane;
    for (int64_t p = 0; p < plane; ++p) {
      const Tap& t = taps_[p];
      out[c * plane + p] = t.w00 * in[t.i00] + t.w01 * in[t.i01] + t.w10 * in[t.i10] + t.w11 * in[t.i11];
    }
  }
  return out;
}

std::vector<double> Transform::adjoint(const std::vector<double>& g) const {
  const int64_t plane = h_ * w_;
  BL_CHECK(static_cast<int64_t>(g.size()) == 3 * plane, "Transform: expected ", 3 * plane, " values, got ", g.size());
  std::vector<double> out(g.size(), 0.0), tmp(g.size());
  for (int64_t c = 0; c < 3; ++c) {
    double* o = out.data() + c * plane;
    for (int64_t p = 0; p < plane; ++p) {
      const Tap& t = taps_[p];
      const double v = g[c * plane + p];
      o[t.i00] += t.w00 * v, o[t.i01] += t.w01 * v, o[t.i10] += t.w10 * v, o[t.i11] += t.w11 * v;
    }
  }
  for (int64_t c = 0; c < 3 && !kernel_.empty(); ++c) {
    blur_pass(kernel_, out.data() + c * plane, tmp.data() + c * plane, h_, w_, false, true);
    blur_pass(kernel_, tmp.data() + c * plane, out.data() + c * plane, h_, w_, true, true);
  }
  return out;
}

}  // namespace backlight
