"""Shared fixtures: small torch models and the same networks as backlight models (weights copied
through the state dict), plus the parity check used by every comparison with Captum and Zennit."""
import os
import sys

import numpy as np
import pytest

try:  # torch is optional: without it the parity tests skip and the rest still runs
    import torch
except ImportError:  # pragma: no cover - depends on the machine
    torch = None

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import convert_torch  # noqa: E402  (the zoo's small architectures as torch modules)

import backlight  # noqa: E402

if torch is not None:
    torch.set_num_threads(1)

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")


def assert_close(got, ref, rel=1e-4, what=""):
    """max |got - ref| <= rel * max |ref| (the issue's tolerance), with shapes equal."""
    got = got.detach().numpy() if hasattr(got, "detach") else np.asarray(got)
    ref = ref.detach().numpy() if hasattr(ref, "detach") else np.asarray(ref)
    assert got.shape == ref.shape, f"{what}: shape {got.shape} vs reference {ref.shape}"
    scale = float(np.abs(ref).max())
    err = float(np.abs(got - ref).max())
    assert err <= rel * max(scale, 1e-12), f"{what}: max |a - ref| = {err:.3g}, limit {rel} x {scale:.3g}"


def _randomise_bn(model, seed):
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            n = m.num_features
            m.weight.data = 0.5 + torch.rand(n, generator=g)
            m.bias.data = 0.2 * torch.randn(n, generator=g)
            m.running_mean = 0.1 * torch.randn(n, generator=g)
            m.running_var = 0.5 + torch.rand(n, generator=g)
    return model


def _pair(arch, seed, **kw):
    pytest.importorskip("torch")
    torch.manual_seed(seed)
    tm = convert_torch.build(arch, **kw).eval()
    _randomise_bn(tm, seed)
    for m in tm.modules():
        if isinstance(m, torch.nn.ReLU):
            m.inplace = False
    bm = backlight.zoo(arch, weights=tm.state_dict())
    return tm, bm


@pytest.fixture(scope="session")
def cnn():
    """mnist_cnn: three conv + ReLU + max-pool stages and two linear layers, input [N, 1, 28, 28]."""
    return _pair("mnist_cnn", 1, num_classes=10)


@pytest.fixture(scope="session")
def mlp():
    """A tabular MLP: 12 features -> 16 -> 8 -> 3 classes."""
    return _pair("mlp", 2, num_classes=3, mlp_sizes=[12, 16, 8])


@pytest.fixture(scope="session")
def linear():
    """One linear layer (12 features -> 3): sampling methods have exact answers on it."""
    return _pair("mlp", 3, num_classes=3, mlp_sizes=[12])


@pytest.fixture(scope="session")
def resnet():
    """torchvision's resnet18 (BasicBlocks, BatchNorm with random statistics) at 32 x 32."""
    return _pair("resnet18", 4, num_classes=10)


@pytest.fixture(scope="session")
def vit():
    """vit_tiny: a 2-layer ViT (patch 8, 4 heads, width 64) at 32 x 32."""
    return _pair("vit_tiny", 5, num_classes=10)


def inputs(shape, seed=0, low=-1.0, high=1.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape).astype(np.float32)
