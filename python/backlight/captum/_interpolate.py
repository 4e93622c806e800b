"""LayerAttribution.interpolate: Captum's upsampling of layer attributions to the input size
(torch.nn.functional.interpolate with Captum's default mode "nearest"; "bilinear" and "bicubic"
are not needed by Captum's own classes, bilinear is provided with align_corners=False)."""
from __future__ import annotations

import numpy as np

from .._tensors import as_output, is_torch, kind_of


def _nearest_index(out_size, in_size):
    # PyTorch's "nearest": src = floor(dst * in / out), clamped.
    return np.minimum((np.arange(out_size) * (in_size / out_size)).astype(np.int64), in_size - 1)


def _linear_weights(out_size, in_size):
    src = np.maximum((np.arange(out_size) + 0.5) * (in_size / out_size) - 0.5, 0.0)
    i0 = np.minimum(src.astype(np.int64), in_size - 1)
    i1 = np.minimum(i0 + 1, in_size - 1)
    return i0, i1, (src - i0).astype(np.float32)


def interpolate(layer_attribution, interpolate_dims, interpolate_mode="nearest"):
    """Upsamples [N, C, *spatial] to [N, C, *interpolate_dims] (1-3 spatial dims for nearest, 2 for
    bilinear); returns the same type it was given (numpy array or torch tensor)."""
    kind = kind_of(layer_attribution)
    a = layer_attribution.detach().cpu().numpy() if is_torch(layer_attribution) else np.asarray(layer_attribution)
    dims = (interpolate_dims,) if isinstance(interpolate_dims, int) else tuple(int(d) for d in interpolate_dims)
    spatial = a.ndim - 2
    if spatial < 1 or len(dims) != spatial:
        raise ValueError(f"interpolate: expected {max(spatial, 1)} target sizes for an attribution of shape "
                         f"{a.shape}, got {dims}")
    if interpolate_mode == "nearest":
        out = a
        for axis, size in enumerate(dims, start=2):
            out = np.take(out, _nearest_index(size, a.shape[axis]), axis=axis)
    elif interpolate_mode in ("bilinear", "linear") and spatial == (2 if interpolate_mode == "bilinear" else 1):
        out = a.astype(np.float32)
        for axis, size in enumerate(dims, start=2):
            i0, i1, w = _linear_weights(size, a.shape[axis])
            shape = [1] * out.ndim
            shape[axis] = size
            w = w.reshape(shape)
            out = np.take(out, i0, axis=axis) * (1 - w) + np.take(out, i1, axis=axis) * w
    else:
        raise NotImplementedError(f"interpolate: interpolate_mode={interpolate_mode!r} is not supported for "
                                  f"{spatial} spatial dims (nearest, linear for 1, bilinear for 2)")
    return as_output(np.ascontiguousarray(out, dtype=np.float32), kind)


class LayerAttribution:
    """Captum's LayerAttribution: the base of the layer classes, here for its static helper."""

    @staticmethod
    def interpolate(layer_attribution, interpolate_dims, interpolate_mode="nearest"):
        return interpolate(layer_attribution, interpolate_dims, interpolate_mode)
