"""backlight.from_torch on the models where Captum's module hooks go wrong: functional ReLUs (no
module to hook), one ReLU module reused (hooks fire twice), in-place ReLUs. backlight records each
ReLU as its own tape node, so it gives the answer Captum gives on the same network written with
one nn.ReLU module per use (the right answer); Captum on the original network differs."""
import numpy as np
import pytest

from conftest import assert_close, inputs

torch = pytest.importorskip("torch")
ca = pytest.importorskip("captum.attr")
F = torch.nn.functional

import backlight  # noqa: E402
import backlight.captum as bc  # noqa: E402

pytestmark = pytest.mark.skipif(not backlight._core.has_onnx, reason="this build has no ONNX importer")


class Tricky(torch.nn.Module):
    """conv -> functional relu -> conv -> shared relu -> pool -> linear -> shared relu (again,
    in place) -> linear."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 4, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(4, 6, 3, padding=1)
        self.shared = torch.nn.ReLU(inplace=True)
        self.pool = torch.nn.MaxPool2d(2)
        self.fc1 = torch.nn.Linear(6 * 4 * 4, 16)
        self.fc2 = torch.nn.Linear(16, 5)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = self.pool(self.shared(self.conv2(x)))
        x = self.shared(self.fc1(x.flatten(1)))
        return self.fc2(x)


class Clean(Tricky):
    """The same function with one non-in-place ReLU module per use (Captum's hooks are right)."""

    def __init__(self):
        super().__init__()
        self.r1, self.r2, self.r3 = torch.nn.ReLU(), torch.nn.ReLU(), torch.nn.ReLU()

    def forward(self, x):
        x = self.r1(self.conv1(x))
        x = self.pool(self.r2(self.conv2(x)))
        x = self.r3(self.fc1(x.flatten(1)))
        return self.fc2(x)


@pytest.fixture(scope="module")
def nets():
    torch.manual_seed(7)
    tricky = Tricky().eval()
    clean = Clean().eval()
    clean.load_state_dict(tricky.state_dict(), strict=False)
    x = torch.from_numpy(inputs((2, 1, 8, 8), 70))
    return tricky, clean, backlight.from_torch(tricky, x[:1]), x


def test_forward_and_layer_names(nets):
    tricky, _, model, x = nets
    with torch.no_grad():
        assert_close(model(x), tricky(x), 1e-4, "forward")
    names = [n for n, _ in model.layers()]
    assert "conv1" in names and "fc2" in names


@pytest.mark.parametrize("cls", ["GuidedBackprop", "Deconvolution", "DeepLift"])
def test_right_answer_where_captum_hooks_fail(nets, cls):
    tricky, clean, model, x = nets
    if cls == "DeepLift":
        # Captum's DeepLift also drops the max-pool rule when a hooked ReLU feeds the pool through one
        # shared tensor; a pre-hook separating them fixes it without changing any number.
        clean = Clean().eval()
        clean.load_state_dict(tricky.state_dict(), strict=False)
        clean.pool.register_forward_pre_hook(lambda mod, inp: (inp[0] * 1.0,))
    right = getattr(ca, cls)(clean).attribute(x.clone(), target=1)
    got = getattr(bc, cls)(model).attribute(x, target=1)
    assert_close(got, right, 1e-4, cls)
    # Captum on the original network: the functional ReLU is not hooked and the shared module's
    # hooks fire for both uses, so it either raises (in-place ReLU with backward hooks) or differs.
    try:
        theirs = getattr(ca, cls)(tricky).attribute(x.clone(), target=1)
    except RuntimeError:
        return
    assert not np.allclose(theirs.detach().numpy(), right.detach().numpy(), rtol=1e-3, atol=1e-6)


def test_layer_given_as_torch_module(nets):
    tricky, clean, model, x = nets
    ref = ca.LayerGradCam(clean, clean.conv2).attribute(x.clone(), target=1)
    got = bc.LayerGradCam(model, tricky.conv2).attribute(x, target=1)
    assert_close(got, ref, 1e-4, "LayerGradCam by module")
