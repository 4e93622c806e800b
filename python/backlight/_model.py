"""Models: backlight.zoo, backlight.load, backlight.from_torch and the Model handle."""
from __future__ import annotations

import os
import re
from typing import Mapping

import numpy as np

from . import _core
from ._tensors import as_array, as_output, is_torch, kind_of


class Model:
    """A network on backlight's tape engine. Call it on inputs [N, ...] (float32 numpy array or torch
    CPU tensor) to get the outputs [N, classes] as the same type. Layers are named as torch's
    named_modules() ("features.3", "layer4.1.conv2"); layers() lists them."""

    def __init__(self, core: _core.Model, torch_module=None):
        self._core = core
        self._torch_module = torch_module

    @property
    def arch(self) -> str:
        """Zoo architecture name ('' when unknown)."""
        return self._core.arch

    @property
    def input_shape(self) -> list:
        """Default per-item input shape, e.g. [3, 224, 224]."""
        return list(self._core.input_shape)

    @property
    def num_classes(self) -> int:
        return self._core.num_classes

    def __call__(self, inputs):
        x = as_array(inputs, "inputs")
        return as_output(self._core.forward(x), kind_of(inputs))

    forward = __call__

    def layers(self) -> list:
        """(name, type) of every layer, in torch's named_modules() order (without the root)."""
        return [tuple(p) for p in self._core.layers()]

    def state_dict(self) -> dict:
        """Parameters and buffers as numpy arrays, by torch's state_dict keys."""
        return dict(self._core.state_dict())

    def load_state_dict(self, state_dict: Mapping, strict: bool = True):
        """Copies a state dict (numpy arrays or torch tensors, any float or int dtype) into the model.
        Returns (missing_keys, unexpected_keys); strict raises ValueError listing every problem."""
        pairs = [(k, _float32(v, k)) for k, v in state_dict.items()]
        return self._core.load_state_dict(pairs, strict)

    def release_memory(self) -> None:
        """Attribution calls on a model reuse one buffer pool (thread-safe), which keeps the peak
        memory of the calls made so far; this returns the cached buffers to the system."""
        _core.release_memory(self._core)

    def cached_bytes(self) -> int:
        """Bytes the model's buffer pool holds for reuse."""
        return int(_core.cached_bytes(self._core))

    def canonized(self, input_shape=None) -> "Model":
        """A copy with every BatchNorm folded into the conv/linear before it (what backlight.lrp does
        on each call with canonize=True, as Zennit's canonizers): for repeated LRP calls, canonize
        once and call lrp(..., canonize=False). input_shape: one item's shape (default: the
        model's)."""
        shape = list(input_shape) if input_shape is not None else self.input_shape
        if not shape:
            raise ValueError("canonized: this model has no default input shape; pass input_shape")
        return Model(_core.merge_batchnorm(self._core, [1] + [int(d) for d in shape]), self._torch_module)

    def layer_name(self, layer) -> str:
        """A layer given by name (str) or, for from_torch models, by the torch module itself."""
        if isinstance(layer, str):
            return layer
        if self._torch_module is not None:
            for name, mod in self._torch_module.named_modules():
                if mod is layer:
                    return name
            raise ValueError("layer: the module is not part of the model given to from_torch")
        raise TypeError(f"layer: expected a layer name such as 'features.3' (see model.layers()), "
                        f"got {type(layer).__name__}")

    def __repr__(self):
        return f"backlight.Model(arch={self.arch!r}, classes={self.num_classes}, input={self.input_shape})"


def _float32(v, name):
    if is_torch(v):
        v = v.detach().cpu().float().numpy()
    v = np.asarray(v)
    if v.dtype != np.float32:
        v = v.astype(np.float32)
    return np.ascontiguousarray(v)


def _infer_classes(state: Mapping) -> int:
    last = None
    for k, v in state.items():
        if k.endswith("weight") and len(getattr(v, "shape", ())) == 2:
            last = v
    return int(last.shape[0]) if last is not None else 0


def _infer_mlp_sizes(state: Mapping) -> list:
    ws = sorted(((int(m.group(1)), v) for k, v in state.items() if (m := re.fullmatch(r"(\d+)\.weight", k))),
                key=lambda p: p[0])
    if not ws:
        return []
    return [int(ws[0][1].shape[1])] + [int(w.shape[0]) for _, w in ws[:-1]]


def zoo(name: str, weights=None, *, num_classes: int = 0, seed: int = 0, mlp_sizes=None) -> Model:
    """A zoo architecture ("resnet18", "vgg16", "mnist_cnn", "mlp", "vit_tiny", ...; see zoo_models()).

    weights: None (seeded random init), a .safetensors path (tools/convert_torch.py), or a state dict
    (torch's model.state_dict(), or numpy arrays) loaded strictly. num_classes and the mlp's sizes
    default to what the weights hold."""
    if weights is None:
        return Model(_core.zoo(name, num_classes, seed, list(mlp_sizes or [])))
    if isinstance(weights, (str, os.PathLike)):
        m = load(weights, num_classes=num_classes, mlp_sizes=mlp_sizes)
        if m.arch != name:
            raise ValueError(f"weights: {os.fspath(weights)} holds a {m.arch!r}, not a {name!r}")
        return m
    if isinstance(weights, Mapping):
        nc = num_classes or _infer_classes(weights)
        sizes = list(mlp_sizes or (_infer_mlp_sizes(weights) if name == "mlp" else []))
        m = Model(_core.zoo(name, nc, seed, sizes))
        m.load_state_dict(weights, strict=True)
        return m
    raise TypeError(f"weights: expected None, a path or a state dict, got {type(weights).__name__}")


def zoo_models() -> list:
    """(name, description, input shape, classes) of every zoo architecture."""
    return [tuple(e) for e in _core.zoo_models()]


def load(path, *, num_classes: int = 0, mlp_sizes=None) -> Model:
    """A model from a file: .safetensors written by tools/convert_torch.py or save_weights (the
    architecture comes from its metadata). OSError for missing, unreadable or malformed files."""
    return Model(_core.load(os.fspath(path), num_classes, list(mlp_sizes or [])))


def from_torch(module, example_input) -> Model:
    """A torch module on backlight's engine, exported with torch's ONNX exporter (module names
    kept, so layers can be given by name or as the torch module). Needs the ONNX importer."""
    if not _core.has_onnx:
        raise NotImplementedError("from_torch: this build has no ONNX importer yet (backlight.load of "
                                  ".onnx files and from_torch arrive with it); use backlight.zoo(name, "
                                  "weights=module.state_dict()) for zoo architectures")
    import io

    import torch

    if not is_torch(example_input):
        example_input = torch.from_numpy(np.asarray(example_input))
    buf = io.BytesIO()
    was_training = module.training
    module.eval()
    try:
        # training=PRESERVE with constant folding off keeps BatchNorm nodes and the state-dict names
        # (docs/models.md); the batch axis stays free.
        with torch.no_grad():
            torch.onnx.export(module, (example_input,), buf, training=torch.onnx.TrainingMode.PRESERVE,
                              do_constant_folding=False, input_names=["input"], output_names=["output"],
                              dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, opset_version=17)
    finally:
        module.train(was_training)
    core = _core.load_onnx_bytes(buf.getvalue(), list(example_input.shape))
    return Model(core, torch_module=module)
