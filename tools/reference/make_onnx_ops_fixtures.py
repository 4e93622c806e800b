#!/usr/bin/env python3
"""PyTorch references for the op kinds added for ONNX import (issue 16, Ops): exp, log, sqrt, erf,
abs, pow (constant exponent), clip, silu, hardsigmoid, hardswish, div, maximum, minimum, where
(constant condition), amax.

Writes
  tests/data/engine/ops_onnx_math.safetensors  engine-level cases in make_engine_fixtures.py's format
      (forward and every gradient, float64 torch), finite inputs plus NaN/+Inf/-Inf-poisoned ones
      (make_nonfinite_fixtures.py's poison()), ties for maximum/minimum/amax, kinks for clip,
      hardsigmoid and hardswish; read by tests/engine/test_ops_math.cpp.
  tests/data/onnx/new_ops.onnx + new_ops_parity.safetensors  a small conv net through every new op
      as torch 1.13 exports it (SiLU as Sigmoid -> Mul, Hardswish, Hardsigmoid, Clip(-0.5, 0.7),
      Exp, Abs, Neg, Log, Sqrt, Pow 2 and 3, Max, Min, Where on a constant mask, Div by an
      activation, Erf, ReduceMax, Expand of an activation); references as make_onnx_fixtures.py's
      (input [2, ...], logits, cotangent, input_grad, Captum saliency, target metadata); read by
      tests/models/test_onnx_ops.cpp.

    /usr/bin/python3 tools/reference/make_onnx_ops_fixtures.py
"""
import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))
from export_onnx import export  # noqa: E402
from make_engine_fixtures import Fixture, randn, rng, save  # noqa: E402
from make_nonfinite_fixtures import poison  # noqa: E402

NAN, INF = math.nan, math.inf
ONNX_OUT = os.path.normpath(os.path.join(HERE, "..", "..", "tests", "data", "onnx"))
SEED = 20261206


def unary_cases(fx):
    g = rng("onnx.unary")
    x = randn(g, 3, 7, scale=2.0)
    pos = torch.rand(3, 7, generator=g) * 3 + 0.1
    nf = poison(randn(g, 3, 8, scale=2.0), stride=5)
    nf[0, 0], nf[0, 2] = 0.0, -0.0
    unary = [("exp", torch.exp, x), ("log", torch.log, pos), ("sqrt", torch.sqrt, pos), ("erf", torch.erf, x),
             ("abs", torch.abs, x), ("silu", F.silu, x), ("hardswish", F.hardswish, x * 2)]
    for op, fn, xin in unary:
        fx.case(f"onnx.{op}", op, lambda x, f=fn: f(x), [("x", xin.clone())])
        fx.case(f"onnx.{op}.nonfinite", op, lambda x, f=fn: f(x), [("x", nf.clone())])
    # kinks: hardswish at -3 and 3, hardsigmoid at -3 and 3, clip at its bounds
    kinks = torch.tensor([[-3.0, 3.0, -2.0, 0.0, 2.5, -4.0, 4.0, 1.0]])
    fx.case("onnx.hardswish.kinks", "hardswish", lambda x: F.hardswish(x), [("x", kinks.clone())])
    fx.case("onnx.hardsigmoid", "hardsigmoid", lambda x: F.hardsigmoid(x), [("x", x * 3)],
            attrs={"alpha": 1.0 / 6.0, "beta": 0.5})
    fx.case("onnx.hardsigmoid.kinks", "hardsigmoid", lambda x: F.hardsigmoid(x), [("x", kinks.clone())],
            attrs={"alpha": 1.0 / 6.0, "beta": 0.5})
    fx.case("onnx.hardsigmoid.nonfinite", "hardsigmoid", lambda x: F.hardsigmoid(x), [("x", nf.clone())],
            attrs={"alpha": 1.0 / 6.0, "beta": 0.5})
    fx.case("onnx.hardsigmoid.onnx_default", "hardsigmoid", lambda x: torch.clamp(0.2 * x + 0.5, 0, 1),
            [("x", x.clone())], attrs={"alpha": 0.2, "beta": 0.5})
    for lo, hi in ((-0.5, 0.7), (-INF, 1.0), (0.25, INF)):
        name = f"onnx.clip.{lo}_{hi}"
        bounds = torch.tensor([[lo if lo > -INF else -1.0, hi if hi < INF else 1.0, 0.0, 2.0, -2.0]])
        fx.case(name, "clip", lambda x, lo=lo, hi=hi: torch.clamp(x, None if lo == -INF else lo,
                                                                   None if hi == INF else hi),
                [("x", torch.cat([x[:, :5], bounds]))],
                attrs={"min": None if lo == -INF else lo, "max": None if hi == INF else hi})  # null: unbounded
    fx.case("onnx.clip.nonfinite", "clip", lambda x: torch.clamp(x, -0.5, 0.7), [("x", nf.clone())],
            attrs={"min": -0.5, "max": 0.7})
    for p in (2.0, 3.0, 0.5, -1.0, -0.5, 1.7, 0.0):
        xin = pos if p in (0.5, -0.5, 1.7) else x
        fx.case(f"onnx.pow.{p}", "pow", lambda x, p=p: torch.pow(x, p), [("x", xin.clone())], attrs={"exponent": p})
        fx.case(f"onnx.pow.{p}.nonfinite", "pow", lambda x, p=p: torch.pow(x, p), [("x", nf.clone())],
                attrs={"exponent": p})


def binary_cases(fx):
    g = rng("onnx.binary")
    a, b = randn(g, 2, 3, 4), randn(g, 3, 1)
    fx.case("onnx.div", "div", lambda a, b: a / b, [("a", a.clone()), ("b", b + 2.5 * torch.sign(b))])
    fx.case("onnx.div.reverse", "div", lambda a, b: a / b, [("a", randn(g, 4)), ("b", a.clone() + 3.0)])
    na = poison(randn(g, 3, 4), stride=5)
    nb = poison(randn(g, 4), values=(INF, NAN, -INF, 0.0), stride=1, start=0)
    fx.case("onnx.div.nonfinite", "div", lambda a, b: a / b, [("a", na.clone()), ("b", nb.clone())])
    zeros = torch.tensor([0.0, -0.0, 1.0, 0.0])
    fx.case("onnx.div.by_zero", "div", lambda a, b: a / b, [("a", torch.tensor([1.0, 1.0, 0.0, 0.0])),
                                                            ("b", zeros)])
    ties_a = torch.tensor([[1.0, 2.0, 3.0, -1.0], [0.5, 0.5, -2.0, 4.0], [NAN, 1.0, INF, -INF]])
    ties_b = torch.tensor([[1.0, 1.0, 3.0, 2.0], [0.5, NAN, -INF, INF], [2.0, 1.0, 1.0, 0.0]])
    for op, fn in (("maximum", torch.maximum), ("minimum", torch.minimum)):
        fx.case(f"onnx.{op}", op, lambda a, b, f=fn: f(a, b), [("a", a.clone()), ("b", b.clone())])
        fx.case(f"onnx.{op}.ties_nonfinite", op, lambda a, b, f=fn: f(a, b), [("a", ties_a.clone()),
                                                                              ("b", ties_b.clone())])
    cond = (torch.arange(12).reshape(3, 4) % 3 == 0).float()
    fx.case("onnx.where", "where", lambda cond, a, b: torch.where(cond.bool(), a, b),
            [("cond", cond), ("a", randn(g, 2, 3, 4)), ("b", randn(g, 4))], indices=["cond"])
    fx.case("onnx.where.nonfinite", "where", lambda cond, a, b: torch.where(cond.bool(), a, b),
            [("cond", cond[0].clone()), ("a", na.clone()), ("b", nb.clone())], indices=["cond"])


def amax_cases(fx):
    g = rng("onnx.amax")
    x = randn(g, 2, 3, 4, 5)
    fx.case("onnx.amax.hw", "amax", lambda x: x.amax(dim=(2, 3)), [("x", x.clone())],
            attrs={"axes": [2, 3], "keepdim": False})
    fx.case("onnx.amax.c_keep", "amax", lambda x: x.amax(dim=1, keepdim=True), [("x", x.clone())],
            attrs={"axes": [1], "keepdim": True})
    ties = torch.tensor([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0], [NAN, 1.0, 5.0, 1.0], [-INF, -INF, -INF, -INF],
                         [INF, 1.0, INF, 0.0]])
    fx.case("onnx.amax.ties_nonfinite", "amax", lambda x: x.amax(dim=-1), [("x", ties)],
            attrs={"axes": [-1], "keepdim": False})


def layer_cases(fx):
    for name, xs, ws, st, pad, dil, groups, op in (
            ("basic", (2, 3, 5, 4), (3, 2, 3, 3), (1, 1), (0, 0), (1, 1), 1, (0, 0)),
            ("stride2_pad1_outpad1", (1, 4, 4, 5), (4, 3, 3, 3), (2, 2), (1, 1), (1, 1), 1, (1, 1)),
            ("groups_dilation", (1, 4, 5, 5), (4, 2, 3, 2), (2, 1), (1, 0), (2, 2), 2, (1, 0)),
            ("depthwise_k4s2", (1, 3, 4, 4), (3, 1, 4, 4), (2, 2), (1, 1), (1, 1), 3, (0, 0))):
        g = rng("onnx.convT." + name)
        x, w, b = randn(g, *xs), randn(g, *ws, scale=0.4), randn(g, ws[1] * groups)
        attrs = {"stride": list(st), "padding": list(pad), "dilation": list(dil), "groups": groups,
                 "output_padding": list(op)}
        fx.case(f"onnx.conv_transpose2d.{name}", "conv_transpose2d",
                lambda x, weight, bias, st=st, pad=pad, dil=dil, groups=groups, op=op:
                    F.conv_transpose2d(x, weight, bias, st, pad, op, groups, dil),
                [("x", x), ("weight", w), ("bias", b)], params=["weight", "bias"], attrs=attrs)
    g = rng("onnx.convT.nonfinite")
    fx.case("onnx.conv_transpose2d.nonfinite", "conv_transpose2d",
            lambda x, weight, bias: F.conv_transpose2d(x, weight, bias, 2, 1, 1),
            [("x", poison(randn(g, 1, 2, 4, 4), stride=11)), ("weight", randn(g, 2, 3, 3, 3, scale=0.4)),
             ("bias", randn(g, 3))], params=["weight", "bias"],
            attrs={"stride": [2, 2], "padding": [1, 1], "dilation": [1, 1], "groups": 1, "output_padding": [1, 1]})
    # resize: (name, x shape, torch call, attrs as the engine takes them)
    def rs(mode, coord, rnd, out, inv):
        return {"mode": mode, "coord": coord, "round": rnd, "out": list(out), "inv_scale": list(inv)}
    g = rng("onnx.resize")
    x = randn(g, 2, 2, 5, 4)
    cases = [
        ("nearest.x2", lambda x: F.interpolate(x, scale_factor=2, mode="nearest"),
         rs("nearest", "asymmetric", "floor", (10, 8), (0.5, 0.5))),
        ("nearest.size", lambda x: F.interpolate(x, size=(7, 3), mode="nearest"),
         rs("nearest", "asymmetric", "floor", (7, 3), (5 / 7, 4 / 3))),
        ("bilinear.x2", lambda x: F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False),
         rs("linear", "pytorch_half_pixel", "floor", (10, 8), (0.5, 0.5))),
        ("bilinear.size", lambda x: F.interpolate(x, size=(8, 6), mode="bilinear", align_corners=False),
         rs("linear", "pytorch_half_pixel", "floor", (8, 6), (5 / 8, 4 / 6))),
        ("bilinear.down", lambda x: F.interpolate(x, size=(3, 2), mode="bilinear", align_corners=False),
         rs("linear", "pytorch_half_pixel", "floor", (3, 2), (5 / 3, 2.0))),
        ("bilinear.align_corners", lambda x: F.interpolate(x, size=(9, 7), mode="bilinear", align_corners=True),
         rs("linear", "align_corners", "floor", (9, 7), (5 / 9, 4 / 7))),
        ("nearest_exact", lambda x: F.interpolate(x, size=(7, 6), mode="nearest-exact"),
         rs("nearest", "half_pixel", "round_prefer_ceil", (7, 6), (5 / 7, 4 / 6))),
    ]
    for name, fn, attrs in cases:
        fx.case(f"onnx.resize.{name}", "resize", lambda x, f=fn: f(x), [("x", x.clone())], attrs=attrs)
    fx.case("onnx.resize.bilinear.nonfinite", "resize",
            lambda x: F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False),
            [("x", poison(randn(g, 1, 1, 5, 5), stride=9))],
            attrs=rs("linear", "pytorch_half_pixel", "floor", (10, 10), (0.5, 0.5)))
    fx.case("onnx.resize.nearest.nonfinite", "resize", lambda x: F.interpolate(x, scale_factor=2, mode="nearest"),
            [("x", poison(randn(g, 1, 1, 5, 5), stride=9))],
            attrs=rs("nearest", "asymmetric", "floor", (10, 10), (0.5, 0.5)))


class NewLayers(nn.Module):
    """ConvTranspose, Resize (nearest, bilinear both ways), GroupNorm, InstanceNorm2d and 1-D
    convolutions and pools, as torch 1.13 exports them."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.gn = nn.GroupNorm(4, 8)
        self.up = nn.ConvTranspose2d(8, 6, 3, stride=2, padding=1, output_padding=1, groups=2)
        self.inorm = nn.InstanceNorm2d(6, affine=True)
        self.conv1d = nn.Conv1d(6, 4, 3, padding=2, dilation=2)
        self.maxpool1d = nn.MaxPool1d(3, 2, padding=1)
        self.avgpool1d = nn.AvgPool1d(2, 2, ceil_mode=True)
        self.up1d = nn.ConvTranspose1d(4, 4, 2, stride=2)
        self.fc = nn.Linear(4 * 16 + 6, 5)

    def forward(self, x):                                    # [N, 3, 8, 8]
        h = F.relu(self.gn(self.conv(x)))                     # [N, 8, 4, 4]
        h = F.interpolate(h, scale_factor=2, mode="nearest")  # [N, 8, 8, 8]
        h = self.inorm(self.up(h))                            # [N, 6, 16, 16]
        h = F.interpolate(h, size=(6, 5), mode="bilinear", align_corners=False)
        h = F.interpolate(h, size=(4, 8), mode="bilinear", align_corners=True)  # [N, 6, 4, 8]
        t = h.mean(dim=2)                                      # [N, 6, 8]
        t = self.avgpool1d(self.maxpool1d(torch.tanh(self.conv1d(t))))  # [N, 4, 2]
        t = self.up1d(F.interpolate(t, scale_factor=4, mode="linear", align_corners=False))  # [N, 4, 16]
        return self.fc(torch.cat([t.flatten(1), h.amax(dim=(2, 3))], dim=1))


class NewOps(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.register_buffer("mask", torch.arange(64).reshape(8, 8) % 3 == 0)
        self.fc = nn.Linear(24, 5)

    def forward(self, x):
        h = self.conv(x)
        a = F.silu(h)
        b = F.hardswish(h) + F.hardsigmoid(h)
        c = torch.clamp(h, -0.5, 0.7)
        d = torch.exp(-h.abs()) + torch.log(1.5 + torch.sigmoid(h)) + torch.sqrt(h * h + 1.0)
        e = h.pow(2) - 0.1 * h.pow(3)
        f = torch.maximum(a, b) - torch.minimum(c, d)
        g = torch.where(self.mask, f, e)
        r = torch.erf(g / (1.0 + d))
        s = torch.cat([r.amax(dim=(2, 3)), r.mean(dim=(2, 3))], dim=1)  # [N, 8]
        t = s.unsqueeze(1).expand(-1, 3, -1) * torch.tensor([1.0, -0.5, 2.0]).reshape(1, 3, 1)
        return self.fc(t.flatten(1))


def export_fixture(model, shape, name):
    """Exports `model` (float32, input `shape`) as ONNX_OUT/<name>.onnx with arch `name` and the
    exporter in the backlight metadata."""
    export(model, list(shape), "float32", os.path.join(ONNX_OUT, f"{name}.onnx"),
           {"backlight.arch": name, "backlight.input_shape": "x".join(str(d) for d in shape),
            "backlight.exporter": f"torch {torch.__version__}"})


def parity_references(model, x, gen, name, target, tensors, targets, deeplift=False):
    """float64 references of `model` (made double) at `x` as tensors["<name>.<key>"] (float32):
    input, logits, cotangent (drawn from `gen`), input_grad, Captum saliency for `target` and,
    with `deeplift`, DeepLift with a zero baseline; targets[name] = target."""
    from captum.attr import DeepLift, Saliency
    model = model.double()
    xg = x.clone().requires_grad_(True)
    y = model(xg)
    cot = torch.rand(y.shape, generator=gen, dtype=torch.float64) * 2 - 1
    (y * cot).sum().backward()
    targets[name] = target
    t = torch.tensor(target)
    refs = [("input", x), ("logits", y), ("cotangent", cot), ("input_grad", xg.grad),
            ("saliency", Saliency(model).attribute(x, target=t, abs=True))]
    if deeplift:
        refs.append(("deeplift", DeepLift(model).attribute(x, baselines=torch.zeros_like(x), target=t)))
    for key, v in refs:
        tensors[f"{name}.{key}"] = v.detach().float().contiguous()


def onnx_model(tensors, targets):
    gen = torch.Generator().manual_seed(SEED)
    torch.manual_seed(SEED)
    model = NewOps().eval()
    export_fixture(model, [1, 3, 8, 8], "new_ops")
    x = torch.rand(2, 3, 8, 8, generator=gen, dtype=torch.float64) * 2 - 1
    parity_references(model, x, gen, "new_ops", [1, 3], tensors, targets)

    layers = NewLayers().eval()
    for m in (layers.gn, layers.inorm):  # non-trivial affine parameters
        m.weight.data = torch.rand(m.weight.shape, generator=gen) + 0.5
        m.bias.data = torch.randn(m.bias.shape, generator=gen) * 0.2
    export_fixture(layers, [1, 3, 8, 8], "new_layers")
    x = torch.rand(2, 3, 8, 8, generator=gen, dtype=torch.float64) * 2 - 1
    parity_references(layers, x, gen, "new_layers", [0, 4], tensors, targets)


def main():
    fx = Fixture("ops_onnx_math.safetensors")
    unary_cases(fx)
    binary_cases(fx)
    amax_cases(fx)
    layer_cases(fx)
    print(fx.save(), len(fx.cases), "cases")
    tensors, targets = {}, {}
    onnx_model(tensors, targets)
    path = os.path.join(ONNX_OUT, "new_ops_parity.safetensors")
    save(tensors, path, {"targets": json.dumps(targets, sort_keys=True), "seed": str(SEED),
                         "generator": "tools/reference/make_onnx_ops_fixtures.py", "torch": torch.__version__})
    for f in ("new_ops.onnx", "new_layers.onnx", "new_ops_parity.safetensors"):
        print(f"{f}: {os.path.getsize(os.path.join(ONNX_OUT, f))} bytes")


if __name__ == "__main__":
    main()
