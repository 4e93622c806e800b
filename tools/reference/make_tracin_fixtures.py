#!/usr/bin/env python3
"""Writes the TracIn parity fixtures for tests/attribution/influence/test_tracin_parity.cpp:

  tests/data/attribution/tracin_checkpoints/checkpoint-0000000{1,2,3}.safetensors
      three checkpoints of one small CNN, in the format backlight train writes (state_dict under
      PyTorch's names, metadata "lr", "epoch", "step"; models/checkpoints.h), read by Captum here
      through checkpoints_load_func and by backlight through list_checkpoints.
  tests/data/attribution/tracin_parity.safetensors
      training examples (12) and test examples (3) with labels, and Captum 0.8's scores:
        cp_last/influence [3, 12], cp_last/self [12]   TracInCP, layers=["classifier"]
        cp_all/influence, cp_all/self                   TracInCP, layers = both convs + classifier
        fast/influence, fast/self                       TracInCPFast, final_fc_layer=classifier

Network (tests/attribution/perturbation_fixture.h, the one of make_perturbation_fixtures.py):
  features   0 Conv2d(3, 6, 3, padding=1), 1 ReLU, 2 MaxPool2d(2), 3 Conv2d(6, 8, 3, padding=1),
             4 ReLU, 5 AdaptiveAvgPool2d(2)
  classifier Linear(32, 5)            forward: classifier(flatten(features(x), 1))
Loss: CrossEntropyLoss(reduction="sum") with sample_wise_grads_per_batch=True, batch_size 5 (so
batches straddle the 12 examples unevenly). The checkpoints are three points of a short SGD run
(lr 0.1, 0.05, 0.02) on the training examples, so the scores are those of a model being trained.

Run: /usr/bin/python3 tools/reference/make_tracin_fixtures.py   (torch 1.13, captum 0.8)
"""
import os

import torch
from safetensors.numpy import save_file
from safetensors.torch import load_file, save_file as save_torch

from captum.influence import TracInCP, TracInCPFast

SEED = 20261206
HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "tests", "data", "attribution")
CKDIR = os.path.join(DATA, "tracin_checkpoints")
LRS = [0.1, 0.05, 0.02]


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
    model = SmallCNN()
    x = torch.rand(12, 3, 10, 9)
    y = torch.randint(0, 5, (12,))
    xt = torch.rand(3, 3, 10, 9)
    yt = torch.tensor([1, 4, 0])
    os.makedirs(CKDIR, exist_ok=True)
    paths = []
    opt = torch.optim.SGD(model.parameters(), lr=LRS[0])
    for i, lr in enumerate(LRS):
        for g in opt.param_groups:
            g["lr"] = lr
        for _ in range(3):  # three steps between checkpoints
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        path = os.path.join(CKDIR, "checkpoint-%08d.safetensors" % (i + 1))
        save_torch({k: v.detach().contiguous() for k, v in model.state_dict().items()}, path,
                   metadata={"lr": repr(lr), "epoch": str(i + 1), "step": str(i + 1), "arch": "SmallCNN"})
        paths.append(path)

    def load(m, path):
        m.load_state_dict(load_file(path))
        return float(__import__("safetensors").safe_open(path, "pt").metadata()["lr"])

    train = torch.utils.data.TensorDataset(x, y)
    loss = torch.nn.CrossEntropyLoss(reduction="sum")
    out = {"train/inputs": x.numpy(), "train/labels": y.float().numpy(),
           "test/inputs": xt.numpy(), "test/labels": yt.float().numpy()}
    for name, layers in [("cp_last", ["classifier"]),
                         ("cp_all", ["features.0", "features.3", "classifier"])]:
        tracin = TracInCP(model, train, paths, checkpoints_load_func=load, layers=layers, loss_fn=loss,
                          batch_size=5, sample_wise_grads_per_batch=True)
        out[name + "/influence"] = tracin.influence((xt, yt)).detach().numpy()
        out[name + "/self"] = tracin.self_influence().detach().numpy()
    fast = TracInCPFast(model, model.classifier, train, paths, checkpoints_load_func=load, loss_fn=loss,
                        batch_size=5)
    out["fast/influence"] = fast.influence((xt, yt)).detach().numpy()
    out["fast/self"] = fast.self_influence().detach().numpy()
    path = os.path.join(DATA, "tracin_parity.safetensors")
    save_file({k: v.astype("float32") for k, v in out.items()}, path)
    for k, v in out.items():
        print(k, v.shape)
    print("wrote", path, "and", len(paths), "checkpoints")


if __name__ == "__main__":
    main()
