#!/usr/bin/env python3
"""Writes tests/data/attribution/perturbation_parity.safetensors: Captum 0.8 Occlusion,
FeatureAblation, LayerFeatureAblation and NeuronFeatureAblation on a small CNN, for
tests/attribution/perturbation/test_perturbation_parity.cpp.

Network (defined identically in the C++ test; weights stored under PyTorch's names):
  features   0 Conv2d(3, 6, 3, padding=1), 1 ReLU, 2 MaxPool2d(2), 3 Conv2d(6, 8, 3, padding=1),
             4 ReLU, 5 AdaptiveAvgPool2d(2)
  classifier Linear(32, 5)            forward: classifier(flatten(features(x), 1))
Input [2, 3, 10, 9] (odd sizes, so windows overhang the borders), targets [1, 3] unless noted.

Run: /usr/bin/python3 tools/reference/make_perturbation_fixtures.py   (torch 1.13, captum 0.8)
"""
import os

import numpy as np
import torch
from safetensors.numpy import save_file

from captum.attr import FeatureAblation, LayerFeatureAblation, NeuronFeatureAblation, Occlusion

SEED = 20261124
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "attribution",
                   "perturbation_parity.safetensors")


class SmallCNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        c = torch.nn
        self.features = c.Sequential(c.Conv2d(3, 6, 3, padding=1), c.ReLU(), c.MaxPool2d(2),
                                     c.Conv2d(6, 8, 3, padding=1), c.ReLU(), c.AdaptiveAvgPool2d(2))
        self.classifier = c.Linear(32, 5)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def main():
    torch.manual_seed(SEED)
    model = SmallCNN().eval()
    with torch.no_grad():
        for p in model.parameters():  # larger than the default init, so differences are not tiny
            p.mul_(2.0)
    x = torch.rand(2, 3, 10, 9) * 2 - 1
    target = [1, 3]
    out = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    out["input"] = x.numpy()
    with torch.no_grad():
        out["logits"] = model(x).numpy()

    occ = Occlusion(model)
    out["occlusion/a"] = occ.attribute(x, sliding_window_shapes=(3, 3, 3), strides=(3, 2, 2), target=target,
                                       perturbations_per_eval=4).numpy()
    out["occlusion/b"] = occ.attribute(x, sliding_window_shapes=(1, 4, 3), strides=(1, 3, 2), baselines=0.5,
                                       target=2).numpy()
    occ_baseline = torch.rand(1, 3, 10, 9)
    out["occlusion/c_baseline"] = occ_baseline.numpy()
    out["occlusion/c"] = occ.attribute(x, sliding_window_shapes=(3, 5, 5), strides=(3, 4, 3),
                                       baselines=occ_baseline, target=target).numpy()

    fa = FeatureAblation(model)
    # superpixels of 2x3 pixels shared by the channels: mask [1, 1, 10, 9]
    sp = (torch.arange(10).view(10, 1) // 2) * 3 + torch.arange(9).view(1, 9) // 3
    mask_a = sp.view(1, 1, 10, 9)
    out["feature_ablation/a_mask"] = mask_a.float().numpy()
    out["feature_ablation/a"] = fa.attribute(x, feature_mask=mask_a, target=target,
                                             perturbations_per_eval=3).numpy()
    # one mask per item and channel, a tensor baseline per item; ids start at 4
    gen = torch.Generator().manual_seed(SEED + 1)
    mask_b = torch.randint(4, 12, (2, 3, 10, 9), generator=gen)
    base_b = torch.rand(2, 3, 10, 9, generator=gen) - 0.5
    out["feature_ablation/b_mask"] = mask_b.float().numpy()
    out["feature_ablation/b_baseline"] = base_b.numpy()
    out["feature_ablation/b"] = fa.attribute(x, baselines=base_b, feature_mask=mask_b, target=target).numpy()
    # every element alone (Captum's default mask), baseline 0.25
    out["feature_ablation/c"] = fa.attribute(x, baselines=0.25, target=target, perturbations_per_eval=16).numpy()

    # layer: the channels of features.3 (the second conv), layer mask [1, 8, 1, 1]
    lfa = LayerFeatureAblation(model, model.features[3])
    layer_mask = torch.arange(8).view(1, 8, 1, 1)
    out["layer_feature_ablation/a"] = lfa.attribute(x, target=target, layer_mask=layer_mask).numpy()
    # neuron (2, 1, 1) of features.3, input superpixels
    nfa = NeuronFeatureAblation(model, model.features[3])
    out["neuron_feature_ablation/a"] = nfa.attribute(x, neuron_selector=(2, 1, 1), feature_mask=mask_a).numpy()

    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}, OUT,
              metadata={"generator": "tools/reference/make_perturbation_fixtures.py", "seed": str(SEED)})
    print("wrote", OUT, os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
