#!/usr/bin/env python3
"""Captum 0.8 references for the CAM family, NoiseTunnel and GradientShap.

Writes tests/data/attribution/cam_captum.safetensors, read by tests/attribution/cam/test_cam.cpp,
test_noise_tunnel.cpp and test_gradient_shap.cpp. The model is defined identically in C++
(tests/attribution/cam_fixture.h):

    Sequential(0 Conv2d(3, 6, 3, padding=1), 1 ReLU, 2 MaxPool2d(2), 3 Conv2d(6, 8, 3, padding=1),
               4 ReLU, 5 AdaptiveAvgPool2d(1), 6 Flatten, 7 Linear(8, 5))

Tensors (float32):
  0.weight ... 7.bias         the model's state_dict (PyTorch names)
  input [2,3,12,12], targets [2] (class indices as floats)
  grad_cam.layer_map          LayerGradCam(model, model[3]).attribute(relu_attributions=True) [2,1,6,6]
  grad_cam.attribution        LayerAttribution.interpolate(^, (12, 12), "bilinear")   [2,1,12,12]
  grad_cam.raw                LayerGradCam(model, model[4]) with relu_attributions=False [2,1,6,6]
  guided_grad_cam             GuidedGradCam(model, model[3]) (interpolate_mode "nearest") [2,3,12,12]
  nt.noise [4,2,3,12,12]      explicit noise in backlight's layout [samples, N, ...]
  nt.<type>                   NoiseTunnel(Saliency).attribute(nt_samples=4, nt_samples_batch_size=3)
                              for smoothgrad, smoothgrad_sq, vargrad, with nt.noise as the noise
  gs.baselines [3,3,12,12]    GradientShap baseline distribution
  gs.noise [4,2,3,12,12]      noise (stdevs=0.1 draws, fed to Captum as its noise)
  gs.indices [4,2], gs.alphas [4,2]   Captum's numpy draws, in backlight's layout [s, n]
                              (Captum row n * samples + s)
  gs.attribution, gs.delta [8]  GradientShap(model).attribute(n_samples=4, stdevs=0.1,
                              return_convergence_delta=True)

Captum's own noise (torch.normal) is replaced by the stored noise through NoiseTunnel's
_add_noise_to_input; GradientShap's numpy draws are taken from a seeded numpy and re-drawn here with
the same seed (checked by recomputing the GradientShap formula by hand). Captum runs the model in
float64 on the float32 values, so the references carry no float32 accumulation error.

Run from anywhere (deterministic; needs torch, captum, numpy, safetensors):
    /usr/bin/python3 tools/reference/make_cam_fixtures.py
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
from captum.attr import GradientShap, GuidedGradCam, LayerAttribution, LayerGradCam, NoiseTunnel, Saliency

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_engine_fixtures import save  # noqa: E402  (save_file with a reproducible header)

OUT = os.path.normpath(os.path.join(HERE, "..", "..", "tests", "data", "attribution"))
N, SAMPLES, NT_CHUNK, GS_SEED = 2, 4, 3, 1234
TARGETS = [1, 3]


def build_model():
    torch.manual_seed(20240701)
    return nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 8, 3, padding=1),
                         nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5)).eval()


class ExplicitNoise:
    """Replaces NoiseTunnel._add_noise_to_input: chunk after chunk, rows n * k + j of a chunk of k
    samples starting at s0 get noise[s0 + j, n] (Captum's repeat_interleave order)."""

    def __init__(self, noise):
        self.noise, self.s0 = noise, 0

    def __call__(self, inp, stdev, k):
        chunk = self.noise[self.s0:self.s0 + k].transpose(0, 1).reshape((-1,) + tuple(inp.shape[1:]))
        self.s0 += k
        return inp.repeat_interleave(k, dim=0) + chunk.to(inp.dtype)


def with_noise(noise, fn):
    original = NoiseTunnel.__dict__["_add_noise_to_input"]
    patch = ExplicitNoise(noise)
    NoiseTunnel._add_noise_to_input = staticmethod(patch)
    try:
        return fn()
    finally:
        NoiseTunnel._add_noise_to_input = original
        assert patch.s0 == noise.shape[0], "every noise sample must be used once"


def main():
    model32 = build_model()
    model = build_model().double()
    g = torch.Generator().manual_seed(7)
    x32 = torch.randn(N, 3, 12, 12, generator=g)
    x = x32.double()
    target = torch.tensor(TARGETS)
    t = {k: v.detach().clone().contiguous() for k, v in model32.state_dict().items()}
    t["input"] = x32
    t["targets"] = target.float()

    gc = LayerGradCam(model, model[3]).attribute(x, target=target, relu_attributions=True)
    t["grad_cam.layer_map"] = gc.float()
    t["grad_cam.attribution"] = LayerAttribution.interpolate(gc, (12, 12), "bilinear").float()
    t["grad_cam.raw"] = LayerGradCam(model, model[4]).attribute(x, target=target).float()
    t["guided_grad_cam"] = GuidedGradCam(model, model[3]).attribute(x, target=target).float()

    nt_noise = 0.3 * torch.randn(SAMPLES, N, 3, 12, 12, generator=g)
    t["nt.noise"] = nt_noise
    for kind in ("smoothgrad", "smoothgrad_sq", "vargrad"):
        nt = NoiseTunnel(Saliency(model))
        t[f"nt.{kind}"] = with_noise(nt_noise, lambda: nt.attribute(
            x, nt_type=kind, nt_samples=SAMPLES, nt_samples_batch_size=NT_CHUNK, target=target)).float()

    baselines32 = 0.5 * torch.randn(3, 3, 12, 12, generator=g)
    gs_noise = 0.1 * torch.randn(SAMPLES, N, 3, 12, 12, generator=g)
    np.random.seed(GS_SEED)
    attr, delta = with_noise(gs_noise, lambda: GradientShap(model).attribute(
        x, baselines32.double(), n_samples=SAMPLES, stdevs=0.1, target=target, return_convergence_delta=True))
    # Captum's numpy draws, in call order: baseline indices (NoiseTunnel._expand_partial), then
    # the alphas (InputBaselineXGradient), one per row n * SAMPLES + s.
    np.random.seed(GS_SEED)
    idx = np.random.choice(3, SAMPLES * N)
    alphas = np.random.uniform(0.0, 1.0, SAMPLES * N)
    # Hand formula, as a check that the draws above are the ones Captum used.
    rows = (x.repeat_interleave(SAMPLES, 0) + gs_noise.transpose(0, 1).reshape(-1, 3, 12, 12).double())
    base = baselines32.double()[torch.tensor(idx)]
    a = torch.tensor(alphas).view(-1, 1, 1, 1)
    z = (a * rows + (1 - a) * base).requires_grad_()
    model(z).gather(1, target.repeat_interleave(SAMPLES).view(-1, 1)).sum().backward()
    hand = ((rows - base) * z.grad).view(N, SAMPLES, 3, 12, 12).mean(1)
    assert torch.allclose(hand, attr, atol=1e-10), (hand - attr).abs().max()
    t["gs.baselines"] = baselines32
    t["gs.noise"] = gs_noise
    t["gs.indices"] = torch.tensor(idx, dtype=torch.float32).view(N, SAMPLES).t().contiguous()
    t["gs.alphas"] = torch.tensor(alphas, dtype=torch.float32).view(N, SAMPLES).t().contiguous()
    t["gs.attribution"] = attr.float()
    t["gs.delta"] = delta.float()

    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "cam_captum.safetensors")
    meta = {"generator": "tools/reference/make_cam_fixtures.py", "torch": torch.__version__,
            "captum": __import__("captum").__version__,
            "config": json.dumps({"samples": SAMPLES, "nt_samples_batch_size": NT_CHUNK, "gs_stdev": 0.1})}
    save({k: v.contiguous() for k, v in t.items()}, path, meta)
    print(path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
