"""Deterministic synthetic weights, the twin of models/synthetic_weights.{h,cpp}.

Every parameter and buffer gets values from a counter-based hash of (seed, state_dict key,
element index), so C++ and Python fill the same architecture with the same numbers and parity
fixtures need no stored weights. See models/synthetic_weights.h for the generator and the rules;
both implementations compute in float64 and round once to float32, so they agree bit for bit.

    fill_synthetic(model, seed)                     # in place, every state_dict entry
    synthetic_uniform(shape, seed, name, lo, hi)    # a float32 numpy array (test inputs)

Needs numpy (and torch for fill_synthetic).
"""
import math

import numpy as np

_M64 = (1 << 64) - 1
_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MUL1 = np.uint64(0xBF58476D1CE4E5B9)
_MUL2 = np.uint64(0x94D049BB133111EB)
_CHUNK = 1 << 22


def _splitmix64_int(z):
    z = (z + 0x9E3779B97F4A7C15) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def _fnv1a64(name):
    h = 0xCBF29CE484222325
    for byte in name.encode("utf-8"):
        h ^= byte
        h = (h * 0x100000001B3) & _M64
    return h


def _name_key(seed, name):
    return _splitmix64_int((seed & _M64) ^ _fnv1a64(name))


def synthetic_bits(seed, name, index):
    """The 64-bit hash of one element (for cross-checks with the C++ twin)."""
    return _splitmix64_int((_name_key(seed, name) + index) & _M64)


def _unit(key, begin, end):
    """u in [0, 1) as float64 for flat indices [begin, end)."""
    with np.errstate(over="ignore"):
        z = np.arange(begin, end, dtype=np.uint64) + np.uint64(key)
        z += _GAMMA
        z = (z ^ (z >> np.uint64(30))) * _MUL1
        z = (z ^ (z >> np.uint64(27))) * _MUL2
        z ^= z >> np.uint64(31)
    return (z >> np.uint64(40)).astype(np.float64) * (2.0 ** -24)


def _generate(shape, key, rule):
    n = int(np.prod(shape, dtype=np.int64)) if len(shape) else 1
    out = np.empty(n, dtype=np.float32)
    kind, a, b = rule
    for begin in range(0, n, _CHUNK):
        end = min(n, begin + _CHUNK)
        u = _unit(key, begin, end)
        out[begin:end] = ((2.0 * u - 1.0) * a if kind == "weight" else a + b * u).astype(np.float32)
    return out.reshape(shape)


def _rule(name, shape):
    if name.endswith("running_var"):
        return ("affine", 0.5, 1.5)
    if name.endswith("running_mean"):
        return ("affine", -0.1, 0.2)
    if name.endswith("num_batches_tracked"):
        return ("affine", 0.0, 0.0)
    if name.endswith("class_token") or name.endswith("pos_embedding"):
        return ("affine", -0.5, 1.0)
    if len(shape) == 1 and name.endswith("weight"):
        return ("affine", 0.5, 1.0)
    if len(shape) <= 1:
        return ("affine", -0.1, 0.2)
    n = int(np.prod(shape, dtype=np.int64))
    fan_in = max(1, n // max(1, shape[0]))
    return ("weight", math.sqrt(6.0 / fan_in), 0.0)


def synthetic_uniform(shape, seed, name, lo, hi):
    """float32 array of `shape`: lo + (hi - lo) * u (lo, hi taken as float32 like the C++ API)."""
    lo = float(np.float32(lo))
    hi = float(np.float32(hi))
    return _generate(tuple(shape), _name_key(seed, name), ("affine", lo, hi - lo))


def synthetic_state(named_shapes, seed):
    """{name: float32 array} for (name, shape) pairs."""
    return {name: _generate(tuple(shape), _name_key(seed, name), _rule(name, tuple(shape)))
            for name, shape in named_shapes}


def fill_synthetic(model, seed):
    """Sets every state_dict entry of a torch module in place (num_batches_tracked stays an int)."""
    import torch

    with torch.no_grad():
        for name, t in model.state_dict().items():
            values = _generate(tuple(t.shape), _name_key(seed, name), _rule(name, tuple(t.shape)))
            t.copy_(torch.from_numpy(values).to(t.dtype))
    return model
