#!/usr/bin/env python3
"""Writes the model-zoo fixtures under tests/data/models/ (checked by tests/models/test_zoo*.cpp):

zoo_parity.safetensors   torchvision forward logits and input gradients of vgg11_bn, resnet18,
                         mobilenet_v2 and vit_tiny, with every parameter and buffer set by the
                         synthetic-weight hash (synthetic_weights.py, twin of
                         models/synthetic_weights.cpp), BatchNorm in eval mode with randomised
                         running statistics, computed in float64. No weights are stored: the C++
                         test rebuilds the same weights and inputs from the seeds.
                           <arch>.logits      [N, classes]
                           <arch>.input_grad  [N, 3, H, W] = d sum(cotangent * logits) / d input
                         input = synthetic_uniform(shape, SEED, "input", -1, 1),
                         cotangent = synthetic_uniform([N, classes], SEED, "cotangent", -1, 1).
                         Metadata: "cases" (JSON: arch, input shape, classes, seed) and
                         "hash_checks" (JSON: synthetic_bits values the C++ hash must reproduce).
convert_mlp.safetensors  tools/convert_torch.py --arch mlp --mlp-sizes 12,8 --num-classes 3 --seed 1
                         (random init, about 1 KB): the C++ loader must read the converter's files;
                         zoo_parity.safetensors holds that torch model's logits as "convert_mlp.logits"
                         for input synthetic_uniform([2, 12], SEED, "input", -1, 1).
zoo_names.json           for every zoo architecture (default classes): torchvision's
                         state_dict keys with shapes, and named_modules() paths with class names.

Run from anywhere (deterministic):
    /usr/bin/python3 tools/reference/make_zoo_fixtures.py
Needs torch, torchvision, numpy, safetensors.
"""
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))
import convert_torch  # noqa: E402
from convert_torch import ARCHS, build  # noqa: E402
from make_engine_fixtures import save  # noqa: E402  (save_file with a reproducible header)
from synthetic_weights import fill_synthetic, synthetic_bits, synthetic_uniform  # noqa: E402

OUT = os.path.normpath(os.path.join(HERE, "..", "..", "tests", "data", "models"))
SEED = 20240611
CLASSES = 10
CASES = [
    ("vgg11_bn", [2, 3, 32, 32]),
    ("resnet18", [2, 3, 64, 64]),
    ("mobilenet_v2", [2, 3, 64, 64]),
    ("vit_tiny", [2, 3, 32, 32]),
]


def parity_case(arch, shape, tensors):
    model = build(arch, CLASSES)
    fill_synthetic(model, SEED)
    model = model.double().eval()
    x = torch.from_numpy(synthetic_uniform(shape, SEED, "input", -1.0, 1.0)).double().requires_grad_(True)
    logits = model(x)
    cot = torch.from_numpy(synthetic_uniform(list(logits.shape), SEED, "cotangent", -1.0, 1.0)).double()
    (logits * cot).sum().backward()
    tensors[f"{arch}.logits"] = logits.detach().float().contiguous()
    tensors[f"{arch}.input_grad"] = x.grad.float().contiguous()
    print(f"{arch}: input {shape}, |logits| max {logits.abs().max():.3g}, |grad| max {x.grad.abs().max():.3g}")
    return {"arch": arch, "input": shape, "num_classes": CLASSES, "seed": SEED}


def names(arch):
    model = build(arch)
    return {
        "state_dict": [[k, list(v.shape)] for k, v in model.state_dict().items()],
        "modules": [[n, type(m).__name__] for n, m in model.named_modules()],
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    tensors, cases = {}, []
    for arch, shape in CASES:
        cases.append(parity_case(arch, shape, tensors))
    path = os.path.join(OUT, "convert_mlp.safetensors")
    assert convert_torch.main(["--arch", "mlp", "--mlp-sizes", "12,8", "--num-classes", "3", "--seed", "1",
                               "--out", path]) == 0
    torch.manual_seed(1)
    mlp = build("mlp", 3, [12, 8]).eval()
    with torch.no_grad():
        x = torch.from_numpy(synthetic_uniform([2, 12], SEED, "input", -1.0, 1.0))
        tensors["convert_mlp.logits"] = mlp(x).contiguous()

    checks = [{"seed": s, "name": n, "index": i, "bits": str(synthetic_bits(s, n, i))}
              for s, n, i in [(0, "", 0), (1, "features.0.weight", 0), (SEED, "input", 12345),
                              (2**64 - 1, "layer1.0.bn1.running_var", 2**40)]]
    path = os.path.join(OUT, "zoo_parity.safetensors")
    save(tensors, path, {"cases": json.dumps(cases), "hash_checks": json.dumps(checks),
                         "generator": "tools/reference/make_zoo_fixtures.py", "torch": torch.__version__})
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")

    path = os.path.join(OUT, "zoo_names.json")
    with open(path, "w") as f:
        json.dump({arch: names(arch) for arch in ARCHS}, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
