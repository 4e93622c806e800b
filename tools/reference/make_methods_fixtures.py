#!/usr/bin/env python3
"""Writes tests/data/attribution/methods_parity.safetensors: Captum 0.8 Saliency, InputXGradient,
IntegratedGradients (every integration method, with and without internal_batch_size) and
DeepLiftShap on the networks of make_rules_fixtures.py (synthetic weights, nothing stored), for
tests/attribution/test_methods_parity.cpp.

Run: /usr/bin/python3 tools/reference/make_methods_fixtures.py
"""
import os
import sys

import numpy as np
import torch
from safetensors.numpy import save_file

sys.path.insert(0, os.path.dirname(__file__))
from make_rules_fixtures import SEED, make  # noqa: E402
from synthetic_weights import synthetic_uniform  # noqa: E402

from captum.attr import DeepLiftShap, InputXGradient, IntegratedGradients, Saliency  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "attribution",
                   "methods_parity.safetensors")
TARGETS = [3, 7]


def main():
    x = torch.from_numpy(synthetic_uniform((2, 3, 32, 32), SEED, "input", -1.0, 1.0))
    base = torch.from_numpy(synthetic_uniform((2, 3, 32, 32), SEED, "baseline", -0.1, 0.1))
    dist = torch.from_numpy(synthetic_uniform((3, 3, 32, 32), SEED, "distribution", -0.2, 0.2))
    t = torch.tensor(TARGETS)
    out = {"input": x.numpy(), "baseline": base.numpy(), "distribution": dist.numpy()}
    for net in ["small_vgg_bn", "small_resnet"]:
        m = make(net)
        out[f"{net}/saliency"] = Saliency(m).attribute(x.clone(), target=t).numpy()
        out[f"{net}/saliency_signed"] = Saliency(m).attribute(x.clone(), target=t, abs=False).numpy()
        out[f"{net}/input_x_gradient"] = InputXGradient(m).attribute(x.clone(), target=t).detach().numpy()
        for method in ["riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid", "gausslegendre"]:
            a, d = IntegratedGradients(m).attribute(x.clone(), baselines=base, target=t, n_steps=8, method=method,
                                                    return_convergence_delta=True)
            out[f"{net}/ig_{method}"] = a.detach().numpy()
            out[f"{net}/ig_{method}_delta"] = d.detach().numpy().astype(np.float32)
        a = IntegratedGradients(m).attribute(x.clone(), baselines=base, target=t, n_steps=7,
                                             internal_batch_size=4)
        out[f"{net}/ig_gausslegendre7_ibs4"] = a.detach().numpy()
    m = make("small_vgg_bn_avgpool")
    out["small_vgg_bn_avgpool/deeplift_shap"] = DeepLiftShap(m).attribute(x.clone(), baselines=dist,
                                                                           target=t).detach().numpy()
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}, OUT,
              metadata={"generator": "tools/reference/make_methods_fixtures.py", "seed": str(SEED)})
    print("wrote", OUT, os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
