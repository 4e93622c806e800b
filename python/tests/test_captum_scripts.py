"""A Captum user's script with one import swapped: each snippet below is the code of a Captum
tutorial step, run twice - as written (`from captum.attr import ...`, `model` the torch module)
and with the import replaced by `from backlight.captum import ...` and `model =
backlight.from_torch(net, x)` - on torch models built here (the tutorial's CIFAR net, torchvision's
resnet18 at 64 x 64, an nn.Sequential with nn.Flatten). The deterministic methods must agree to
1e-4 x max |ref|; the sampling ones (NoiseTunnel, GradientShap) draw from backlight's generator,
so they are compared by correlation over many samples."""
import textwrap

import numpy as np
import pytest

from conftest import assert_close

torch = pytest.importorskip("torch")
pytest.importorskip("captum.attr")
nn = torch.nn

import backlight  # noqa: E402

pytestmark = pytest.mark.skipif(not backlight._core.has_onnx, reason="this build has no ONNX importer")


class CifarNet(nn.Module):
    """The network of Captum's CIFAR10 tutorial (separate ReLU modules, x.view flattening)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool1 = nn.MaxPool2d(2, 2)
        self.pool2 = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)
        self.relu1, self.relu2, self.relu3, self.relu4 = nn.ReLU(), nn.ReLU(), nn.ReLU(), nn.ReLU()

    def forward(self, x):
        x = self.pool1(self.relu1(self.conv1(x)))
        x = self.pool2(self.relu2(self.conv2(x)))
        x = x.view(-1, 16 * 5 * 5)
        x = self.relu3(self.fc1(x))
        x = self.relu4(self.fc2(x))
        return self.fc3(x)


def _seq_net():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 8, 3, padding=1),
                         nn.ReLU(), nn.Flatten(), nn.Linear(8 * 16 * 16, 32), nn.ReLU(), nn.Linear(32, 10))


def _resnet():
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(11)
    net = torchvision.models.resnet18(num_classes=10)
    g = torch.Generator().manual_seed(11)
    for m in net.modules():  # random BatchNorm statistics: eval mode is not the identity
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean = 0.1 * torch.randn(m.num_features, generator=g)
            m.running_var = 0.5 + torch.rand(m.num_features, generator=g)
    return net.eval()


def _maxpool_prehook(net):
    # Captum's DeepLift drops the max-pool rule when a hooked ReLU feeds the pool through one shared
    # tensor; separating the tensors fixes Captum's reference without changing any number.
    for m in net.modules():
        if isinstance(m, nn.MaxPool2d):
            m.register_forward_pre_hook(lambda mod, inp: (inp[0] * 1.0,))


SNIPPETS = {
    "ig_baseline_delta": """
        from captum.attr import IntegratedGradients
        ig = IntegratedGradients(model)
        baseline = torch.zeros_like(input)
        attributions, delta = ig.attribute(input, baseline, target=label, n_steps=50,
                                           return_convergence_delta=True)
        result = (attributions, delta)
    """,
    "gradcam_interpolate": """
        from captum.attr import LayerGradCam, LayerAttribution
        layer_gc = LayerGradCam(model, net.layer4[1].conv2)
        attr = layer_gc.attribute(input, target=label, relu_attributions=True)
        upsampled = LayerAttribution.interpolate(attr, input.shape[2:], interpolate_mode="bilinear")
        result = (attr, upsampled)
    """,
    "occlusion_windows": """
        from captum.attr import Occlusion
        occlusion = Occlusion(model)
        attributions_occ = occlusion.attribute(input, strides=(3, 4, 4), target=label,
                                               sliding_window_shapes=(3, 8, 8), baselines=0)
        result = (attributions_occ,)
    """,
    "deeplift_sequential": """
        from captum.attr import DeepLift, InputXGradient, LayerConductance
        dl = DeepLift(model)
        attr_dl, delta = dl.attribute(input, baselines=input * 0.1, target=label, return_convergence_delta=True)
        ixg = InputXGradient(model).attribute(input, target=label)
        cond = LayerConductance(model, net[3]).attribute(input, target=label, n_steps=20)
        result = (attr_dl, delta, ixg, cond)
    """,
    "smoothgrad": """
        from captum.attr import NoiseTunnel, Saliency
        saliency = Saliency(model)
        nt = NoiseTunnel(saliency)
        attr_nt = nt.attribute(input, nt_type='smoothgrad', nt_samples=400, stdevs=0.2, target=label)
        result = (attr_nt,)
    """,
    "gradient_shap_distribution": """
        from captum.attr import GradientShap
        gradient_shap = GradientShap(model)
        rand_img_dist = torch.cat([input * 0, input * 1])
        attributions_gs = gradient_shap.attribute(input, n_samples=400, stdevs=0.0001,
                                                  baselines=rand_img_dist, target=label)
        result = (attributions_gs,)
    """,
}

SAMPLED = {"smoothgrad", "gradient_shap_distribution"}

# (snippet, network, input size)
CASES = [
    ("ig_baseline_delta", "cifar", 32),
    ("gradcam_interpolate", "resnet", 64),
    ("occlusion_windows", "cifar", 32),
    ("deeplift_sequential", "sequential", 32),
    ("smoothgrad", "cifar", 32),
    ("gradient_shap_distribution", "sequential", 32),
]


def _run(code, namespace, swap):
    code = textwrap.dedent(code)
    if swap:
        code = code.replace("from captum.attr import", "from backlight.captum import")
    exec(compile(code, "<captum script>", "exec"), namespace)
    classes = [v for v in namespace.values() if isinstance(v, type) and v.__module__.split(".")[0] in
               ("captum", "backlight")]
    assert classes and all(c.__module__.startswith("backlight.captum" if swap else "captum.") for c in classes)
    return namespace["result"]


@pytest.mark.parametrize("name,net_name,size", CASES, ids=[c[0] for c in CASES])
def test_captum_script_with_import_swapped(name, net_name, size):
    torch.manual_seed(5)
    net = {"cifar": CifarNet, "sequential": _seq_net, "resnet": _resnet}[net_name]().eval()
    g = torch.Generator().manual_seed(6)
    inp = torch.rand(2, 3, size, size, generator=g)
    with torch.no_grad():
        label = net(inp).argmax(1)
    if name == "deeplift_sequential":
        _maxpool_prehook(net)
    ref = _run(SNIPPETS[name], {"torch": torch, "model": net, "net": net, "input": inp.clone(), "label": label},
               swap=False)
    model = backlight.from_torch(net, inp[:1])
    got = _run(SNIPPETS[name], {"torch": torch, "model": model, "net": net, "input": inp.clone(), "label": label},
               swap=True)
    assert len(got) == len(ref)
    for i, (g_, r_) in enumerate(zip(got, ref)):
        assert isinstance(g_, torch.Tensor), f"{name}[{i}]: a torch tensor in, a torch tensor out"
        assert tuple(g_.shape) == tuple(r_.shape), f"{name}[{i}]: shape {tuple(g_.shape)} vs {tuple(r_.shape)}"
        if name in SAMPLED:
            a, b = g_.detach().numpy().ravel(), r_.detach().numpy().ravel()
            corr = float(np.corrcoef(a, b)[0, 1])
            print(f"{name}[{i}]: correlation with Captum {corr:.4f}")
            assert corr > 0.98, f"{name}[{i}]: correlation with Captum {corr:.3f}"
        elif r_.dim() == 1:  # convergence deltas: residuals near 0, against the attribution's scale
            scale = float(ref[0].abs().sum(dim=tuple(range(1, ref[0].dim()))).max())
            assert np.abs(g_.numpy() - r_.detach().numpy()).max() <= 1e-4 * scale, f"{name}[{i}] delta"
        else:
            assert_close(g_, r_, 1e-4, f"{name}[{i}]")


def test_resnet18_from_torch_equals_zoo():
    """The same torchvision weights through from_torch (ONNX) and through the zoo's resnet18:
    the same logits and attributions."""
    import backlight.captum as bc
    net = _resnet()
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(8))
    a = backlight.from_torch(net, x[:1])
    b = backlight.zoo("resnet18", weights=net.state_dict())
    with torch.no_grad():
        assert_close(a(x), net(x), 1e-4, "from_torch forward")
    assert_close(a(x), b(x), 1e-5, "from_torch vs zoo forward")
    t = [1, 4]
    assert_close(bc.IntegratedGradients(a).attribute(x, target=t, n_steps=8),
                 bc.IntegratedGradients(b).attribute(x, target=t, n_steps=8), 1e-4, "IG")
    assert_close(bc.LayerGradCam(a, net.layer3).attribute(x, target=t),
                 bc.LayerGradCam(b, "layer3").attribute(x, target=t), 1e-4, "LayerGradCam")
    assert_close(backlight.lrp(a, x, t, backlight.EpsilonPlusFlat()),
                 backlight.lrp(b, x, t, backlight.EpsilonPlusFlat()), 1e-3, "LRP EpsilonPlusFlat")
