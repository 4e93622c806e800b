"""The package's own contract: models, arrays in and out (types, zero-copy), errors as Python
exceptions, Captum's signatures, threads, metrics and visualisation."""
import inspect
import os
import struct
import threading
import zlib

import numpy as np
import pytest

from conftest import inputs, needs_torch, torch

import backlight  # noqa: E402
import backlight.captum as bc  # noqa: E402



def test_forward_matches_torch(cnn, resnet, mlp):
    for (tm, bm), shape in [(cnn, (2, 1, 28, 28)), (resnet, (2, 3, 32, 32)), (mlp, (3, 12))]:
        x = inputs(shape, 40)
        with torch.no_grad():
            ref = tm(torch.from_numpy(x)).numpy()
        got = bm(x)
        assert isinstance(got, np.ndarray) and got.dtype == np.float32
        assert np.abs(got - ref).max() <= 1e-4 * np.abs(ref).max()
        assert isinstance(bm(torch.from_numpy(x)), torch.Tensor)


def test_layers_and_metadata(cnn):
    _, bm = cnn
    names = dict(bm.layers())
    assert names["features.0"] == "Conv2d" and names["classifier.2"] == "Linear"
    assert bm.arch == "mnist_cnn" and bm.num_classes == 10 and bm.input_shape == [1, 28, 28]


@needs_torch
def test_zero_copy_output_and_input():
    m = backlight.zoo("mlp", mlp_sizes=[12, 8], num_classes=3, seed=1)
    x = inputs((2, 12), 41)
    out = backlight.attribute(m, "layer_activation", x, layer="0")  # Flatten: the input itself
    assert out.shape == (2, 12)
    a = bc.Saliency(m).attribute(x, target=0)
    assert a.flags["OWNDATA"] is False  # a view of the C++ buffer, no copy
    t = bc.Saliency(m).attribute(torch.from_numpy(x), target=0)
    assert isinstance(t, torch.Tensor) and np.array_equal(t.numpy(), a)


@needs_torch
def test_safetensors_round_trip(tmp_path, mlp):
    tm, bm = mlp
    import convert_torch
    path = tmp_path / "mlp.safetensors"
    meta = convert_torch.metadata_for("mlp", tm, 3, [12, 16, 8], "test")
    from safetensors.torch import save_file
    save_file({k: v.contiguous() for k, v in tm.state_dict().items()}, str(path), metadata=meta)
    loaded = backlight.load(path)
    assert loaded.arch == "mlp" and loaded.num_classes == 3 and loaded.input_shape == [12]
    x = inputs((2, 12), 42)
    np.testing.assert_allclose(loaded(x), bm(x), rtol=0, atol=1e-6)
    z = backlight.zoo("mlp", weights=str(path))
    np.testing.assert_allclose(z(x), bm(x), rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match="holds a 'mlp'"):
        backlight.zoo("resnet18", weights=str(path))


def test_canonized_once_equals_lrp_canonizing(resnet):
    _, bm = resnet
    x = inputs((2, 3, 32, 32), 45)
    merged = bm.canonized()
    assert "BatchNorm2d" in dict(bm.layers()).values()  # the model itself is untouched
    np.testing.assert_allclose(merged(x), bm(x), rtol=1e-4, atol=1e-4)
    comp = backlight.EpsilonPlusFlat()
    np.testing.assert_allclose(backlight.lrp(merged, x, [1, 2], comp, canonize=False),
                               backlight.lrp(bm, x, [1, 2], comp), rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="input_shape"):
        backlight.zoo("mlp", mlp_sizes=[4], num_classes=2).canonized(input_shape=[])


def test_buffers_reused_and_released(cnn):
    _, bm = cnn
    x = inputs((4, 1, 28, 28), 46)
    first = bc.IntegratedGradients(bm).attribute(x, target=1, n_steps=8)
    assert bm.cached_bytes() > 0  # the pool keeps the call's buffers for the next one
    again = bc.IntegratedGradients(bm).attribute(x, target=1, n_steps=8)
    np.testing.assert_array_equal(first, again)  # reused buffers: same numbers, and `first` still valid
    bm.release_memory()
    assert bm.cached_bytes() == 0
    np.testing.assert_array_equal(first, again)


def test_file_errors(tmp_path):
    with pytest.raises(OSError, match="no such file"):
        backlight.load(tmp_path / "missing.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x05\x00\x00")
    with pytest.raises(OSError, match="bad.safetensors"):
        backlight.load(bad)
    with pytest.raises(OSError):
        backlight.load(tmp_path)


@needs_torch
def test_argument_errors(cnn):
    _, bm = cnn
    x = inputs((2, 1, 28, 28), 43)
    sal = bc.Saliency(bm)
    with pytest.raises(TypeError, match="inputs: expected float32, got float64"):
        sal.attribute(x.astype(np.float64))
    with pytest.raises(TypeError, match="inputs: expected float32"):
        sal.attribute(torch.from_numpy(x).double())
    with pytest.raises(TypeError, match="inputs: expected a numpy array or a torch tensor, got list"):
        sal.attribute([1.0, 2.0])
    with pytest.raises(ValueError, match="target: expected 2 class indices"):
        sal.attribute(x, target=[1, 2, 3])
    with pytest.raises(ValueError, match="10"):
        sal.attribute(x, target=12)
    with pytest.raises(ValueError):
        bm(inputs((2, 3, 28, 28), 1))  # wrong channel count: a message, not a crash
    with pytest.raises(NotImplementedError, match="additional_forward_args"):
        sal.attribute(x, additional_forward_args=(1,))
    with pytest.raises(NotImplementedError, match="2 input tensors"):
        sal.attribute((x, x))
    with pytest.raises(ValueError, match="nope"):
        bc.LayerGradCam(bm, "nope").attribute(x, target=1)
    with pytest.raises(TypeError, match="torch module"):
        bc.Saliency(torch.nn.Linear(2, 2))
    with pytest.raises(NotImplementedError, match="neuron_selector: the callable is not linear"):
        bc.NeuronGradient(bm, "features.4").attribute(x, neuron_selector=lambda t: t.amax(dim=(1, 2, 3)))
    with pytest.raises(ValueError, match="one value per item"):
        bc.NeuronGradient(bm, "features.4").attribute(x, neuron_selector=lambda t: t[:, 0])
    with pytest.raises(NotImplementedError, match="model input"):
        bc.LayerActivation(bm, "features.0").attribute(x, attribute_to_layer_input=True)
    with pytest.raises(ValueError, match="nt_type"):
        bc.NoiseTunnel(sal).attribute(x, nt_type="smooth")
    if not backlight._core.has_onnx:
        with pytest.raises(NotImplementedError, match="from_torch"):
            backlight.from_torch(torch.nn.Linear(2, 2), torch.zeros(1, 2))


def test_tuple_inputs_come_back_as_tuples(cnn):
    _, bm = cnn
    x = inputs((1, 1, 28, 28), 44)
    out = bc.Saliency(bm).attribute((x,), target=1)
    assert isinstance(out, tuple) and out[0].shape == x.shape


# Captum 0.8 attribution classes backlight.captum does not provide (docs/python.md says why): the
# LLM wrappers and the DataLoader/LimeBase building blocks take Python objects backlight cannot run,
# ShapleyValues (exact, exponential) and LayerFeaturePermutation have no C++ method yet.
NOT_PROVIDED = {"DataLoaderAttribution", "LLMAttribution", "LLMGradientAttribution", "LimeBase", "ShapleyValues",
                "LayerFeaturePermutation"}


def _captum_classes():
    try:
        import captum.attr as ca
    except ImportError:  # pragma: no cover - depends on the machine
        return []
    return sorted(n for n in dir(ca) if n[:1].isupper() and hasattr(getattr(ca, n), "attribute")
                  and inspect.isclass(getattr(ca, n)) and not inspect.isabstract(getattr(ca, n))
                  and getattr(ca, n).__module__.startswith("captum.attr._core"))


def test_every_captum_class_is_provided_or_listed():
    """A Captum upgrade that adds a class fails here until it is provided or listed above."""
    names = _captum_classes()
    if not names:
        pytest.skip("captum is not installed")
    missing = [n for n in names if not hasattr(bc, n) and n not in NOT_PROVIDED]
    assert not missing, f"Captum classes neither provided nor listed in NOT_PROVIDED: {missing}"
    assert len([n for n in names if hasattr(bc, n)]) >= 37


def _compare(ref_fn, own_fn, what):
    """Captum's parameters (names, order, kinds, defaults) are ours in the same positions; our
    extras (seed) are keyword-only; **kwargs where Captum has it."""
    rp = list(inspect.signature(ref_fn).parameters.values())
    op = list(inspect.signature(own_fn).parameters.values())
    ours = {p.name: p for p in op}
    r_pos = [p for p in rp if p.kind in (p.POSITIONAL_OR_KEYWORD, p.POSITIONAL_ONLY)]
    o_pos = [p for p in op if p.kind in (p.POSITIONAL_OR_KEYWORD, p.POSITIONAL_ONLY)]
    assert [p.name for p in o_pos] == [p.name for p in r_pos], f"{what}: positional parameters"
    for r in rp:
        if r.kind == r.VAR_KEYWORD:
            assert any(p.kind == p.VAR_KEYWORD for p in op), f"{what}: Captum takes **{r.name}"
            continue
        o = ours.get(r.name)
        assert o is not None, f"{what}: parameter {r.name} missing"
        assert (o.default is inspect.Parameter.empty) == (r.default is inspect.Parameter.empty), \
            f"{what}({r.name}): required in one, optional in the other"
        if r.default is inspect.Parameter.empty or callable(r.default):
            continue  # a callable default (FeaturePermutation's perm_func) is None here: Captum's function
        assert o.default == r.default and type(o.default) is type(r.default), \
            f"{what}({r.name}): default {o.default!r} vs Captum {r.default!r}"
    extras = [p for p in op if p.name not in {r.name for r in rp} and p.kind != p.VAR_KEYWORD]
    assert all(p.kind == p.KEYWORD_ONLY for p in extras), f"{what}: extras must be keyword-only: {extras}"


@pytest.mark.parametrize("name", [n for n in bc.__all__ if n != "LayerAttribution"])
def test_signatures_match_captum(name):
    ca = pytest.importorskip("captum.attr")
    ref, own = getattr(ca, name), getattr(bc, name)
    for fn in ("__init__", "attribute"):
        _compare(getattr(ref, fn), getattr(own, fn), f"{name}.{fn}")
    for extra in ("has_convergence_delta",):
        assert getattr(own(*_ctor_dummies(own)), extra)() == _captum_has_delta(ref), f"{name}.{extra}"


def test_layer_attribution_interpolate_signature():
    ca = pytest.importorskip("captum.attr")
    _compare(ca.LayerAttribution.interpolate, bc.LayerAttribution.interpolate, "LayerAttribution.interpolate")
    _compare(ca.LayerGradCam.interpolate, bc.LayerGradCam.interpolate, "LayerGradCam.interpolate")


def _ctor_dummies(cls):
    m = backlight.zoo("mlp", mlp_sizes=[4, 3], num_classes=2, seed=0)
    if cls is bc.NoiseTunnel:
        return (bc.IntegratedGradients(m),)
    params = [p for p in inspect.signature(cls.__init__).parameters.values()][1:]
    return (m, "1") if len(params) > 1 and params[1].name == "layer" else (m,)


def _captum_has_delta(ref):
    import captum.attr as ca
    if ref is ca.NoiseTunnel:
        return True  # around IntegratedGradients (the dummy above)
    return ref.has_convergence_delta(object.__new__(ref))


def test_threads_several_models():
    """Different models on several Python threads at once: each result equals the serial one."""
    models = [backlight.zoo("mnist_cnn", seed=s) for s in range(4)]
    xs = [inputs((2, 1, 28, 28), 50 + s, 0, 1) for s in range(4)]
    serial = [bc.IntegratedGradients(m).attribute(x, target=1, n_steps=16) for m, x in zip(models, xs)]
    results = [None] * 8
    errors = []

    def work(i):
        try:
            k = i % 4
            results[i] = bc.IntegratedGradients(models[k]).attribute(xs[k], target=1, n_steps=16)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i in range(8):
        np.testing.assert_allclose(results[i], serial[i % 4], rtol=1e-5, atol=1e-7)


def test_threads_mixed_models_and_methods():
    """Different architectures and methods (IG, Grad-CAM, LRP, occlusion, a Python rule set) on
    six Python threads at once, twice each: every result equals the serial one."""
    from backlight import rules as R
    cnn = backlight.zoo("mnist_cnn", seed=7)
    mlp = backlight.zoo("mlp", mlp_sizes=[12, 16], num_classes=3, seed=8)
    res = backlight.zoo("resnet18", num_classes=5, seed=9)
    rs = R.RuleSet("mine", [(R.kind("linear"), R.Epsilon(1e-3)), (R.kind("conv2d"), R.ZPlus())])
    xc, xm, xr = inputs((2, 1, 28, 28), 70, 0, 1), inputs((3, 12), 71), inputs((1, 3, 32, 32), 72)
    jobs = [
        lambda: bc.IntegratedGradients(cnn).attribute(xc, target=1, n_steps=8),
        lambda: bc.LayerGradCam(res, "layer3").attribute(xr, target=2),
        lambda: backlight.lrp(res, xr, 1, backlight.EpsilonPlusFlat()),
        lambda: bc.Occlusion(cnn).attribute(xc, sliding_window_shapes=(1, 7, 7), strides=(1, 7, 7), target=3),
        lambda: backlight.lrp(cnn, xc, 2, rs),
        lambda: bc.DeepLift(mlp).attribute(xm, target=[0, 1, 2]),
    ]
    serial = [np.array(j()) for j in jobs]
    results, errors = {}, []

    def work(i):
        try:
            results[i] = np.array(jobs[i % len(jobs)]())
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2 * len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for i, r in results.items():
        np.testing.assert_allclose(r, serial[i % len(jobs)], rtol=1e-5, atol=1e-6)
    assert len(results) == 2 * len(jobs)


def test_error_types_carry_the_cpp_message(cnn):
    _, bm = cnn
    x = inputs((1, 1, 28, 28), 73)
    with pytest.raises(ValueError, match=r"layer 'nope' not found in the model \(module paths seen: features.0"):
        bc.LayerActivation(bm, "nope").attribute(x)
    with pytest.raises(ValueError, match="neuron index \\[99999\\] out of range for layer 'features.4'"):
        bc.NeuronGradient(bm, "features.4").attribute(x, neuron_selector=99999)
    with pytest.raises(ValueError, match="attribute: unknown option 'bogus'"):
        backlight.attribute(bm, "saliency", x, 1, bogus=1)


def test_gil_released_during_compute():
    """A Python thread keeps running while another computes."""
    m = backlight.zoo("mnist_cnn", seed=1)
    x = inputs((8, 1, 28, 28), 60, 0, 1)
    ticks = []
    done = threading.Event()

    def ticker():
        while not done.is_set():
            ticks.append(1)
            done.wait(0.001)

    t = threading.Thread(target=ticker)
    t.start()
    bc.IntegratedGradients(m).attribute(x, target=1, n_steps=64)
    done.set()
    t.join()
    assert len(ticks) > 3


def test_set_num_threads():
    backlight.set_num_threads(1)
    assert backlight.get_num_threads() == 1
    m = backlight.zoo("mnist_cnn", seed=2)
    x = inputs((2, 1, 28, 28), 61, 0, 1)
    a1 = bc.Saliency(m).attribute(x, target=1)
    backlight.set_num_threads(0)
    a2 = bc.Saliency(m).attribute(x, target=1)
    np.testing.assert_allclose(a1, a2, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError):
        backlight.set_num_threads(-1)


def test_metrics(linear, cnn):
    _, lm = linear
    x = inputs((2, 12), 62)
    a = bc.InputXGradient(lm).attribute(x, target=[0, 1])
    inf = backlight.metrics.infidelity(lm, x, a, [0, 1], multiply_by_inputs=True)
    assert inf.shape == (2,) and np.abs(inf).max() < 1e-8  # exact for input x gradient on a linear model
    _, bm = cnn
    xi = inputs((1, 1, 28, 28), 63, 0, 1)
    sal = bc.Saliency(bm).attribute(xi, target=1)
    curve, auc, frac = backlight.metrics.deletion(bm, xi, sal, [1], step=98)
    assert curve.shape == (1, len(frac)) and 0 <= auc[0] <= 1
    sens = backlight.metrics.sensitivity_max(bm, "saliency", xi, [1], n_perturb_samples=3)
    assert sens.shape == (1,) and np.isfinite(sens).all()
    fc = backlight.metrics.faithfulness_correlation(bm, xi, sal, [1], subsets=8)
    assert -1 <= fc[0] <= 1
    steps = backlight.metrics.randomisation(bm, "saliency", xi, [1], max_layers=2)
    assert steps[0][0] == "" and len(steps) == 3


def _read_png(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = struct.unpack(">II", data[16:24])
    idat = data[data.index(b"IDAT") + 4:data.index(b"IEND") - 8]
    raw = zlib.decompress(idat)
    rows = [raw[y * (3 * w + 1) + 1:(y + 1) * (3 * w + 1)] for y in range(h)]
    return np.frombuffer(b"".join(rows), np.uint8).reshape(h, w, 3)


@pytest.mark.parametrize("method", ["heat_map", "blended_heat_map", "original_image", "masked_image",
                                    "alpha_scaling"])
@pytest.mark.parametrize("sign", ["positive", "negative", "absolute_value", "all"])
def test_visualize_image_attr(tmp_path, method, sign):
    attr = inputs((3, 16, 20), 64)
    img = inputs((3, 16, 20), 65, 0, 1)
    path = tmp_path / "v.png"
    out = backlight.viz.visualize_image_attr(attr, img, method=method, sign=sign, save=str(path))
    assert out.shape == (16, 20, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(_read_png(path), out)


def test_visualize_errors():
    with pytest.raises(ValueError, match="method"):
        backlight.viz.visualize_image_attr(np.zeros((4, 4, 3)), method="contour")
    with pytest.raises(ValueError, match="original_image"):
        backlight.viz.visualize_image_attr(np.zeros((4, 4, 3)), method="blended_heat_map")


def test_stubs_shipped():
    pkg = os.path.dirname(backlight.__file__)
    assert os.path.exists(os.path.join(pkg, "py.typed"))
    stub = open(os.path.join(pkg, "_core.pyi")).read()
    # Regenerated with the extension: every binding the package calls has its signature there.
    for name in ("attribute", "zoo", "load", "merge_batchnorm", "set_num_threads", "methods", "rule_sets"):
        assert f"def {name}(" in stub, f"_core.pyi lacks {name}"
    assert "neuron_weights" in stub  # the docstring of attribute() as it is now


def test_xrai_base_method_reaches_the_library():
    m = backlight.zoo("mnist_cnn", seed=1)
    x = inputs((1, 1, 28, 28), seed=7, low=0.0, high=1.0)
    default = backlight.attribute(m, "xrai", x, 3, steps=8)
    sal = backlight.attribute(m, "xrai", x, 3, base_method="saliency")
    assert default.shape == sal.shape == (1, 1, 28, 28)
    assert np.isfinite(sal).all() and not np.array_equal(default, sal)
    with pytest.raises(ValueError, match="nope"):
        backlight.attribute(m, "xrai", x, 3, base_method="nope")
    with pytest.raises(ValueError, match="xrai itself"):
        backlight.attribute(m, "xrai", x, 3, base_method="xrai")
