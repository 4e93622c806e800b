#!/usr/bin/env python3
"""Writes tests/data/rules/rules_parity.safetensors: Zennit 0.5.1 composites and Captum 0.8
GuidedBackprop / Deconvolution / DeepLift on two small networks, for tests/rules/test_rules_parity.cpp.

Networks (weights from tools/reference/synthetic_weights.py, so no weights are stored):
  small_vgg_bn  features: conv(3,8)-bn-relu-conv(8,8)-bn-relu-maxpool-conv(8,16)-bn-relu-maxpool,
                avgpool: AdaptiveAvgPool2d(2), classifier: linear(64,32)-relu-dropout-linear(32,10)
  small_resnet  torchvision ResNet(BasicBlock, [1, 1, 1, 1], num_classes=10)
  small_vgg_bn_avgpool  small_vgg_bn with AvgPool2d(2) instead of MaxPool2d(2) (DeepLift only)
Input [2, 3, 32, 32], targets [3, 7]. Zennit runs with its canonizers (VGGCanonizer /
ResNetCanonizer); relevance is seeded with the one-hot target (Zennit's convention).

Run: /usr/bin/python3 tools/reference/make_rules_fixtures.py   (torch 1.13, zennit 0.5.1, captum 0.8)
"""
import os
import sys

import numpy as np
import torch
from safetensors.numpy import save_file

sys.path.insert(0, os.path.dirname(__file__))
from synthetic_weights import fill_synthetic, synthetic_uniform  # noqa: E402

from captum.attr import DeepLift, Deconvolution, GuidedBackprop  # noqa: E402
from torchvision.models.resnet import BasicBlock, ResNet  # noqa: E402
from zennit.attribution import Gradient  # noqa: E402
from zennit.composites import (EpsilonAlpha2Beta1, EpsilonAlpha2Beta1Flat, EpsilonGammaBox, EpsilonPlus,  # noqa: E402
                               EpsilonPlusFlat, LayerMapComposite, layer_map_base)
from zennit.rules import AlphaBeta, Epsilon  # noqa: E402
from zennit.torchvision import ResNetCanonizer, VGGCanonizer  # noqa: E402
from zennit.types import Convolution  # noqa: E402

SEED = 20261124
TARGETS = [3, 7]
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "rules", "rules_parity.safetensors")


class SmallVGG(torch.nn.Module):
    def __init__(self, pool=torch.nn.MaxPool2d):
        super().__init__()
        c = torch.nn
        self.features = c.Sequential(c.Conv2d(3, 8, 3, padding=1), c.BatchNorm2d(8), c.ReLU(),
                                     c.Conv2d(8, 8, 3, padding=1), c.BatchNorm2d(8), c.ReLU(), pool(2),
                                     c.Conv2d(8, 16, 3, padding=1), c.BatchNorm2d(16), c.ReLU(), pool(2))
        self.avgpool = c.AdaptiveAvgPool2d(2)
        self.classifier = c.Sequential(c.Linear(64, 32), c.ReLU(), c.Dropout(), c.Linear(32, 10))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def no_inplace(model):
    for m in model.modules():
        if isinstance(m, torch.nn.ReLU):
            m.inplace = False
    return model


def make(name):
    if name == "small_vgg_bn_avgpool":
        model = SmallVGG(torch.nn.AvgPool2d)
    else:
        model = SmallVGG() if name == "small_vgg_bn" else ResNet(BasicBlock, [1, 1, 1, 1], num_classes=10)
    return no_inplace(fill_synthetic(model, SEED).eval())


def composites(name):
    canon = (lambda: [VGGCanonizer()]) if name == "small_vgg_bn" else (lambda: [ResNetCanonizer()])
    return {
        "lrp_epsilon": LayerMapComposite(layer_map_base() + [(Convolution, Epsilon()), (torch.nn.Linear, Epsilon())],
                                         canonizers=canon()),
        "lrp_epsilon_plus": EpsilonPlus(canonizers=canon()),
        "lrp_epsilon_plus_flat": EpsilonPlusFlat(canonizers=canon()),
        "lrp_epsilon_gamma_box": EpsilonGammaBox(low=-3.0, high=3.0, canonizers=canon()),
        "lrp_epsilon_alpha2_beta1": EpsilonAlpha2Beta1(canonizers=canon()),
        "lrp_epsilon_alpha2_beta1_flat": EpsilonAlpha2Beta1Flat(canonizers=canon()),
        "lrp_alpha1_beta0": LayerMapComposite(
            layer_map_base() + [(Convolution, AlphaBeta(1, 0)), (torch.nn.Linear, AlphaBeta(1, 0))],
            canonizers=canon()),
    }


def main():
    torch.manual_seed(0)
    x = torch.from_numpy(synthetic_uniform((2, 3, 32, 32), SEED, "input", -1.0, 1.0))
    baseline = torch.from_numpy(synthetic_uniform((2, 3, 32, 32), SEED, "baseline", -0.1, 0.1))
    target = torch.tensor(TARGETS)
    out = {"input": x.numpy(), "baseline": baseline.numpy(), "target": target.float().numpy()}
    for net in ["small_vgg_bn", "small_resnet"]:
        model = make(net)
        with torch.no_grad():
            out[f"{net}/logits"] = model(x).numpy()
        one_hot = torch.eye(10)[target]
        for rs, comp in composites(net).items():
            model = make(net)
            with Gradient(model=model, composite=comp) as attributor:
                _, rel = attributor(x.clone().requires_grad_(True), one_hot)
            out[f"{net}/{rs}"] = rel.detach().numpy()
        model = make(net)
        out[f"{net}/guided_backprop"] = GuidedBackprop(model).attribute(x.clone(), target=target).detach().numpy()
        model = make(net)
        out[f"{net}/deconvnet"] = Deconvolution(model).attribute(x.clone(), target=target).detach().numpy()
    # Captum's DeepLift: its hooks fail on ResNet's reused relu module. When a hooked ReLU feeds a
    # hooked MaxPool through one shared tensor, the ReLU's tensor hook captures the gradient
    # before the pool's hook rewrites it, so the maxpool rule is silently dropped (delta ~0.1 on
    # this net). A forward pre-hook returning x * 1.0 separates the tensors without changing any
    # number; Captum's convergence delta is then ~1e-8 and its maxpool rule is really applied.
    model = make("small_vgg_bn")
    for m in model.modules():
        if isinstance(m, torch.nn.MaxPool2d):
            m.register_forward_pre_hook(lambda mod, inp: (inp[0] * 1.0,))
    out["small_vgg_bn/deeplift"] = DeepLift(model).attribute(x.clone(), baselines=baseline,
                                                              target=target).detach().numpy()
    model = make("small_vgg_bn_avgpool")
    out["small_vgg_bn_avgpool/deeplift"] = DeepLift(model).attribute(x.clone(), baselines=baseline,
                                                                     target=target).detach().numpy()
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}, OUT,
              metadata={"generator": "tools/reference/make_rules_fixtures.py", "seed": str(SEED)})
    print("wrote", OUT, os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
