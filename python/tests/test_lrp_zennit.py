"""backlight.lrp with Zennit's composites against Zennit 0.5.1 (canonizers on both sides), and
rules written in Python: LrpRule specs, rule sets, and the slow Python-function rule."""
import numpy as np
import pytest

from conftest import assert_close, inputs

torch = pytest.importorskip("torch")
zennit = pytest.importorskip("zennit")
from zennit.attribution import Gradient  # noqa: E402
import zennit.composites as zc  # noqa: E402
from zennit.torchvision import ResNetCanonizer  # noqa: E402

import backlight  # noqa: E402
from backlight import rules as R  # noqa: E402

X_CNN = inputs((2, 1, 28, 28), 30, 0.0, 1.0)
X_RES = inputs((2, 3, 32, 32), 31)
T = [3, 7]

COMPOSITES = [
    ("EpsilonPlus", lambda c: zc.EpsilonPlus(canonizers=c), lambda: backlight.EpsilonPlus()),
    ("EpsilonPlusFlat", lambda c: zc.EpsilonPlusFlat(canonizers=c), lambda: backlight.EpsilonPlusFlat()),
    ("EpsilonGammaBox", lambda c: zc.EpsilonGammaBox(low=-3.0, high=3.0, canonizers=c),
     lambda: backlight.EpsilonGammaBox(low=-3.0, high=3.0)),
    ("EpsilonAlpha2Beta1", lambda c: zc.EpsilonAlpha2Beta1(canonizers=c), lambda: backlight.EpsilonAlpha2Beta1()),
    ("EpsilonAlpha2Beta1Flat", lambda c: zc.EpsilonAlpha2Beta1Flat(canonizers=c),
     lambda: backlight.EpsilonAlpha2Beta1Flat()),
]


def zennit_relevance(tm, x, composite):
    one_hot = torch.eye(10)[torch.tensor(T)]
    with Gradient(model=tm, composite=composite) as attributor:
        _, rel = attributor(torch.from_numpy(x.copy()).requires_grad_(True), one_hot)
    return rel.detach()


@pytest.mark.parametrize("name,zen,own", COMPOSITES, ids=[c[0] for c in COMPOSITES])
def test_composite_cnn(cnn, name, zen, own):
    tm, bm = cnn
    assert_close(backlight.lrp(bm, X_CNN, T, own()), zennit_relevance(tm, X_CNN, zen([])), 1e-3, name)


@pytest.mark.parametrize("name,zen,own", COMPOSITES, ids=[c[0] for c in COMPOSITES])
def test_composite_resnet(resnet, name, zen, own):
    # BatchNorm folded into the convolutions on both sides (Zennit's ResNetCanonizer).
    tm, bm = resnet
    got = backlight.lrp(bm, torch.from_numpy(X_RES), T, own())
    assert isinstance(got, torch.Tensor)
    assert_close(got, zennit_relevance(tm, X_RES, zen([ResNetCanonizer()])), 1e-3, name)


def _zplus_spec():
    return R.LrpRule("zplus_from_python", [R.Group(terms=[R.Term(input="positive", weight="positive",
                                                                 bias="positive"),
                                                          R.Term(input="negative", weight="negative",
                                                                 bias="zero")])])


def test_rule_set_from_python_equals_zennit(cnn):
    # EpsilonPlusFlat written as a rule set with a z+ rule given as an LrpSpec, plus Zennit's
    # activation/pooling base map (pass on ReLU, norm on pooling is not needed: max-pool keeps
    # the plain gradient as in Zennit).
    tm, bm = cnn
    rs = R.RuleSet("mine", [(R.first_with_params(), R.Flat()),
                            (R.kind("conv2d"), _zplus_spec()),
                            (R.kind("linear"), R.Epsilon(1e-6)),
                            (R.kind("relu"), R.Pass())])
    ref = zennit_relevance(tm, X_CNN, zc.EpsilonPlusFlat())
    assert_close(backlight.lrp(bm, X_CNN, T, rs), ref, 1e-3, "python rule set")


def test_spec_epsilon_equals_builtin(mlp):
    _, bm = mlp
    x = inputs((4, 12), 32)
    eps = R.LrpRule("eps", [R.Group(terms=[R.Term()])], stabilizer=0.1)
    a = backlight.lrp(bm, x, [0, 1, 2, 0], R.RuleSet("a", [("linear", eps), ("relu", R.Pass())]))
    b = backlight.lrp(bm, x, [0, 1, 2, 0], R.RuleSet("b", [("linear", R.Epsilon(0.1)), ("relu", R.Pass())]))
    assert_close(a, b, 1e-6, "LrpRule epsilon")


def test_python_function_rule(mlp):
    """The slow escape hatch: epsilon written as a numpy function equals the C++ epsilon rule."""
    _, bm = mlp
    x = inputs((4, 12), 33)
    eps = 0.25
    calls = []

    def epsilon_rule(kind, name, inputs, output, grad_out):
        calls.append((kind, name))
        xin, w = inputs[0], inputs[1]
        b = inputs[2] if len(inputs) > 2 else 0.0
        z = xin @ w.T + b
        s = grad_out / (z + eps * np.where(z >= 0, 1.0, -1.0))
        return [(xin * (s @ w)).astype(np.float32)]

    py = R.RuleSet("py", [("linear", R.PythonRule(epsilon_rule, "py_epsilon")), ("relu", R.Pass())])
    cpp = R.RuleSet("cpp", [("linear", R.Epsilon(eps)), ("relu", R.Pass())])
    a = backlight.lrp(bm, x, [0, 1, 2, 0], py)
    b = backlight.lrp(bm, x, [0, 1, 2, 0], cpp)
    assert len(calls) == 3 and calls[0][0] == "linear"
    assert_close(a, b, 1e-5, "python rule")


def test_python_rule_errors_are_python_exceptions(mlp):
    _, bm = mlp

    def broken(kind, name, inputs, output, grad_out):
        raise KeyError("boom")

    rs = R.RuleSet("broken", [("linear", R.PythonRule(broken, "broken"))])
    with pytest.raises(ValueError, match="boom"):
        backlight.lrp(bm, inputs((1, 12), 1), 0, rs)

    def wrong_shape(kind, name, inputs, output, grad_out):
        return [np.zeros((1, 1), np.float32)]

    with pytest.raises(ValueError, match="expected shape"):
        backlight.lrp(bm, inputs((1, 12), 1), 0, R.RuleSet("w", [("linear", R.PythonRule(wrong_shape))]))


def test_rule_errors(mlp):
    with pytest.raises(ValueError, match="unknown op kind 'convolution'"):
        R.kind("convolution")
    with pytest.raises(ValueError, match="input modifier"):
        R.LrpRule("x", [R.Group(terms=[R.Term(input="sideways")])])
    with pytest.raises(ValueError, match="weight modifier"):
        R.LrpRule("x", [R.Group(terms=[R.Term(weight="big")])])
    with pytest.raises(ValueError, match="unknown rule"):
        R.builtin("zminus")
