#!/usr/bin/env python3
"""PyTorch reference for NaN / +Inf / -Inf propagation through every engine op (issue 14).

Writes tests/data/engine/ops_nonfinite.safetensors in the format of make_engine_fixtures.py (same
Fixture class: "<case>/in.<arg>", "<case>/out", "<case>/cot", "<case>/grad.<arg>", "cases"
metadata), read by tests/engine/test_nonfinite_parity.cpp. Every case poisons a few input (or
weight) elements with NaN, +Inf and -Inf; the C++ side must give NaN exactly where PyTorch does,
the same infinities, and close finite values - forward and, where PyTorch defines one, gradient.
Values are small (|x| < 4) so that float32 and the float64 reference overflow alike.

    /usr/bin/python3 tools/reference/make_nonfinite_fixtures.py
"""
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from make_engine_fixtures import Fixture, randn, rng  # noqa: E402

NAN, INF = math.nan, math.inf


def poison(t, values=(NAN, INF, -INF), stride=7, start=1):
    """Puts `values` (cycled) at every `stride`-th flat position from `start`."""
    flat = t.reshape(-1).clone()
    for k, i in enumerate(range(start, flat.numel(), stride)):
        flat[i] = values[k % len(values)]
    return flat.reshape(t.shape)


def activations(fx):
    x = poison(randn(rng("nf.act"), 3, 8, scale=3.0), stride=5)
    x[0, 0] = 0.0  # a kink next to the specials
    fx.case("nf.relu", "relu", lambda x: F.relu(x), [("x", x.clone())])
    fx.case("nf.relu6", "relu6", lambda x: F.relu6(x), [("x", x.clone())])
    fx.case("nf.leaky_relu", "leaky_relu", lambda x: F.leaky_relu(x, 0.1), [("x", x.clone())],
            attrs={"negative_slope": 0.1})
    fx.case("nf.sigmoid", "sigmoid", lambda x: torch.sigmoid(x), [("x", x.clone())])
    fx.case("nf.tanh", "tanh", lambda x: torch.tanh(x), [("x", x.clone())])
    for approx in ("none", "tanh"):
        fx.case(f"nf.gelu.{approx}", "gelu", lambda x, a=approx: F.gelu(x, approximate=a), [("x", x.clone())],
                attrs={"tanh_approximation": approx == "tanh"})
    fx.case("nf.dropout", "dropout", lambda x: F.dropout(x, 0.3, training=False), [("x", x.clone())],
            attrs={"p": 0.3})
    fx.case("nf.scale", "scale", lambda x: x * -0.5, [("x", x.clone())], attrs={"factor": -0.5})


def softmax_norm(fx):
    # Rows: finite, one NaN, one +Inf, one -Inf, +Inf and -Inf, two +Inf, all -Inf.
    x = randn(rng("nf.softmax"), 7, 5)
    x[1, 2] = NAN
    x[2, 1] = INF
    x[3, 4] = -INF
    x[4, 0], x[4, 3] = INF, -INF
    x[5, 1], x[5, 2] = INF, INF
    x[6, :] = -INF
    for op, fn in (("softmax", F.softmax), ("log_softmax", F.log_softmax)):
        fx.case(f"nf.{op}.last", op, lambda x, f=fn: f(x, dim=-1), [("x", x.clone())], attrs={"axis": -1})
        fx.case(f"nf.{op}.axis0", op, lambda x, f=fn: f(x, dim=0), [("x", x.t().contiguous())], attrs={"axis": 0})
    g = rng("nf.layernorm")
    w, b = 1 + randn(g, 5, scale=0.3), randn(g, 5, scale=0.3)
    fx.case("nf.layernorm", "layernorm", lambda x, weight, bias: F.layer_norm(x, (5,), weight, bias, 1e-5),
            [("x", x[:6].clone()), ("weight", w), ("bias", b)], params=["weight", "bias"],
            attrs={"normalized_dims": 1, "eps": 1e-5})
    fx.case("nf.layernorm.weight", "layernorm", lambda x, weight, bias: F.layer_norm(x, (5,), weight, bias, 1e-5),
            [("x", randn(g, 3, 5)), ("weight", poison(w.clone(), stride=2)), ("bias", b.clone())],
            params=["weight", "bias"], attrs={"normalized_dims": 1, "eps": 1e-5})


def norm_pool(fx):
    g = rng("nf.batchnorm")
    c = 3
    x = poison(randn(g, 2, c, 4, 4), stride=11)
    bn = [("weight", 1 + randn(g, c, scale=0.3)), ("bias", randn(g, c, scale=0.3)),
          ("running_mean", randn(g, c, scale=0.5)), ("running_var", torch.rand(c, generator=g) + 0.3)]
    fx.case("nf.batchnorm", "batchnorm",
            lambda x, weight, bias, running_mean, running_var:
                F.batch_norm(x, running_mean, running_var, weight, bias, training=False, eps=1e-5),
            [("x", x.clone())] + bn, params=["weight", "bias"], buffers=["running_mean", "running_var"],
            attrs={"eps": 1e-5})
    bad = [(n, poison(t.clone(), values=(NAN,), stride=3, start=1) if n in ("weight", "running_mean") else t.clone())
           for n, t in bn]
    fx.case("nf.batchnorm.params", "batchnorm",
            lambda x, weight, bias, running_mean, running_var:
                F.batch_norm(x, running_mean, running_var, weight, bias, training=False, eps=1e-5),
            [("x", randn(g, 2, c, 3, 3))] + bad, params=["weight", "bias"], buffers=["running_mean", "running_var"],
            attrs={"eps": 1e-5})

    def attrs(k, s, p, d=(1, 1), ceil=False):
        return {"kernel": list(k), "stride": list(s), "padding": list(p), "dilation": list(d), "ceil_mode": ceil,
                "count_include_pad": True}
    # NaN as first, middle and last element of windows; +Inf and -Inf beside finite values.
    for name, xs, k, s, p, d, stride in (("k2s2", (1, 2, 8, 8), (2, 2), (2, 2), (0, 0), (1, 1), 5),
                                         ("k3s2p1", (1, 2, 9, 9), (3, 3), (2, 2), (1, 1), (1, 1), 7),
                                         ("k2s1", (1, 1, 6, 6), (2, 2), (1, 1), (0, 0), (1, 1), 9),
                                         ("k3s1", (1, 1, 7, 7), (3, 3), (1, 1), (1, 1), (1, 1), 13),
                                         ("generic", (1, 2, 8, 8), (3, 2), (1, 2), (1, 1), (2, 1), 6)):
        x = poison(randn(rng("nf.maxpool." + name), *xs), stride=stride)
        fx.case(f"nf.maxpool2d.{name}", "maxpool2d",
                lambda x, k=k, s=s, p=p, d=d: F.max_pool2d(x, k, s, p, dilation=d), [("x", x)],
                attrs=attrs(k, s, p, d))
    x = poison(randn(rng("nf.avgpool"), 1, 2, 6, 6), stride=9)
    fx.case("nf.avgpool2d", "avgpool2d", lambda x: F.avg_pool2d(x, 2, 2), [("x", x.clone())],
            attrs=attrs((2, 2), (2, 2), (0, 0)))
    fx.case("nf.adaptive_avgpool2d", "adaptive_avgpool2d", lambda x: F.adaptive_avg_pool2d(x, (4, 3)),
            [("x", x.clone())], attrs={"output_size": [4, 3]})


def linear_conv(fx):
    g = rng("nf.linear")
    fx.case("nf.linear.x", "linear", lambda x, weight, bias: F.linear(x, weight, bias),
            [("x", poison(randn(g, 4, 6), stride=5)), ("weight", randn(g, 3, 6, scale=0.5)), ("bias", randn(g, 3))],
            params=["weight", "bias"])
    fx.case("nf.linear.weight", "linear", lambda x, weight, bias: F.linear(x, weight, bias),
            [("x", randn(g, 4, 6)), ("weight", poison(randn(g, 3, 6, scale=0.5), stride=8)), ("bias", randn(g, 3))],
            params=["weight", "bias"])
    convs = [  # name, x shape, weight shape, stride, padding, groups, poison x / weight
        ("3x3", (1, 8, 10, 10), (8, 8, 3, 3), 1, 1, 1, "x"),   # Winograd-shaped
        ("3x3.weight", (1, 8, 10, 10), (8, 8, 3, 3), 1, 1, 1, "weight"),
        ("3x3.wide", (1, 16, 6, 6), (16, 16, 3, 3), 1, 1, 1, "x"),
        ("stride2", (1, 3, 9, 9), (4, 3, 3, 3), 2, 1, 1, "x"),
        ("pointwise", (1, 4, 5, 5), (6, 4, 1, 1), 1, 0, 1, "x"),
        ("depthwise", (1, 4, 7, 7), (4, 1, 3, 3), 1, 1, 4, "x"),
    ]
    for name, xs, ws, s, p, groups, where in convs:
        g = rng("nf.conv2d." + name)
        x, w = randn(g, *xs), randn(g, *ws, scale=0.3)
        if where == "x":
            x = poison(x, stride=37)
        else:
            w = poison(w, stride=41)
        fx.case(f"nf.conv2d.{name}", "conv2d",
                lambda x, weight, bias, s=s, p=p, gr=groups: F.conv2d(x, weight, bias, stride=s, padding=p, groups=gr),
                [("x", x), ("weight", w), ("bias", randn(g, ws[0]))], params=["weight", "bias"],
                attrs={"stride": [s, s], "padding": [p, p], "dilation": [1, 1], "groups": groups})


def binary_reduce(fx):
    g = rng("nf.binary")
    a, b = poison(randn(g, 3, 4), stride=5), poison(randn(g, 4), values=(INF, NAN, -INF, 0.0), stride=1, start=0)
    for op, fn in (("add", torch.add), ("sub", torch.sub), ("mul", torch.mul)):
        fx.case(f"nf.{op}", op, lambda a, b, f=fn: f(a, b), [("a", a.clone()), ("b", b.clone())])
    x = poison(randn(rng("nf.reduce"), 3, 5), stride=4)
    fx.case("nf.sum", "sum", lambda x: x.sum(dim=1), [("x", x.clone())], attrs={"axes": [1], "keepdim": False})
    fx.case("nf.mean", "mean", lambda x: x.mean(dim=0, keepdim=True), [("x", x.clone())],
            attrs={"axes": [0], "keepdim": True})
    g = rng("nf.matmul")
    fx.case("nf.matmul", "matmul", lambda a, b: a @ b,
            [("a", poison(randn(g, 2, 3, 4), stride=7)), ("b", randn(g, 4, 5))])
    fx.case("nf.matmul.zero_times_inf", "matmul", lambda a, b: a @ b,
            [("a", torch.tensor([[0.0, 1.0], [2.0, 0.0]])), ("b", torch.tensor([[INF, 1.0], [1.0, -INF]]))])


def main():
    fx = Fixture("ops_nonfinite.safetensors")
    activations(fx)
    softmax_norm(fx)
    norm_pool(fx)
    linear_conv(fx)
    binary_reduce(fx)
    print(fx.save(), len(fx.cases), "cases")


if __name__ == "__main__":
    main()
