"""Shared pieces of backlight.captum: argument mapping and the base classes."""
from __future__ import annotations

import numpy as np

from .._run import as_model, element_mask, no_extra_args, run, unwrap_inputs
from .._tensors import as_array
from ._interpolate import LayerAttribution


def _ppe(perturbations_per_eval: int) -> int:
    if perturbations_per_eval < 1:
        raise ValueError(f"perturbations_per_eval: expected >= 1, got {perturbations_per_eval}")
    return perturbations_per_eval if perturbations_per_eval > 1 else 0


def _batch(internal_batch_size):
    return None if internal_batch_size is None else int(internal_batch_size)


def _unsupported(who, **flags):
    for name, bad in flags.items():
        if bad:
            raise NotImplementedError(f"{who}: {name} is not supported")


def _ints(v, name):
    if isinstance(v, int):
        return [v]
    if isinstance(v, tuple) and all(isinstance(i, int) for i in v):
        return list(v)
    raise TypeError(f"{name}: expected an int or a tuple of ints, got {type(v).__name__}")


def _neuron(selector, who, model=None, x=None, layer=None):
    """Captum's neuron_selector as backlight options: an int or a tuple of ints is an index; a tuple
    with slices (the selected neurons summed, as Captum) and a callable of the layer output become
    weights over one item's layer output (`neuron_weights`). A callable must be linear in the layer
    output (a selection, a sum, a weighted sum - what Captum's docs ask for): its weights are its
    gradient, taken with torch at the actual layer output and at a second point; a nonlinear one
    raises NotImplementedError."""
    if isinstance(selector, tuple) and any(isinstance(i, slice) for i in selector):
        act = _layer_values(model, x[:1], layer)  # only its shape is needed
        w = np.zeros((1,) + act.shape[1:], np.float32)
        w[(0,) + selector] = 1.0
        return {"neuron_weights": w}
    if callable(selector):
        return {"neuron_weights": _selector_weights(selector, _layer_values(model, x, layer), who)}
    return {"neuron": _ints(selector, "neuron_selector")}


def _layer_values(model, x, layer):
    from .._run import run
    return np.asarray(run(model, "layer_activation", x, None, layer=layer)["attribution"])


def _selector_weights(selector, act, who):
    try:
        import torch
    except ImportError:  # pragma: no cover - depends on the machine
        raise NotImplementedError(f"{who}: neuron_selector: callables need torch (they are called on the layer "
                                  f"output as a torch tensor)") from None

    def grad_at(a):
        t = torch.tensor(a, requires_grad=True)
        y = selector(t)
        if not isinstance(y, torch.Tensor) or y.numel() != a.shape[0]:
            raise ValueError(f"{who}: neuron_selector: expected one value per item ({a.shape[0]}) from the "
                             f"callable, got {getattr(y, 'shape', type(y).__name__)}")
        (g,) = torch.autograd.grad(y.sum(), t, allow_unused=True)
        return np.zeros_like(a) if g is None else g.detach().numpy()

    g = grad_at(act)
    rng = np.random.default_rng(0)
    probe = (act + rng.normal(0.0, 1.0, act.shape) * (np.abs(act).max() + 1.0)).astype(np.float32)
    g2 = grad_at(probe)
    w = g[:1]
    tol = 1e-6 * max(float(np.abs(w).max()), 1e-30)
    if np.abs(g - w).max() > tol or np.abs(g2 - w).max() > tol:
        raise NotImplementedError(f"{who}: neuron_selector: the callable is not linear in the layer output; "
                                  f"backlight supports selections and (weighted) sums of layer units")
    return np.ascontiguousarray(w, dtype=np.float32)


class _Attribution:
    _method = ""

    def __init__(self, forward_func):
        self.forward_func = as_model(forward_func, type(self).__name__)

    def _call(self, inputs, target=None, additional_forward_args=None, return_delta=False, key="attribution",
              method=None, **options):
        who = f"{type(self).__name__}.attribute"
        no_extra_args(additional_forward_args, who)
        x, tupled = unwrap_inputs(inputs, who)
        if "_multiply_by_inputs" in self.__dict__:  # set by the constructors that take multiply_by_inputs
            options.setdefault("multiply_by_inputs", self._multiply_by_inputs)
        r = run(self.forward_func, method or self._method, x, target, **options)
        attr = r[key]
        if tupled:
            attr = (attr,)
        if return_delta:
            if "delta" not in r:
                raise NotImplementedError(f"{who}: return_convergence_delta: no delta for this method")
            return attr, r["delta"]
        return attr

    @property
    def multiplies_by_inputs(self):
        return getattr(self, "_multiply_by_inputs", False)

    def has_convergence_delta(self):
        return False


class _LayerAttribution(_Attribution, LayerAttribution):
    def __init__(self, forward_func, layer, device_ids=None):
        super().__init__(forward_func)
        self.layer = self.forward_func.layer_name(layer)

    def _layer_name(self, to_input):
        """The layer, or its input ("<layer>@input", Captum's attribute_to_layer_input)."""
        return self.layer + "@input" if to_input else self.layer

    def _layer_call(self, inputs, target, additional_forward_args, attribute_to_layer_input, return_delta=False,
                    key="attribution", **options):
        layer = self._layer_name(attribute_to_layer_input)
        return _input_of_model_guard(lambda: self._call(inputs, target, additional_forward_args, return_delta, key=key,
                                                        layer=layer, **options), type(self).__name__)


class _NeuronAttribution(_LayerAttribution):
    def _neuron_call(self, inputs, neuron_selector, additional_forward_args, attribute_to_neuron_input,
                     target=None, **options):
        who = f"{type(self).__name__}.attribute"
        no_extra_args(additional_forward_args, who)
        layer = self._layer_name(attribute_to_neuron_input)

        def go():
            x, _ = unwrap_inputs(inputs, who)
            neuron = _neuron(neuron_selector, who, self.forward_func, x, layer)
            return self._call(inputs, target, additional_forward_args, layer=layer, **neuron, **options)
        return _input_of_model_guard(go, type(self).__name__)


def _per_baseline_deltas(call_one, baselines):
    """DeepLiftShap-style methods with return_convergence_delta: Captum returns one delta per
    (item, baseline) pair, item-major [N * B]. backlight's C++ averages them per item, so this runs
    the single-baseline method once per baseline (the same B paired passes the C++ loop makes) and
    averages the attributions here."""
    from .._tensors import as_output, kind_of
    b = np.asarray(baselines)
    if b.ndim == 0:
        raise ValueError("baselines: expected a baseline distribution [B, ...], got a number")
    attrs, deltas = [], []
    for j in range(b.shape[0]):
        a, d = call_one(np.ascontiguousarray(b[j:j + 1]))
        tupled = isinstance(a, tuple)
        kind = kind_of(a[0] if tupled else a)
        attrs.append(np.asarray(a[0] if tupled else a))
        deltas.append(np.asarray(d))
    mean = as_output(np.ascontiguousarray(np.mean(attrs, axis=0), dtype=np.float32), kind)
    delta = as_output(np.ascontiguousarray(np.stack(deltas, axis=1).reshape(-1), dtype=np.float32), kind)
    return ((mean,) if tupled else mean), delta


def _input_of_model_guard(fn, who):
    """attribute_to_layer_input on a module that takes the model input itself: backlight has no
    layer value there (the C++ error says so); report it as unsupported."""
    try:
        return fn()
    except ValueError as e:
        if "is the model input itself" in str(e):
            raise NotImplementedError(f"{who}: attribute_to_layer_input/attribute_to_neuron_input on a module "
                                      f"whose input is the model input ({e})") from None
        raise


def _mask_or_elements(feature_mask, inputs):
    if feature_mask is not None:
        return feature_mask
    x, _ = unwrap_inputs(inputs, "feature_mask")
    return element_mask(as_array(x, "inputs"))
