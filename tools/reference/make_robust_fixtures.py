#!/usr/bin/env python3
"""Writes tests/data/attribution/robust_parity.safetensors: Captum 0.8 FGSM and PGD (random start
off) on a small CNN, for tests/attribution/robustness/test_attack_parity.cpp.

Network (the one of make_perturbation_fixtures.py, defined in tests/attribution/perturbation_fixture.h;
weights stored under PyTorch's names, with this script's seed):
  features   0 Conv2d(3, 6, 3, padding=1), 1 ReLU, 2 MaxPool2d(2), 3 Conv2d(6, 8, 3, padding=1),
             4 ReLU, 5 AdaptiveAvgPool2d(2)
  classifier Linear(32, 5)            forward: classifier(flatten(features(x), 1))
Captum gets softmax(model(x)) as forward_func with its default loss -log(output)[target], which is
backlight's cross-entropy on the logits. Input [3, 3, 10, 9] in [0, 1], targets [1, 3, 0].

Run: /usr/bin/python3 tools/reference/make_robust_fixtures.py   (torch 1.13, captum 0.8)
"""
import os

import torch
from safetensors.numpy import save_file

from captum.robust import FGSM, PGD, MinParamPerturbation

SEED = 20261206
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "attribution",
                   "robust_parity.safetensors")


class SmallCNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        c = torch.nn
        self.features = c.Sequential(c.Conv2d(3, 6, 3, padding=1), c.ReLU(), c.MaxPool2d(2),
                                     c.Conv2d(6, 8, 3, padding=1), c.ReLU(), c.AdaptiveAvgPool2d(2))
        self.classifier = c.Linear(32, 5)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def main():
    torch.manual_seed(SEED)
    model = SmallCNN().eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(2.0)
    probs = lambda x: torch.softmax(model(x), dim=1)  # noqa: E731
    x = torch.rand(3, 3, 10, 9)
    target = [1, 3, 0]
    out = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    out["input"] = x.numpy()
    with torch.no_grad():
        out["logits"] = model(x).numpy()
    out["target"] = torch.tensor(target, dtype=torch.float32).numpy()

    # FGSM: untargeted unbounded, targeted, bounded in [0, 1].
    out["fgsm/untargeted"] = FGSM(probs).perturb(x, epsilon=0.05, target=target).detach().numpy()
    out["fgsm/targeted"] = FGSM(probs).perturb(x, epsilon=0.05, target=2, targeted=True).detach().numpy()
    out["fgsm/bounded"] = FGSM(probs, lower_bound=0.0, upper_bound=1.0).perturb(
        x, epsilon=0.1, target=target).detach().numpy()
    # PGD: Linf and L2, targeted or not, bounded or not.
    out["pgd/linf"] = PGD(probs).perturb(x, radius=0.1, step_size=0.02, step_num=7, target=target,
                                         norm="Linf").detach().numpy()
    out["pgd/linf_targeted_bounded"] = PGD(probs, lower_bound=0.0, upper_bound=1.0).perturb(
        x, radius=0.08, step_size=0.03, step_num=5, target=4, targeted=True, norm="Linf").detach().numpy()
    out["pgd/l2"] = PGD(probs).perturb(x, radius=0.3, step_size=0.02, step_num=6, target=target,
                                       norm="L2").detach().numpy()
    out["pgd/l2_bounded_targeted"] = PGD(probs, lower_bound=0.1, upper_bound=0.9).perturb(
        x, radius=0.5, step_size=0.05, step_num=4, target=[2, 2, 4], targeted=True, norm="L2").detach().numpy()
    # MinParamPerturbation: the smallest FGSM epsilon on a grid that flips the prediction.
    fgsm = FGSM(probs, lower_bound=0.0, upper_bound=1.0)
    for mode in ("linear", "binary"):
        for item in range(3):
            mp = MinParamPerturbation(probs, fgsm.perturb, "epsilon", arg_min=0.0, arg_max=0.4, arg_step=0.005,
                                      mode=mode)
            xi = x[item:item + 1]
            ti = int(model(xi).argmax(1))
            adv, eps = mp.evaluate(xi, target=ti, attack_kwargs={"target": ti})
            out[f"min_param/{mode}/{item}"] = torch.tensor([-1.0 if eps is None else eps]).numpy()
            print(mode, item, eps)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    save_file({k: v.astype("float32") for k, v in out.items()}, OUT)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
