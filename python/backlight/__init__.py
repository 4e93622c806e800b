"""backlight: neural-network attribution (Captum's methods, Zennit's LRP) on a C++ tape engine.

    import backlight
    model = backlight.zoo("resnet18", weights="resnet18.safetensors")   # or backlight.load(path)
    logits = model(x)                                                   # numpy or torch CPU float32
    from backlight.captum import IntegratedGradients
    attr, delta = IntegratedGradients(model).attribute(x, target=3, return_convergence_delta=True)
    relevance = backlight.lrp(model, x, 3, backlight.EpsilonGammaBox(low=-3.0, high=3.0))

Submodules: captum (Captum's classes), rules (LRP rules as data, rule sets), metrics, viz.
Every computation releases the GIL; different models may run on different Python threads.
"""
from . import _core
from ._model import Model, from_torch, load, zoo, zoo_models
from .composites import (Composite, EpsilonAlpha2Beta1, EpsilonAlpha2Beta1Flat, EpsilonGammaBox, EpsilonPlus,
                         EpsilonPlusFlat, RuleSetComposite, lrp)
from . import captum, metrics, rules, viz

__version__ = "0.1.0"


def set_num_threads(n: int) -> None:
    """Threads every later computation uses (0: all cores). Process-wide, as torch.set_num_threads."""
    _core.set_num_threads(int(n))


def get_num_threads() -> int:
    return _core.get_num_threads()


def methods() -> list:
    """(name, family, description, options) of every backlight method (the CLI's --method names)."""
    return [tuple(m) for m in _core.methods()]


def attribute(model, method: str, inputs, target=None, **options):
    """Any backlight method by its registry name with backlight's option names (the CLI's), e.g.
    attribute(model, "integrated_gradients", x, 3, steps=32). Returns the attribution."""
    from ._run import as_model, run

    return run(as_model(model, "attribute"), method, inputs, target, **options)["attribution"]


__all__ = ["Model", "zoo", "zoo_models", "load", "from_torch", "lrp", "attribute", "methods", "set_num_threads",
           "get_num_threads", "Composite", "EpsilonPlus", "EpsilonPlusFlat", "EpsilonGammaBox", "EpsilonAlpha2Beta1",
           "EpsilonAlpha2Beta1Flat", "RuleSetComposite", "captum", "rules", "metrics", "viz"]
