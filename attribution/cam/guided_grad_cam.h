#pragma once
/// Guided Grad-CAM (Selvaraju et al. 2017), as Captum's GuidedGradCam:
///   attr = guided_backprop(x) * upsample(relu(Grad-CAM map))      [N, C, H, W]
/// with the Grad-CAM map broadcast over the input channels. One recorded forward pass serves both
/// factors: the tape is walked backward twice, once with the plain gradient to the layer
/// (Grad-CAM), once with the guided_backprop rule set to the input.
/// result.layer_map is the Grad-CAM map [N, 1, h, w] (relu applied, as Captum).
#include <string>

#include "attribution/cam/cam.h"

namespace backlight {

struct GuidedGradCamOptions {
  std::string layer;  ///< module path of the Grad-CAM layer (default: cam.h's default layer)
  /// Captum GuidedGradCam's interpolate_mode default is "nearest" (LayerGradCam's documented
  /// pairing with LayerAttribution.interpolate uses bilinear; both are offered).
  CamUpsample upsample = CamUpsample::Nearest;
  const Workspace* workspace = nullptr;
};

/// Inputs [N, C, H, W]; the layer's map must be 4-D.
AttributionResult guided_grad_cam(const Module& model, const Tensor& inputs, const Target& target,
                                  const GuidedGradCamOptions& options = {});

}  // namespace backlight
