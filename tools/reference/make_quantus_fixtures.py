#!/usr/bin/python3
"""Quantus 0.6 reference values for attribution/metrics (tests/attribution/metrics/test_quantus_parity.cpp).

A small MLP (flatten -> linear 64x16 -> relu -> linear 16x3) on four 1x8x8 images, fixed random
attributions (no ties) and rectangular masks. Quantus computes the deterministic metrics whose
definition equals backlight's (docs/metrics.md, "Quantus"): PointingGame, RelevanceRankAccuracy,
RelevanceMassAccuracy (non-negative maps: Quantus sums signed values, backlight positive ones) and
FaithfulnessEstimate (Alvarez-Melis & Jaakkola; backlight's pixel_faithfulness) with 1 and 4
features per step and baseline 0 (Quantus' "black" is the image minimum).
Values are rounded to 6 decimals in the data so C++ reads what torch used.
Writes tests/data/attribution/quantus_metrics.json.

Run: /usr/bin/python3 tools/reference/make_quantus_fixtures.py
"""
import json
import os
import warnings

import numpy as np
import torch
import quantus

warnings.filterwarnings("ignore")
rng = np.random.default_rng(20)
r6 = lambda a: np.round(a, 6).astype(np.float32)

w1, b1 = r6(rng.normal(0, 0.3, (16, 64))), r6(rng.normal(0, 0.1, 16))
w2, b2 = r6(rng.normal(0, 0.3, (3, 16))), r6(rng.normal(0, 0.1, 3))
model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
with torch.no_grad():
    model[1].weight.copy_(torch.from_numpy(w1)); model[1].bias.copy_(torch.from_numpy(b1))
    model[3].weight.copy_(torch.from_numpy(w2)); model[3].bias.copy_(torch.from_numpy(b2))
model.eval()

x = r6(rng.uniform(0, 1, (4, 1, 8, 8)))
a = r6(rng.uniform(0, 1, (4, 1, 8, 8)))  # non-negative, continuous: no ties
s = np.zeros((4, 1, 8, 8), np.float32)
for i, (y0, y1, x0, x1) in enumerate([(0, 3, 0, 3), (2, 6, 1, 7), (4, 8, 4, 8), (1, 7, 2, 4)]):
    s[i, 0, y0:y1, x0:x1] = 1
y = model(torch.from_numpy(x)).argmax(1).numpy()

kw = dict(model=model, x_batch=x, y_batch=y, a_batch=a, s_batch=s, device="cpu")
out = {
    "w1": w1.ravel().tolist(), "b1": b1.tolist(), "w2": w2.ravel().tolist(), "b2": b2.tolist(),
    "x": x.ravel().tolist(), "a": a.ravel().tolist(), "s": s.ravel().tolist(), "y": y.tolist(),
    "pointing_game": [float(v) for v in quantus.PointingGame(disable_warnings=True)(**kw)],
    "relevance_rank_accuracy": [float(v) for v in quantus.RelevanceRankAccuracy(disable_warnings=True)(**kw)],
    "relevance_mass_accuracy": [float(v) for v in quantus.RelevanceMassAccuracy(disable_warnings=True)(**kw)],
}


def pearson_rows(a, b, batched=True, **_):
    # Quantus' correlation_pearson calls scipy.stats.pearsonr(axis=1), which the installed scipy
    # lacks; the same Pearson correlation per row in numpy.
    return np.array([np.corrcoef(ai, bi)[0, 1] for ai, bi in zip(a, b)])


for step in (1, 4):
    m = quantus.FaithfulnessEstimate(features_in_step=step, perturb_baseline=0.0, similarity_func=pearson_rows,
                                     disable_warnings=True)
    out[f"faithfulness_estimate_step{step}"] = [float(v) for v in m(**kw)]
path = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "attribution", "quantus_metrics.json")
with open(path, "w") as f:
    json.dump(out, f)
print({k: v for k, v in out.items() if k not in ("w1", "b1", "w2", "b2", "x", "a", "s")})
