"""Captum 0.8's attribution classes on backlight models: same class names, constructor arguments,
attribute() signatures, defaults, output shapes and convergence deltas. Change

    from captum.attr import IntegratedGradients
to
    from backlight.captum import IntegratedGradients

and give a backlight.Model (backlight.zoo / load / from_torch) where Captum takes the torch model.
Layers are given by name ("layer4", "features.28") or, for from_torch models, as the torch module.

Differences: one input tensor per model (a 1-tuple is accepted and returned as a 1-tuple);
additional_forward_args, callable baselines, callable/slice neuron selectors and non-default
variants raise NotImplementedError naming the argument. perturbations_per_eval=1 (Captum's
default, a memory knob) lets backlight choose its batch: results do not depend on it. Random
methods (GradientShap, NoiseTunnel, FeaturePermutation, ShapleyValueSampling, KernelShap, Lime)
draw from backlight's own seeded generator (extra keyword `seed`), so they match Captum in
distribution, not draw for draw.
"""
from __future__ import annotations

import numpy as np

from ._run import as_model, baseline_value, element_mask, no_extra_args, run, unwrap_inputs
from ._tensors import as_array, is_torch, kind_of, as_output

__all__ = [
    "Saliency", "InputXGradient", "IntegratedGradients", "NoiseTunnel", "DeepLift", "DeepLiftShap", "GradientShap",
    "GuidedBackprop", "Deconvolution", "GuidedGradCam", "LRP", "Occlusion", "FeatureAblation", "FeaturePermutation",
    "ShapleyValueSampling", "KernelShap", "Lime", "LayerGradCam", "LayerIntegratedGradients", "LayerConductance",
    "LayerActivation", "LayerGradientXActivation", "InternalInfluence", "LayerGradientShap", "LayerDeepLift",
    "LayerDeepLiftShap", "LayerLRP", "LayerFeatureAblation", "NeuronGradient", "NeuronIntegratedGradients", "NeuronConductance",
    "NeuronGuidedBackprop", "NeuronDeconvolution", "NeuronDeepLift", "NeuronDeepLiftShap", "NeuronGradientShap",
    "NeuronFeatureAblation",
]


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


# --- gradient methods --------------------------------------------------------------------------

class Saliency(_Attribution):
    """|d target / d input| (abs=True) or the signed gradient."""
    _method = "saliency"

    def attribute(self, inputs, target=None, abs=True, additional_forward_args=None):
        return self._call(inputs, target, additional_forward_args, abs=bool(abs))


class InputXGradient(_Attribution):
    _method = "input_x_gradient"
    _multiply_by_inputs = True

    def attribute(self, inputs, target=None, additional_forward_args=None):
        return self._call(inputs, target, additional_forward_args)


class IntegratedGradients(_Attribution):
    """Integrated gradients; extra keyword: none (backlight fuses the steps into batches itself)."""
    _method = "integrated_gradients"

    def __init__(self, forward_func, multiply_by_inputs=True):
        super().__init__(forward_func)
        _check_mbi("IntegratedGradients", multiply_by_inputs)
        self._multiply_by_inputs = True

    def has_convergence_delta(self):
        return True

    def attribute(self, inputs, baselines=None, target=None, additional_forward_args=None, n_steps=50,
                  method="gausslegendre", internal_batch_size=None, return_convergence_delta=False):
        return self._call(inputs, target, additional_forward_args, return_convergence_delta,
                          baselines=baseline_value(baselines), steps=int(n_steps), integration=method,
                          batch=_batch(internal_batch_size))


class DeepLift(_Attribution):
    """DeepLIFT Rescale (Captum's DeepLift on ReLU networks)."""
    _method = "deeplift"

    def __init__(self, model, multiply_by_inputs=True, eps=1e-10):
        super().__init__(model)
        _check_mbi("DeepLift", multiply_by_inputs)
        self._multiply_by_inputs = True
        self.eps = eps

    def has_convergence_delta(self):
        return True

    def attribute(self, inputs, baselines=None, target=None, additional_forward_args=None,
                  return_convergence_delta=False, custom_attribution_func=None):
        _unsupported("DeepLift.attribute", custom_attribution_func=custom_attribution_func is not None)
        return self._call(inputs, target, additional_forward_args, return_convergence_delta,
                          baselines=baseline_value(baselines))


class DeepLiftShap(_Attribution):
    _method = "deeplift_shap"

    def __init__(self, model, multiply_by_inputs=True):
        super().__init__(model)
        _check_mbi("DeepLiftShap", multiply_by_inputs)
        self._multiply_by_inputs = True

    def has_convergence_delta(self):
        return True

    def attribute(self, inputs, baselines, target=None, additional_forward_args=None,
                  return_convergence_delta=False, custom_attribution_func=None):
        _unsupported("DeepLiftShap.attribute", custom_attribution_func=custom_attribution_func is not None)
        return self._call(inputs, target, additional_forward_args, return_convergence_delta,
                          baselines=baseline_value(baselines))


class GradientShap(_Attribution):
    """GradientSHAP; extra keyword `seed` (backlight's generator)."""
    _method = "gradient_shap"

    def __init__(self, forward_func, multiply_by_inputs=True):
        super().__init__(forward_func)
        _check_mbi("GradientShap", multiply_by_inputs)
        self._multiply_by_inputs = True

    def has_convergence_delta(self):
        return True

    def attribute(self, inputs, baselines, n_samples=5, stdevs=0.0, target=None, additional_forward_args=None,
                  return_convergence_delta=False, *, seed=0):
        return self._call(inputs, target, additional_forward_args, return_convergence_delta,
                          baselines=baseline_value(baselines), samples=int(n_samples), stdev=float(stdevs),
                          seed=int(seed))


class GuidedBackprop(_Attribution):
    _method = "guided_backprop"

    def __init__(self, model):
        super().__init__(model)

    def attribute(self, inputs, target=None, additional_forward_args=None):
        return self._call(inputs, target, additional_forward_args)


class Deconvolution(_Attribution):
    _method = "deconvolution"

    def __init__(self, model):
        super().__init__(model)

    def attribute(self, inputs, target=None, additional_forward_args=None):
        return self._call(inputs, target, additional_forward_args)


class LRP(_Attribution):
    """Captum's LRP: epsilon rules (eps 1e-9) on conv and linear layers, relevance starting from the
    target's output. For Zennit's composites use backlight.lrp."""
    _method = "lrp"

    def has_convergence_delta(self):
        return True

    def __init__(self, model):
        super().__init__(model)

    def attribute(self, inputs, target=None, additional_forward_args=None, return_convergence_delta=False,
                  verbose=False):
        return self._call(inputs, target, additional_forward_args, return_convergence_delta, rules="lrp_epsilon",
                          rule_params={"epsilon": 1e-9, "stabilizer": 1e-9}, multiply_by_output=True)


# --- perturbation methods ------------------------------------------------------------------------

class Occlusion(_Attribution):
    _method = "occlusion"

    def attribute(self, inputs, sliding_window_shapes, strides=None, baselines=None, target=None,
                  additional_forward_args=None, perturbations_per_eval=1, show_progress=False):
        window = _ints(sliding_window_shapes, "sliding_window_shapes")
        if strides is None:
            stride = [1] * len(window)
        elif isinstance(strides, int):
            stride = [strides] * len(window)
        else:
            stride = _ints(strides, "strides")
        return self._call(inputs, target, additional_forward_args, window=window, stride=stride,
                          baselines=baseline_value(baselines), batch=_ppe(perturbations_per_eval))


def _mask_or_elements(feature_mask, inputs):
    if feature_mask is not None:
        return feature_mask
    x, _ = unwrap_inputs(inputs, "feature_mask")
    return element_mask(as_array(x, "inputs"))


class FeatureAblation(_Attribution):
    _method = "feature_ablation"

    def attribute(self, inputs, baselines=None, target=None, additional_forward_args=None, feature_mask=None,
                  perturbations_per_eval=1, show_progress=False, **kwargs):
        _unsupported("FeatureAblation.attribute", **{k: True for k in kwargs})
        return self._call(inputs, target, additional_forward_args, baselines=baseline_value(baselines),
                          feature_mask=_mask_or_elements(feature_mask, inputs), batch=_ppe(perturbations_per_eval))


class FeaturePermutation(_Attribution):
    """Permutation importance; extra keyword `seed`. perm_func must be Captum's default."""
    _method = "feature_permutation"

    def __init__(self, forward_func, perm_func=None):
        super().__init__(forward_func)
        _unsupported("FeaturePermutation", perm_func=perm_func is not None)

    def attribute(self, inputs, target=None, additional_forward_args=None, feature_mask=None,
                  perturbations_per_eval=1, show_progress=False, *, seed=0, **kwargs):
        _unsupported("FeaturePermutation.attribute", **{k: True for k in kwargs})
        return self._call(inputs, target, additional_forward_args, seed=int(seed),
                          feature_mask=_mask_or_elements(feature_mask, inputs), batch=_ppe(perturbations_per_eval))


class ShapleyValueSampling(_Attribution):
    _method = "shapley_value_sampling"

    def attribute(self, inputs, baselines=None, target=None, additional_forward_args=None, feature_mask=None,
                  n_samples=25, perturbations_per_eval=1, show_progress=False, *, seed=0):
        return self._call(inputs, target, additional_forward_args, baselines=baseline_value(baselines),
                          feature_mask=_mask_or_elements(feature_mask, inputs), samples=int(n_samples),
                          batch=_ppe(perturbations_per_eval), seed=int(seed))


class KernelShap(_Attribution):
    _method = "kernel_shap"

    def attribute(self, inputs, baselines=None, target=None, additional_forward_args=None, feature_mask=None,
                  n_samples=25, perturbations_per_eval=1, return_input_shape=True, show_progress=False, *, seed=0):
        _unsupported("KernelShap.attribute", return_input_shape=not return_input_shape)
        return self._call(inputs, target, additional_forward_args, baselines=baseline_value(baselines),
                          feature_mask=_mask_or_elements(feature_mask, inputs), samples=int(n_samples),
                          batch=_ppe(perturbations_per_eval), seed=int(seed))


class Lime(_Attribution):
    """LIME with Captum's defaults (ridge surrogate, cosine-kernel similarity)."""
    _method = "lime"

    def __init__(self, forward_func, interpretable_model=None, similarity_func=None, perturb_func=None):
        super().__init__(forward_func)
        _unsupported("Lime", interpretable_model=interpretable_model is not None,
                     similarity_func=similarity_func is not None, perturb_func=perturb_func is not None)

    def attribute(self, inputs, baselines=None, target=None, additional_forward_args=None, feature_mask=None,
                  n_samples=25, perturbations_per_eval=1, return_input_shape=True, show_progress=False, *, seed=0):
        _unsupported("Lime.attribute", return_input_shape=not return_input_shape)
        return self._call(inputs, target, additional_forward_args, baselines=baseline_value(baselines),
                          feature_mask=_mask_or_elements(feature_mask, inputs), samples=int(n_samples),
                          batch=_ppe(perturbations_per_eval), seed=int(seed))


# --- noise tunnel ---------------------------------------------------------------------------------

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
        _unsupported("NoiseTunnel.attribute", draw_baseline_from_distrib=draw_baseline_from_distrib)
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
            from ._tensors import as_target
            target = np.repeat(np.asarray(as_target(target, n)), nt_samples).tolist()
        baselines = kwargs.get("baselines")
        if baselines is not None and not isinstance(baselines, (int, float)):
            b = baseline_value(baselines)
            if isinstance(b, np.ndarray) and b.ndim == arr.ndim and b.shape[0] == n and n > 1:
                kwargs["baselines"] = np.repeat(b, nt_samples, axis=0)
        want_delta = kwargs.get("return_convergence_delta", False)
        if want_delta:
            raise NotImplementedError("NoiseTunnel.attribute: return_convergence_delta is not supported")
        # nt_samples_batch_size only bounds Captum's memory; backlight batches internally.
        parts = [np.asarray(self.attribution_method.attribute(noisy, target=target, **kwargs))]
        a = np.concatenate(parts)
        a = a.reshape((n, nt_samples) + a.shape[1:])
        if nt_type == "smoothgrad":
            out = a.mean(axis=1)
        elif nt_type == "smoothgrad_sq":
            out = (a * a).mean(axis=1)
        else:
            out = (a * a).mean(axis=1) - a.mean(axis=1) ** 2
        out = as_output(np.ascontiguousarray(out, dtype=np.float32), kind_of(x))
        return (out,) if tupled else out


# --- layer methods ---------------------------------------------------------------------------------

class _LayerAttribution(_Attribution):
    def __init__(self, forward_func, layer, device_ids=None):
        super().__init__(forward_func)
        self.layer = self.forward_func.layer_name(layer)

    def _layer_call(self, inputs, target, additional_forward_args, attribute_to_layer_input, return_delta=False,
                    key="attribution", **options):
        _unsupported(f"{type(self).__name__}.attribute", attribute_to_layer_input=attribute_to_layer_input)
        return self._call(inputs, target, additional_forward_args, return_delta, key=key, layer=self.layer, **options)


class LayerGradCam(_LayerAttribution):
    """Grad-CAM at the layer's resolution [N, 1, h, w] (upsample with LayerAttribution.interpolate
    in Captum; backlight.viz takes either)."""
    _method = "grad_cam"

    def attribute(self, inputs, target=None, additional_forward_args=None, attribute_to_layer_input=False,
                  relu_attributions=False, attr_dim_summation=True, grad_kwargs=None):
        _unsupported("LayerGradCam.attribute", attr_dim_summation=not attr_dim_summation,
                     grad_kwargs=grad_kwargs is not None)
        return self._layer_call(inputs, target, additional_forward_args, attribute_to_layer_input, key="layer_map",
                                relu=bool(relu_attributions))


class GuidedGradCam(_LayerAttribution):
    _method = "guided_grad_cam"

    def __init__(self, model, layer, device_ids=None):
        super().__init__(model, layer, device_ids)

    def attribute(self, inputs, target=None, additional_forward_args=None, interpolate_mode="nearest",
                  attribute_to_layer_input=False):
        _unsupported("GuidedGradCam.attribute", **{f"interpolate_mode={interpolate_mode!r}":
                                                   interpolate_mode != "nearest"})
        return self._layer_call(inputs, target, additional_forward_args, attribute_to_layer_input)


class LayerActivation(_LayerAttribution):
    _method = "layer_activation"

    def attribute(self, inputs, additional_forward_args=None, attribute_to_layer_input=False):
        return self._layer_call(inputs, None, additional_forward_args, attribute_to_layer_input)


class LayerGradientXActivation(_LayerAttribution):
    _method = "layer_gradient_x_activation"

    def __init__(self, forward_func, layer, device_ids=None, multiply_by_inputs=True):
        super().__init__(forward_func, layer, device_ids)
        _check_mbi("LayerGradientXActivation", multiply_by_inputs)

    def attribute(self, inputs, target=None, additional_forward_args=None, attribute_to_layer_input=False,
                  grad_kwargs=None):
        return self._layer_call(inputs, target, additional_forward_args, attribute_to_layer_input)


class LayerIntegratedGradients(_LayerAttribution):
    _method = "layer_integrated_gradients"

    def __init__(self, forward_func, layer, device_ids=None, multiply_by_inputs=True):
        super().__init__(forward_func, layer, device_ids)
        _check_mbi("LayerIntegratedGradients", multiply_by_inputs)

    def has_convergence_delta(self):
        return True

    def attribute(self, inputs, baselines=None, target=None, additional_forward_args=None, n_steps=50,
                  method="gausslegendre", internal_batch_size=None, return_convergence_delta=False,
                  attribute_to_layer_input=False, grad_kwargs=None):
        return self._layer_call(inputs, target, additional_forward_args, attribute_to_layer_input,
                                return_convergence_delta, baselines=baseline_value(baselines), steps=int(n_steps),
                                integration=method, batch=_batch(internal_batch_size))


class LayerConductance(_LayerAttribution):
    _method = "layer_conductance"

    def has_convergence_delta(self):
        return True

    def attribute(self, inputs, baselines=None, target=None, additional_forward_args=None, n_steps=50,
                  method="gausslegendre", internal_batch_size=None, return_convergence_delta=False,
                  attribute_to_layer_input=False, grad_kwargs=None):
        return self._layer_call(inputs, target, additional_forward_args, attribute_to_layer_input,
                                return_convergence_delta, baselines=baseline_value(baselines), steps=int(n_steps),
                                integration=method, batch=_batch(internal_batch_size))


class InternalInfluence(_LayerAttribution):
    _method = "internal_influence"

    def attribute(self, inputs, baselines=None, target=None, additional_forward_args=None, n_steps=50,
                  method="gausslegendre", internal_batch_size=None, attribute_to_layer_input=False,
                  grad_kwargs=None):
        return self._layer_call(inputs, target, additional_forward_args, attribute_to_layer_input,
                                baselines=baseline_value(baselines), steps=int(n_steps), integration=method,
                                batch=_batch(internal_batch_size))


class LayerGradientShap(_LayerAttribution):
    _method = "layer_gradient_shap"

    def __init__(self, forward_func, layer, device_ids=None, multiply_by_inputs=True):
        super().__init__(forward_func, layer, device_ids)
        _check_mbi("LayerGradientShap", multiply_by_inputs)

    def attribute(self, inputs, baselines, n_samples=5, stdevs=0.0, target=None, additional_forward_args=None,
                  return_convergence_delta=False, attribute_to_layer_input=False, *, seed=0):
        return self._layer_call(inputs, target, additional_forward_args, attribute_to_layer_input,
                                return_convergence_delta, baselines=baseline_value(baselines),
                                samples=int(n_samples), stdev=float(stdevs), seed=int(seed))


class LayerDeepLift(_LayerAttribution):
    _method = "layer_deeplift"

    def __init__(self, model, layer, multiply_by_inputs=True):
        super().__init__(model, layer)
        _check_mbi("LayerDeepLift", multiply_by_inputs)

    def attribute(self, inputs, baselines=None, target=None, additional_forward_args=None,
                  return_convergence_delta=False, attribute_to_layer_input=False, custom_attribution_func=None,
                  grad_kwargs=None):
        _unsupported("LayerDeepLift.attribute", custom_attribution_func=custom_attribution_func is not None)
        return self._layer_call(inputs, target, additional_forward_args, attribute_to_layer_input,
                                return_convergence_delta, baselines=baseline_value(baselines))


class LayerDeepLiftShap(_LayerAttribution):
    _method = "layer_deeplift_shap"

    def __init__(self, model, layer, multiply_by_inputs=True):
        super().__init__(model, layer)
        _check_mbi("LayerDeepLiftShap", multiply_by_inputs)

    def attribute(self, inputs, baselines, target=None, additional_forward_args=None,
                  return_convergence_delta=False, attribute_to_layer_input=False, custom_attribution_func=None):
        _unsupported("LayerDeepLiftShap.attribute", custom_attribution_func=custom_attribution_func is not None)
        return self._layer_call(inputs, target, additional_forward_args, attribute_to_layer_input,
                                return_convergence_delta, baselines=baseline_value(baselines))


class LayerLRP(_LayerAttribution):
    _method = "layer_lrp"

    def __init__(self, model, layer):
        super().__init__(model, layer)

    def attribute(self, inputs, target=None, additional_forward_args=None, return_convergence_delta=False,
                  attribute_to_layer_input=False, verbose=False):
        return self._layer_call(inputs, target, additional_forward_args, attribute_to_layer_input,
                                return_convergence_delta, rules="lrp_epsilon",
                                rule_params={"epsilon": 1e-9, "stabilizer": 1e-9}, multiply_by_output=True)


class LayerFeatureAblation(_LayerAttribution):
    _method = "layer_feature_ablation"

    def attribute(self, inputs, layer_baselines=None, target=None, additional_forward_args=None, layer_mask=None,
                  attribute_to_layer_input=False, perturbations_per_eval=1):
        mask = None
        if layer_mask is not None:
            from ._run import mask_array
            mask = mask_array(layer_mask, None)
        return self._layer_call(inputs, target, additional_forward_args, attribute_to_layer_input,
                                baselines=baseline_value(layer_baselines, "layer_baselines"), layer_mask=mask,
                                batch=_ppe(perturbations_per_eval))


# --- neuron methods --------------------------------------------------------------------------------

class _NeuronAttribution(_LayerAttribution):
    def _neuron_call(self, inputs, neuron_selector, additional_forward_args, attribute_to_neuron_input,
                     target=None, **options):
        who = f"{type(self).__name__}.attribute"
        _unsupported(who, attribute_to_neuron_input=attribute_to_neuron_input)
        return self._call(inputs, target, additional_forward_args, layer=self.layer,
                          neuron=_neuron(neuron_selector, who), **options)


class NeuronGradient(_NeuronAttribution):
    _method = "neuron_gradient"

    def attribute(self, inputs, neuron_selector, additional_forward_args=None, attribute_to_neuron_input=False):
        return self._neuron_call(inputs, neuron_selector, additional_forward_args, attribute_to_neuron_input)


class NeuronIntegratedGradients(_NeuronAttribution):
    _method = "neuron_integrated_gradients"

    def __init__(self, forward_func, layer, device_ids=None, multiply_by_inputs=True):
        super().__init__(forward_func, layer, device_ids)
        _check_mbi("NeuronIntegratedGradients", multiply_by_inputs)

    def attribute(self, inputs, neuron_selector, baselines=None, additional_forward_args=None, n_steps=50,
                  method="gausslegendre", internal_batch_size=None, attribute_to_neuron_input=False):
        return self._neuron_call(inputs, neuron_selector, additional_forward_args, attribute_to_neuron_input,
                                 baselines=baseline_value(baselines), steps=int(n_steps), integration=method,
                                 batch=_batch(internal_batch_size))


class NeuronConductance(_NeuronAttribution):
    _method = "neuron_conductance"

    def __init__(self, forward_func, layer, device_ids=None, multiply_by_inputs=True):
        super().__init__(forward_func, layer, device_ids)
        _check_mbi("NeuronConductance", multiply_by_inputs)

    def attribute(self, inputs, neuron_selector, baselines=None, target=None, additional_forward_args=None,
                  n_steps=50, method="riemann_trapezoid", internal_batch_size=None, attribute_to_neuron_input=False,
                  grad_kwargs=None):
        return self._neuron_call(inputs, neuron_selector, additional_forward_args, attribute_to_neuron_input,
                                 target=target, baselines=baseline_value(baselines), steps=int(n_steps),
                                 integration=method, batch=_batch(internal_batch_size))


class NeuronGuidedBackprop(_NeuronAttribution):
    _method = "neuron_guided_backprop"

    def __init__(self, model, layer, device_ids=None):
        super().__init__(model, layer, device_ids)

    def attribute(self, inputs, neuron_selector, additional_forward_args=None, attribute_to_neuron_input=False):
        return self._neuron_call(inputs, neuron_selector, additional_forward_args, attribute_to_neuron_input)


class NeuronDeconvolution(_NeuronAttribution):
    _method = "neuron_deconvolution"

    def __init__(self, model, layer, device_ids=None):
        super().__init__(model, layer, device_ids)

    def attribute(self, inputs, neuron_selector, additional_forward_args=None, attribute_to_neuron_input=False):
        return self._neuron_call(inputs, neuron_selector, additional_forward_args, attribute_to_neuron_input)


class NeuronDeepLift(_NeuronAttribution):
    _method = "neuron_deeplift"

    def __init__(self, model, layer, multiply_by_inputs=True):
        super().__init__(model, layer)
        _check_mbi("NeuronDeepLift", multiply_by_inputs)

    def attribute(self, inputs, neuron_selector, baselines=None, additional_forward_args=None,
                  attribute_to_neuron_input=False, custom_attribution_func=None):
        _unsupported("NeuronDeepLift.attribute", custom_attribution_func=custom_attribution_func is not None)
        return self._neuron_call(inputs, neuron_selector, additional_forward_args, attribute_to_neuron_input,
                                 baselines=baseline_value(baselines))


class NeuronDeepLiftShap(_NeuronAttribution):
    _method = "neuron_deeplift_shap"

    def __init__(self, model, layer, multiply_by_inputs=True):
        super().__init__(model, layer)
        _check_mbi("NeuronDeepLiftShap", multiply_by_inputs)

    def attribute(self, inputs, neuron_selector, baselines, additional_forward_args=None,
                  attribute_to_neuron_input=False, custom_attribution_func=None):
        _unsupported("NeuronDeepLiftShap.attribute", custom_attribution_func=custom_attribution_func is not None)
        return self._neuron_call(inputs, neuron_selector, additional_forward_args, attribute_to_neuron_input,
                                 baselines=baseline_value(baselines))


class NeuronGradientShap(_NeuronAttribution):
    _method = "neuron_gradient_shap"

    def __init__(self, forward_func, layer, device_ids=None, multiply_by_inputs=True):
        super().__init__(forward_func, layer, device_ids)
        _check_mbi("NeuronGradientShap", multiply_by_inputs)

    def attribute(self, inputs, neuron_selector, baselines, n_samples=5, stdevs=0.0, additional_forward_args=None,
                  attribute_to_neuron_input=False, *, seed=0):
        return self._neuron_call(inputs, neuron_selector, additional_forward_args, attribute_to_neuron_input,
                                 baselines=baseline_value(baselines), samples=int(n_samples), stdev=float(stdevs),
                                 seed=int(seed))


class NeuronFeatureAblation(_NeuronAttribution):
    _method = "neuron_feature_ablation"

    def attribute(self, inputs, neuron_selector, baselines=None, additional_forward_args=None, feature_mask=None,
                  attribute_to_neuron_input=False, perturbations_per_eval=1):
        return self._neuron_call(inputs, neuron_selector, additional_forward_args, attribute_to_neuron_input,
                                 baselines=baseline_value(baselines),
                                 feature_mask=_mask_or_elements(feature_mask, inputs),
                                 batch=_ppe(perturbations_per_eval))
