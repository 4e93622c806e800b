"""Shared pieces of backlight.captum: argument mapping and the base classes."""
from __future__ import annotations

from .._run import as_model, element_mask, no_extra_args, run, unwrap_inputs
from .._tensors import as_array


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


def _neuron(selector, who):
    if callable(selector) or (isinstance(selector, tuple) and any(isinstance(i, slice) for i in selector)):
        raise NotImplementedError(f"{who}: neuron_selector: callables and slices are not supported; give an int "
                                  f"or a tuple of ints")
    return _ints(selector, "neuron_selector")


class _Attribution:
    _method = ""

    def __init__(self, forward_func):
        self.forward_func = as_model(forward_func, type(self).__name__)

    def _call(self, inputs, target=None, additional_forward_args=None, return_delta=False, key="attribution",
              method=None, **options):
        who = f"{type(self).__name__}.attribute"
        no_extra_args(additional_forward_args, who)
        x, tupled = unwrap_inputs(inputs, who)
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


def _check_mbi(who, multiply_by_inputs):
    if not multiply_by_inputs:
        raise NotImplementedError(f"{who}: multiply_by_inputs=False is not supported")


class _LayerAttribution(_Attribution):
    def __init__(self, forward_func, layer, device_ids=None):
        super().__init__(forward_func)
        self.layer = self.forward_func.layer_name(layer)

    def _layer_call(self, inputs, target, additional_forward_args, attribute_to_layer_input, return_delta=False,
                    key="attribution", **options):
        _unsupported(f"{type(self).__name__}.attribute", attribute_to_layer_input=attribute_to_layer_input)
        return self._call(inputs, target, additional_forward_args, return_delta, key=key, layer=self.layer, **options)


class _NeuronAttribution(_LayerAttribution):
    def _neuron_call(self, inputs, neuron_selector, additional_forward_args, attribute_to_neuron_input,
                     target=None, **options):
        who = f"{type(self).__name__}.attribute"
        _unsupported(who, attribute_to_neuron_input=attribute_to_neuron_input)
        return self._call(inputs, target, additional_forward_args, layer=self.layer,
                          neuron=_neuron(neuron_selector, who), **options)


def _mask_or_elements(feature_mask, inputs):
    if feature_mask is not None:
        return feature_mask
    x, _ = unwrap_inputs(inputs, "feature_mask")
    return element_mask(as_array(x, "inputs"))
