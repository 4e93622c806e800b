"""Layer and neuron attribution classes (layers by name, or the torch module for from_torch models)."""
from __future__ import annotations

from .._run import baseline_value
from ._base import (_LayerAttribution, _NeuronAttribution, _batch, _per_baseline_deltas, _mask_or_elements, _ppe,
                    _unsupported)


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
        self._multiply_by_inputs = bool(multiply_by_inputs)

    def attribute(self, inputs, target=None, additional_forward_args=None, attribute_to_layer_input=False,
                  grad_kwargs=None):
        return self._layer_call(inputs, target, additional_forward_args, attribute_to_layer_input)


class LayerIntegratedGradients(_LayerAttribution):
    _method = "layer_integrated_gradients"

    def __init__(self, forward_func, layer, device_ids=None, multiply_by_inputs=True):
        super().__init__(forward_func, layer, device_ids)
        self._multiply_by_inputs = bool(multiply_by_inputs)

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
        self._multiply_by_inputs = bool(multiply_by_inputs)

    def has_convergence_delta(self):
        return True

    def attribute(self, inputs, baselines, n_samples=5, stdevs=0.0, target=None, additional_forward_args=None,
                  return_convergence_delta=False, attribute_to_layer_input=False, *, seed=0):
        return self._layer_call(inputs, target, additional_forward_args, attribute_to_layer_input,
                                return_convergence_delta, baselines=baseline_value(baselines),
                                samples=int(n_samples), stdev=float(stdevs), seed=int(seed))


class LayerDeepLift(_LayerAttribution):
    _method = "layer_deeplift"

    def __init__(self, model, layer, multiply_by_inputs=True):
        super().__init__(model, layer)
        self._multiply_by_inputs = bool(multiply_by_inputs)

    def has_convergence_delta(self):
        return True

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
        self._multiply_by_inputs = bool(multiply_by_inputs)

    def has_convergence_delta(self):
        return True

    def attribute(self, inputs, baselines, target=None, additional_forward_args=None,
                  return_convergence_delta=False, attribute_to_layer_input=False, custom_attribution_func=None):
        _unsupported("LayerDeepLiftShap.attribute", custom_attribution_func=custom_attribution_func is not None)
        if return_convergence_delta:
            return _per_baseline_deltas(lambda b: self._layer_call(inputs, target, additional_forward_args,
                                                                   attribute_to_layer_input, True,
                                                                   method="layer_deeplift", baselines=b),
                                        baseline_value(baselines))
        return self._layer_call(inputs, target, additional_forward_args, attribute_to_layer_input,
                                return_convergence_delta, baselines=baseline_value(baselines))


class LayerLRP(_LayerAttribution):
    _method = "layer_lrp"

    def __init__(self, model, layer):
        super().__init__(model, layer)

    def has_convergence_delta(self):
        return True

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
            from .._run import mask_array
            mask = mask_array(layer_mask, None)
        return self._layer_call(inputs, target, additional_forward_args, attribute_to_layer_input,
                                baselines=baseline_value(layer_baselines, "layer_baselines"), layer_mask=mask,
                                batch=_ppe(perturbations_per_eval))


class NeuronGradient(_NeuronAttribution):
    _method = "neuron_gradient"

    def attribute(self, inputs, neuron_selector, additional_forward_args=None, attribute_to_neuron_input=False):
        return self._neuron_call(inputs, neuron_selector, additional_forward_args, attribute_to_neuron_input)


class NeuronIntegratedGradients(_NeuronAttribution):
    _method = "neuron_integrated_gradients"

    def __init__(self, forward_func, layer, device_ids=None, multiply_by_inputs=True):
        super().__init__(forward_func, layer, device_ids)
        self._multiply_by_inputs = bool(multiply_by_inputs)

    def attribute(self, inputs, neuron_selector, baselines=None, additional_forward_args=None, n_steps=50,
                  method="gausslegendre", internal_batch_size=None, attribute_to_neuron_input=False):
        return self._neuron_call(inputs, neuron_selector, additional_forward_args, attribute_to_neuron_input,
                                 baselines=baseline_value(baselines), steps=int(n_steps), integration=method,
                                 batch=_batch(internal_batch_size))


class NeuronConductance(_NeuronAttribution):
    _method = "neuron_conductance"

    def __init__(self, forward_func, layer, device_ids=None, multiply_by_inputs=True):
        super().__init__(forward_func, layer, device_ids)
        self._multiply_by_inputs = bool(multiply_by_inputs)

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
        self._multiply_by_inputs = bool(multiply_by_inputs)

    def attribute(self, inputs, neuron_selector, baselines=None, additional_forward_args=None,
                  attribute_to_neuron_input=False, custom_attribution_func=None):
        _unsupported("NeuronDeepLift.attribute", custom_attribution_func=custom_attribution_func is not None)
        return self._neuron_call(inputs, neuron_selector, additional_forward_args, attribute_to_neuron_input,
                                 baselines=baseline_value(baselines))


class NeuronDeepLiftShap(_NeuronAttribution):
    _method = "neuron_deeplift_shap"

    def __init__(self, model, layer, multiply_by_inputs=True):
        super().__init__(model, layer)
        self._multiply_by_inputs = bool(multiply_by_inputs)

    def attribute(self, inputs, neuron_selector, baselines, additional_forward_args=None,
                  attribute_to_neuron_input=False, custom_attribution_func=None):
        _unsupported("NeuronDeepLiftShap.attribute", custom_attribution_func=custom_attribution_func is not None)
        return self._neuron_call(inputs, neuron_selector, additional_forward_args, attribute_to_neuron_input,
                                 baselines=baseline_value(baselines))


class NeuronGradientShap(_NeuronAttribution):
    _method = "neuron_gradient_shap"

    def __init__(self, forward_func, layer, device_ids=None, multiply_by_inputs=True):
        super().__init__(forward_func, layer, device_ids)
        self._multiply_by_inputs = bool(multiply_by_inputs)

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
