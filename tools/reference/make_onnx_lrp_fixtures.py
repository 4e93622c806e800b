#!/usr/bin/env python3
"""Writes the LRP-on-imported-models fixtures under tests/data/onnx/ (checked by
tests/attribution/test_lrp_imported.cpp).

torchvision's own architectures at tiny sizes (random weights, 32x32 input, 10 classes), exported
by tools/export_onnx.py's export() (opset 17, TrainingMode.PRESERVE, no constant folding):
  tiny_efficientnet.onnx  torchvision EfficientNet with two MBConv stages (SiLU as Sigmoid*Mul,
                          squeeze-excitation: Mul of the map by Sigmoid of a pooled branch).
  tiny_mobilenetv3.onnx   torchvision MobileNetV3 with three inverted residuals (HardSwish,
                          SE with HardSigmoid gate, ReLU), its Hardswish classifier head.
  tiny_convnext.onnx      torchvision ConvNeXt with two stages (depthwise 7x7, channels-last
                          LayerNorm, Linear, GELU, layer scale 0.5, LayerNorm2d downsample).
  tiny_vit.onnx           torchvision VisionTransformer (patch 8, 2 layers, 2 heads, width 16).
BatchNorm running statistics are randomised so folding is visible; Linear layers get PyTorch's
default init (torchvision's std-0.01 / zero heads would leave logits near 1e-4).
Every model is checked to run in torch before export; no reference values are written (the tests
check conservation, a property of the rules, and forward parity is tested elsewhere).

Run from anywhere (deterministic): /usr/bin/python3 tools/reference/make_onnx_lrp_fixtures.py
"""
import os
import sys

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from export_onnx import export  # noqa: E402

OUT = os.path.normpath(os.path.join(HERE, "..", "..", "tests", "data", "onnx"))
SEED = 20261206


def randomise_bn(model):
    g = torch.Generator().manual_seed(SEED)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.rand(m.num_features, generator=g) * 0.4 - 0.2)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) * 0.5 + 0.75)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) * 0.5 + 0.75)
            m.bias.data.copy_(torch.rand(m.num_features, generator=g) * 0.2 - 0.1)


def default_linear_init(model):
    # torchvision initialises classifier layers with std 0.01 (MobileNetV3, ViT's head with zeros),
    # which leaves random-weight logits near 1e-4 where every bias and stabiliser dominates LRP;
    # PyTorch's default Linear init keeps logits of order 1.
    for m in model.modules():
        if isinstance(m, nn.Linear):
            m.reset_parameters()


def tiny_efficientnet():
    from torchvision.models.efficientnet import EfficientNet, MBConvConfig
    setting = [MBConvConfig(1, 3, 1, 8, 8, 1), MBConvConfig(4, 3, 2, 8, 16, 2)]
    return EfficientNet(setting, dropout=0.0, stochastic_depth_prob=0.0, num_classes=10, last_channel=32)


def tiny_mobilenetv3():
    from torchvision.models.mobilenetv3 import InvertedResidualConfig as C, MobileNetV3
    setting = [C(8, 3, 8, 8, True, "RE", 2, 1, 1.0), C(8, 3, 24, 16, False, "RE", 2, 1, 1.0),
               C(16, 5, 32, 16, True, "HS", 1, 1, 1.0)]
    return MobileNetV3(setting, last_channel=32, num_classes=10, dropout=0.0)


def tiny_convnext():
    from torchvision.models.convnext import CNBlockConfig, ConvNeXt
    return ConvNeXt([CNBlockConfig(8, 16, 1), CNBlockConfig(16, None, 1)], stochastic_depth_prob=0.0,
                    layer_scale=0.5, num_classes=10)


def tiny_vit():
    from torchvision.models.vision_transformer import VisionTransformer
    return VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32,
                             num_classes=10)


MODELS = {
    "tiny_efficientnet": tiny_efficientnet,
    "tiny_mobilenetv3": tiny_mobilenetv3,
    "tiny_convnext": tiny_convnext,
    "tiny_vit": tiny_vit,
}


def main():
    os.makedirs(OUT, exist_ok=True)
    only = sys.argv[1:]
    for name, make in MODELS.items():
        if only and name not in only:
            continue
        torch.manual_seed(SEED)
        model = make().eval()
        randomise_bn(model)
        default_linear_init(model)
        with torch.no_grad():
            model(torch.zeros(1, 3, 32, 32))
        meta = {"backlight.input_shape": "1x3x32x32", "backlight.input_dtype": "float32",
                "backlight.num_classes": "10", "backlight.arch": name, "backlight.image_size": "32x32",
                "backlight.mean": "0.485,0.456,0.406", "backlight.std": "0.229,0.224,0.225"}
        path = os.path.join(OUT, name + ".onnx")
        export(model, [1, 3, 32, 32], "float32", path, meta)
        print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
