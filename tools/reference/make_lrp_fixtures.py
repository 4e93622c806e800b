#!/usr/bin/env python3
"""Captum 0.8 LRP / LayerLRP references, read by tests/attribution/gradient/test_lrp_parity.cpp.

Writes tests/data/attribution/lrp_parity.safetensors. Networks: small_vgg_bn and
small_vgg_bn_avgpool of make_rules_fixtures.py (synthetic weights, nothing stored; conv, BatchNorm,
ReLU, max or average pooling, AdaptiveAvgPool2d, Dropout, Linear - every module type has a Captum
LRP rule, and the flatten is functional, which Captum needs). Captum runs in float64 on the float32
weights and input, so the references carry no float32 accumulation error.

What Captum's LRP computes (captum/attr/_core/lrp.py, _utils/lrp_rules.py), and therefore what the
C++ test mirrors with a backlight RuleSet:
  * every Conv2d, Linear, BatchNorm2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d gets a rule,
    EpsilonRule(epsilon=1e-9) by default: R_in = x * d/dx(z) (R / (z + 1e-9 sign(z))), sign(0) = 1,
    where z is the module's output with the rule's modified weights, bias included;
  * ReLU, Dropout: relevance passes unchanged (backward_hook_activation returns the output's
    relevance);
  * the backward is seeded with 1 at the target and every relevance is finally multiplied by the
    target's output f_t(x) (LRP: input relevance; LayerLRP: the relevance arriving at the layer's
    output); delta = f_t(x) - sum(relevance);
  * BatchNorm is a rule layer of its own (no merging). Epsilon on conv, then epsilon on the BN
    after it, equals epsilon on the merged conv+BN up to the stabiliser (the conv output cancels),
    so input relevances equal backlight's merged lrp_epsilon; the relevance *at the conv output*
    does not (Captum's is the relevance entering BN, backlight's merged conv outputs BN's value).
  * GammaRule(gamma) / Alpha1_Beta0_Rule replace the weight by w + gamma w+ / w+ and keep the bias
    (set_bias_to_zero=False) and the inputs' sign: unlike Zennit's gamma / alpha-beta rules
    (backlight's gamma(), alpha_beta()), which split by input and output sign.
Configurations:
  <net>/lrp, <net>/lrp_delta                 LRP() with the default rules
  <net>/layer_lrp.<layer>, ..._delta         LayerLRP(model, layer) with the default rules
  small_vgg_bn/lrp_gamma, ..._delta          GammaRule(0.25) on the Conv2d after the first,
                                             Alpha1_Beta0_Rule on classifier.0, EpsilonRule(1e-9)
                                             elsewhere. Not on the first conv: its inputs have both
                                             signs, so w + gamma w+ gives outputs z ~ 1e-5 made of
                                             O(1) terms, and R / z is ill-conditioned in float32
                                             (7e-4 relative error even for a float32 PyTorch run).
  small_vgg_bn/layer_lrp_gamma.features.7    LayerLRP with the same rules
Input [2, 3, 16, 16] (synthetic_uniform "lrp_input" in [-1, 1]), targets [3, 7].

Run: /usr/bin/python3 tools/reference/make_lrp_fixtures.py   (torch 1.13, captum 0.8, safetensors)
"""
import os
import sys

import captum
import torch
from captum.attr import LRP, LayerLRP
from captum.attr._utils.lrp_rules import Alpha1_Beta0_Rule, EpsilonRule, GammaRule

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_engine_fixtures import save  # noqa: E402  (save_file with a reproducible header)
from make_rules_fixtures import SEED, make  # noqa: E402
from synthetic_weights import synthetic_uniform  # noqa: E402

OUT = os.path.normpath(os.path.join(HERE, "..", "..", "tests", "data", "attribution", "lrp_parity.safetensors"))
TARGETS = [3, 7]
LAYERS = ["features.0", "features.1", "features.6", "features.7", "features.8", "avgpool", "classifier.0",
          "classifier.3"]


def module(model, path):
    m = model
    for part in path.split("."):
        m = getattr(m, part)
    return m


def net(name, gamma_rules=False):
    """A fresh float64 copy (Captum's LRP attaches rules and hooks to the modules)."""
    model = make(name).double()
    if gamma_rules:
        for m in model.modules():
            if isinstance(m, torch.nn.Conv2d) and m is not model.features[0]:
                m.rule = GammaRule(gamma=0.25)
            elif isinstance(m, (torch.nn.Conv2d, torch.nn.Linear, torch.nn.BatchNorm2d, torch.nn.MaxPool2d,
                                torch.nn.AvgPool2d, torch.nn.AdaptiveAvgPool2d)):
                m.rule = EpsilonRule(epsilon=1e-9)
        model.classifier[0].rule = Alpha1_Beta0_Rule()
    return model


def main():
    x32 = torch.from_numpy(synthetic_uniform((2, 3, 16, 16), SEED, "lrp_input", -1.0, 1.0))
    x = x32.double()
    target = torch.tensor(TARGETS)
    t = {"input": x32}
    for name in ["small_vgg_bn", "small_vgg_bn_avgpool"]:
        a, d = LRP(net(name)).attribute(x.clone(), target=target, return_convergence_delta=True)
        t[f"{name}/lrp"], t[f"{name}/lrp_delta"] = a, d
        with torch.no_grad():
            logits = net(name)(x).gather(1, target.view(-1, 1)).flatten()
        # Captum's relevances are the normalised ones times the logit: the delta is a residual.
        assert torch.allclose(a.flatten(1).sum(1) + d, logits, atol=1e-12)
        for layer in LAYERS:
            model = net(name)
            a, d = LayerLRP(model, module(model, layer)).attribute(x.clone(), target=target,
                                                                   return_convergence_delta=True)
            t[f"{name}/layer_lrp.{layer}"], t[f"{name}/layer_lrp.{layer}_delta"] = a, d
    a, d = LRP(net("small_vgg_bn", True)).attribute(x.clone(), target=target, return_convergence_delta=True)
    t["small_vgg_bn/lrp_gamma"], t["small_vgg_bn/lrp_gamma_delta"] = a, d
    model = net("small_vgg_bn", True)
    a, d = LayerLRP(model, model.features[7]).attribute(x.clone(), target=target, return_convergence_delta=True)
    t["small_vgg_bn/layer_lrp_gamma.features.7"], t["small_vgg_bn/layer_lrp_gamma.features.7_delta"] = a, d
    tensors = {k: v.detach().float().contiguous() for k, v in t.items()}
    save(tensors, OUT, {"generator": "tools/reference/make_lrp_fixtures.py", "torch": torch.__version__,
                        "captum": captum.__version__, "seed": str(SEED), "targets": str(TARGETS)})
    print(OUT, os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
