#pragma once
/// The image parametrisations and random transformations of feature visualisation (Olah,
/// Mordvintsev, Schubert 2017, "Feature Visualization", Distill; Lucid's image.py/transform.py),
/// each a differentiable map with its adjoint written by hand (the optimisation variable is not
/// a model input, so the tape is not involved). All arithmetic in double; images [3, H, W].
///
/// ImageParam (theta -> image x in (0, 1)):
///   pixel    x = sigmoid(C theta)                      theta [3, H, W]
///   fourier  x = sigmoid(C y), y_c(h, w) = k * sum_{u<H, v<=W/2} s(u,v) (a_c(u,v) cos phi + b_c(u,v) sin phi),
///            phi = 2 pi (u h / H + v w / W), s(u, v) = 1 / max(f(u,v), 1/max(H,W))^decay_power,
///            f = sqrt((min(u, H-u)/H)^2 + (v/W)^2), k = 1 / (4 sqrt(H W)) (Lucid's fft_image scale);
///            theta = (a, b) [3, H, W/2+1, 2]. Low frequencies get most of the step: the
///            "decorrelated" (whitened) space that avoids high-frequency patterns.
///   C        colour decorrelation: Lucid's color_correlation_svd_sqrt (the square root of the
///            ImageNet colour covariance) divided by its largest column norm, or the identity.
///
/// Transform (image -> model input, random per step, seeded): Gaussian blur (sigma, edges
/// clamped), then one affine warp sampled bilinearly around the centre: translation (jitter,
/// pixels), isotropic scale and rotation; edges clamped. Both linear, so the adjoint is the
/// transposed sampling.
#include <cstdint>
#include <random>
#include <vector>

#include "engine/tensor.h"

namespace backlight {

enum class ImageParamKind { Pixel, Fourier };

struct ImageParamOptions {
  ImageParamKind kind = ImageParamKind::Fourier;
  double decay_power = 1.0;
  bool decorrelate_colour = true;
};

class ImageParam {
 public:
  ImageParam(int64_t height, int64_t width, ImageParamOptions options = {});
  int64_t num_params() const;
  /// Initial parameters: N(0, sd^2), seeded (Lucid: sd = 0.01).
  std::vector<double> init(std::mt19937_64& rng, double sd = 0.01) const;
  /// theta -> x [3, H, W] in (0, 1).
  std::vector<double> render(const std::vector<double>& theta) const;
  /// Gradient wrt theta of <g, render(theta)> (g [3, H, W]).
  std::vector<double> backward(const std::vector<double>& theta, const std::vector<double>& g) const;

 private:
  std::vector<double> pre_sigmoid(const std::vector<double>& theta) const;  // C y
  int64_t h_, w_, wf_;
  ImageParamOptions o_;
  std::vector<double> scale_;  // s(u, v) * k, [H, Wf]
  double colour_[9];
  std::vector<double> cos_h_, sin_h_, cos_w_, sin_w_;  // [u][h], [v][w] DFT tables
};

struct TransformOptions {
  int64_t jitter = 4;         ///< translation in [-jitter, jitter] pixels
  double scale = 0.05;        ///< scale in [1 - scale, 1 + scale]
  double rotate_degrees = 5;  ///< rotation in [-r, r]
  double blur_sigma = 0;      ///< Gaussian blur sigma in pixels (0: none)
};

/// One drawn transformation (fixed for one step: forward and adjoint use the same draw).
class Transform {
 public:
  Transform(int64_t height, int64_t width, const TransformOptions& options, std::mt19937_64& rng);
  /// Identity-draw constructor (no randomness): dy, dx translation, scale, angle (radians), blur.
  Transform(int64_t height, int64_t width, double dy, double dx, double scale, double angle, double blur_sigma);
  std::vector<double> apply(const std::vector<double>& x) const;    ///< [3, H, W] -> [3, H, W]
  std::vector<double> adjoint(const std::vector<double>& g) const;  ///< the transpose of apply

 private:
  void setup(double dy, double dx, double scale, double angle, double blur_sigma);
  int64_t h_, w_;
  std::vector<double> kernel_;  // blur taps, centred
  struct Tap {
    int64_t i00, i01, i10, i11;
    double w00, w01, w10, w11;
  };
  std::vector<Tap> taps_;  // per output pixel
};

}  // namespace backlight
