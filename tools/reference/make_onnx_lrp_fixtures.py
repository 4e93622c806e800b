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
  plain_cnn_bn.onnx       VGG-style CNN, BatchNorm after every conv and after the first linear,
                          max and average pooling; plain_cnn_bn_zennit.safetensors holds Zennit's
                          EpsilonPlusFlat / EpsilonGammaBox(-3, 3) / EpsilonAlpha2Beta1Flat
                          relevance with SequentialMergeBatchNorm for two inputs and targets 1, 7.
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
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
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


class PlainCNN(nn.Module):
    """VGG-style CNN with BatchNorm after every conv and the first linear (all foldable)."""

    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.AvgPool2d(2),
            nn.Conv2d(16, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Linear(16, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


def plain_cnn():
    return PlainCNN()


MODELS = {
    "tiny_efficientnet": tiny_efficientnet,
    "tiny_mobilenetv3": tiny_mobilenetv3,
    "tiny_convnext": tiny_convnext,
    "tiny_vit": tiny_vit,
    "plain_cnn_bn": plain_cnn,
}
ZENNIT = ["lrp_epsilon_plus_flat", "lrp_epsilon_gamma_box", "lrp_epsilon_alpha2_beta1_flat"]


def zennit_references(model, x, targets):
    """Zennit composites with SequentialMergeBatchNorm on plain_cnn_bn: the input relevance."""
    from zennit.attribution import Gradient
    from zennit.canonizers import SequentialMergeBatchNorm
    from zennit.composites import EpsilonAlpha2Beta1Flat, EpsilonGammaBox, EpsilonPlusFlat
    out = {}
    for name in ZENNIT:
        comp = {"lrp_epsilon_plus_flat": lambda c: EpsilonPlusFlat(canonizers=c),
                "lrp_epsilon_gamma_box": lambda c: EpsilonGammaBox(low=-3.0, high=3.0, canonizers=c),
                "lrp_epsilon_alpha2_beta1_flat": lambda c: EpsilonAlpha2Beta1Flat(canonizers=c)}[name](
                    [SequentialMergeBatchNorm()])
        one_hot = torch.eye(10)[targets]
        with Gradient(model=model, composite=comp) as attributor:
            _, rel = attributor(x.clone(), one_hot)
        out["plain_cnn_bn." + name] = rel.detach().contiguous()
    return out


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
        if name == "plain_cnn_bn":
            from safetensors.torch import save_file
            g = torch.Generator().manual_seed(SEED)
            x = torch.rand(2, 3, 32, 32, generator=g) * 4 - 2
            targets = [1, 7]
            refs = zennit_references(model, x, targets)
            refs["plain_cnn_bn.input"] = x.contiguous()
            ref_path = os.path.join(OUT, "plain_cnn_bn_zennit.safetensors")
            save_file(refs, ref_path, metadata={"targets": "1,7", "zennit": "0.5.1"})
            print(f"wrote {ref_path} ({os.path.getsize(ref_path)} bytes)")


if __name__ == "__main__":
    main()
