"""Arrays in and out: numpy arrays and torch CPU tensors, float32, without copies where the layout
allows (a C-contiguous float32 array or tensor is wrapped, not copied; results are numpy arrays
owning the C++ buffer, turned into torch tensors with torch.from_numpy, which shares memory)."""
from __future__ import annotations

import numpy as np


def is_torch(x) -> bool:
    return type(x).__module__.split(".")[0] == "torch" and hasattr(x, "detach")


def as_array(x, name: str, *, allow_scalar: bool = False) -> np.ndarray:
    """x as a float32 C-contiguous CPU numpy array; TypeError/ValueError naming `name` otherwise."""
    if is_torch(x):
        if x.device.type != "cpu":
            raise ValueError(f"{name}: expected a CPU tensor, got one on {x.device} (call .cpu() first)")
        if str(x.dtype) != "torch.float32":
            raise TypeError(f"{name}: expected float32, got {x.dtype} (call .float() first)")
        x = x.detach()
        if not x.is_contiguous():
            x = x.contiguous()
        return x.numpy()
    if isinstance(x, np.ndarray):
        if x.dtype != np.float32:
            raise TypeError(f"{name}: expected float32, got {x.dtype} (use .astype(np.float32))")
        if x.ndim == 0 and not allow_scalar:
            raise ValueError(f"{name}: expected an array with a batch dimension, got a scalar")
        return np.ascontiguousarray(x)
    raise TypeError(f"{name}: expected a numpy array or a torch tensor, got {type(x).__name__}")


def kind_of(x) -> str:
    return "torch" if is_torch(x) else "numpy"


def as_output(a: np.ndarray, kind: str):
    if kind == "torch":
        import torch

        return torch.from_numpy(a)
    return a


def as_target(target, items: int):
    """Captum's target forms: None, int, a list of ints, a 1-D tensor or array of ints."""
    if target is None:
        return None
    if is_torch(target):
        target = target.detach().cpu().numpy()
    if isinstance(target, np.ndarray):
        if target.ndim == 0:
            return int(target)
        if target.ndim != 1 or not np.issubdtype(target.dtype, np.integer):
            raise ValueError(f"target: expected one integer class per item, got an array {target.dtype} {target.shape}")
        target = target.tolist()
    if isinstance(target, (bool, float)):
        raise TypeError(f"target: expected an int class index, got {type(target).__name__}")
    if isinstance(target, int):
        return target
    if isinstance(target, (list, tuple)):
        if any(isinstance(t, (tuple, list)) for t in target):
            raise NotImplementedError("target: tuples (multi-dimensional outputs) are not supported; "
                                      "give one class index per item")
        if len(target) != items:
            raise ValueError(f"target: expected {items} class indices (one per item), got {len(target)}")
        return [int(t) for t in target]
    raise TypeError(f"target: expected None, an int or a list of ints, got {type(target).__name__}")
