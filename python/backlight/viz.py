"""Captum-style visualisation without matplotlib: visualize_image_attr returns an RGB uint8 image
[H, W, 3] and can save it as PNG (written with zlib from the standard library).

    img = backlight.viz.visualize_image_attr(attr[0], original_image=x[0], method="blended_heat_map",
                                             sign="positive", save="heatmap.png")

Arrays may be [H, W, C] (Captum's layout) or [C, H, W] (the model's); torch tensors are accepted.
The normalisation is Captum's: channels summed, values scaled by the (100 - outlier_perc)
percentile of the cumulative |attribution| and clipped.
"""
from __future__ import annotations

import struct
import zlib

import numpy as np

from ._tensors import is_torch

_METHODS = ("heat_map", "blended_heat_map", "original_image", "masked_image", "alpha_scaling")
_SIGNS = ("positive", "negative", "absolute_value", "all")

# Endpoints of the default colour maps (Captum: Greens, Reds, Blues; RdYlGn for "all").
_MAPS = {
    "positive": [(1.0, 1.0, 1.0), (0.0, 0.27, 0.11)],
    "negative": [(1.0, 1.0, 1.0), (0.40, 0.0, 0.05)],
    "absolute_value": [(1.0, 1.0, 1.0), (0.03, 0.19, 0.42)],
    "all": [(0.65, 0.0, 0.15), (1.0, 1.0, 0.75), (0.0, 0.41, 0.22)],
}


def _hwc(a, name):
    if a is None:
        return None
    if is_torch(a):
        a = a.detach().cpu().numpy()
    a = np.asarray(a, dtype=np.float32)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3:
        raise ValueError(f"{name}: expected [H, W, C] or [C, H, W], got shape {a.shape}")
    if a.shape[0] in (1, 3) and a.shape[2] not in (1, 3):
        a = np.transpose(a, (1, 2, 0))
    return a


def _threshold(values, percentile):
    flat = np.sort(values.ravel())
    csum = np.cumsum(flat)
    if csum[-1] == 0:
        return 1.0
    idx = np.where(csum >= csum[-1] * 0.01 * percentile)[0][0]
    return float(flat[idx])


def _normalize(attr, sign, outlier_perc):
    a = attr.sum(axis=2)
    if sign == "all":
        t = _threshold(np.abs(a), 100 - outlier_perc)
    elif sign == "positive":
        a = np.clip(a, 0, None)
        t = _threshold(a, 100 - outlier_perc)
    elif sign == "negative":
        a = np.clip(a, None, 0)
        t = -_threshold(np.abs(a), 100 - outlier_perc)
    else:
        a = np.abs(a)
        t = _threshold(a, 100 - outlier_perc)
    if t == 0:
        t = 1.0
    lo = -1.0 if sign == "all" else 0.0
    return np.clip(a / t, lo, 1.0)


def _colormap(v, sign):
    stops = np.asarray(_MAPS[sign], dtype=np.float32)
    if sign == "all":
        v = (v + 1.0) / 2.0
    pos = v * (len(stops) - 1)
    i = np.clip(np.floor(pos).astype(int), 0, len(stops) - 2)
    f = (pos - i)[..., None]
    return stops[i] * (1 - f) + stops[i + 1] * f


def _image01(img):
    img = img if img.shape[2] == 3 else np.repeat(img[:, :, :1], 3, axis=2)
    lo, hi = float(img.min()), float(img.max())
    return (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)


def visualize_image_attr(attr, original_image=None, method="heat_map", sign="absolute_value", plt_fig_axis=None,
                         outlier_perc=2, cmap=None, alpha_overlay=0.5, show_colorbar=False, title=None,
                         fig_size=(6, 6), use_pyplot=True, *, save=None):
    """Captum's visualize_image_attr without matplotlib: returns the image as uint8 [H, W, 3].
    save: a .png path to write it to. plt_fig_axis, cmap, show_colorbar, title, fig_size and
    use_pyplot are accepted for compatibility and ignored (no figure is drawn)."""
    if method not in _METHODS:
        raise ValueError(f"method: expected one of {', '.join(_METHODS)}, got {method!r}")
    if sign not in _SIGNS:
        raise ValueError(f"sign: expected one of {', '.join(_SIGNS)}, got {sign!r}")
    a = _hwc(attr, "attr")
    img = _hwc(original_image, "original_image")
    if method != "heat_map" and img is None:
        raise ValueError(f"original_image: needed for method {method!r}")
    if img is not None and img.shape[:2] != a.shape[:2]:
        raise ValueError(f"original_image: spatial shape {img.shape[:2]} differs from attr's {a.shape[:2]}")
    norm = _normalize(a, sign, outlier_perc)
    if method == "original_image":
        rgb = _image01(img)
    elif method == "heat_map":
        rgb = _colormap(norm, sign)
    elif method == "blended_heat_map":
        gray = _image01(img).mean(axis=2, keepdims=True).repeat(3, axis=2)
        rgb = (1 - alpha_overlay) * gray + alpha_overlay * _colormap(norm, sign)
    elif method == "masked_image":
        rgb = _image01(img) * np.abs(norm)[..., None]
    else:  # alpha_scaling: the image faded to black where the attribution is small
        rgb = _image01(img) * np.abs(norm)[..., None]
    out = (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)
    if save is not None:
        write_png(save, out)
    return out


def write_png(path, rgb: np.ndarray):
    """Writes an RGB uint8 [H, W, 3] (or gray [H, W]) array as an 8-bit PNG."""
    a = np.asarray(rgb)
    if a.dtype != np.uint8:
        raise TypeError(f"write_png: expected uint8, got {a.dtype}")
    if a.ndim == 2:
        a = a[:, :, None]
    h, w, c = a.shape
    if c not in (1, 3):
        raise ValueError(f"write_png: expected 1 or 3 channels, got {c}")
    raw = b"".join(b"\x00" + a[y].tobytes() for y in range(h))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    color = 2 if c == 3 else 0
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)
