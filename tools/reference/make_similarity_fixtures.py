#!/usr/bin/python3
"""Reference values for attribution/concepts/similarity (tests/attribution/concepts/test_similarity.cpp).

Independent numpy formulas (not the C++ algorithm): linear CKA and RBF CKA as in Kornblith et
al.'s published notebook (gram_linear / gram_rbf / center_gram / cka), CCA through QR
decompositions of the centred data (singular values of Qx^T Qy), SVCCA as an SVD of the centred
data keeping 99% of the variance (sum of squared singular values) then CCA, PWCCA with weights
a_i = sum_j |<h_i, x_j>| over the side of lower rank (h_i orthonormal canonical variates, x_j
centred feature columns). Writes tests/data/similarity_fixture.json (small: two tall pairs and
one wide pair, values rounded to 6 decimals in the data so C++ reads exactly what numpy used).

Run: /usr/bin/python3 tools/reference/make_similarity_fixtures.py
"""
import json
import os

import numpy as np


def gram_linear(x):
    return x @ x.T


def gram_rbf(x, threshold):
    dot = x @ x.T
    sq = np.diag(dot)
    d2 = -2 * dot + sq[:, None] + sq[None, :]
    return np.exp(-d2 / (2 * threshold ** 2 * np.median(d2)))


def center_gram(g, unbiased):
    g = g.copy()
    if unbiased:
        n = g.shape[0]
        np.fill_diagonal(g, 0)
        means = np.sum(g, 0) / (n - 2)
        means -= np.sum(means) / (2 * (n - 1))
        g -= means[:, None]
        g -= means[None, :]
        np.fill_diagonal(g, 0)
    else:
        means = np.mean(g, 0)
        means -= np.mean(means) / 2
        g -= means[:, None]
        g -= means[None, :]
    return g


def cka(gx, gy, unbiased=False):
    gx, gy = center_gram(gx, unbiased), center_gram(gy, unbiased)
    return float(gx.ravel() @ gy.ravel() / (np.linalg.norm(gx) * np.linalg.norm(gy)))


def orth(xc):
    u, s, _ = np.linalg.svd(xc, full_matrices=False)
    r = int(np.sum(s > 1e-8 * s[0]))
    return u[:, :r]


def cca(x, y):
    xc, yc = x - x.mean(0), y - y.mean(0)
    qx, qy = orth(xc), orth(yc)
    u, rho, vt = np.linalg.svd(qx.T @ qy, full_matrices=False)
    return xc, yc, qx, qy, u, np.clip(rho, 0, 1), vt.T


def svd_reduce(x, keep=0.99):
    xc = x - x.mean(0)
    u, s, _ = np.linalg.svd(xc, full_matrices=False)
    frac = np.cumsum(s ** 2) / np.sum(s ** 2)
    k = int(np.searchsorted(frac, keep - 1e-12) + 1)
    return u[:, :k] * s[:k]


def pwcca(x, y):
    xc, yc, qx, qy, u, rho, v = cca(x, y)
    if qx.shape[1] <= qy.shape[1]:
        h, acts = qx @ u, xc
    else:
        h, acts = qy @ v, yc
    w = np.abs(h.T @ acts).sum(1)
    return float(np.sum(w * rho) / np.sum(w))


def case(name, x, y):
    x = np.round(x, 6)
    y = np.round(y, 6)
    out = {"name": name, "x": x.tolist(), "y": y.tolist(),
           "cka": cka(gram_linear(x - x.mean(0)), gram_linear(y - y.mean(0))),
           "cka_rbf": cka(gram_rbf(x, 0.5), gram_rbf(y, 0.5)),
           "cka_rbf_unbiased": cka(gram_rbf(x, 0.5), gram_rbf(y, 0.5), True),
           "svcca": float(cca(svd_reduce(x), svd_reduce(y))[5].mean())}
    if x.shape[1] < x.shape[0] and y.shape[1] < y.shape[0]:
        out["cca"] = float(cca(x, y)[5].mean())
        out["pwcca"] = pwcca(x, y)
    return out


def main():
    rng = np.random.default_rng(18)
    cases = []
    # tall: n > p, q; y a noisy linear map of x plus extra features
    x = rng.normal(size=(40, 6))
    y = np.concatenate([x @ rng.normal(size=(6, 3)), rng.normal(size=(40, 2))], 1) + 0.3 * rng.normal(size=(40, 5))
    cases.append(case("tall_related", x, y))
    # tall, with a ReLU and a constant (dead) feature on the y side
    x = rng.normal(size=(30, 4))
    y = np.maximum(x @ rng.normal(size=(4, 7)), 0)
    y[:, 3] = 0.0
    cases.append(case("tall_relu_dead", x, y))
    # wide: more features than examples (example-space forms)
    x = rng.normal(size=(12, 30))
    y = np.tanh(x[:, :20] @ rng.normal(size=(20, 25))) + 0.1 * rng.normal(size=(12, 25))
    cases.append(case("wide", x, y))
    path = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "similarity_fixture.json")
    with open(path, "w") as f:
        json.dump({"generator": "tools/reference/make_similarity_fixtures.py", "rbf_threshold": 0.5,
                   "keep_variance": 0.99, "cases": cases}, f)
    print("wrote", os.path.normpath(path))


if __name__ == "__main__":
    main()
