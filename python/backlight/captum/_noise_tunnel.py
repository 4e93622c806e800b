"""NoiseTunnel: SmoothGrad, SmoothGrad-squared and VarGrad around any class of backlight.captum."""
from __future__ import annotations

import numpy as np

from .._run import baseline_value, unwrap_inputs
from .._tensors import as_array, as_output, as_target, kind_of
from ._base import _Attribution


class NoiseTunnel:
    """SmoothGrad / SmoothGrad-squared / VarGrad around any class of this module: the inputs are
    repeated nt_samples times with Gaussian noise of standard deviation `stdevs` (absolute, as
    Captum) and the attributions aggregated. Extra keyword `seed` (numpy's generator)."""

    def __init__(self, attribution_method):
        if not isinstance(attribution_method, _Attribution):
            raise TypeError("NoiseTunnel: expected an attribution object of backlight.captum")
        self.attribution_method = attribution_method

    @property
    def multiplies_by_inputs(self):
        return self.attribution_method.multiplies_by_inputs

    def has_convergence_delta(self):
        return self.attribution_method.has_convergence_delta()

    def attribute(self, inputs, nt_type="smoothgrad", nt_samples=5, nt_samples_batch_size=None, stdevs=1.0,
                  draw_baseline_from_distrib=False, *, seed=0, **kwargs):
        if nt_type not in ("smoothgrad", "smoothgrad_sq", "vargrad"):
            raise ValueError(f"nt_type: expected 'smoothgrad', 'smoothgrad_sq' or 'vargrad', got {nt_type!r}")
        if nt_samples < 1:
            raise ValueError(f"nt_samples: expected >= 1, got {nt_samples}")
        x, tupled = unwrap_inputs(inputs, "NoiseTunnel.attribute")
        if isinstance(stdevs, tuple):
            stdevs = stdevs[0]
        arr = as_array(x, "inputs")
        n = arr.shape[0]
        rng = np.random.default_rng(seed)
        noisy = np.repeat(arr, nt_samples, axis=0)  # Captum's order: item-major (each item's samples together)
        noisy = noisy + rng.normal(0.0, float(stdevs), size=noisy.shape).astype(np.float32)
        target = kwargs.pop("target", None)
        if target is not None and not isinstance(target, int):
            target = np.repeat(np.asarray(as_target(target, n)), nt_samples).tolist()
        baselines = kwargs.get("baselines")
        if draw_baseline_from_distrib:
            b = baseline_value(baselines)
            if not (isinstance(b, np.ndarray) and b.ndim == arr.ndim):
                raise ValueError("NoiseTunnel.attribute: draw_baseline_from_distrib: expected baselines as a "
                                 "distribution [B, ...] with the inputs' per-item shape")
            kwargs["baselines"] = np.ascontiguousarray(b[rng.integers(0, b.shape[0], size=noisy.shape[0])])
        elif baselines is not None and not isinstance(baselines, (int, float)):
            b = baseline_value(baselines)
            if isinstance(b, np.ndarray) and b.ndim == arr.ndim and b.shape[0] == n and n > 1:
                kwargs["baselines"] = np.repeat(b, nt_samples, axis=0)
        want_delta = bool(kwargs.get("return_convergence_delta", False))
        if want_delta and not self.has_convergence_delta():
            raise NotImplementedError(f"NoiseTunnel.attribute: return_convergence_delta: "
                                      f"{type(self.attribution_method).__name__} has no convergence delta")
        # nt_samples_batch_size only bounds Captum's memory; backlight batches internally.
        got = self.attribution_method.attribute(noisy, target=target, **kwargs)
        a, delta = (got if want_delta else (got, None))
        a = np.asarray(a[0] if isinstance(a, tuple) else a)
        a = a.reshape((n, nt_samples) + a.shape[1:])
        if nt_type == "smoothgrad":
            out = a.mean(axis=1)
        elif nt_type == "smoothgrad_sq":
            out = (a * a).mean(axis=1)
        else:
            out = (a * a).mean(axis=1) - a.mean(axis=1) ** 2
        out = as_output(np.ascontiguousarray(out, dtype=np.float32), kind_of(x))
        out = (out,) if tupled else out
        if want_delta:
            return out, as_output(_captum_delta_order(np.asarray(delta), n, nt_samples, nt_samples_batch_size),
                                  kind_of(x))
        return out


def _captum_delta_order(delta, n, nt_samples, batch):
    """Deltas [n * nt_samples] (item-major, as computed) in Captum's order: its samples run in
    partitions of nt_samples_batch_size (item-major within each), concatenated."""
    d = delta.reshape(n, nt_samples)
    b = nt_samples if batch is None else max(1, min(int(batch), nt_samples))
    parts = [d[:, lo:lo + b].reshape(-1) for lo in range(0, nt_samples - nt_samples % b, b)]
    if nt_samples % b:
        parts.append(d[:, nt_samples - nt_samples % b:].reshape(-1))
    return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)
