#!/usr/bin/python3
"""scikit-image 0.19 / scipy references for attribution/metrics/map_similarity
(tests/attribution/metrics/test_map_similarity.cpp): SSIM (structural_similarity, defaults,
data_range 1), HOG features (hog, defaults: 9 orientations, 8x8 cells, 3x3 blocks, L2-Hys) of
both maps and their Pearson correlation, Spearman with and without absolute values. Two 24x40
signed maps (the second a noisy, blurred copy of the first), rounded to 6 decimals in the data.
Writes tests/data/attribution/map_similarity.json.

Run: /usr/bin/python3 tools/reference/make_map_similarity_fixtures.py
"""
import json
import os

import numpy as np
from scipy import ndimage, stats
from skimage.feature import hog
from skimage.metrics import structural_similarity

rng = np.random.default_rng(2018)
h, w = 24, 40
a = np.round(rng.normal(0, 1, (h, w)), 6)
b = np.round(ndimage.gaussian_filter(a, 1.0) + rng.normal(0, 0.3, (h, w)), 6)
out = {
    "height": h, "width": w, "a": a.ravel().tolist(), "b": b.ravel().tolist(),
    "ssim": float(structural_similarity(a, b, data_range=1.0)),
    "hog_a": hog(a).tolist(), "hog_b": hog(b).tolist(),
    "hog_similarity": float(np.corrcoef(hog(a), hog(b))[0, 1]),
    "spearman": float(stats.spearmanr(a.ravel(), b.ravel())[0]),
    "spearman_abs": float(stats.spearmanr(np.abs(a).ravel(), np.abs(b).ravel())[0]),
}
path = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "attribution", "map_similarity.json")
with open(path, "w") as f:
    json.dump(out, f)
print({k: v for k, v in out.items() if not isinstance(v, list)}, len(out["hog_a"]))
