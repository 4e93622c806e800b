#pragma once
/// Class activation maps: CAM, Grad-CAM, Grad-CAM++ and Score-CAM. Each weighs the channels of
/// one layer's feature maps A [N, C, h, w] and sums them into a map [N, 1, h, w]:
///   result.layer_map    the map at the layer's resolution
///   result.attribution  the map at the input's spatial size [N, 1, H, W] (bilinear upsampling,
///                       align_corners = false: PyTorch F.interpolate / Captum
///                       LayerAttribution.interpolate(mode="bilinear")) when the input is
///                       [N, C, H, W] and the map is 4-D; otherwise the layer map itself
///   result.output / result.target  the model output and the class per item
///
/// The layer: a module path (attribution/core/layer.h: the output of the last node the module
/// records, e.g. "layer4", "features.29"), or, when empty, the feature maps entering the model's
/// last average pooling (adaptive_avgpool2d, avgpool2d, or a mean over the spatial axes) - the
/// last convolutional block's output in the CNNs CAM was designed for - and, in a model without
/// such pooling, the last 4-D output of a conv, pooling, batchnorm, activation or add node (for a
/// ViT: the patch embedding conv_proj; name a layer there).
#include <string>
#include <string_view>

#include "attribution/core/pass.h"
#include "attribution/core/result.h"

namespace backlight {

/// How a layer map is brought to the input size.
enum class CamUpsample { Bilinear, Nearest };

/// Nearest-neighbour upsampling [N, C, h, w] -> [N, C, H, W] as PyTorch F.interpolate(mode=
/// "nearest"): source index floor(dst * (float)h / H), clamped (Captum GuidedGradCam's default).
Tensor upsample_nearest(const Tensor& maps, int64_t height, int64_t width);
/// upsample_bilinear (layer.h) or upsample_nearest to the spatial size of `inputs` when both are
/// 4-D; the map itself otherwise.
Tensor upsample_to_input(const Tensor& map, const Tensor& inputs, CamUpsample mode = CamUpsample::Bilinear);

/// Value id (on a recorded tape) of the feature maps CAM methods use: the layer's output, or the
/// default described above when `layer` is empty. Throws naming the layer when it is not found.
int cam_layer_value(const Tape& tape, std::string_view layer);

/// Grad-CAM map from a layer's activation and its gradient, both [N, C, ...] (Captum
/// LayerGradCam): weights = mean of the gradient over the axes after C (none for [N, C]),
/// map = sum_c weights * activation -> [N, 1, ...], then relu when `relu`.
Tensor grad_cam_map(const Tensor& activation, const Tensor& gradient, bool relu);

struct CamOptions {
  std::string layer;   ///< feature maps (default: the maps entering the final global pooling)
  bool relu = false;   ///< the paper shows the raw weighted sum
  const Workspace* workspace = nullptr;
};
/// CAM (Zhou et al. 2016) for models ending in global average pooling + linear:
///   M_c(x, y) = sum_k W[c, k] A_k(x, y)
/// W [classes, C] is the weight of the last linear node on the tape (the classifier; its bias is
/// a constant and dropped); its in_features must equal the layer's channel count C, otherwise the
/// model is not a GAP + linear model and CAM throws (use grad_cam). Needs class targets.
AttributionResult cam(const Module& model, const Tensor& inputs, const Target& target, const CamOptions& options = {});

struct GradCamOptions {
  std::string layer;  ///< any layer by module path (default: see above)
  bool relu = true;   ///< the paper's ReLU (Captum LayerGradCam's relu_attributions=True)
  const Workspace* workspace = nullptr;
};
/// Grad-CAM (Selvaraju et al. 2017): one forward, one backward to the layer;
///   alpha_k = mean_{x,y} d target / d A_k(x, y),  map = relu(sum_k alpha_k A_k).
/// Equals Captum LayerGradCam(relu_attributions=relu) and, for result.attribution,
/// LayerAttribution.interpolate(map, (H, W), "bilinear").
AttributionResult grad_cam(const Module& model, const Tensor& inputs, const Target& target,
                           const GradCamOptions& options = {});

struct GradCamPlusPlusOptions {
  std::string layer;
  /// Multiply by exp(S_c): the paper's score Y = exp(S) gives d Y / d A = exp(S) g, a positive
  /// per-item factor that cancels in alpha; off by default (it overflows for logits > ~88 and
  /// only rescales each item's map).
  bool exp_score = false;
  const Workspace* workspace = nullptr;
};
/// Grad-CAM++ (Chattopadhyay et al. 2018), closed form for a ReLU network with an exponential
/// score (paper eq. 19), with g = d S_c / d A_k(i, j):
///   alpha_k(i, j) = g^2 / (2 g^2 + sum_{a,b} A_k(a, b) g^3)     (0 where g <= 0 or the denominator is 0)
///   w_k = sum_{i,j} alpha_k(i, j) relu(g),   map = relu(sum_k w_k A_k)
AttributionResult grad_cam_plus_plus(const Module& model, const Tensor& inputs, const Target& target,
                                     const GradCamPlusPlusOptions& options = {});

struct ScoreCamOptions {
  std::string layer;
  int batch = 32;  ///< masked inputs per forward pass
  /// Weights are the increase of confidence over the baseline image X_b = 0 (the paper's CIC,
  /// f(X o H_k) - f(X_b)); false: the plain score f(X o H_k) (the authors' code).
  bool subtract_baseline = true;
  const Workspace* workspace = nullptr;
};
/// Score-CAM (Wang et al. 2020). Inputs [N, C, H, W]. For every channel k of the layer:
///   U_k = A_k upsampled bilinearly to H x W,  H_k = (U_k - min U_k) / (max U_k - min U_k)
///   w_k = softmax(f(x o H_k))_c - softmax(f(X_b))_c     (w_k = 0 when U_k is constant)
///   attribution = relu(sum_k w_k U_k)  [N, 1, H, W],   layer_map = relu(sum_k w_k A_k)
/// x o H_k multiplies every input channel by the mask. The N * C masked inputs run without
/// recording, `batch` rows per forward. Function targets use the function value instead of the
/// softmax score.
AttributionResult score_cam(const Module& model, const Tensor& inputs, const Target& target,
                            const ScoreCamOptions& options = {});

}  // namespace backlight
