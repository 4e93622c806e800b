"""Input attribution classes: gradient, reference and perturbation methods."""
from __future__ import annotations

import numpy as np

from .._run import baseline_value, unwrap_inputs
from .._tensors import as_array
from ._base import _Attribution, _batch, _per_baseline_deltas, _ints, _mask_or_elements, _ppe, _unsupported


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
        self._multiply_by_inputs = bool(multiply_by_inputs)

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
        self._multiply_by_inputs = bool(multiply_by_inputs)
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
        self._multiply_by_inputs = bool(multiply_by_inputs)

    def has_convergence_delta(self):
        return True

    def attribute(self, inputs, baselines, target=None, additional_forward_args=None,
                  return_convergence_delta=False, custom_attribution_func=None):
        _unsupported("DeepLiftShap.attribute", custom_attribution_func=custom_attribution_func is not None)
        if return_convergence_delta:
            return _per_baseline_deltas(lambda b: self._call(inputs, target, additional_forward_args, True,
                                                             method="deeplift", baselines=b),
                                        baseline_value(baselines))
        return self._call(inputs, target, additional_forward_args, return_convergence_delta,
                          baselines=baseline_value(baselines))


class GradientShap(_Attribution):
    """GradientSHAP; extra keyword `seed` (backlight's generator)."""
    _method = "gradient_shap"

    def __init__(self, forward_func, multiply_by_inputs=True):
        super().__init__(forward_func)
        self._multiply_by_inputs = bool(multiply_by_inputs)

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
    """LIME with Captum's defaults (ridge surrogate, cosine-kernel similarity) in C++. Custom
    interpretable_model / similarity_func / perturb_func (Python callables over torch tensors) take
    the slow path: Captum's own Lime loop (captum must be installed) calling this model's forward
    through backlight; without captum they raise NotImplementedError naming the argument."""
    _method = "lime"

    def __init__(self, forward_func, interpretable_model=None, similarity_func=None, perturb_func=None):
        super().__init__(forward_func)
        custom = {"interpretable_model": interpretable_model, "similarity_func": similarity_func,
                  "perturb_func": perturb_func}
        self._custom = {k: v for k, v in custom.items() if v is not None}
        self._slow = None
        if self._custom:
            try:
                from captum.attr import Lime as CaptumLime
                import torch
            except ImportError:
                _unsupported("Lime", **{f"{k} (needs captum and torch for the slow path)": True
                                        for k in self._custom})
            model = self.forward_func

            def forward(x, *args):
                if args:
                    raise NotImplementedError("Lime: additional_forward_args is not supported")
                return torch.from_numpy(np.array(model(x.detach().float().contiguous().numpy())))
            self._slow = CaptumLime(forward, interpretable_model, similarity_func, perturb_func)

    def attribute(self, inputs, baselines=None, target=None, additional_forward_args=None, feature_mask=None,
                  n_samples=25, perturbations_per_eval=1, return_input_shape=True, show_progress=False, *, seed=0):
        if self._slow is not None:
            return self._slow_attribute(inputs, baselines, target, additional_forward_args, feature_mask, n_samples,
                                        perturbations_per_eval, return_input_shape, show_progress)
        _unsupported("Lime.attribute", return_input_shape=not return_input_shape)
        return self._call(inputs, target, additional_forward_args, baselines=baseline_value(baselines),
                          feature_mask=_mask_or_elements(feature_mask, inputs), samples=int(n_samples),
                          batch=_ppe(perturbations_per_eval), seed=int(seed))

    def _slow_attribute(self, inputs, baselines, target, additional_forward_args, feature_mask, n_samples,
                        perturbations_per_eval, return_input_shape, show_progress):
        import torch

        from .._run import no_extra_args
        no_extra_args(additional_forward_args, "Lime.attribute")

        def t(v):
            return torch.from_numpy(np.ascontiguousarray(v)) if isinstance(v, np.ndarray) else v
        x, tupled = unwrap_inputs(inputs, "Lime.attribute")
        as_numpy = isinstance(x, np.ndarray)
        xt = torch.from_numpy(as_array(x, "inputs")) if as_numpy else x
        if isinstance(feature_mask, tuple):
            feature_mask = tuple(t(m) for m in feature_mask)
        else:
            feature_mask = t(feature_mask)
        target = t(np.asarray(target)) if isinstance(target, list) else t(target)
        out = self._slow.attribute((xt,) if tupled else xt, baselines=t(baselines), target=target,
                                   feature_mask=feature_mask, n_samples=n_samples,
                                   perturbations_per_eval=perturbations_per_eval,
                                   return_input_shape=return_input_shape, show_progress=show_progress)
        if as_numpy:
            out = tuple(o.detach().numpy() for o in out) if isinstance(out, tuple) else out.detach().numpy()
        return out
