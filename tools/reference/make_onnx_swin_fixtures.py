#!/usr/bin/env python3
"""Swin Transformer fixtures for the ONNX importer (issue 16): torchvision's own Swin code at tiny
sizes, exported by tools/export_onnx.py's export() (opset 17, dynamic batch), with float64 torch
references. Read by tests/models/test_onnx_swin.cpp and tests/attribution/test_lrp_imported.cpp.

  tiny_swin.onnx   torchvision.models.swin_transformer.SwinTransformer(patch 4, embed_dim 16,
                   depths [2, 2], heads [2, 4], window 4x4, 10 classes) on 40x40 inputs. Stage 1
                   runs on 10x10 tokens padded to 12x12 (three windows a side), stage 2 after
                   PatchMerging (odd 10 -> 5) on 5x5 padded to 8x8; the second block of each stage
                   shifts by 2. So the graph holds what torchvision's shifted_window_attention
                   exports: F.pad with sizes computed from Shape and Mod, torch.roll as Slice +
                   Concat, the window mask built from ConstantOfShape, slice assignments (ScatterND
                   with indices from Shape of the mask itself), Sub / Equal / Not / Where, the
                   relative-position-bias Gather (folded at load), masked softmax, LayerNorm, GELU.
  swin_block.onnx  one SwinTransformerBlock (dim 16, 2 heads, window 4, shift 2) on [N, 6, 6, 16]
                   channels-last input (padded to 8x8), followed by a mean over tokens and a linear
                   head to 5 outputs.
  swin_parity.safetensors  for both: input [2, ...], logits, cotangent, input_grad (float64
                   torch), Captum Saliency (abs) for targets in the metadata.

Weights: torchvision's init, with every all-zero parameter (biases, LayerNorm shifts) and the
relative position bias table randomised so nothing is trivially zero.

    /usr/bin/python3 tools/reference/make_onnx_swin_fixtures.py
"""
import json
import os
import sys

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))
from export_onnx import export  # noqa: E402
from make_engine_fixtures import save  # noqa: E402

OUT = os.path.normpath(os.path.join(HERE, "..", "..", "tests", "data", "onnx"))
SEED = 20261206


def tiny_swin():
    from torchvision.models.swin_transformer import SwinTransformer
    return SwinTransformer(patch_size=[4, 4], embed_dim=16, depths=[2, 2], num_heads=[2, 4], window_size=[4, 4],
                           stochastic_depth_prob=0.0, num_classes=10)


class SwinBlockNet(nn.Module):
    """One shifted-window block on channels-last tokens, mean over tokens, a linear head."""

    def __init__(self):
        super().__init__()
        from torchvision.models.swin_transformer import SwinTransformerBlock
        self.block = SwinTransformerBlock(16, 2, window_size=[4, 4], shift_size=[2, 2], stochastic_depth_prob=0.0)
        self.head = nn.Linear(16, 5)

    def forward(self, x):  # [N, 6, 6, 16]
        return self.head(self.block(x).mean(dim=(1, 2)))


def randomise(model, gen):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if not bool(p.abs().max() > 0) or name.endswith("relative_position_bias_table"):
                p.copy_(torch.randn(p.shape, generator=gen) * (0.5 if p.dim() >= 2 else 0.2))


def references(name, model, shape, targets, tensors, gen):
    from captum.attr import Saliency
    md = model.double()
    x = torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1
    xg = x.clone().requires_grad_(True)
    y = md(xg)
    cot = torch.rand(y.shape, generator=gen, dtype=torch.float64) * 2 - 1
    (y * cot).sum().backward()
    sal = Saliency(md).attribute(x.clone(), target=torch.tensor(targets), abs=True)
    for key, v in [("input", x), ("logits", y), ("cotangent", cot), ("input_grad", xg.grad), ("saliency", sal)]:
        tensors[f"{name}.{key}"] = v.detach().float().contiguous()


def main():
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(SEED)
    tensors, targets = {}, {}
    cases = [("tiny_swin", tiny_swin, [3, 40, 40], [2, 7]), ("swin_block", SwinBlockNet, [6, 6, 16], [0, 3])]
    for name, make, item_shape, tgt in cases:
        torch.manual_seed(SEED)
        model = make().eval()
        randomise(model, gen)
        shape = [1] + item_shape
        meta = {"backlight.arch": name, "backlight.input_shape": "x".join(map(str, shape)),
                "backlight.input_dtype": "float32", "backlight.exporter": f"torch {torch.__version__}"}
        if len(item_shape) == 3 and item_shape[0] == 3:
            meta.update({"backlight.image_size": f"{item_shape[1]}x{item_shape[2]}",
                         "backlight.mean": "0.485,0.456,0.406", "backlight.std": "0.229,0.224,0.225"})
        path = os.path.join(OUT, name + ".onnx")
        export(model, shape, "float32", path, meta)
        print(f"wrote {path} ({os.path.getsize(path)} bytes)")
        targets[name] = tgt
        references(name, model, [2] + item_shape, tgt, tensors, gen)
    path = os.path.join(OUT, "swin_parity.safetensors")
    save(tensors, path, {"targets": json.dumps(targets, sort_keys=True), "seed": str(SEED),
                         "generator": "tools/reference/make_onnx_swin_fixtures.py", "torch": torch.__version__})
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
