"""The random methods. On a linear model their answers do not depend on the draws (Shapley values,
KernelSHAP and GradientSHAP are exact; with two items the only non-identity permutation is the
swap), so they are compared with Captum at the usual tolerance; elsewhere, properties."""
import numpy as np
import pytest

from conftest import assert_close, inputs

torch = pytest.importorskip("torch")
ca = pytest.importorskip("captum.attr")
import backlight.captum as bc  # noqa: E402

X = inputs((2, 12), 20)
T = [0, 2]
MASK = (np.arange(12) // 3).reshape(1, 12)  # 4 groups of 3 features


@pytest.mark.parametrize("cls,kwargs", [
    ("ShapleyValueSampling", dict(n_samples=3)),
    ("ShapleyValueSampling", dict(n_samples=2, feature_mask=MASK, baselines=0.3)),
    ("KernelShap", dict(n_samples=200, feature_mask=MASK)),
    ("FeaturePermutation", dict()),
    ("FeaturePermutation", dict(feature_mask=MASK)),
    ("GradientShap", dict(baselines=np.zeros((1, 12), np.float32), n_samples=4)),
], ids=["svs", "svs_mask", "kernel_shap", "permutation", "permutation_mask", "gradient_shap"])
def test_exact_on_linear(linear, cls, kwargs):
    tm, bm = linear
    ref_kwargs = {k: (torch.from_numpy(v) if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}
    ref = getattr(ca, cls)(tm).attribute(torch.from_numpy(X.copy()), target=torch.tensor(T), **ref_kwargs)
    got = getattr(bc, cls)(bm).attribute(X, target=T, **kwargs)
    assert_close(got, ref, 1e-4, cls)


def test_lime_recovers_a_linear_model(linear):
    # Captum's Lime fits a Lasso surrogate, backlight's a ridge one: both approximate the
    # linear model's exact per-group contributions (x - 0) * w summed over each group.
    tm, bm = linear
    w = tm[1].weight.detach().numpy()
    got = bc.Lime(bm).attribute(X, target=T, feature_mask=MASK, n_samples=400)
    assert got.shape == X.shape
    for n, t in enumerate(T):
        exact = np.array([(X[n] * w[t])[MASK[0] == g].sum() for g in range(4)])
        per_group = np.array([got[n][MASK[0] == g][0] for g in range(4)])
        assert np.corrcoef(exact, per_group)[0, 1] > 0.9


@pytest.mark.parametrize("nt_type", ["smoothgrad", "smoothgrad_sq", "vargrad"])
def test_noise_tunnel_on_linear(linear, nt_type):
    # The gradient of a linear model does not depend on the noise: every tunnel is exact.
    tm, bm = linear
    ref = ca.NoiseTunnel(ca.Saliency(tm)).attribute(torch.from_numpy(X.copy()), nt_type=nt_type, nt_samples=4,
                                                    stdevs=0.5, target=torch.tensor(T))
    got = bc.NoiseTunnel(bc.Saliency(bm)).attribute(X, nt_type=nt_type, nt_samples=4, stdevs=0.5, target=T)
    if nt_type == "vargrad":
        assert np.abs(got).max() < 1e-6 and np.abs(ref.numpy()).max() < 1e-6
    else:
        assert_close(got, ref, 1e-4, nt_type)


def test_noise_tunnel_smoothgrad_cnn(cnn):
    # On a non-linear model: shape, type, and close to the plain gradient for tiny noise.
    _, bm = cnn
    x = torch.from_numpy(inputs((2, 1, 28, 28), 21, 0, 1))
    sg = bc.NoiseTunnel(bc.IntegratedGradients(bm)).attribute(x, nt_samples=3, stdevs=1e-6, target=[1, 2],
                                                              n_steps=8)
    ig = bc.IntegratedGradients(bm).attribute(x, target=[1, 2], n_steps=8)
    assert isinstance(sg, torch.Tensor) and sg.shape == x.shape
    assert_close(sg, ig, 2e-2, "smoothgrad with tiny noise")


def test_deeplift_shap_and_gradient_shap_cnn(cnn):
    tm, bm = cnn
    x = inputs((2, 1, 28, 28), 22, 0, 1)
    b = inputs((3, 1, 28, 28), 23, 0, 0.1)
    for m in tm.modules():
        if isinstance(m, torch.nn.MaxPool2d):
            m.register_forward_pre_hook(lambda mod, inp: (inp[0] * 1.0,))
    ref = ca.DeepLiftShap(tm).attribute(torch.from_numpy(x.copy()), baselines=torch.from_numpy(b), target=1)
    assert_close(bc.DeepLiftShap(bm).attribute(x, baselines=b, target=1), ref, 1e-4, "DeepLiftShap")
    # GradientShap draws random points: check completeness in expectation loosely and the seed.
    a1 = bc.GradientShap(bm).attribute(x, baselines=b, n_samples=8, target=1, seed=3)
    a2 = bc.GradientShap(bm).attribute(x, baselines=b, n_samples=8, target=1, seed=3)
    np.testing.assert_array_equal(a1, a2)
