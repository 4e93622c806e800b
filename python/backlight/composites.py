"""Zennit-style LRP: composites by Zennit's names, canonizers (BatchNorm merging) applied
automatically, and backlight.lrp(model, inputs, target, composite) returning the relevance.

    import backlight
    model = backlight.zoo("vgg16", weights="vgg16.safetensors")
    relevance = backlight.lrp(model, x, target=[3], composite=backlight.EpsilonGammaBox(low=-3.0, high=3.0))

As Zennit's Gradient attributor with a one-hot output gradient: the relevance starts from 1 at the
target logit (Zennit's attr_output), so under conserving rules each item's relevance sums to about 1.
"""
from __future__ import annotations

from . import _core
from ._model import Model
from ._run import as_model, run


class Composite:
    """A rule set: a built-in one by name with parameters, or any backlight.rules.RuleSet."""

    def __init__(self, rules=None, **params):
        self._rules = rules
        self._params = {k: float(v) for k, v in params.items() if v is not None}

    def _options(self):
        if isinstance(self._rules, str):
            return {"rules": self._rules, "rule_params": self._params}
        return {"rule_set": self._rules}

    def __repr__(self):
        args = ", ".join(f"{k}={v}" for k, v in self._params.items())
        return f"{type(self).__name__}({args})"


class EpsilonPlus(Composite):
    """z+ on convolutions, epsilon on linear layers (Zennit EpsilonPlus)."""

    def __init__(self, epsilon=1e-6, stabilizer=1e-6):
        super().__init__("lrp_epsilon_plus", epsilon=epsilon, stabilizer=stabilizer)


class EpsilonPlusFlat(Composite):
    """EpsilonPlus with the flat rule on the first layer (Zennit EpsilonPlusFlat)."""

    def __init__(self, epsilon=1e-6, stabilizer=1e-6):
        super().__init__("lrp_epsilon_plus_flat", epsilon=epsilon, stabilizer=stabilizer)


class EpsilonGammaBox(Composite):
    """z-box on the first layer (bounds low, high), gamma on convolutions, epsilon on linear layers."""

    def __init__(self, low, high, epsilon=1e-6, gamma=0.25, stabilizer=1e-6):
        super().__init__("lrp_epsilon_gamma_box", low=low, high=high, epsilon=epsilon, gamma=gamma,
                         stabilizer=stabilizer)


class EpsilonAlpha2Beta1(Composite):
    """alpha2-beta1 on convolutions, epsilon on linear layers (Zennit EpsilonAlpha2Beta1)."""

    def __init__(self, epsilon=1e-6, stabilizer=1e-6):
        super().__init__("lrp_epsilon_alpha2_beta1", epsilon=epsilon, stabilizer=stabilizer)


class EpsilonAlpha2Beta1Flat(Composite):
    """EpsilonAlpha2Beta1 with the flat rule on the first layer (Zennit EpsilonAlpha2Beta1Flat)."""

    def __init__(self, epsilon=1e-6, stabilizer=1e-6):
        super().__init__("lrp_epsilon_alpha2_beta1_flat", epsilon=epsilon, stabilizer=stabilizer)


class RuleSetComposite(Composite):
    """Any rule set built with backlight.rules.RuleSet (Zennit's LayerMapComposite and
    NameMapComposite are (kind(...), rule) and (name(...), rule) entries)."""

    def __init__(self, rule_set):
        super().__init__(rule_set)


def lrp(model: Model, inputs, target=None, composite: Composite | None = None, *, canonize: bool = True,
        layer: str | None = None):
    """Relevance of `inputs` (or of `layer`'s output) for `target` under `composite` (default
    EpsilonPlusFlat), same type and shape as the inputs. canonize=False keeps BatchNorm as its own
    node instead of merging it into the layer before it (Zennit's SequentialMergeBatchNorm)."""
    model = as_model(model, "lrp")
    composite = composite or EpsilonPlusFlat()
    if isinstance(composite, _core.RuleSet):
        composite = RuleSetComposite(composite)
    if not isinstance(composite, Composite):
        raise TypeError(f"composite: expected a backlight composite or rule set, got {type(composite).__name__}")
    opts = composite._options()
    if layer is not None:
        return run(model, "layer_lrp", inputs, target, layer=layer, **opts)["attribution"]
    return run(model, "lrp", inputs, target, merge_batchnorm=canonize, **opts)["attribution"]
