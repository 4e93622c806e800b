"""Attribution quality metrics (Captum's captum.metrics names where they exist), computed in C++.

    infidelity(model, inputs, attributions, target, n_perturb_samples=10, stdev=0.003, normalize=False)
    sensitivity_max(model, method, inputs, target, n_perturb_samples=10, perturb_radius=0.02, **method_options)
    deletion(...), insertion(...)  -> (curve [N, K+1], auc [N], fractions)
    faithfulness_correlation(...)  -> [N]
    randomisation(model, method, inputs, target) -> [(layer, correlation [N]), ...]
"""
from __future__ import annotations

from . import _core
from ._run import as_model
from ._tensors import as_array, as_output, as_target, kind_of


def _prep(model, inputs, attributions, target):
    m = as_model(model, "metrics")
    x = as_array(inputs, "inputs")
    a = as_array(attributions, "attributions")
    return m, x, a, as_target(target, x.shape[0])


def infidelity(model, inputs, attributions, target=None, n_perturb_samples=10, stdev=0.003, normalize=False,
               multiply_by_inputs=False, seed=0):
    """Yeh et al. 2019 infidelity per item [N] with Gaussian perturbations (Captum's infidelity with
    its usual noise perturb_func). Lower is better."""
    m, x, a, t = _prep(model, inputs, attributions, target)
    r = _core.infidelity(m._core, x, a, t, int(n_perturb_samples), float(stdev), int(seed), bool(normalize),
                         bool(multiply_by_inputs))
    return as_output(r, kind_of(inputs))


def sensitivity_max(model, method, inputs, target=None, n_perturb_samples=10, perturb_radius=0.02, seed=0,
                    **method_options):
    """Max-sensitivity per item [N] of backlight method `method` (registry name, e.g.
    "integrated_gradients"); method_options use backlight's keys (steps, baselines, layer, ...)."""
    m = as_model(model, "sensitivity_max")
    x = as_array(inputs, "inputs")
    r = _core.sensitivity_max(m._core, method, x, as_target(target, x.shape[0]), method_options,
                              int(n_perturb_samples), float(perturb_radius), int(seed))
    return as_output(r, kind_of(inputs))


def deletion(model, inputs, attributions, target=None, step=0, probability=True, batch=0):
    """Deletion curve (Petsiuk et al. 2018): (curve [N, K+1], auc [N], fractions). Lower AUC is better."""
    m, x, a, t = _prep(model, inputs, attributions, target)
    c, auc, frac = _core.pixel_curve(m._core, x, a, t, False, int(step), bool(probability), int(batch))
    return as_output(c, kind_of(inputs)), as_output(auc, kind_of(inputs)), list(frac)


def insertion(model, inputs, attributions, target=None, step=0, probability=True, batch=0):
    """Insertion curve from a blurred input: (curve, auc, fractions). Higher AUC is better."""
    m, x, a, t = _prep(model, inputs, attributions, target)
    c, auc, frac = _core.pixel_curve(m._core, x, a, t, True, int(step), bool(probability), int(batch))
    return as_output(c, kind_of(inputs)), as_output(auc, kind_of(inputs)), list(frac)


def faithfulness_correlation(model, inputs, attributions, target=None, subsets=50, subset_size=0, baseline=0.0,
                             seed=0):
    """Bhatt et al. 2020 faithfulness correlation per item [N], in [-1, 1]; higher is better."""
    m, x, a, t = _prep(model, inputs, attributions, target)
    r = _core.faithfulness_correlation(m._core, x, a, t, int(subsets), int(subset_size), float(baseline), int(seed))
    return as_output(r, kind_of(inputs))


def randomisation(model, method, inputs, target=None, seed=0, absolute=True, max_layers=0, **method_options):
    """Cascading model-parameter randomisation (Adebayo et al. 2018): [(layer, Spearman correlation
    per item)], step 0 first (layer '')."""
    m = as_model(model, "randomisation")
    x = as_array(inputs, "inputs")
    steps = _core.cascading_randomisation(m._core, method, x, as_target(target, x.shape[0]), method_options,
                                          int(seed), bool(absolute), int(max_layers))
    return [(layer, as_output(c, kind_of(inputs))) for layer, c in steps]
