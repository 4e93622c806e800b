"""Writes tests/data/attribution/xrai_parity.safetensors: scikit-image 0.19 felzenszwalb label maps
on a few test images, numpy 1.24 argsort on a tie-heavy array, and PAIR saliency's XRAI (segments
from _get_segments_felzenszwalb without resizing; region map and ranks from XRAI._xrai) on given
attributions. Run with /usr/bin/python3 (skimage 0.19, numpy 1.24, saliency). Tests:
tests/attribution/perturbation/test_felzenszwalb.cpp, test_xrai.cpp.
Images are stored [C, H, W] float32; skimage gets them [H, W, C] (float64 of the same values)."""
import os

import numpy as np
from safetensors.numpy import save_file
from scipy import ndimage as ndi
from skimage.segmentation import felzenszwalb
from saliency.core import xrai as pair_xrai

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "attribution",
                   "xrai_parity.safetensors")


def chw(im):
    return np.ascontiguousarray(np.transpose(im, (2, 0, 1)), dtype=np.float32)


def images(rng):
    smooth = ndi.gaussian_filter(rng.random((40, 48, 3)), sigma=(2, 2, 0))
    smooth = ((smooth - smooth.min()) / (smooth.max() - smooth.min())).astype(np.float32)
    shapes = np.zeros((36, 36, 3), np.float32)  # flat shapes on a flat background plus a little noise
    shapes[4:16, 5:20] = [0.9, 0.1, 0.1]
    yy, xx = np.mgrid[:36, :36]
    shapes[(yy - 24) ** 2 + (xx - 22) ** 2 < 60] = [0.1, 0.2, 0.8]
    shapes += 0.05 * rng.random(shapes.shape).astype(np.float32)
    quantised = (np.round(rng.random((30, 34, 3)) * 4) / 4).astype(np.float32)  # many tied edge weights
    gray = ndi.gaussian_filter(rng.random((33, 29, 1)), sigma=(1.5, 1.5, 0)).astype(np.float32)
    five = ndi.gaussian_filter(rng.random((24, 26, 5)), sigma=(1, 1, 0)).astype(np.float32)
    # name, image, scale, sigma, min_size
    return [("smooth", smooth, 100.0, 0.8, 20), ("shapes", shapes, 50.0, 0.8, 10),
            ("quantised", quantised, 30.0, 0.5, 5), ("gray", gray, 20.0, 1.2, 15),
            ("five", five, 80.0, 0.0, 8), ("smooth_large_sigma", smooth, 200.0, 2.5, 30),
            # Unsmoothed quantised colours: 3860 of 4 x 1020 edge weights tie. numpy's introsort order
            # gives skimage's map; a stable sort of the same weights gives another partition.
            ("quantised_sigma0", quantised, 30.0, 0.0, 5)]


def main():
    rng = np.random.default_rng(20)
    out = {}
    import warnings
    for name, im, scale, sigma, min_size in images(rng):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # skimage warns for > 3 channels
            labels = felzenszwalb(im.astype(np.float64), scale=scale, sigma=sigma, min_size=min_size)
        out[f"felz/{name}/image"] = chw(im)
        out[f"felz/{name}/params"] = np.array([scale, sigma, min_size], np.float32)
        out[f"felz/{name}/labels"] = labels.astype(np.int16)
        print(name, im.shape, "segments", labels.max() + 1)

    ties = rng.integers(0, 9, 1000).astype(np.float64)
    out["argsort/values"] = ties.astype(np.float32)
    out["argsort/order"] = np.argsort(ties).astype(np.int16)

    # XRAI on given attributions and segments (PAIR's defaults, image not resized).
    # a: PAIR's constants; b: smaller ones (patched module constants) for more, smaller regions.
    defaults = (pair_xrai._FELZENSZWALB_SCALE_VALUES, pair_xrai._FELZENSZWALB_MIN_SEGMENT_SIZE)
    for name, h, w, scales, min_size, radius in (("a", 40, 44) + defaults + (5,),
                                                 ("b", 32, 30, [20, 50, 100], 20, 2)):
        pair_xrai._FELZENSZWALB_SCALE_VALUES, pair_xrai._FELZENSZWALB_MIN_SEGMENT_SIZE = scales, min_size
        im = ndi.gaussian_filter(rng.random((h, w, 3)), sigma=(3, 3, 0)).astype(np.float32)
        attr = rng.standard_normal((h, w, 3)).astype(np.float32)
        attr[: h // 2, : w // 2] += 1.0  # a salient quadrant
        segs = pair_xrai._get_segments_felzenszwalb(im, resize_image=False, dilation_rad=radius)
        attr_map, ranks = pair_xrai.XRAI._xrai(attr=attr.max(axis=-1).astype(np.float64), segs=segs)
        out[f"xrai/{name}/image"] = chw(im)
        out[f"xrai/{name}/params"] = np.array([min_size, radius] + list(scales), np.float32)
        out[f"xrai/{name}/attribution"] = chw(attr)
        out[f"xrai/{name}/segments"] = np.stack(segs).astype(np.uint8)
        out[f"xrai/{name}/map"] = attr_map.astype(np.float32)
        out[f"xrai/{name}/ranks"] = ranks.astype(np.int16)
        print("xrai", name, len(segs), "segments, regions", ranks.max())
    save_file({k: np.ascontiguousarray(v) for k, v in out.items()}, OUT,
              metadata={"tool": "tools/reference/make_xrai_fixtures.py"})
    print("wrote", OUT, os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
