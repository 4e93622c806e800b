"""Every class of backlight.captum against Captum 0.8 on the same weights: max |a - ref| <=
1e-4 x max |ref| (1e-3 for LRP), convergence deltas included."""
import numpy as np
import pytest

from conftest import assert_close, inputs

torch = pytest.importorskip("torch")
ca = pytest.importorskip("captum.attr")
import backlight.captum as bc  # noqa: E402

X_CNN = inputs((2, 1, 28, 28), 10, 0.0, 1.0)
X_RES = inputs((2, 3, 32, 32), 11)
X_MLP = inputs((4, 12), 12)
T2 = [3, 7]
T4 = [0, 2, 1, 2]


def _layer(tm, name):
    return dict(tm.named_modules())[name]


def _maxpool_prehook(tm):
    # Captum's DeepLift drops the max-pool rule when a hooked ReLU feeds the pool through one shared
    # tensor (its tensor hook sees the gradient first); separating the tensors fixes Captum without
    # changing any number (tools/reference/make_rules_fixtures.py).
    for m in tm.modules():
        if isinstance(m, torch.nn.MaxPool2d):
            m.register_forward_pre_hook(lambda mod, inp: (inp[0] * 1.0,))
    return tm


# (id, model fixture, inputs, class name, constructor args (layers by name), attribute kwargs, tol, delta)
CASES = [
    ("saliency", "cnn", X_CNN, "Saliency", [], dict(target=T2), 1e-4, False),
    ("saliency_signed", "mlp", X_MLP, "Saliency", [], dict(target=T4, abs=False), 1e-4, False),
    ("saliency_vit", "vit", X_RES, "Saliency", [], dict(target=T2), 1e-4, False),
    ("integrated_gradients_vit", "vit", X_RES, "IntegratedGradients", [],
     dict(target=T2, n_steps=8, return_convergence_delta=True), 1e-4, True),
    ("layer_integrated_gradients_vit", "vit", X_RES, "LayerIntegratedGradients", ["encoder.layers.encoder_layer_1"],
     dict(target=T2, n_steps=8), 1e-4, False),
    ("occlusion_vit", "vit", X_RES, "Occlusion", [], dict(target=T2, sliding_window_shapes=(3, 8, 8),
                                                            strides=(3, 8, 8)), 1e-4, False),
    ("input_x_gradient", "cnn", X_CNN, "InputXGradient", [], dict(target=T2), 1e-4, False),
    ("integrated_gradients", "cnn", X_CNN, "IntegratedGradients", [],
     dict(target=T2, n_steps=20, return_convergence_delta=True), 1e-4, True),
    ("integrated_gradients_riemann", "resnet", X_RES, "IntegratedGradients", [],
     dict(target=T2, n_steps=8, method="riemann_trapezoid", baselines=0.1, return_convergence_delta=True), 1e-4,
     True),
    ("integrated_gradients_mlp", "mlp", X_MLP, "IntegratedGradients", [],
     dict(target=T4, baselines=inputs((4, 12), 5, -0.1, 0.1), return_convergence_delta=True), 1e-4, True),
    ("deeplift", "cnn", X_CNN, "DeepLift", [], dict(target=T2, baselines=inputs((2, 1, 28, 28), 6, 0, 0.1),
                                                   return_convergence_delta=True), 1e-4, True),
    ("deeplift_mlp", "mlp", X_MLP, "DeepLift", [], dict(target=T4), 1e-4, False),
    ("deeplift_shap", "mlp", X_MLP, "DeepLiftShap", [], dict(target=T4, baselines=inputs((3, 12), 7, -0.2, 0.2)),
     1e-4, False),
    ("guided_backprop", "cnn", X_CNN, "GuidedBackprop", [], dict(target=T2), 1e-4, False),
    ("deconvolution", "cnn", X_CNN, "Deconvolution", [], dict(target=T2), 1e-4, False),
    ("guided_grad_cam", "cnn", X_CNN, "GuidedGradCam", ["features.6"], dict(target=T2), 1e-4, False),
    ("lrp", "mlp", X_MLP, "LRP", [], dict(target=T4, return_convergence_delta=True), 1e-3, False),
    ("lrp_cnn", "cnn", X_CNN, "LRP", [], dict(target=T2, return_convergence_delta=True), 1e-3, False),
    ("layer_lrp", "mlp", X_MLP, "LayerLRP", ["3"], dict(target=T4), 1e-3, False),
    ("occlusion", "cnn", X_CNN, "Occlusion", [],
     dict(target=T2, sliding_window_shapes=(1, 6, 6), strides=(1, 4, 4), perturbations_per_eval=4), 1e-4, False),
    ("occlusion_mlp", "mlp", X_MLP, "Occlusion", [], dict(target=T4, sliding_window_shapes=(3,), baselines=0.5),
     1e-4, False),
    ("feature_ablation", "mlp", X_MLP, "FeatureAblation", [], dict(target=T4), 1e-4, False),
    ("feature_ablation_mask", "cnn", X_CNN, "FeatureAblation", [],
     dict(target=T2, feature_mask="grid", baselines=0.2), 1e-4, False),
    ("layer_grad_cam", "cnn", X_CNN, "LayerGradCam", ["features.6"], dict(target=T2), 1e-4, False),
    ("layer_grad_cam_relu", "resnet", X_RES, "LayerGradCam", ["layer4"], dict(target=T2, relu_attributions=True),
     1e-4, False),
    ("layer_integrated_gradients", "cnn", X_CNN, "LayerIntegratedGradients", ["features.3"],
     dict(target=T2, n_steps=16, return_convergence_delta=True), 1e-4, True),
    ("layer_conductance", "mlp", X_MLP, "LayerConductance", ["2"], dict(target=T4, n_steps=16), 1e-4, False),
    ("layer_activation", "resnet", X_RES, "LayerActivation", ["layer2"], dict(), 1e-4, False),
    ("layer_gradient_x_activation", "cnn", X_CNN, "LayerGradientXActivation", ["features.4"], dict(target=T2), 1e-4,
     False),
    ("internal_influence", "mlp", X_MLP, "InternalInfluence", ["3"], dict(target=T4, n_steps=16), 1e-4, False),
    ("layer_deeplift", "mlp", X_MLP, "LayerDeepLift", ["2"], dict(target=T4), 1e-4, False),
    ("layer_feature_ablation", "mlp", X_MLP, "LayerFeatureAblation", ["2"], dict(target=T4), 1e-4, False),
    ("layer_feature_ablation_mask", "cnn", X_CNN, "LayerFeatureAblation", ["features.5"],
     dict(target=T2, layer_mask=np.arange(64).reshape(1, 64, 1, 1) // 8), 1e-4, False),
    ("neuron_gradient", "cnn", X_CNN, "NeuronGradient", ["features.4"], dict(neuron_selector=(5, 3, 4)), 1e-4,
     False),
    ("neuron_integrated_gradients", "mlp", X_MLP, "NeuronIntegratedGradients", ["2"],
     dict(neuron_selector=4, n_steps=16), 1e-4, False),
    ("neuron_conductance", "mlp", X_MLP, "NeuronConductance", ["2"],
     dict(neuron_selector=4, target=T4, n_steps=16), 1e-4, False),
    ("neuron_guided_backprop", "cnn", X_CNN, "NeuronGuidedBackprop", ["features.4"],
     dict(neuron_selector=(1, 2, 2)), 1e-4, False),
    ("neuron_deconvolution", "cnn", X_CNN, "NeuronDeconvolution", ["features.4"], dict(neuron_selector=(1, 2, 2)),
     1e-4, False),
    ("neuron_deeplift", "mlp", X_MLP, "NeuronDeepLift", ["2"], dict(neuron_selector=3), 1e-4, False),
    ("neuron_feature_ablation", "mlp", X_MLP, "NeuronFeatureAblation", ["2"], dict(neuron_selector=3), 1e-4, False),
]


def _grid_mask():
    return (np.arange(28)[:, None] // 7 * 4 + np.arange(28)[None, :] // 7).reshape(1, 1, 28, 28).astype(np.int64)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("as_torch", [False, True], ids=["numpy", "torch"])
def test_parity(request, case, as_torch):
    _, fixture, x, cls, ctor, kwargs, tol, delta = case
    tm, bm = request.getfixturevalue(fixture)
    kwargs = dict(kwargs)
    if kwargs.get("feature_mask") == "grid":
        kwargs["feature_mask"] = _grid_mask()
    ref_kwargs = {k: (torch.from_numpy(v) if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}
    if "target" in ref_kwargs and isinstance(ref_kwargs["target"], list):
        ref_kwargs["target"] = torch.tensor(ref_kwargs["target"])
    if cls in ("DeepLift", "LayerDeepLift", "NeuronDeepLift"):
        _maxpool_prehook(tm)
    layers = [_layer(tm, n) for n in ctor]
    if cls in ("LRP", "LayerLRP") and isinstance(tm, torch.nn.Sequential):
        tm = torch.nn.Sequential(*list(tm.children())[1:])  # Captum's LRP has no rule for a leading Flatten
    ref_obj = getattr(ca, cls)(tm, *layers)
    ref = ref_obj.attribute(torch.from_numpy(x.copy()), **ref_kwargs)
    got_in = torch.from_numpy(x) if as_torch else x
    got_kwargs = {k: (torch.from_numpy(v) if as_torch and isinstance(v, np.ndarray) else v)
                  for k, v in kwargs.items()}
    got = getattr(bc, cls)(bm, *ctor).attribute(got_in, **got_kwargs)
    if kwargs.get("return_convergence_delta"):
        (got, got_d), (ref, ref_d) = got, ref
        if delta:
            # Deltas are residuals near 0: compare against the attribution's scale.
            scale = float(ref.detach().abs().sum(dim=tuple(range(1, ref.dim()))).max())
            assert np.abs(np.asarray(got_d) - ref_d.detach().numpy()).max() <= 1e-4 * scale
    assert isinstance(got, torch.Tensor) == as_torch
    assert_close(got, ref, tol, cls)
