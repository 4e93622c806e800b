#!/usr/bin/python3
"""Reference values for attribution/concepts/dissection (tests/attribution/concepts/test_dissection.cpp).

A direct numpy implementation of network dissection (Bau et al. 2017) on a tiny model and a tiny
concept-mask dataset, independent of the C++ code:
  model   Conv2d(3, 4, 3, padding=1) -> ReLU -> MaxPool2d(2) -> Conv2d(4, 5, 3, padding=1), dissected at
          the last conv (layer "3", pre-ReLU so thresholds can be negative), computed with explicit
          float64 loops;
  data    10 RGB images 16x16 (PNG) in tests/data/dissection/, masks of three concepts as PNG and
          float32 .npy, at 24x24 (images 0-7) or 16x16 (images 8-9), one image without masks, listed
          in index.csv (the format of docs/concepts.md);
  T_k     the exact order statistic of rank ceil((1 - q) n) of unit k's values (numpy's
          quantile(method="inverted_cdf"));
  M_k     bilinear upsampling with half-pixel centres (checked against torch's
          F.interpolate(mode="bilinear", align_corners=False)), then >= T_k;
  IoU     intersections and unions counted over the dataset.
Writes the dataset and tests/data/dissection_fixture.json (weights, q, thresholds, counts).

Run: /usr/bin/python3 tools/reference/make_dissection_fixtures.py
"""
import json
import os

import numpy as np
from PIL import Image

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data")
DATA = os.path.join(ROOT, "dissection")
Q = 0.03


def conv2d(x, w, b):  # x [C, H, W], w [K, C, 3, 3], padding 1
    c, h, wd = x.shape
    xp = np.zeros((c, h + 2, wd + 2))
    xp[:, 1:-1, 1:-1] = x
    out = np.zeros((w.shape[0], h, wd))
    for k in range(w.shape[0]):
        acc = np.full((h, wd), float(b[k]))
        for ci in range(c):
            for dy in range(3):
                for dx in range(3):
                    acc += float(w[k, ci, dy, dx]) * xp[ci, dy:dy + h, dx:dx + wd]
        out[k] = acc
    return out


def forward(x, p):
    a = np.maximum(conv2d(x, p["0.weight"], p["0.bias"]), 0)
    c, h, w = a.shape
    a = a.reshape(c, h // 2, 2, w // 2, 2).max(axis=(2, 4))
    return conv2d(a, p["3.weight"], p["3.bias"])


def upsample(m, oh, ow):  # bilinear, align_corners=False, clamped
    h, w = m.shape

    def axis(n_in, n_out):
        src = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
        src = np.maximum(src, 0)
        i0 = np.minimum(np.floor(src).astype(int), n_in - 1)
        i1 = np.minimum(i0 + 1, n_in - 1)
        return i0, i1, src - i0

    y0, y1, wy = axis(h, oh)
    x0, x1, wx = axis(w, ow)
    out = np.zeros((oh, ow))
    for y in range(oh):
        for x in range(ow):
            out[y, x] = (1 - wy[y]) * ((1 - wx[x]) * m[y0[y], x0[x]] + wx[x] * m[y0[y], x1[x]]) + \
                wy[y] * ((1 - wx[x]) * m[y1[y], x0[x]] + wx[x] * m[y1[y], x1[x]])
    return out


def main():
    rng = np.random.default_rng(18)
    os.makedirs(DATA, exist_ok=True)
    params = {
        "0.weight": (rng.standard_normal((4, 3, 3, 3)) * 0.4).astype(np.float32),
        "0.bias": (rng.standard_normal(4) * 0.1).astype(np.float32),
        "3.weight": (rng.standard_normal((5, 4, 3, 3)) * 0.3).astype(np.float32),
        "3.bias": (rng.standard_normal(5) * 0.1).astype(np.float32),
    }
    concepts = [("blob", "object"), ("left", "part"), ("bright", "colour")]
    rows = ["image,mask,concept,category"]
    images, masks = [], []
    yy, xx = np.mgrid[0:16, 0:16]
    for i in range(10):
        cy, cx, r = rng.uniform(4, 12), rng.uniform(4, 12), rng.uniform(2.5, 5)
        blob = ((yy + 0.5 - cy) ** 2 + (xx + 0.5 - cx) ** 2 <= r * r)
        img = rng.uniform(0.1, 0.5, (3, 16, 16))
        img[:, blob] = rng.uniform(0.5, 1.0, (3, 1))
        u8 = np.round(img * 255).astype(np.uint8)
        name = f"images/{i:02d}.png"
        os.makedirs(os.path.join(DATA, "images"), exist_ok=True)
        os.makedirs(os.path.join(DATA, "masks"), exist_ok=True)
        Image.fromarray(u8.transpose(1, 2, 0), "RGB").save(os.path.join(DATA, name))
        images.append(u8.astype(np.float32) / np.float32(255))
        mres = 24 if i < 8 else 16
        my, mx = np.mgrid[0:mres, 0:mres] * (16 / mres)
        mine = {}
        if i != 5:
            mine["blob"] = ((my + 0.5 * 16 / mres - cy) ** 2 + (mx + 0.5 * 16 / mres - cx) ** 2 <= r * r)
        if i % 3 != 2 and i != 5:
            mine["left"] = mx < 6
        if i % 2 == 0 and i != 5:
            lum = upsample(images[-1].mean(axis=0).astype(np.float64), mres, mres)
            mine["bright"] = lum > 0.55
        entry = {}
        for cname, cat in concepts:
            if cname not in mine:
                continue
            m = mine[cname]
            if cname == "left":
                path = f"masks/{i:02d}_{cname}.npy"
                np.save(os.path.join(DATA, path), m.astype(np.float32))
            else:
                path = f"masks/{i:02d}_{cname}.png"
                Image.fromarray((m * 255).astype(np.uint8), "L").save(os.path.join(DATA, path))
            rows.append(f"{name},{path},{cname},{cat}")
            entry[cname] = m.astype(bool)
        if not entry:  # no masks: the mask resolution is the image's (docs/concepts.md)
            rows.append(f"{name},,,")
            mres = 16
        masks.append((mres, entry))
    with open(os.path.join(DATA, "index.csv"), "w") as f:
        f.write("\n".join(rows) + "\n")

    p64 = {k: v.astype(np.float64) for k, v in params.items()}
    acts = [forward(x.astype(np.float64), p64) for x in images]  # [5, 8, 8] each
    units = acts[0].shape[0]
    thresholds, inter, union = [], [], []
    for k in range(units):
        vals = np.concatenate([a[k].ravel() for a in acts])
        t = float(np.quantile(vals, 1 - Q, method="inverted_cdf"))
        rank = int(np.ceil((1 - Q) * len(vals)))
        assert t == float(np.sort(vals)[rank - 1])
        thresholds.append(t)
        ik, uk = [], []
        for cname, _ in concepts:
            i_sum = u_sum = 0
            for a, (mres, entry) in zip(acts, masks):
                mk = upsample(a[k], mres, mres) >= t
                lc = entry.get(cname, np.zeros((mres, mres), bool))
                i_sum += int((mk & lc).sum())
                u_sum += int((mk | lc).sum())
            ik.append(i_sum)
            uk.append(u_sum)
        inter.append(ik)
        union.append(uk)

    try:  # the upsampling is PyTorch's
        import torch
        m = torch.tensor(acts[0][:1][None])
        ref = torch.nn.functional.interpolate(m, size=(24, 24), mode="bilinear", align_corners=False)[0, 0].numpy()
        assert np.allclose(ref, upsample(acts[0][0], 24, 24), atol=1e-12)
    except ImportError:
        pass

    fixture = {
        "quantile": Q,
        "params": {k: {"shape": list(v.shape), "data": [float(x) for x in v.ravel()]} for k, v in params.items()},
        "concepts": [{"name": n, "category": c} for n, c in concepts],
        "thresholds": thresholds,
        "intersections": inter,
        "unions": union,
    }
    with open(os.path.join(ROOT, "dissection_fixture.json"), "w") as f:
        json.dump(fixture, f, indent=1)
    print("thresholds", thresholds)
    print("intersections", inter)
    print("unions", union)


if __name__ == "__main__":
    main()
