#!/usr/bin/env python3
"""PyTorch reference fixtures for every engine op (engine/ops/ops.h) and two small composed networks.

What it writes (tests/data/engine/, read by tests/engine/test_torch_parity*.cpp):
  ops_linear_conv.safetensors   linear, conv2d (stride, padding, dilation, groups, depthwise, 1x1, combos)
  ops_norm_pool.safetensors     batchnorm 1d/2d (eval), avgpool2d (ceil_mode, count_include_pad=False),
                                adaptive_avgpool2d, maxpool2d (ceil_mode, padding, dilation)
  ops_activation.safetensors    relu, relu6, leaky_relu, sigmoid, tanh, gelu (exact, tanh), dropout (eval)
  ops_softmax_norm.safetensors  softmax / log_softmax on two axes, layernorm (1 and 2 trailing dims)
  ops_binary.safetensors        add / sub / mul with broadcasting, scale
  ops_shape.safetensors         reshape, flatten, permute, transpose, concat, slice (step), pad
  ops_reduce_matmul.safetensors sum / mean (keepdim), matmul (batched, broadcast), embedding
  small_cnn.safetensors         state_dict (PyTorch keys, BatchNorm with randomised running stats)
  small_cnn_io.safetensors      input, logits, cotangent, grad.input (eval mode)
  attention_block.safetensors   state_dict of LN -> MultiheadAttention(batch_first) -> residual ->
                                LN -> MLP(GELU) -> residual -> mean over tokens -> Linear head
  attention_block_io.safetensors  input, logits, cotangent, grad.input

Op files: one "case" per op configuration, tensors named "<case>/in.<arg>" (inputs and parameters
in engine argument order), "<case>/out", "<case>/cot" (random upstream gradient) and
"<case>/grad.<arg>" (d sum(cot * out) / d arg, PyTorch autograd). The metadata key "cases" holds a
JSON list of {"name", "op", "inputs" (order), "params", "buffers", "grads", "attrs"}, so the C++
side reads the op configuration from the file instead of repeating it.

Numerics: inputs, parameters and cotangents are drawn in float32; PyTorch then runs in float64 on
those exact values and the results are rounded to float32, so the references carry no float32
accumulation error of their own. Non-smooth ops draw inputs away from kinks; separate "kinks" cases
put values exactly on them to pin PyTorch's convention (relu'(0) = 0, relu6'(6) = 0, leaky'(0) = slope).
Every case is seeded from its name (crc32), so adding a case never changes the others.

Run from anywhere (deterministic; ~1 s; needs torch and the pip package safetensors):
    /usr/bin/python3 tools/reference/make_engine_fixtures.py
"""
import json
import os
import struct
import sys
import zlib

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

OUT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "engine"))


class Fixture:
    """Collects the cases of one file."""

    def __init__(self, filename):
        self.filename = filename
        self.tensors = {}
        self.cases = []

    def case(self, name, op, fn, inputs, params=(), buffers=(), indices=(), attrs=None):
        """inputs: list of (arg name, float32 tensor) in engine argument order. params/buffers:
        which of them are parameters/buffers. indices: integer inputs (stored as float, passed as long).
        fn(**float64 tensors) -> output. Gradients for everything but buffers and indices."""
        assert name not in [c["name"] for c in self.cases], name
        gen = torch.Generator().manual_seed(zlib.crc32(name.encode()))
        args = {}
        grads = []
        for arg, t in inputs:
            assert t.dtype == torch.float32, (name, arg)
            self.tensors[f"{name}/in.{arg}"] = t.clone().contiguous()
            if arg in indices:
                args[arg] = t.long()
            else:
                args[arg] = t.double().requires_grad_(arg not in buffers)
                if arg not in buffers:
                    grads.append(arg)
        out = fn(**args)
        cot = torch.randn(out.shape, generator=gen)
        out.backward(cot.double())
        self.tensors[f"{name}/out"] = out.detach().float().contiguous()
        self.tensors[f"{name}/cot"] = cot
        for arg in grads:
            self.tensors[f"{name}/grad.{arg}"] = args[arg].grad.float().contiguous()
        self.cases.append({"name": name, "op": op, "inputs": [a for a, _ in inputs], "params": list(params),
                           "buffers": list(buffers), "grads": grads, "attrs": attrs or {}})

    def save(self):
        meta = {"cases": json.dumps(self.cases), "generator": os.path.basename(sys.argv[0]),
                "torch": torch.__version__}
        path = os.path.join(OUT, self.filename)
        save(self.tensors, path, meta)
        return path


def save(tensors, path, metadata):
    """save_file, then rewrite the header with sorted metadata keys: the Rust writer emits them in
    HashMap order, which would change the file on every run."""
    save_file(tensors, path, metadata=metadata)
    with open(path, "r+b") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
        text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
        assert len(text) <= n, path
        f.seek(8)
        f.write(text + b" " * (n - len(text)))


def rng(name):
    return torch.Generator().manual_seed(zlib.crc32(("inputs:" + name).encode()))


def randn(g, *shape, scale=1.0):
    return torch.randn(shape, generator=g) * scale


def uniform(g, lo, hi, *shape):
    return torch.rand(shape, generator=g) * (hi - lo) + lo


def away_from(t, kinks, margin=0.05):
    for k in kinks:
        near = (t - k).abs() < margin
        t = torch.where(near, torch.where(t >= k, torch.full_like(t, k + margin), torch.full_like(t, k - margin)), t)
    return t


# --- linear and conv ------------------------------------------------------------------------------

def linear_conv():
    fx = Fixture("ops_linear_conv.safetensors")
    for name, xs, out_f, bias in [("linear.bias", (3, 5), 4, True), ("linear.nobias_3d", (2, 3, 5), 4, False),
                                  ("linear.4d", (2, 2, 3, 6), 3, True)]:
        g = rng(name)
        ins = [("x", randn(g, *xs)), ("weight", randn(g, out_f, xs[-1], scale=0.5))]
        if bias:
            ins.append(("bias", randn(g, out_f)))
        fx.case(name, "linear", lambda x, weight, bias=None: F.linear(x, weight, bias), ins,
                params=[a for a, _ in ins[1:]])

    conv_cases = [
        # name, x shape, weight shape, stride, padding, dilation, groups, bias
        ("conv2d.basic", (2, 3, 7, 6), (4, 3, 3, 3), (1, 1), (0, 0), (1, 1), 1, True),
        ("conv2d.stride_pad", (1, 2, 8, 7), (3, 2, 3, 2), (2, 3), (1, 2), (1, 1), 1, True),
        ("conv2d.dilation_nobias", (1, 2, 9, 9), (2, 2, 3, 3), (1, 1), (2, 1), (2, 3), 1, False),
        ("conv2d.groups", (2, 4, 5, 5), (6, 2, 3, 3), (1, 1), (1, 1), (1, 1), 2, True),
        ("conv2d.depthwise_mult2", (1, 3, 6, 6), (6, 1, 3, 3), (2, 2), (1, 1), (1, 1), 3, True),
        ("conv2d.depthwise", (2, 4, 7, 7), (4, 1, 3, 3), (1, 1), (1, 1), (1, 1), 4, True),
        ("conv2d.depthwise_stride_dil", (1, 4, 9, 8), (4, 1, 3, 3), (2, 1), (2, 2), (2, 2), 4, False),
        ("conv2d.pointwise", (2, 3, 4, 5), (5, 3, 1, 1), (1, 1), (0, 0), (1, 1), 1, True),
        ("conv2d.combo", (1, 4, 11, 10), (4, 2, 3, 2), (2, 1), (2, 1), (2, 2), 2, True),
        ("conv2d.large_kernel", (1, 2, 6, 6), (3, 2, 5, 5), (1, 1), (2, 2), (1, 1), 1, True),
        ("conv2d.stride_gt_kernel", (1, 2, 9, 9), (2, 2, 2, 2), (3, 3), (0, 0), (1, 1), 1, True),
    ]
    for name, xs, ws, stride, padding, dilation, groups, bias in conv_cases:
        g = rng(name)
        ins = [("x", randn(g, *xs)), ("weight", randn(g, *ws, scale=0.5))]
        if bias:
            ins.append(("bias", randn(g, ws[0])))
        fx.case(name, "conv2d",
                lambda x, weight, bias=None, s=stride, p=padding, d=dilation, gr=groups:
                    F.conv2d(x, weight, bias, stride=s, padding=p, dilation=d, groups=gr),
                ins, params=[a for a, _ in ins[1:]],
                attrs={"stride": list(stride), "padding": list(padding), "dilation": list(dilation), "groups": groups})
    return fx


# --- batchnorm and pooling ------------------------------------------------------------------------

def norm_pool():
    fx = Fixture("ops_norm_pool.safetensors")
    for name, xs, eps in [("batchnorm.1d", (4, 3), 1e-5), ("batchnorm.1d_ncl", (2, 3, 5), 1e-5),
                          ("batchnorm.2d", (2, 3, 4, 5), 1e-3)]:
        g = rng(name)
        c = xs[1]
        ins = [("x", randn(g, *xs)), ("weight", 1 + randn(g, c, scale=0.3)), ("bias", randn(g, c, scale=0.3)),
               ("running_mean", randn(g, c, scale=0.5)), ("running_var", uniform(g, 0.3, 2.0, c))]
        fx.case(name, "batchnorm",
                lambda x, weight, bias, running_mean, running_var, e=eps:
                    F.batch_norm(x, running_mean, running_var, weight, bias, training=False, eps=e),
                ins, params=["weight", "bias"], buffers=["running_mean", "running_var"], attrs={"eps": eps})

    def pool_attrs(k, s, p, d=(1, 1), ceil=False, count=True):
        return {"kernel": list(k), "stride": list(s), "padding": list(p), "dilation": list(d), "ceil_mode": ceil,
                "count_include_pad": count}

    avg_cases = [
        ("avgpool2d.k2s2", (2, 3, 6, 6), (2, 2), (2, 2), (0, 0), False, True),
        ("avgpool2d.k3s2p1_ceil", (1, 2, 7, 7), (3, 3), (2, 2), (1, 1), True, True),
        ("avgpool2d.k3s2p1_ceil_nocount", (1, 2, 7, 7), (3, 3), (2, 2), (1, 1), True, False),
        ("avgpool2d.k3s2p1_nocount", (1, 2, 6, 8), (3, 3), (2, 2), (1, 1), False, False),
        ("avgpool2d.rect_nocount", (1, 2, 6, 7), (2, 3), (1, 2), (1, 1), False, False),
        ("avgpool2d.ceil_last_window", (1, 1, 5, 5), (2, 2), (2, 2), (1, 1), True, True),
        ("avgpool2d.ceil_overhang", (1, 2, 6, 6), (3, 3), (2, 2), (0, 0), True, True),
    ]
    for name, xs, k, s, p, ceil, count in avg_cases:
        g = rng(name)
        fx.case(name, "avgpool2d",
                lambda x, k=k, s=s, p=p, ceil=ceil, count=count:
                    F.avg_pool2d(x, k, s, p, ceil_mode=ceil, count_include_pad=count),
                [("x", randn(g, *xs))], attrs=pool_attrs(k, s, p, ceil=ceil, count=count))

    max_cases = [
        ("maxpool2d.k2s2", (2, 3, 6, 6), (2, 2), (2, 2), (0, 0), (1, 1), False, 0.0),
        ("maxpool2d.k3s2p1_ceil", (1, 2, 7, 7), (3, 3), (2, 2), (1, 1), (1, 1), True, 0.0),
        ("maxpool2d.dilation", (1, 2, 8, 8), (3, 3), (1, 1), (1, 1), (2, 2), False, 0.0),
        ("maxpool2d.rect", (1, 2, 6, 7), (2, 3), (2, 1), (1, 1), (1, 1), False, 0.0),
        ("maxpool2d.ceil_last_window", (1, 1, 5, 5), (2, 2), (2, 2), (1, 1), (1, 1), True, 0.0),
        ("maxpool2d.negative_padded", (1, 2, 5, 5), (3, 3), (2, 2), (1, 1), (1, 1), True, -5.0),
        ("maxpool2d.overlap_s1", (1, 2, 5, 6), (3, 2), (1, 1), (0, 1), (1, 1), False, 0.0),
    ]
    for name, xs, k, s, p, d, ceil, shift in max_cases:
        g = rng(name)
        fx.case(name, "maxpool2d",
                lambda x, k=k, s=s, p=p, d=d, ceil=ceil: F.max_pool2d(x, k, s, p, dilation=d, ceil_mode=ceil),
                [("x", randn(g, *xs) + shift)], attrs=pool_attrs(k, s, p, d=d, ceil=ceil))

    for name, xs, out in [("adaptive_avgpool2d.3x2", (2, 3, 7, 5), (3, 2)),
                          ("adaptive_avgpool2d.global", (2, 3, 5, 4), (1, 1)),
                          ("adaptive_avgpool2d.overlap", (1, 2, 5, 6), (4, 4)),
                          ("adaptive_avgpool2d.upsample", (1, 2, 3, 3), (4, 5))]:
        g = rng(name)
        fx.case(name, "adaptive_avgpool2d", lambda x, out=out: F.adaptive_avg_pool2d(x, out),
                [("x", randn(g, *xs))], attrs={"output_size": list(out)})
    return fx


# --- activations ----------------------------------------------------------------------------------

def activation():
    fx = Fixture("ops_activation.safetensors")
    kinks = torch.tensor([-1.0, 0.0, -0.0, 0.5, 6.0, 7.0, -6.0, 0.0])

    def smooth(name, lo, hi, kink_list):
        return away_from(uniform(rng(name), lo, hi, 2, 3, 4), kink_list)

    fx.case("relu", "relu", lambda x: F.relu(x), [("x", smooth("relu", -8, 8, [0.0]))])
    fx.case("relu.kinks", "relu", lambda x: F.relu(x), [("x", kinks.clone())])
    fx.case("relu6", "relu6", lambda x: F.relu6(x), [("x", smooth("relu6", -8, 8, [0.0, 6.0]))])
    fx.case("relu6.kinks", "relu6", lambda x: F.relu6(x), [("x", kinks.clone())])
    for slope in (0.01, 0.2):
        name = f"leaky_relu.{slope}"
        fx.case(name, "leaky_relu", lambda x, s=slope: F.leaky_relu(x, s), [("x", smooth(name, -8, 8, [0.0]))],
                attrs={"negative_slope": slope})
    fx.case("leaky_relu.kinks", "leaky_relu", lambda x: F.leaky_relu(x, 0.1), [("x", kinks.clone())],
            attrs={"negative_slope": 0.1})
    large = torch.tensor([-90.0, -30.0, -12.0, -1e-3, 0.0, 1e-3, 12.0, 30.0, 90.0])
    fx.case("sigmoid", "sigmoid", lambda x: torch.sigmoid(x), [("x", uniform(rng("sigmoid"), -6, 6, 2, 3, 4))])
    fx.case("sigmoid.large", "sigmoid", lambda x: torch.sigmoid(x), [("x", large.clone())])
    fx.case("tanh", "tanh", lambda x: torch.tanh(x), [("x", uniform(rng("tanh"), -4, 4, 2, 3, 4))])
    fx.case("tanh.large", "tanh", lambda x: torch.tanh(x), [("x", large.clone())])
    for approx in ("none", "tanh"):
        attrs = {"tanh_approximation": approx == "tanh"}
        name = f"gelu.{'exact' if approx == 'none' else 'tanh'}"
        fx.case(name, "gelu", lambda x, a=approx: F.gelu(x, approximate=a),
                [("x", uniform(rng(name), -5, 5, 2, 3, 4))], attrs=attrs)
        fx.case(name + ".large", "gelu", lambda x, a=approx: F.gelu(x, approximate=a), [("x", large.clone())],
                attrs=attrs)
    fx.case("dropout.eval", "dropout", lambda x: F.dropout(x, 0.3, training=False),
            [("x", randn(rng("dropout"), 3, 4))], attrs={"p": 0.3})
    return fx


# --- softmax, log_softmax, layernorm --------------------------------------------------------------

def softmax_norm():
    fx = Fixture("ops_softmax_norm.safetensors")
    for op, fn in (("softmax", F.softmax), ("log_softmax", F.log_softmax)):
        for suffix, shape, axis, scale in (("last", (2, 3, 5), -1, 1.0), ("axis1", (2, 3, 5), 1, 1.0),
                                           ("axis0", (3, 4, 2), 0, 1.0), ("large", (3, 4), -1, 30.0)):
            name = f"{op}.{suffix}"
            fx.case(name, op, lambda x, a=axis, f=fn: f(x, dim=a), [("x", randn(rng(name), *shape, scale=scale))],
                    attrs={"axis": axis})
    for name, xs, nd, affine, eps, scale in (("layernorm.last", (2, 3, 8), 1, True, 1e-5, 1.0),
                                             ("layernorm.two_dims", (2, 3, 4), 2, True, 1e-5, 1.0),
                                             ("layernorm.noaffine", (4, 6), 1, False, 1e-5, 1.0),
                                             ("layernorm.eps_small_var", (3, 5), 1, True, 1e-3, 0.01),
                                             ("layernorm.offset", (2, 7), 1, True, 1e-5, 1.0)):
        g = rng(name)
        norm_shape = xs[-nd:]
        x = randn(g, *xs, scale=scale)
        if name.endswith("offset"):
            x = x + 50.0  # large mean: catches one-pass variance cancellation
        ins = [("x", x)]
        if affine:
            ins += [("weight", 1 + randn(g, *norm_shape, scale=0.3)), ("bias", randn(g, *norm_shape, scale=0.3))]
        fx.case(name, "layernorm",
                lambda x, weight=None, bias=None, ns=norm_shape, e=eps: F.layer_norm(x, ns, weight, bias, e),
                ins, params=[a for a, _ in ins[1:]], attrs={"normalized_dims": nd, "eps": eps})
    return fx


# --- binary ---------------------------------------------------------------------------------------

def binary():
    fx = Fixture("ops_binary.safetensors")
    shapes = [("same", (2, 3), (2, 3)), ("trailing", (2, 3, 4), (4,)), ("both", (2, 1, 4), (3, 1)),
              ("scalar_like", (1,), (2, 2)), ("outer", (3, 1, 5), (1, 4, 1)), ("lhs_small", (4,), (2, 3, 4))]
    for op, fn in (("add", torch.add), ("sub", torch.sub), ("mul", torch.mul)):
        for suffix, sa, sb in shapes:
            name = f"{op}.{suffix}"
            g = rng(name)
            fx.case(name, op, lambda a, b, f=fn: f(a, b), [("a", randn(g, *sa)), ("b", randn(g, *sb))])
    for name, shape, factor in (("scale.neg_half", (3, 2), -0.5), ("scale.eighth", (2, 2, 3), 0.125)):
        fx.case(name, "scale", lambda x, f=factor: x * f, [("x", randn(rng(name), *shape))], attrs={"factor": factor})
    return fx


# --- shape ops ------------------------------------------------------------------------------------

def shape_ops():
    fx = Fixture("ops_shape.safetensors")
    for name, xs, dims in (("reshape.infer", (2, 3, 4), (4, -1)), ("reshape.flat", (2, 3, 4), (24,)),
                           ("reshape.expand_dims", (6, 4), (2, 3, 1, 4))):
        fx.case(name, "reshape", lambda x, d=dims: x.reshape(d), [("x", randn(rng(name), *xs))],
                attrs={"dims": list(dims)})
    for name, xs, s, e in (("flatten.default", (2, 3, 4, 5), 1, -1), ("flatten.0_1", (2, 3, 4, 5), 0, 1),
                           ("flatten.1_2", (2, 3, 4, 5), 1, 2)):
        fx.case(name, "flatten", lambda x, s=s, e=e: torch.flatten(x, s, e), [("x", randn(rng(name), *xs))],
                attrs={"start_dim": s, "end_dim": e})
    for name, xs, perm in (("permute.3d", (2, 3, 4), (2, 0, 1)), ("permute.4d", (2, 3, 4, 5), (0, 2, 3, 1)),
                           ("permute.reverse", (2, 3, 4, 5), (3, 2, 1, 0))):
        fx.case(name, "permute", lambda x, p=perm: x.permute(p), [("x", randn(rng(name), *xs))],
                attrs={"perm": list(perm)})
    for name, xs, d0, d1 in (("transpose.12", (2, 3, 4), 1, 2), ("transpose.neg", (2, 3, 4, 5), -1, -2),
                             ("transpose.03", (2, 3, 4, 5), 0, 3)):
        fx.case(name, "transpose", lambda x, a=d0, b=d1: x.transpose(a, b), [("x", randn(rng(name), *xs))],
                attrs={"dim0": d0, "dim1": d1})
    for name, shapes, axis in (("concat.axis1", [(2, 1, 3), (2, 2, 3), (2, 3, 3)], 1),
                               ("concat.axis_neg1", [(2, 3, 1), (2, 3, 4)], -1),
                               ("concat.axis0", [(1, 4), (3, 4)], 0)):
        g = rng(name)
        ins = [(f"x{i}", randn(g, *s)) for i, s in enumerate(shapes)]
        fx.case(name, "concat", lambda a=axis, **xs: torch.cat([xs[k] for k in sorted(xs)], a), ins,
                attrs={"axis": axis})
    for name, xs, axis, start, end, step in (("slice.step2", (3, 7, 2), 1, 1, 6, 2),
                                             ("slice.negative", (4, 6), -1, -4, -1, 1),
                                             ("slice.step3_axis0", (8, 3), 0, 0, 8, 3),
                                             ("slice.clamped_end", (5, 4), 0, 2, 100, 1)):
        def fn(x, a=axis, s=start, e=end, st=step):
            idx = [slice(None)] * x.dim()
            idx[a] = slice(s, e, st)
            return x[tuple(idx)]
        fx.case(name, "slice", fn, [("x", randn(rng(name), *xs))],
                attrs={"axis": axis, "start": start, "end": end, "step": step})
    for name, xs, pads, value in (("pad.last", (2, 3, 4), (1, 2), 0.0),
                                  ("pad.two_dims_value", (2, 3, 4), (1, 0, 2, 1), 0.5),
                                  ("pad.three_dims", (1, 2, 3, 4), (0, 1, 1, 1, 2, 0), -1.0)):
        fx.case(name, "pad", lambda x, p=pads, v=value: F.pad(x, p, value=v), [("x", randn(rng(name), *xs))],
                attrs={"pads": list(pads), "value": value})
    return fx


# --- reductions, matmul, embedding ----------------------------------------------------------------

def reduce_matmul():
    fx = Fixture("ops_reduce_matmul.safetensors")
    for op, fn in (("sum", torch.sum), ("mean", torch.mean)):
        for suffix, axes, keep in (("axis1", [1], False), ("axes02_keep", [0, 2], True), ("neg", [-1], False),
                                   ("all", [0, 1, 2], False), ("neg_keep", [-2], True)):
            name = f"{op}.{suffix}"
            fx.case(name, op, lambda x, a=axes, k=keep, f=fn: f(x, dim=a, keepdim=k),
                    [("x", randn(rng(name), 2, 3, 4))], attrs={"axes": axes, "keepdim": keep})
    for name, sa, sb in (("matmul.2d", (3, 4), (4, 5)), ("matmul.batched", (2, 3, 4), (2, 4, 5)),
                         ("matmul.broadcast", (2, 1, 3, 4), (3, 4, 2)), ("matmul.broadcast_lhs", (3, 4), (2, 4, 5))):
        g = rng(name)
        fx.case(name, "matmul", lambda a, b: torch.matmul(a, b), [("a", randn(g, *sa)), ("b", randn(g, *sb))])
    for name, idx in (("embedding.2d", [[1, 3, 3], [9, 0, 1]]), ("embedding.1d", [4, 4, 4, 2, 7])):
        g = rng(name)
        fx.case(name, "embedding", lambda indices, weight: F.embedding(indices, weight),
                [("indices", torch.tensor(idx, dtype=torch.float32)), ("weight", randn(g, 10, 4))],
                params=["weight"], indices=["indices"])
    return fx


# --- composed networks ----------------------------------------------------------------------------

class SmallCNN(nn.Module):
    """conv-bn-relu-maxpool-conv-bn-relu-adaptive_avgpool-flatten-linear; input [N,3,14,14]."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu1 = nn.ReLU()
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(16)
        self.relu2 = nn.ReLU()
        self.avgpool = nn.AdaptiveAvgPool2d((3, 3))
        self.fc = nn.Linear(16 * 9, 10)

    def forward(self, x):
        x = self.pool(self.relu1(self.bn1(self.conv1(x))))
        x = self.avgpool(self.relu2(self.bn2(self.conv2(x))))
        return self.fc(torch.flatten(x, 1))


class AttentionBlock(nn.Module):
    """x + MHA(LN(x)); x + MLP(LN(x)); mean over tokens; linear head. Input [N,L,E], batch first."""

    def __init__(self, embed=16, heads=4, hidden=32, classes=5):
        super().__init__()
        self.ln1 = nn.LayerNorm(embed)
        self.attn = nn.MultiheadAttention(embed, heads, batch_first=True)
        self.ln2 = nn.LayerNorm(embed)
        self.mlp = nn.Sequential(nn.Linear(embed, hidden), nn.GELU(), nn.Linear(hidden, embed))
        self.head = nn.Linear(embed, classes)

    def forward(self, x):
        h = self.ln1(x)
        x = x + self.attn(h, h, h, need_weights=False)[0]
        x = x + self.mlp(self.ln2(x))
        return self.head(x.mean(dim=1))


def randomise(model, g):
    """Non-default values for everything PyTorch initialises to constants (BN stats, LN affine, biases)."""
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, nn.BatchNorm2d):
                c = mod.num_features
                mod.weight.copy_(1 + 0.3 * torch.randn(c, generator=g))
                mod.bias.copy_(0.2 * torch.randn(c, generator=g))
                mod.running_mean.copy_(0.5 * torch.randn(c, generator=g))
                mod.running_var.copy_(0.3 + 1.7 * torch.rand(c, generator=g))
                mod.num_batches_tracked.fill_(1234)
            elif isinstance(mod, nn.LayerNorm):
                mod.weight.copy_(1 + 0.3 * torch.randn(mod.weight.shape, generator=g))
                mod.bias.copy_(0.2 * torch.randn(mod.bias.shape, generator=g))
            elif isinstance(mod, nn.MultiheadAttention):
                mod.in_proj_bias.copy_(0.2 * torch.randn(mod.in_proj_bias.shape, generator=g))
                mod.out_proj.bias.copy_(0.2 * torch.randn(mod.out_proj.bias.shape, generator=g))


def network(name, model, input_shape, config):
    g = rng(name)
    randomise(model, g)
    model.eval()
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    x = torch.randn(input_shape, generator=g)
    xd = x.double().requires_grad_(True)
    logits = model.double()(xd)
    cot = torch.randn(logits.shape, generator=g)
    logits.backward(cot.double())
    meta = {"model": name, "config": json.dumps(config), "generator": os.path.basename(sys.argv[0]),
            "torch": torch.__version__, "format": "pt"}
    save(state, os.path.join(OUT, f"{name}.safetensors"), meta)
    io = {"input": x, "logits": logits.detach().float(), "cotangent": cot, "grad.input": xd.grad.float()}
    save(io, os.path.join(OUT, f"{name}_io.safetensors"), meta)
    return [os.path.join(OUT, f"{name}.safetensors"), os.path.join(OUT, f"{name}_io.safetensors")]


def main():
    torch.set_grad_enabled(True)
    os.makedirs(OUT, exist_ok=True)
    paths = [fx.save() for fx in (linear_conv(), norm_pool(), activation(), softmax_norm(), binary(), shape_ops(),
                                  reduce_matmul())]
    torch.manual_seed(zlib.crc32(b"small_cnn"))  # nn.Module initialisers use the global generator
    paths += network("small_cnn", SmallCNN(), (2, 3, 14, 14),
                     {"input": [2, 3, 14, 14], "classes": 10, "bn_eps": 1e-5})
    torch.manual_seed(zlib.crc32(b"attention_block"))
    paths += network("attention_block", AttentionBlock(), (2, 6, 16),
                     {"input": [2, 6, 16], "embed": 16, "heads": 4, "hidden": 32, "classes": 5, "ln_eps": 1e-5})
    total = 0
    for p in paths:
        total += os.path.getsize(p)
        print(f"{os.path.getsize(p):8d}  {p}")
    print(f"{total:8d}  total bytes")


if __name__ == "__main__":
    main()
