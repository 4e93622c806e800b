#!/usr/bin/env python3
"""Writes the ONNX import fixtures under tests/data/onnx/ (checked by tests/models/test_onnx*.cpp).

Models (random weights, exported by tools/export_onnx.py's export(): eval mode, opset 17,
TrainingMode.PRESERVE, no constant folding, dynamic batch) unless noted:
  small_cnn.onnx          ResNet-like CNN at 32x32: conv+BN+ReLU stem, max pool, two BasicBlocks
                          (the second with stride 2 and a 1x1-conv+BN downsample), a depthwise
                          conv+BN+ReLU6 (Clip), global average pool, x.view(x.size(0), -1)
                          (Shape->Gather->Unsqueeze->Concat->Reshape), dropout, fc 16->10.
                          BatchNorm running statistics randomised.
  small_cnn_default.onnx  the same model exported with torch's defaults (BatchNorm folded into the
                          convs, weights renamed onnx::Conv_*).
  tabular_mlp.onnx        [N, 12] -> Linear 32 + BatchNorm1d + ReLU + Dropout -> Linear 16 + GELU
                          (exported as Div/Erf/Add/Mul/Mul) -> Linear 3.
  text_encoder.onnx       token ids [N, 16] (int64, vocabulary 50) -> nn.Embedding(50, 32) ->
                          nn.TransformerEncoder (2 layers, 4 heads, feed-forward 64, GELU,
                          batch_first) -> mean over tokens -> Linear 3. References:
                          text_encoder.{ids, logits, cotangent, embedding_grad} (gradient of
                          sum(cotangent * logits) at the embedding output).
  every_op.onnx           [N, 3, 16, 16] through one instance of each supported op kind: dilated and
                          grouped conv, asymmetric pad (ZeroPad2d), PReLU (scalar and per-channel),
                          LeakyReLU, Hardswish, Hardsigmoid, Tanh, Sigmoid, SiLU, GELU (tanh form
                          is not exported by torch 1.13 as one op: erf form), AvgPool2d
                          (ceil_mode, count_include_pad=False), MaxPool2d (ceil_mode), split,
                          concat, transpose, slice, x[:, 0] (Gather), neg, sub, div by a constant,
                          mean/sum over axes, LayerNorm, softmax, log_softmax.
  lenet5.onnx             the zoo's lenet5 (tools/convert_torch.py's twin) with the synthetic
                          weights of models/synthetic_weights.h (seed SEED): the C++ test builds
                          the zoo model with the same weights and compares attributions.
  tabular_relu_mlp.onnx   [N, 8] -> Linear 24 + ReLU -> Linear 12 + Tanh -> Linear 3 (non-linearities Captum's
                          DeepLift rescales, so its DeepLift is a reference; the GELU of tabular_mlp is not).
References (onnx_parity.safetensors, float64 torch -> float32), per model <m>:
  <m>.input [2, ...] (uniform [-1, 1]), <m>.logits, <m>.cotangent, <m>.input_grad
  (d sum(cotangent * logits) / d input), <m>.saliency (Captum Saliency, abs, target),
  <m>.ig (Captum IntegratedGradients: zero baseline, 32 steps, gausslegendre, target);
  metadata "targets" (JSON per model).

Non-image input references (onnx_inputs.safetensors, written by inputs_references(), seed SEED + 16):
  text.ids [2, 16] token ids (as floats), text.lig / text.lig_b7 (Captum LayerIntegratedGradients on
  `embedding`, baselines all token 0 / all token 7, IG_STEPS gausslegendre steps, targets
  text_targets) summed over the embedding dimension [2, 16], text.lig_full [2, 16, 32] (not summed),
  text.lgxa (LayerGradientXActivation on `embedding`, summed), text.lgrad_abs (the layer gradient
  alone, |.| summed: backlight's saliency twin); tabular_relu_mlp.{input, logits, saliency, ig,
  deeplift} (zero baselines).
Example inputs for docs/models.md (written by example_inputs()): text_encoder_vocab.txt (50 words, line i
= token id i, 0 = <pad>), text_encoder_ids.npy (int64 [2, 16], a sentence per row, padded with 0),
tabular_mlp_rows.npy (float32 [4, 12]) and tabular_mlp_features.txt (12 names).

Run from anywhere (deterministic): /usr/bin/python3 tools/reference/make_onnx_fixtures.py
Needs torch 1.13, captum, safetensors.
"""
import json
import os
import sys

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, ".."))
from convert_torch import build  # noqa: E402
from export_onnx import export  # noqa: E402
from make_engine_fixtures import save  # noqa: E402
from synthetic_weights import fill_synthetic  # noqa: E402

OUT = os.path.normpath(os.path.join(HERE, "..", "..", "tests", "data", "onnx"))
SEED = 20240611
IG_STEPS = 32


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class SmallCNN(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = nn.Sequential(BasicBlock(8, 8, 1), BasicBlock(8, 16, 2))
        self.dw = nn.Sequential(nn.Conv2d(16, 16, 3, 1, 1, groups=16, bias=False), nn.BatchNorm2d(16),
                                nn.ReLU6(inplace=True))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(16, classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.dw(self.layer1(x))
        x = self.avgpool(x)
        x = x.view(x.size(0), -1)
        return self.fc(self.dropout(x))


def tabular_mlp():
    return nn.Sequential(nn.Linear(12, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 16),
                         nn.GELU(), nn.Linear(16, 3))


class TextEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(50, 32)
        layer = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True, activation="gelu")
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(32, 3)

    def forward(self, ids):
        return self.head(self.encoder(self.embedding(ids)).mean(dim=1))


def text_references(model, gen, tensors):
    model = model.double().eval()
    ids = torch.randint(0, 50, (2, 16), generator=gen)
    emb = model.embedding(ids).detach().requires_grad_(True)
    y = model.head(model.encoder(emb).mean(dim=1))
    cot = torch.rand(y.shape, generator=gen, dtype=torch.float64) * 2 - 1
    (y * cot).sum().backward()
    for key, v in [("ids", ids.double()), ("logits", y), ("cotangent", cot), ("embedding_grad", emb.grad)]:
        tensors[f"text_encoder.{key}"] = v.detach().float().contiguous()


class EveryOp(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=2, dilation=2)
        self.grouped = nn.Conv2d(8, 8, 3, padding=1, groups=4)
        self.pad = nn.ZeroPad2d((1, 0, 2, 0))
        self.prelu = nn.PReLU()
        self.prelu_c = nn.PReLU(8, init=0.1)
        self.avg = nn.AvgPool2d(3, 2, padding=1, ceil_mode=True, count_include_pad=False)
        self.max = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.norm = nn.LayerNorm(8)
        self.fc = nn.Linear(8, 6)

    def forward(self, x):
        h = self.prelu(self.conv(x))
        h = self.prelu_c(self.grouped(h))
        a, b = torch.split(h, [3, 5], dim=1)
        h = torch.cat([nn.functional.hardswish(a), nn.functional.leaky_relu(b, 0.2)], dim=1)
        h = self.avg(self.pad(h))
        h = self.max(nn.functional.hardsigmoid(h) - torch.tanh(h) + torch.sigmoid(h) * h / 3.0)
        h = h.permute(0, 2, 3, 1)                      # [N, H, W, C]
        h = self.norm(nn.functional.silu(h))
        t = h[:, 0] + h[:, 1:3].mean(dim=1)           # Gather + Slice + ReduceMean -> [N, W, C]
        t = nn.functional.gelu(-t)
        y = self.fc(t.sum(dim=1))
        return torch.softmax(y, dim=1) + torch.log_softmax(y, dim=1)


def tabular_relu_mlp():
    return nn.Sequential(nn.Linear(8, 24), nn.ReLU(), nn.Linear(24, 12), nn.Tanh(), nn.Linear(12, 3))


TEXT_TARGETS = [2, 0]
RELU_MLP_TARGETS = [1, 2]


def inputs_references(text):
    """Captum references for non-image inputs (tests/models/test_onnx_inputs.cpp)."""
    from captum.attr import DeepLift, IntegratedGradients, LayerGradientXActivation, LayerIntegratedGradients, Saliency
    gen = torch.Generator().manual_seed(SEED + 16)
    torch.manual_seed(SEED + 16)
    tensors = {}
    text = text.double().eval()
    ids = torch.randint(1, 50, (2, 16), generator=gen)
    ids[1, 12:] = 0  # padding
    t = torch.tensor(TEXT_TARGETS)
    lig = LayerIntegratedGradients(text, text.embedding)
    full = lig.attribute(ids, baselines=torch.zeros_like(ids), target=t, n_steps=IG_STEPS, method="gausslegendre")
    b7 = lig.attribute(ids, baselines=torch.full_like(ids, 7), target=t, n_steps=IG_STEPS, method="gausslegendre")
    lgxa = LayerGradientXActivation(text, text.embedding).attribute(ids, target=t)
    lgrad = LayerGradientXActivation(text, text.embedding, multiply_by_inputs=False).attribute(ids, target=t)
    for key, v in [("ids", ids.double()), ("logits", text(ids)), ("lig", full.sum(-1)), ("lig_full", full),
                   ("lig_b7", b7.sum(-1)), ("lgxa", lgxa.sum(-1)), ("lgrad_abs", lgrad.abs().sum(-1))]:
        tensors[f"text.{key}"] = v.detach().float().contiguous()

    mlp = tabular_relu_mlp()
    export(mlp.eval(), [1, 8], "float32", os.path.join(OUT, "tabular_relu_mlp.onnx"),
           {"backlight.arch": "tabular_relu_mlp", "backlight.input_shape": "1x8",
            "backlight.exporter": f"torch {torch.__version__}"})
    mlp = mlp.double().eval()
    x = torch.rand(2, 8, generator=gen, dtype=torch.float64) * 2 - 1
    t = torch.tensor(RELU_MLP_TARGETS)
    z = torch.zeros_like(x)
    for key, v in [("input", x), ("logits", mlp(x)), ("saliency", Saliency(mlp).attribute(x, target=t, abs=True)),
                   ("ig", IntegratedGradients(mlp).attribute(x, baselines=z, target=t, n_steps=IG_STEPS,
                                                             method="gausslegendre")),
                   ("deeplift", DeepLift(mlp).attribute(x, baselines=z, target=t))]:
        tensors[f"tabular_relu_mlp.{key}"] = v.detach().float().contiguous()
    save(tensors, os.path.join(OUT, "onnx_inputs.safetensors"),
         {"text_targets": json.dumps(TEXT_TARGETS), "tabular_relu_mlp_targets": json.dumps(RELU_MLP_TARGETS),
          "seed": str(SEED + 16), "ig_steps": str(IG_STEPS), "generator": "tools/reference/make_onnx_fixtures.py",
          "torch": torch.__version__})


VOCAB = ["<pad>", "the", "a", "movie", "film", "was", "is", "not", "very", "really", "great", "good", "bad",
         "boring", "fun", "plot", "acting", "music", "and", "but", "i", "it", "loved", "hated", "story", "too",
         "long", "short", "funny", "sad", "best", "worst", "ever", "of", "year", "so", "well", "made", "cast",
         "ending", "slow", "brilliant", "awful", "scenes", "characters", "this", "that", "with", "no", "."]
SENTENCES = ["the movie was not very good but the acting was great .",
             "i loved this film , the music and the story"]
FEATURES = ["age", "income", "balance", "tenure", "products", "credit_score", "salary", "visits", "complaints",
            "late_payments", "savings", "loans"]


def example_inputs():
    """Small inputs for the docs' tabular and text examples (not used by the tests)."""
    import numpy as np
    assert len(VOCAB) == 50 and len(FEATURES) == 12
    with open(os.path.join(OUT, "text_encoder_vocab.txt"), "w") as f:
        f.write("\n".join(VOCAB) + "\n")
    ids = np.zeros((2, 16), dtype=np.int64)
    for r, sentence in enumerate(SENTENCES):
        words = [w for w in sentence.split() if w in VOCAB][:16]
        ids[r, :len(words)] = [VOCAB.index(w) for w in words]
    np.save(os.path.join(OUT, "text_encoder_ids.npy"), ids)
    rows = np.random.RandomState(SEED).uniform(-1, 1, (4, 12)).astype(np.float32)
    np.save(os.path.join(OUT, "tabular_mlp_rows.npy"), rows)
    with open(os.path.join(OUT, "tabular_mlp_features.txt"), "w") as f:
        f.write("\n".join(FEATURES) + "\n")


def randomise_bn(model, gen):
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            c = m.num_features
            m.weight.data = torch.rand(c, generator=gen) + 0.5
            m.bias.data = torch.randn(c, generator=gen) * 0.1
            m.running_mean.data = torch.randn(c, generator=gen) * 0.1
            m.running_var.data = torch.rand(c, generator=gen) + 0.5


def references(name, model, shape, targets, gen, tensors):
    from captum.attr import IntegratedGradients, Saliency
    model = model.double().eval()
    x = (torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1)
    xg = x.clone().requires_grad_(True)
    y = model(xg)
    cot = torch.rand(y.shape, generator=gen, dtype=torch.float64) * 2 - 1
    (y * cot).sum().backward()
    t = torch.tensor(targets)
    sal = Saliency(model).attribute(x, target=t, abs=True)
    ig = IntegratedGradients(model).attribute(x, baselines=torch.zeros_like(x), target=t, n_steps=IG_STEPS,
                                              method="gausslegendre")
    for key, v in [("input", x), ("logits", y), ("cotangent", cot), ("input_grad", xg.grad), ("saliency", sal),
                   ("ig", ig)]:
        tensors[f"{name}.{key}"] = v.detach().float().contiguous()


def main():
    os.makedirs(OUT, exist_ok=True)
    gen = torch.Generator().manual_seed(SEED)
    torch.manual_seed(SEED)
    tensors, targets = {}, {}
    meta_common = {"backlight.exporter": f"torch {torch.__version__}"}

    cnn = SmallCNN()
    randomise_bn(cnn, gen)
    cnn.eval()
    export(cnn, [1, 3, 32, 32], "float32", os.path.join(OUT, "small_cnn.onnx"),
           dict(meta_common, **{"backlight.arch": "small_cnn", "backlight.input_shape": "1x3x32x32",
                                "backlight.mean": "0.5,0.5,0.5", "backlight.std": "0.25,0.25,0.25",
                                "backlight.image_size": "32x32"}))
    with open(os.path.join(OUT, "small_cnn_default.onnx"), "wb") as f:  # torch's defaults
        torch.onnx.export(cnn, (torch.rand(1, 3, 32, 32),), f, input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, opset_version=17)
    targets["small_cnn"] = [1, 3]
    references("small_cnn", cnn, [2, 3, 32, 32], targets["small_cnn"], gen, tensors)

    mlp = tabular_mlp()
    randomise_bn(mlp, gen)
    mlp.eval()
    export(mlp, [1, 12], "float32", os.path.join(OUT, "tabular_mlp.onnx"),
           dict(meta_common, **{"backlight.arch": "tabular_mlp", "backlight.input_shape": "1x12"}))
    targets["tabular_mlp"] = [0, 2]
    references("tabular_mlp", mlp, [2, 12], targets["tabular_mlp"], gen, tensors)

    text = TextEncoder().eval()
    export(text, [1, 16], "int64", os.path.join(OUT, "text_encoder.onnx"),
           dict(meta_common, **{"backlight.arch": "text_encoder", "backlight.input_shape": "1x16",
                                "backlight.input_dtype": "int64"}))
    text_references(text, gen, tensors)

    every = EveryOp().eval()
    export(every, [1, 3, 16, 16], "float32", os.path.join(OUT, "every_op.onnx"),
           dict(meta_common, **{"backlight.arch": "every_op", "backlight.input_shape": "1x3x16x16"}))
    targets["every_op"] = [0, 5]
    references("every_op", every, [2, 3, 16, 16], targets["every_op"], gen, tensors)

    lenet = build("lenet5", 10)
    fill_synthetic(lenet, SEED)
    lenet.eval()
    export(lenet, [1, 1, 28, 28], "float32", os.path.join(OUT, "lenet5.onnx"),
           dict(meta_common, **{"backlight.arch": "lenet5", "backlight.input_shape": "1x1x28x28"}))
    targets["lenet5"] = [4, 7]
    references("lenet5", lenet, [2, 1, 28, 28], targets["lenet5"], gen, tensors)

    inputs_references(text)  # its own generator and file: the references above keep their draws
    example_inputs()

    save(tensors, os.path.join(OUT, "onnx_parity.safetensors"),
         {"targets": json.dumps(targets, sort_keys=True), "seed": str(SEED), "ig_steps": str(IG_STEPS),
          "generator": "tools/reference/make_onnx_fixtures.py", "torch": torch.__version__})
    for f in sorted(os.listdir(OUT)):
        print(f"{f}: {os.path.getsize(os.path.join(OUT, f))} bytes")


if __name__ == "__main__":
    main()
