"""The single call path from the Python API into backlight._core.attribute."""
from __future__ import annotations

import numpy as np

from . import _core
from ._model import Model
from ._tensors import as_array, as_output, as_target, is_torch, kind_of


def as_model(forward_func, who: str) -> Model:
    if isinstance(forward_func, Model):
        return forward_func
    if is_torch(forward_func) or type(forward_func).__module__.split(".")[0] == "torch":
        raise TypeError(f"{who}: got a torch module; convert it first: backlight.from_torch(module, example_input) "
                        f"or backlight.zoo(arch, weights=module.state_dict())")
    if callable(forward_func):
        raise NotImplementedError(f"{who}: forward_func must be a backlight.Model; arbitrary Python callables "
                                  f"are not supported")
    raise TypeError(f"{who}: expected a backlight.Model, got {type(forward_func).__name__}")


def unwrap_inputs(inputs, who: str):
    """Captum accepts a tensor or a tuple of tensors; backlight models take one input."""
    if isinstance(inputs, tuple):
        if len(inputs) != 1:
            raise NotImplementedError(f"{who}: inputs: {len(inputs)} input tensors; backlight models take one")
        return inputs[0], True
    return inputs, False


def no_extra_args(additional_forward_args, who: str):
    if additional_forward_args is not None:
        raise NotImplementedError(f"{who}: additional_forward_args is not supported (backlight models take one "
                                  f"input tensor)")


def baseline_value(b, name="baselines"):
    """None, a number, or an array/tensor (a 1-tuple of one is unwrapped)."""
    if b is None:
        return None
    if isinstance(b, tuple):
        if len(b) != 1:
            raise NotImplementedError(f"{name}: {len(b)} baselines for one input")
        b = b[0]
    if isinstance(b, bool):
        raise TypeError(f"{name}: expected a number or an array, got bool")
    if isinstance(b, (int, float)):
        return float(b)
    if callable(b) and not is_torch(b) and not isinstance(b, np.ndarray):
        raise NotImplementedError(f"{name}: callables producing baselines are not supported; pass the tensor")
    return as_array(b, name, allow_scalar=True)


def run(model: Model, method: str, inputs, target=None, **options):
    """Runs `method` and returns (result dict with arrays converted to the inputs' type, input kind)."""
    x = as_array(inputs, "inputs")
    kind = kind_of(inputs)
    t = as_target(target, x.shape[0])
    opts = {k: v for k, v in options.items() if v is not None}
    if "feature_mask" in opts:
        opts["feature_mask"] = mask_array(opts["feature_mask"], x)
    r = _core.attribute(model._core, method, x, t, opts)
    out = {k: (as_output(v, kind) if isinstance(v, np.ndarray) else v) for k, v in r.items()}
    return out


def mask_array(mask, x):
    if isinstance(mask, tuple):
        if len(mask) != 1:
            raise NotImplementedError(f"feature_mask: {len(mask)} masks for one input")
        mask = mask[0]
    if is_torch(mask):
        mask = mask.detach().cpu().numpy()
    mask = np.asarray(mask)
    if not (np.issubdtype(mask.dtype, np.integer) or np.issubdtype(mask.dtype, np.floating)):
        raise TypeError(f"feature_mask: expected integer ids, got {mask.dtype}")
    return np.ascontiguousarray(mask, dtype=np.float32)


def element_mask(x) -> np.ndarray:
    """Captum's default features: every element of an item alone."""
    per_item = x.shape[1:]
    return np.arange(int(np.prod(per_item)), dtype=np.float32).reshape((1,) + tuple(per_item))
