"""LRP rules and rule sets from Python, running at C++ speed.

A rule is data: Zennit's BasicHook made declarative (the C++ LrpSpec, engine/rules/lrp.h). For a
linear-kind node z = apply(x, W, b) (conv, linear, pooling, add):

    z_g  = sum_t sign_t * apply(in_t(x), W_t, b_t)
    s_g  = select_g(z) * R / stabilize(z_g)                 select: all | z > 0 | z < 0
    R_in = sum_g coef_g * sum_t sign_t * in_t(x) * apply_transposed(s_g, W_t)

    from backlight.rules import LrpRule, Group, Term, RuleSet, kind, name, first_with_params
    zplus = LrpRule("my_zplus", [Group(terms=[Term(input="positive", weight="positive", bias="positive"),
                                              Term(input="negative", weight="negative", bias="zero")])])
    rs = RuleSet("mine", [(first_with_params(), builtin("flat")),
                          (kind("conv2d"), zplus),
                          (kind("linear"), builtin("epsilon", 0.25))])
    relevance = backlight.lrp(model, x, target, rs)

Input modifiers: "keep", "positive", "negative", "ones", or a number / array (a constant input,
z-box bounds). Parameter modifiers: "keep", "zero", "ones", "positive", "negative", "square",
"gamma_positive", "gamma_negative" (with gamma=). Matchers combine with &, |, ~; the first matching
entry of a rule set wins, unmatched nodes get `fallback` (the plain gradient by default).

PythonRule(fn) is the escape hatch for prototyping: fn(kind, name, inputs, output, grad_out) gets
numpy arrays and returns the signal for each activation input. It is SLOW - every node it matches
takes the GIL and copies its signal - and meant for trying an idea, not for production.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from . import _core

Matcher = _core.Matcher
Rule = _core.Rule


@dataclass
class Term:
    """One term of an LRP group: sign * apply(input(x), weight(W), bias(b))."""
    sign: float = 1.0
    input: object = "keep"
    weight: str = "keep"
    bias: str = "keep"
    gamma: float = 0.0  # for gamma_positive / gamma_negative modifiers

    def _tuple(self):
        inp = self.input
        if not isinstance(inp, (str, int, float)):
            inp = np.ascontiguousarray(np.asarray(inp, dtype=np.float32))
        return (float(self.sign), inp, self.weight, float(self.gamma), self.bias, float(self.gamma))


@dataclass
class Group:
    """Terms sharing one stabilised denominator; `where` selects outputs: all, positive_output,
    negative_output (Zennit's gamma rule)."""
    terms: Sequence[Term] = field(default_factory=list)
    coef: float = 1.0
    where: str = "all"


def LrpRule(name: str, groups: Sequence[Group], stabilizer: float = 1e-6) -> Rule:
    """An LRP rule from groups of terms (see the module docstring)."""
    return _core.lrp_rule(name, [(float(g.coef), g.where, [t._tuple() for t in g.terms]) for g in groups],
                          float(stabilizer))


def builtin(name: str, *params: float) -> Rule:
    """A built-in rule: epsilon(eps), zplus, alpha_beta(alpha, beta), gamma(gamma), zbox(low, high),
    flat, wsquare, norm, pass, gradient, guided_backprop, deconvnet."""
    return _core.builtin_rule(name, [float(p) for p in params])


def Epsilon(epsilon: float = 1e-6) -> Rule:
    return builtin("epsilon", epsilon)


def ZPlus(stabilizer: float = 1e-6) -> Rule:
    return builtin("zplus", stabilizer)


def AlphaBeta(alpha: float = 2.0, beta: float = 1.0, stabilizer: float = 1e-6) -> Rule:
    return builtin("alpha_beta", alpha, beta, stabilizer)


def Gamma(gamma: float = 0.25, stabilizer: float = 1e-6) -> Rule:
    return builtin("gamma", gamma, stabilizer)


def ZBox(low: float, high: float, stabilizer: float = 1e-6) -> Rule:
    return builtin("zbox", low, high, stabilizer)


def Flat(stabilizer: float = 1e-6) -> Rule:
    return builtin("flat", stabilizer)


def WSquare(stabilizer: float = 1e-6) -> Rule:
    return builtin("wsquare", stabilizer)


def Pass() -> Rule:
    return builtin("pass")


def Norm(stabilizer: float = 1e-6) -> Rule:
    return builtin("norm", stabilizer)


def PythonRule(fn: Callable, name: str = "python") -> Rule:
    """A rule whose backward is fn(kind, name, inputs, output, grad_out) -> signal(s) (numpy float32
    arrays shaped like the inputs; None or a shorter list leaves the rest to the plain gradient).
    SLOW: for prototyping only (the GIL is taken at every node it matches)."""
    return _core.python_rule(name, fn)


def kind(*kinds: str) -> Matcher:
    """Nodes of the given op kinds ("conv2d", "linear", "relu", "max_pool2d", "add", ...)."""
    return _core.match_kind(list(kinds))


def name(glob: str) -> Matcher:
    """Nodes whose module path matches a glob ("features.*", "layer4.?.conv2")."""
    return _core.match_name(glob)


def first_with_params() -> Matcher:
    """The first node with parameters (Zennit's first-layer maps)."""
    return _core.match_first_with_params()


def first(matcher: Matcher) -> Matcher:
    """The first node the matcher accepts."""
    return _core.match_first(matcher)


def any_node() -> Matcher:
    return _core.match_any()


def RuleSet(name: str, entries: Sequence, fallback: Rule | None = None):
    """Ordered (matcher, rule) entries, first match wins; `fallback` for the rest (plain gradient)."""
    pairs = []
    for i, e in enumerate(entries):
        if not (isinstance(e, tuple) and len(e) == 2):
            raise TypeError(f"RuleSet: entry {i}: expected a (matcher, rule) pair")
        m, r = e
        if isinstance(m, str):
            m = kind(m)
        pairs.append((m, r))
    return _core.rule_set(name, pairs, fallback)
