#!/usr/bin/env python3
"""Captum reference fixtures for the layer and neuron attribution methods (attribution/layer/layer_methods.h,
attribution/neuron/neuron_methods.h), read by tests/attribution/layer/test_layer_parity.cpp.

What it writes: tests/data/attribution/layer_parity.safetensors with
  state/<key>      the state_dict of LayerNet below (PyTorch names; BatchNorm with random running stats)
  input            [2, 3, 8, 8]
  baseline         [2, 3, 8, 8] (small random values, so baseline effects are exercised)
  target           [2] class per item (stored as float)
  <case>/attr      Captum's attribution (layer-shaped for layer methods, input-shaped for neuron methods)
  <case>/delta     Captum's convergence delta where the method returns one
The metadata key "cases" holds a JSON list of {"name", "method" (backlight registry name), "layer",
"neuron" (index per dimension, or []), "integration", "steps", "delta" (bool)}, so the C++ side reads
the configuration from the file. neuron_input_x_gradient (no Captum class) is InputXGradient of a
forward function returning the neuron. DeepLIFT-SHAP cases use `baseline` as the distribution (2 rows, as
the registry builds it); their delta is Captum's per-(item, baseline) delta averaged per item.

GradientSHAP (LayerGradientShap, NeuronGradientShap) runs outside the case table, with explicit
draws that the C++ test passes to the functions directly (the registry has no option for them):
  gs/distribution  [3, 3, 8, 8] baseline distribution
  gs/noise         [4, 2, 3, 8, 8] input noise in backlight's layout [samples, N, ...], fed to
                   Captum's NoiseTunnel in place of its torch.normal draws (stdevs=0.1)
  gs/indices, gs/alphas  [4, 2] Captum's numpy draws (np.random.seed(GS_SEED): baseline indices,
                   then alphas, one per row n * 4 + s) in backlight's layout [s, n]
  layer_gradient_shap.<layer>/attr, /delta (Captum's per-row deltas averaged per item, backlight's
                   convention), /delta_rows ([8], Captum's own, row n * 4 + s)
  neuron_gradient_shap.<layer>/attr (Captum returns no delta here)
Each GradientSHAP reference is also recomputed by hand from the draws (asserted), which checks
that the draws above are the ones Captum used.

LayerNet (same tree in the C++ test, module paths = PyTorch names):
  conv1 Conv2d(3, 6, 3, padding=1), bn1 BatchNorm2d(6), relu1 ReLU, pool MaxPool2d(2),
  conv2 Conv2d(6, 8, 3, padding=1), relu2 ReLU, avgpool AdaptiveAvgPool2d(2), flatten Flatten, fc Linear(32, 5)

DeepLIFT cases run with `decouple` set: Captum 0.8 hooks a module's backward through tensor hooks
on its input and output, so when a hooked non-linearity feeds a hooked max pool directly (relu1 ->
pool, the same tensor), relu1's hook captures the output gradient *before* the pool's hook replaces
it, and the pool's DeepLIFT rule is silently lost (Captum's own result then violates
summation-to-delta by ~10%). Multiplying by 1.0 in between separates the two tensors without
changing any number; the references are then the DeepLIFT Rescale rule as Captum intends it, which
is what backlight implements.

Numerics: the float32 weights, input and baseline are stored; Captum then runs the model in float64
on those exact values and the results are rounded to float32, so the references carry no float32
accumulation error of their own. Seeded; deterministic. Run from anywhere (needs torch, captum 0.8
and the pip package safetensors):
    /usr/bin/python3 tools/reference/make_layer_fixtures.py
"""
import json
import os
import struct
import sys
import zlib

import captum
import numpy as np
import torch
import torch.nn as nn
from captum.attr import (InputXGradient, InternalInfluence, LayerActivation, LayerConductance, LayerDeepLift,
                         LayerDeepLiftShap, LayerGradientShap, LayerGradientXActivation, LayerIntegratedGradients,
                         NeuronConductance, NeuronDeconvolution, NeuronDeepLift, NeuronDeepLiftShap, NeuronGradient,
                         NeuronGradientShap, NeuronGuidedBackprop, NeuronIntegratedGradients)
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_cam_fixtures import with_noise  # noqa: E402  (NoiseTunnel with explicit noise)

OUT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "attribution"))
GS_SAMPLES, GS_SEED = 4, 4321


class LayerNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(6)
        self.relu1 = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(6, 8, 3, padding=1)
        self.relu2 = nn.ReLU()
        self.avgpool = nn.AdaptiveAvgPool2d(2)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(32, 5)
        self.decouple = False

    def forward(self, x):
        x = self.relu1(self.bn1(self.conv1(x)))
        if self.decouple:
            x = x * 1.0  # an identity that gives relu1 and pool different tensors (see DeepLIFT below)
        x = self.pool(x)
        x = self.avgpool(self.relu2(self.conv2(x)))
        return self.fc(self.flatten(x))


def save(tensors, path, metadata):
    """save_file, then rewrite the header with sorted metadata keys (stable bytes across runs)."""
    save_file(tensors, path, metadata=metadata)
    with open(path, "r+b") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
        text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
        assert len(text) <= n, path
        f.seek(8)
        f.write(text + b" " * (n - len(text)))


def neuron_forward(model, layer, neuron):
    """A forward function whose output is one neuron of `layer` per item ([N])."""
    def forward(z):
        store = {}
        handle = layer.register_forward_hook(lambda m, i, o: store.setdefault("out", o))
        model(z)
        handle.remove()
        return store["out"][(slice(None),) + tuple(neuron)]
    return forward


def layer_and_grad(model, layer, z, target=None, neuron=None):
    """The layer's output at z and d (target logit or neuron) / d (layer output or z)."""
    store = {}
    handle = layer.register_forward_hook(lambda m, i, o: store.setdefault("out", o))
    z = z.clone().requires_grad_(True)
    out = model(z)
    handle.remove()
    act = store["out"]
    if neuron is None:
        out.gather(1, target.view(-1, 1)).sum().backward(inputs=[act])
        return act.detach(), act.grad
    act[(slice(None),) + tuple(neuron)].sum().backward(inputs=[z])
    return act.detach(), z.grad


def gradient_shap_references(model, xd, target, neuron2, g, tensors):
    """LayerGradientShap / NeuronGradientShap with explicit draws (see the module docstring)."""
    n, s = xd.shape[0], GS_SAMPLES
    dist = 0.3 * torch.randn(3, *xd.shape[1:], generator=g)
    noise = 0.1 * torch.randn(s, *xd.shape, generator=g)
    np.random.seed(GS_SEED)
    idx = np.random.choice(dist.shape[0], s * n)
    alphas = np.random.uniform(0.0, 1.0, s * n)
    tensors["gs/distribution"] = dist
    tensors["gs/noise"] = noise
    tensors["gs/indices"] = torch.tensor(idx, dtype=torch.float32).view(n, s).t().contiguous()
    tensors["gs/alphas"] = torch.tensor(alphas, dtype=torch.float32).view(n, s).t().contiguous()
    rows = xd.repeat_interleave(s, 0) + noise.transpose(0, 1).reshape(-1, *xd.shape[1:]).double()
    base = dist.double()[torch.tensor(idx)]
    a = torch.tensor(alphas).view(-1, 1, 1, 1)
    scaled = a * rows + (1 - a) * base
    row_target = torch.tensor(target).repeat_interleave(s)
    tgt = torch.tensor(target)
    for layer in ("conv2", "relu1"):
        np.random.seed(GS_SEED)
        attr, delta = with_noise(noise, lambda: LayerGradientShap(model, getattr(model, layer)).attribute(
            xd, dist.double(), n_samples=s, stdevs=0.1, target=tgt, return_convergence_delta=True))
        _, grad = layer_and_grad(model, getattr(model, layer), scaled, row_target)
        act_rows, _ = layer_and_grad(model, getattr(model, layer), rows, row_target)
        act_base, _ = layer_and_grad(model, getattr(model, layer), base, row_target)
        hand = ((act_rows - act_base) * grad).view(n, s, *grad.shape[1:]).mean(1)
        assert torch.allclose(hand, attr, atol=1e-12), (layer, (hand - attr).abs().max())
        tensors[f"layer_gradient_shap.{layer}/attr"] = attr.float().contiguous()
        tensors[f"layer_gradient_shap.{layer}/delta"] = delta.view(n, s).mean(1).float().contiguous()
        tensors[f"layer_gradient_shap.{layer}/delta_rows"] = delta.float().contiguous()
    for layer, neuron in (("relu2", neuron2), ("conv2", (3, 1, 2))):
        np.random.seed(GS_SEED)
        attr = with_noise(noise, lambda: NeuronGradientShap(model, getattr(model, layer)).attribute(
            xd, neuron, dist.double(), n_samples=s, stdevs=0.1))
        _, grad = layer_and_grad(model, getattr(model, layer), scaled, neuron=neuron)
        hand = ((rows - base) * grad).view(n, s, *xd.shape[1:]).mean(1)
        assert torch.allclose(hand, attr, atol=1e-12), (layer, (hand - attr).abs().max())
        tensors[f"neuron_gradient_shap.{layer}/attr"] = attr.float().contiguous()
        tensors[f"neuron_gradient_shap.{layer}/neuron"] = torch.tensor(neuron, dtype=torch.float32)


def main():
    torch.manual_seed(zlib.crc32(b"layer_parity"))
    g = torch.Generator().manual_seed(zlib.crc32(b"layer_parity data"))
    model = LayerNet()
    with torch.no_grad():
        model.bn1.weight.copy_(0.5 + torch.rand(6, generator=g))
        model.bn1.bias.copy_(0.2 * torch.randn(6, generator=g))
        model.bn1.running_mean.copy_(0.3 * torch.randn(6, generator=g))
        model.bn1.running_var.copy_(0.5 + 1.5 * torch.rand(6, generator=g))
        model.bn1.num_batches_tracked.fill_(100)
    model.eval()
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items() if "num_batches" not in k}
    x = torch.randn(2, 3, 8, 8, generator=g)
    base = 0.1 * torch.randn(2, 3, 8, 8, generator=g)
    model = model.double()
    xd, bd = x.double(), base.double()
    with torch.no_grad():
        logits = model(xd)
        # Per item the class whose logit moves most between baseline and input (a non-trivial target).
        target = (logits - model(bd)).abs().argmax(dim=1).tolist()

    tensors = {f"state/{k}": v.float() for k, v in state.items()}
    tensors.update({"input": x, "baseline": base, "target": torch.tensor(target, dtype=torch.float32)})
    cases = []

    def add(name, method, layer, attr, delta=None, neuron=(), integration="", steps=0):
        assert name not in [c["name"] for c in cases], name
        tensors[f"{name}/attr"] = attr.detach().float().contiguous()
        if delta is not None:
            tensors[f"{name}/delta"] = delta.detach().float().contiguous().reshape(-1)
        cases.append({"name": name, "method": method, "layer": layer, "neuron": list(neuron),
                      "integration": integration, "steps": steps, "delta": delta is not None})

    mod = lambda name: getattr(model, name)  # noqa: E731
    with torch.no_grad():  # the relu2 neuron most active on both items (a neuron with a real signal)
        act = model.relu2(model.conv2(model.pool(model.relu1(model.bn1(model.conv1(xd))))))
        flat = int(act.flatten(1).min(dim=0).values.argmax())
        neuron2 = (flat // 16, flat // 4 % 4, flat % 4)
    for layer in ("relu1", "conv2"):
        add(f"layer_activation.{layer}", "layer_activation", layer, LayerActivation(model, mod(layer)).attribute(xd))
        add(f"layer_gradient_x_activation.{layer}", "layer_gradient_x_activation", layer,
            LayerGradientXActivation(model, mod(layer)).attribute(xd, target=target))
    model.decouple = True
    for layer in ("conv1", "relu1", "conv2"):
        a, d = LayerDeepLift(model, mod(layer)).attribute(xd, bd, target=target, return_convergence_delta=True)
        add(f"layer_deeplift.{layer}", "layer_deeplift", layer, a, d)
    add("neuron_deeplift.relu2", "neuron_deeplift", "relu2",
        NeuronDeepLift(model, model.relu2).attribute(xd, neuron2, bd), neuron=neuron2)
    add("neuron_deeplift.conv2", "neuron_deeplift", "conv2",
        NeuronDeepLift(model, model.conv2).attribute(xd, (3, 1, 2), bd), neuron=(3, 1, 2))
    model.decouple = False
    for method in ("gausslegendre", "riemann_trapezoid"):
        steps = 8
        a, d = LayerIntegratedGradients(model, model.conv2).attribute(
            xd, bd, target=target, n_steps=steps, method=method, return_convergence_delta=True)
        add(f"layer_integrated_gradients.conv2.{method}", "layer_integrated_gradients", "conv2", a, d,
            integration=method, steps=steps)
        a, d = LayerIntegratedGradients(model, model.relu1).attribute(
            xd, bd, target=target, n_steps=steps, method=method, return_convergence_delta=True)
        add(f"layer_integrated_gradients.relu1.{method}", "layer_integrated_gradients", "relu1", a, d,
            integration=method, steps=steps)
        a, d = LayerConductance(model, model.relu1).attribute(
            xd, bd, target=target, n_steps=steps, method=method, return_convergence_delta=True)
        add(f"layer_conductance.relu1.{method}", "layer_conductance", "relu1", a, d, integration=method,
            steps=steps)
        a = InternalInfluence(model, model.conv2).attribute(xd, bd, target=target, n_steps=steps, method=method)
        add(f"internal_influence.conv2.{method}", "internal_influence", "conv2", a, integration=method, steps=steps)
        neuron = (3, 1, 2)
        a = NeuronIntegratedGradients(model, model.conv2).attribute(xd, neuron, bd, n_steps=steps, method=method)
        add(f"neuron_integrated_gradients.conv2.{method}", "neuron_integrated_gradients", "conv2", a,
            neuron=neuron, integration=method, steps=steps)
        a = NeuronConductance(model, model.relu2).attribute(xd, neuron2, bd, target=target, n_steps=steps,
                                                            method=method)
        add(f"neuron_conductance.relu2.{method}", "neuron_conductance", "relu2", a, neuron=neuron2,
            integration=method, steps=steps)
    add("neuron_gradient.conv2", "neuron_gradient", "conv2", NeuronGradient(model, model.conv2).attribute(xd, (3, 1, 2)),
        neuron=(3, 1, 2))
    add("neuron_gradient.avgpool", "neuron_gradient", "avgpool",
        NeuronGradient(model, model.avgpool).attribute(xd, (5, 0, 1)), neuron=(5, 0, 1))

    # Captum has no NeuronInputXGradient: InputXGradient of a forward function returning the neuron.
    add("neuron_input_x_gradient.conv2", "neuron_input_x_gradient", "conv2",
        InputXGradient(neuron_forward(model, model.conv2, (3, 1, 2))).attribute(xd), neuron=(3, 1, 2))
    # Guided backprop and deconvolution from a neuron (Captum hooks every nn.ReLU module; the
    # neuron at relu2 starts above relu2, so relu2's own rule applies too).
    for layer, neuron in (("relu2", neuron2), ("conv2", (3, 1, 2)), ("avgpool", (5, 0, 1))):
        add(f"neuron_guided_backprop.{layer}", "neuron_guided_backprop", layer,
            NeuronGuidedBackprop(model, mod(layer)).attribute(xd, neuron), neuron=neuron)
        add(f"neuron_deconvolution.{layer}", "neuron_deconvolution", layer,
            NeuronDeconvolution(model, mod(layer)).attribute(xd, neuron), neuron=neuron)
    # DeepLIFT-SHAP over the 2-row distribution `baseline` (decoupled as the DeepLIFT cases above).
    model.decouple = True
    n_items, n_base = xd.shape[0], bd.shape[0]
    for layer in ("conv1", "relu1"):
        a, d = LayerDeepLiftShap(model, mod(layer)).attribute(xd, bd, target=target, return_convergence_delta=True)
        add(f"layer_deeplift_shap.{layer}", "layer_deeplift_shap", layer, a, d.view(n_items, n_base).mean(1))
    add("neuron_deeplift_shap.relu2", "neuron_deeplift_shap", "relu2",
        NeuronDeepLiftShap(model, model.relu2).attribute(xd, neuron2, bd), neuron=neuron2)
    model.decouple = False

    gradient_shap_references(model, xd, target, neuron2, g, tensors)

    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "layer_parity.safetensors")
    meta = {"cases": json.dumps(cases), "generator": "tools/reference/make_layer_fixtures.py",
            "torch": torch.__version__, "captum": captum.__version__}
    save(tensors, path, meta)
    print(f"{os.path.getsize(path):8d}  {path}  ({len(cases)} cases, targets {target}, relu2 neuron {neuron2})")


if __name__ == "__main__":
    main()
