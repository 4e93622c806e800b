"""Captum 0.8's attribution classes on backlight models: same class names, constructor arguments,
attribute() signatures, defaults, output shapes and convergence deltas. Change

    from captum.attr import IntegratedGradients
to
    from backlight.captum import IntegratedGradients

and give a backlight.Model (backlight.zoo / load / from_torch) where Captum takes the torch model.
Layers are given by name ("layer4", "features.28") or, for from_torch models, as the torch module.

Differences: one input tensor per model (a 1-tuple is accepted and returned as a 1-tuple);
additional_forward_args, callable baselines, nonlinear callable neuron selectors and the other
variants docs/python.md lists raise NotImplementedError naming the argument. perturbations_per_eval=1 (Captum's
default, a memory knob) lets backlight choose its batch: results do not depend on it. Random
methods (GradientShap, NoiseTunnel, FeaturePermutation, ShapleyValueSampling, KernelShap, Lime)
draw from backlight's own seeded generator (extra keyword `seed`), so they match Captum in
distribution, not draw for draw.
"""

from ._inputs import (DeepLift, DeepLiftShap, Deconvolution, FeatureAblation, FeaturePermutation, GradientShap,
                      GuidedBackprop, InputXGradient, IntegratedGradients, KernelShap, Lime, LRP, Occlusion, Saliency,
                      ShapleyValueSampling)
from ._layers import (GuidedGradCam, InternalInfluence, LayerActivation, LayerConductance, LayerDeepLift,
                      LayerDeepLiftShap, LayerFeatureAblation, LayerGradCam, LayerGradientShap,
                      LayerGradientXActivation, LayerIntegratedGradients, LayerLRP, NeuronConductance,
                      NeuronDeconvolution, NeuronDeepLift, NeuronDeepLiftShap, NeuronFeatureAblation, NeuronGradient,
                      NeuronGradientShap, NeuronGuidedBackprop, NeuronIntegratedGradients)
from ._interpolate import LayerAttribution
from ._noise_tunnel import NoiseTunnel

__all__ = [
    "Saliency", "InputXGradient", "IntegratedGradients", "NoiseTunnel", "DeepLift", "DeepLiftShap", "GradientShap",
    "GuidedBackprop", "Deconvolution", "GuidedGradCam", "LRP", "Occlusion", "FeatureAblation", "FeaturePermutation",
    "ShapleyValueSampling", "KernelShap", "Lime", "LayerGradCam", "LayerIntegratedGradients", "LayerConductance",
    "LayerActivation", "LayerGradientXActivation", "InternalInfluence", "LayerGradientShap", "LayerDeepLift",
    "LayerDeepLiftShap", "LayerLRP", "LayerFeatureAblation", "NeuronGradient", "NeuronIntegratedGradients", "NeuronConductance",
    "NeuronGuidedBackprop", "NeuronDeconvolution", "NeuronDeepLift", "NeuronDeepLiftShap", "NeuronGradientShap",
    "NeuronFeatureAblation", "LayerAttribution",
]

