"""Captum's variants beyond the defaults, against Captum 0.8 on the same weights:
multiply_by_inputs=False, callable and slice neuron selectors, attribute_to_layer_input /
attribute_to_neuron_input, NoiseTunnel deltas, Lime with custom Python callables,
LayerAttribution.interpolate."""
import numpy as np
import pytest

from conftest import assert_close, inputs

torch = pytest.importorskip("torch")
ca = pytest.importorskip("captum.attr")
import backlight.captum as bc  # noqa: E402

X_CNN = inputs((2, 1, 28, 28), 20, 0.0, 1.0)
X_MLP = inputs((4, 12), 21)
X_RES = inputs((2, 3, 32, 32), 22)
T2, T4 = [3, 7], [0, 2, 1, 2]
B_MLP = inputs((3, 12), 23, -0.2, 0.2)


def _layer(tm, name):
    return dict(tm.named_modules())[name]


def _run(tm, bm, cls, ctor, x, kwargs, ctor_kwargs=None):
    ctor_kwargs = ctor_kwargs or {}
    ref_kwargs = {k: (torch.from_numpy(v) if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}
    if isinstance(ref_kwargs.get("target"), list):
        ref_kwargs["target"] = torch.tensor(ref_kwargs["target"])
    ref = getattr(ca, cls)(tm, *[_layer(tm, n) for n in ctor], **ctor_kwargs).attribute(torch.from_numpy(x.copy()),
                                                                                         **ref_kwargs)
    got = getattr(bc, cls)(bm, *ctor, **ctor_kwargs).attribute(x, **kwargs)
    return got, ref


def _check(got, ref, tol=1e-4, what=""):
    if isinstance(ref, tuple):
        (got, got_d), (ref, ref_d) = got, ref
        scale = float(ref.detach().abs().sum(dim=tuple(range(1, ref.dim()))).max())
        assert np.abs(np.asarray(got_d) - ref_d.detach().numpy()).max() <= 1e-4 * max(scale, 1e-6), what
    assert_close(got, ref, tol, what)


NO_MULT = [
    ("IntegratedGradients", "mlp", X_MLP, [], dict(target=T4, n_steps=16, return_convergence_delta=True)),
    ("IntegratedGradients", "cnn", X_CNN, [], dict(target=T2, n_steps=8, baselines=0.1)),
    ("DeepLift", "mlp", X_MLP, [], dict(target=T4, return_convergence_delta=True)),
    ("DeepLiftShap", "mlp", X_MLP, [], dict(target=T4, baselines=B_MLP, return_convergence_delta=True)),
    ("LayerIntegratedGradients", "mlp", X_MLP, ["2"], dict(target=T4, n_steps=16)),
    ("LayerGradientXActivation", "cnn", X_CNN, ["features.4"], dict(target=T2)),
    ("LayerDeepLift", "mlp", X_MLP, ["2"], dict(target=T4)),
    ("LayerDeepLiftShap", "mlp", X_MLP, ["2"], dict(target=T4, baselines=B_MLP, return_convergence_delta=True)),
    ("NeuronIntegratedGradients", "mlp", X_MLP, ["2"], dict(neuron_selector=4, n_steps=16)),
    ("NeuronConductance", "mlp", X_MLP, ["2"], dict(neuron_selector=4, target=T4, n_steps=16)),
    ("NeuronDeepLift", "mlp", X_MLP, ["2"], dict(neuron_selector=3)),
    ("NeuronDeepLiftShap", "mlp", X_MLP, ["2"], dict(neuron_selector=3, baselines=B_MLP)),
]


@pytest.mark.parametrize("case", NO_MULT, ids=[f"{c[0]}-{c[1]}" for c in NO_MULT])
def test_multiply_by_inputs_false(request, case):
    cls, fixture, x, ctor, kwargs = case
    tm, bm = request.getfixturevalue(fixture)
    got, ref = _run(tm, bm, cls, ctor, x, kwargs, dict(multiply_by_inputs=False))
    assert getattr(bc, cls)(bm, *ctor, multiply_by_inputs=False).multiplies_by_inputs is False
    _check(got, ref, 1e-4, cls)


@pytest.mark.parametrize("cls,ctor", [("DeepLiftShap", []), ("LayerDeepLiftShap", ["2"])])
def test_deeplift_shap_deltas_per_baseline(mlp, cls, ctor):
    """Captum's DeepLiftShap delta: one per (item, baseline) pair, item-major."""
    tm, bm = mlp
    got, ref = _run(tm, bm, cls, ctor, X_MLP, dict(target=T4, baselines=B_MLP, return_convergence_delta=True))
    assert tuple(np.shape(got[1])) == tuple(ref[1].shape) == (12,)
    _check(got, ref, 1e-4, cls)


def test_gradient_shap_multiply_by_inputs_false(linear):
    # Random draws differ from Captum's; on a linear model the gradient is the weight row whatever the
    # draws, so without the input factor both return it exactly.
    tm, bm = linear
    got, ref = _run(tm, bm, "GradientShap", [], X_MLP, dict(target=T4, baselines=B_MLP, n_samples=7),
                    dict(multiply_by_inputs=False))
    assert_close(got, ref, 1e-4, "GradientShap")
    got, ref = _run(tm, bm, "LayerGradientShap", ["0"], X_MLP, dict(target=T4, baselines=B_MLP),
                    dict(multiply_by_inputs=False))
    assert_close(got, ref, 1e-4, "LayerGradientShap")


SELECTORS = [
    ("NeuronGradient", "cnn", X_CNN, ["features.4"], lambda t: t[:, 5, 3, 4]),
    ("NeuronGradient", "cnn", X_CNN, ["features.4"], lambda t: t[:, 2].sum(dim=(1, 2))),
    ("NeuronGradient", "cnn", X_CNN, ["features.4"], (2, slice(1, 4), slice(0, 3))),
    ("NeuronGuidedBackprop", "cnn", X_CNN, ["features.4"], lambda t: t[:, 1, 2, 2] + 0.5 * t[:, 3, 1, 1]),
    ("NeuronDeconvolution", "cnn", X_CNN, ["features.4"], (1, slice(None), 2)),
    ("NeuronIntegratedGradients", "mlp", X_MLP, ["2"], lambda t: t[:, 1:5].sum(1)),
    ("NeuronConductance", "mlp", X_MLP, ["2"], lambda t: t[:, 3]),
    ("NeuronDeepLift", "mlp", X_MLP, ["2"], lambda t: t[:, 2] + t[:, 6]),
    ("NeuronFeatureAblation", "mlp", X_MLP, ["2"], lambda t: t[:, 1:3].sum(1)),
]


@pytest.mark.parametrize("case", SELECTORS, ids=[f"{c[0]}-{i}" for i, c in enumerate(SELECTORS)])
def test_neuron_selectors(request, case):
    cls, fixture, x, ctor, sel = case
    tm, bm = request.getfixturevalue(fixture)
    kwargs = dict(neuron_selector=sel)
    if cls in ("NeuronIntegratedGradients", "NeuronConductance"):
        kwargs["n_steps"] = 16
    if cls == "NeuronConductance":
        kwargs["target"] = T4
    got, ref = _run(tm, bm, cls, ctor, x, kwargs)
    _check(got, ref, 1e-4, cls)


TO_INPUT = [
    ("LayerActivation", "resnet", X_RES, ["layer2.0"], dict()),
    ("LayerGradientXActivation", "resnet", X_RES, ["layer2.0"], dict(target=T2)),
    ("LayerGradCam", "resnet", X_RES, ["layer4"], dict(target=T2)),
    ("LayerIntegratedGradients", "mlp", X_MLP, ["3"], dict(target=T4, n_steps=16)),
    ("LayerConductance", "mlp", X_MLP, ["3"], dict(target=T4, n_steps=16, return_convergence_delta=True)),
    ("InternalInfluence", "mlp", X_MLP, ["3"], dict(target=T4, n_steps=16)),
    ("LayerDeepLift", "mlp", X_MLP, ["3"], dict(target=T4)),
]


@pytest.mark.parametrize("case", TO_INPUT, ids=[c[0] for c in TO_INPUT])
def test_attribute_to_layer_input(request, case):
    cls, fixture, x, ctor, kwargs = case
    tm, bm = request.getfixturevalue(fixture)
    got, ref = _run(tm, bm, cls, ctor, x, dict(kwargs, attribute_to_layer_input=True))
    _check(got, ref, 1e-4, cls)
    # and it is not the layer output's attribution
    out = getattr(bc, cls)(bm, *ctor).attribute(x, **kwargs)
    out = out[0] if isinstance(out, tuple) else out
    got = got[0] if isinstance(got, tuple) else got
    assert out.shape != got.shape or not np.allclose(out, got)


def test_attribute_to_neuron_input(cnn):
    tm, bm = cnn
    got, ref = _run(tm, bm, "NeuronGradient", ["features.4"], X_CNN,
                    dict(neuron_selector=(5, 3, 4), attribute_to_neuron_input=True))
    _check(got, ref, 1e-4, "NeuronGradient to input")


@pytest.mark.parametrize("batch", [None, 2])
def test_noise_tunnel_delta(linear, batch):
    # On a linear model IG's delta is exactly 0 whatever the noise; the shape and Captum's order are
    # what can differ.
    tm, bm = linear
    x = X_MLP[:2]
    got, gd = bc.NoiseTunnel(bc.IntegratedGradients(bm)).attribute(
        x, nt_samples=5, nt_samples_batch_size=batch, stdevs=0.1, target=[0, 2], n_steps=8,
        return_convergence_delta=True)
    ref, rd = ca.NoiseTunnel(ca.IntegratedGradients(tm)).attribute(
        torch.from_numpy(x), nt_samples=5, nt_samples_batch_size=batch, stdevs=0.1, target=torch.tensor([0, 2]),
        n_steps=8, return_convergence_delta=True)
    assert gd.shape == tuple(rd.shape) == (10,)
    assert np.abs(gd).max() < 1e-4 and got.shape == tuple(ref.shape)
    from backlight.captum._noise_tunnel import _captum_delta_order
    order = _captum_delta_order(np.arange(10, dtype=np.float32), 2, 5, batch)
    expect = [0, 1, 5, 6, 2, 3, 7, 8, 4, 9] if batch == 2 else list(range(10))
    assert order.tolist() == expect


def test_noise_tunnel_delta_cnn(cnn):
    _, bm = cnn
    a, d = bc.NoiseTunnel(bc.DeepLift(bm)).attribute(X_CNN, nt_samples=3, stdevs=0.05, target=T2,
                                                     return_convergence_delta=True)
    assert a.shape == X_CNN.shape and d.shape == (6,) and np.abs(d).max() < 1e-3
    with pytest.raises(NotImplementedError, match="return_convergence_delta"):
        bc.NoiseTunnel(bc.Saliency(bm)).attribute(X_CNN, target=T2, return_convergence_delta=True)


def test_lime_custom_callables(linear):
    from captum._utils.models.linear_model import SkLearnLinearRegression
    from captum.attr._core.lime import get_exp_kernel_similarity_function
    tm, bm = linear
    x = X_MLP[:1]
    mask = np.array([[0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]])
    sim = get_exp_kernel_similarity_function("euclidean", kernel_width=2.0)
    kw = dict(target=1, feature_mask=torch.from_numpy(mask), n_samples=60)
    torch.manual_seed(3)
    ref = ca.Lime(tm, SkLearnLinearRegression(), sim).attribute(torch.from_numpy(x), **kw)
    torch.manual_seed(3)
    got = bc.Lime(bm, SkLearnLinearRegression(), sim).attribute(torch.from_numpy(x), **kw)
    assert_close(got, ref, 1e-4, "Lime custom")  # same draws (Captum's loop), backlight's forward
    got_np = bc.Lime(bm, interpretable_model=SkLearnLinearRegression()).attribute(x, target=1, feature_mask=mask)
    assert isinstance(got_np, np.ndarray) and got_np.shape == x.shape


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_layer_attribution_interpolate(mode):
    a = inputs((2, 3, 5, 7), 24)
    ref = ca.LayerAttribution.interpolate(torch.from_numpy(a), (28, 31), mode)
    got = bc.LayerAttribution.interpolate(a, (28, 31), mode)
    assert isinstance(got, np.ndarray)
    assert_close(got, ref, 1e-5, mode)
    t = bc.LayerGradCam.interpolate(torch.from_numpy(a), (10, 14), interpolate_mode=mode)
    assert isinstance(t, torch.Tensor)
    assert_close(t, ca.LayerAttribution.interpolate(torch.from_numpy(a), (10, 14), mode), 1e-5, mode)
