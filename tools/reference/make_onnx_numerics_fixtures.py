#!/usr/bin/env python3
"""PyTorch references for group_norm (the fused GroupNorm node) and pow_tensor (Pow of two
activations), and an ONNX model that exercises them with Where on two activation branches.

Writes
  tests/data/engine/ops_onnx_numerics.safetensors  engine-level cases in make_engine_fixtures.py's
      format (forward and every gradient, float64 torch): group_norm with and without affine, rank 3
      and 4, 1 group, one channel per group, a constant group (variance 0), NaN/+-Inf-poisoned
      inputs; pow_tensor with broadcasting, negative bases with integer exponents, zero bases,
      constant base, NaN/+-Inf; read by tests/engine/test_ops_group_norm.cpp.
  tests/data/onnx/numerics_ops.onnx + numerics_ops_parity.safetensors  a small conv net with
      nn.GroupNorm (affine and not), Pow(activation, activation), Pow(constant, activation) and
      Where(constant mask, activation, activation) as torch 1.13 exports it; references (input
      [2, ...], logits, cotangent, input_grad, Captum saliency and DeepLift with a zero baseline,
      targets in the metadata); read by tests/models/test_onnx_numerics.cpp.
  tests/data/onnx/einsum_where.onnx (+ references in numerics_ops_parity.safetensors)  MaxViT-style
      einsum attention, an einsum with a weight, torch.where on comparisons of activations;
      tests/data/onnx/einsum_chain.onnx  a three-operand Einsum the importer refuses;
      tests/data/onnx/tiny_groupnorm.onnx  a GroupNorm conv net for LRP conservation
      (tests/attribution/test_lrp_imported.cpp).

    /usr/bin/python3 tools/reference/make_onnx_numerics_fixtures.py
"""
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))
from make_engine_fixtures import Fixture, randn, rng, save  # noqa: E402
from make_nonfinite_fixtures import poison  # noqa: E402
from make_onnx_ops_fixtures import INF, NAN, ONNX_OUT, SEED, export_fixture, parity_references  # noqa: E402


def group_norm_cases(fx):
    g = rng("onnx.group_norm")
    for name, shape, groups, affine in (("rank4", (2, 6, 3, 4), 3, True), ("rank3", (2, 4, 5), 2, True),
                                        ("one_group", (1, 4, 2, 3), 1, True), ("per_channel", (2, 4, 3, 3), 4, True),
                                        ("no_affine", (2, 6, 2, 2), 2, False)):
        x = randn(g, *shape, scale=2.0) + 0.5
        attrs = {"groups": groups, "eps": 1e-5}
        if affine:
            c = shape[1]
            w, b = torch.rand(c, generator=g) + 0.5, randn(g, c, scale=0.3)
            fx.case(f"onnx.group_norm.{name}", "group_norm",
                    lambda x, weight, bias, G=groups: F.group_norm(x, G, weight, bias, 1e-5),
                    [("x", x), ("weight", w), ("bias", b)], params=["weight", "bias"], attrs=attrs)
        else:
            fx.case(f"onnx.group_norm.{name}", "group_norm", lambda x, G=groups: F.group_norm(x, G, None, None, 1e-5),
                    [("x", x)], attrs=attrs)
    # A constant group: variance 0, rstd = 1/sqrt(eps); and eps != 1e-5.
    x = randn(g, 2, 4, 3, 3)
    x[0, 2:] = 1.25
    w, b = torch.rand(4, generator=g) + 0.5, randn(g, 4, scale=0.3)
    fx.case("onnx.group_norm.constant_group", "group_norm", lambda x, weight, bias: F.group_norm(x, 2, weight, bias, 1e-3),
            [("x", x), ("weight", w), ("bias", b)], params=["weight", "bias"], attrs={"groups": 2, "eps": 1e-3})
    # NaN / +-Inf in some groups: the whole group becomes NaN, the others stay finite.
    x = randn(g, 2, 6, 3, 3)
    x[0, 0, 1, 1] = NAN
    x[1, 3, 0, 2] = INF
    x[1, 5, 2, 2] = -INF
    fx.case("onnx.group_norm.nonfinite", "group_norm", lambda x, weight, bias: F.group_norm(x, 3, weight, bias, 1e-5),
            [("x", x), ("weight", torch.rand(6, generator=g) + 0.5), ("bias", randn(g, 6, scale=0.3))],
            params=["weight", "bias"], attrs={"groups": 3, "eps": 1e-5})


def pow_cases(fx):
    g = rng("onnx.pow_tensor")
    a = torch.rand(2, 3, 4, generator=g) * 2 + 0.2
    fx.case("onnx.pow_tensor", "pow_tensor", lambda a, b: torch.pow(a, b), [("a", a), ("b", randn(g, 3, 1))])
    fx.case("onnx.pow_tensor.reverse_broadcast", "pow_tensor", lambda a, b: torch.pow(a, b),
            [("a", torch.rand(4, generator=g) + 0.5), ("b", randn(g, 2, 3, 4))])
    # Negative bases with integer exponents (finite), zero bases with exponents of both signs.
    neg = torch.tensor([[-1.5, -2.0, 0.0, 0.0, 0.0, 3.0, -0.5, 2.0]])
    ex = torch.tensor([[2.0, 3.0, 2.0, 0.0, -1.0, 0.5, -2.0, 0.0]])
    fx.case("onnx.pow_tensor.signs_zeros", "pow_tensor", lambda a, b: torch.pow(a, b), [("a", neg), ("b", ex)])
    na = poison(torch.rand(3, 5, generator=g) * 2 + 0.1, stride=4)
    nb = poison(randn(g, 3, 5), values=(INF, NAN, -INF, 0.0), stride=3, start=0)
    fx.case("onnx.pow_tensor.nonfinite", "pow_tensor", lambda a, b: torch.pow(a, b), [("a", na), ("b", nb)])


class NumericsOps(nn.Module):
    """GroupNorm (affine and not), Pow of two activations, Pow of a constant base, Where on two
    activation branches; activations as modules, each called once (Captum's DeepLift hooks them)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.gn = nn.GroupNorm(4, 8)
        self.relu = nn.ReLU()
        self.gn2 = nn.GroupNorm(2, 8, affine=False)
        self.sigmoid = nn.Sigmoid()
        self.tanh = nn.Tanh()
        self.conv_t = nn.Conv2d(8, 8, 1)
        self.register_buffer("mask", torch.arange(64).reshape(8, 8) % 3 == 0)
        self.conv2 = nn.Conv2d(8, 4, 1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):                                   # [N, 3, 8, 8]
        h = self.relu(self.gn(self.conv(x)))
        t = self.tanh(self.conv_t(h))                       # a tanh input no other op reads (Captum)
        p = torch.pow(self.sigmoid(self.gn2(h)) + 0.5, t)   # activation ^ activation
        q = torch.pow(2.0, t)                               # constant ^ activation
        w = torch.where(self.mask, p, q)                    # both branches activations
        h3 = self.conv2(w)
        return self.fc(torch.cat([h3.mean(dim=(2, 3)), h3.amax(dim=(2, 3))], dim=1))


def onnx_model(tensors, targets):
    gen = torch.Generator().manual_seed(SEED)
    torch.manual_seed(SEED)
    model = NumericsOps().eval()
    model.gn.weight.data = torch.rand(8, generator=gen) + 0.5
    model.gn.bias.data = torch.randn(8, generator=gen) * 0.2
    export_fixture(model, [1, 3, 8, 8], "numerics_ops")
    x = torch.rand(2, 3, 8, 8, generator=gen, dtype=torch.float64) * 2 - 1
    parity_references(model, x, gen, "numerics_ops", [1, 3], tensors, targets, deeplift=True)


class TinyGroupNorm(nn.Module):
    """A conv net normalised by nn.GroupNorm only (affine and not): LRP conservation through the
    fused group_norm node (tests/attribution/test_lrp_imported.cpp zeroes the biases)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.gn1 = nn.GroupNorm(2, 8)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(8, 12, 3, padding=1, stride=2)
        self.gn2 = nn.GroupNorm(3, 12, affine=False)
        self.relu2 = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(12, 6)

    def forward(self, x):
        h = self.relu1(self.gn1(self.conv1(x)))
        h = self.relu2(self.gn2(self.conv2(h)))
        return self.fc(torch.flatten(self.pool(h), 1))


def tiny_groupnorm():
    gen = torch.Generator().manual_seed(SEED + 1)
    torch.manual_seed(SEED + 1)
    model = TinyGroupNorm().eval()
    model.gn1.weight.data = torch.rand(8, generator=gen) + 0.5
    model.gn1.bias.data = torch.randn(8, generator=gen) * 0.2
    export_fixture(model, [1, 3, 16, 16], "tiny_groupnorm")


class EinsumWhere(nn.Module):
    """Attention written with torch.einsum as torchvision's MaxViT writes it (upper-case letters
    with spaces: q @ k^T and attn @ v), an einsum with a weight operand and no batch letters, and
    torch.where whose conditions are comparisons of activations (Greater; Less, And)."""

    def __init__(self):
        super().__init__()
        self.q = nn.Linear(8, 8)
        self.k = nn.Linear(8, 8)
        self.v = nn.Linear(8, 8)
        self.proj = nn.Parameter(torch.randn(4, 5) * 0.5)
        self.tanh = nn.Tanh()
        self.fc = nn.Linear(10, 5)

    def forward(self, x):                                   # [N, T=6, 8]
        b, t, _ = x.shape
        q = self.q(x).reshape(b, t, 2, 4).permute(0, 2, 1, 3)
        k = self.k(x).reshape(b, t, 2, 4).permute(0, 2, 1, 3) * 0.5
        v = self.v(x).reshape(b, t, 2, 4).permute(0, 2, 1, 3)
        a = F.softmax(torch.einsum("B H I D, B H J D -> B H I J", q, k), dim=-1)
        o = torch.einsum("B H I J, B H J D -> B H I D", a, v)
        o = torch.einsum("bhid,de->bhie", o, self.proj)      # [N, 2, T, 5]
        y = o.permute(0, 2, 1, 3).reshape(b, t, 10)
        w = torch.where(y > 0, y, 0.1 * y)
        w = torch.where((x.sum(-1, keepdim=True) < 0.2) & (y < 0.5), w, self.tanh(w))
        return self.fc(w.mean(1))


def einsum_where(tensors, targets):
    gen = torch.Generator().manual_seed(SEED + 2)
    torch.manual_seed(SEED + 2)
    model = EinsumWhere().eval()
    export_fixture(model, [1, 6, 8], "einsum_where")
    x = torch.randn(3, 6, 8, generator=gen, dtype=torch.float64)
    parity_references(model, x, gen, "einsum_where", [0, 2, 4], tensors, targets)


def einsum_unsupported():
    """A three-operand Einsum (not a matrix product of two): the importer refuses it naming the
    node and the equation. Written with onnx.helper (torch writes the same node)."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    w1 = numpy_helper.from_array(np.full((3, 3), 0.5, np.float32), "w1")
    w2 = numpy_helper.from_array(np.full((3, 4), 0.25, np.float32), "w2")
    node = helper.make_node("Einsum", ["x", "w1", "w2"], ["y"], name="/chain/Einsum", equation="ij,jk,kl->il")
    graph = helper.make_graph([node], "einsum_chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], [w1, w2])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)  # torch 1.13 writes 8
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(ONNX_OUT, "einsum_chain.onnx"))


def main():
    fx = Fixture("ops_onnx_numerics.safetensors")
    group_norm_cases(fx)
    pow_cases(fx)
    print(fx.save(), len(fx.cases), "cases")
    tensors, targets = {}, {}
    onnx_model(tensors, targets)
    einsum_where(tensors, targets)
    tiny_groupnorm()
    einsum_unsupported()
    path = os.path.join(ONNX_OUT, "numerics_ops_parity.safetensors")
    save(tensors, path, {"targets": json.dumps(targets, sort_keys=True), "seed": str(SEED),
                         "generator": "tools/reference/make_onnx_numerics_fixtures.py", "torch": torch.__version__})
    for f in ("numerics_ops.onnx", "numerics_ops_parity.safetensors", "einsum_where.onnx", "tiny_groupnorm.onnx",
              "einsum_chain.onnx"):
        print(f"{f}: {os.path.getsize(os.path.join(ONNX_OUT, f))} bytes")


if __name__ == "__main__":
    main()
