#!/usr/bin/env python3
"""TracInCP and TracInCPFast: backlight (bench/bench_tracin) against Captum 0.8 on the same work,
alternating the two sides in one run (docs: bench/README.md, "Influence: TracIn").

Work: shapes_cnn checkpoints (backlight train --save-every), the last Linear layer
(classifier.0), per-example cross-entropy (Captum: CrossEntropyLoss(reduction="sum"),
sample_wise_grads_per_batch=True for TracInCP), T test examples against every one of N training
images in memory (bench_tracin --export), training batch 64, 2 threads on both sides.

  bench/bench_tracin --export /tmp/tb/data --samples 5000 --tests 8
  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE MALLOC_MMAP_THRESHOLD_=4294967296 \
      MALLOC_TRIM_THRESHOLD_=68719476736 MALLOC_TOP_PAD_=268435456 \
      /usr/bin/python3 bench/compare_tracin.py --bench build/bench/bench_tracin \
      --checkpoints CK --data /tmp/tb/data --tests 1 --rounds 3
The backlight side runs in the default environment (the script strips the malloc and OpenBLAS
variables for its subprocess).
"""
import argparse
import glob
import json
import os
import statistics
import subprocess
import time

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from captum.influence import TracInCP, TracInCPFast


class ShapesCNN(torch.nn.Module):
    """models/default_model.h, PyTorch names."""

    def __init__(self, classes=4):
        super().__init__()
        c = torch.nn
        conv = lambda i, o: c.Conv2d(i, o, 3, padding=1)  # noqa: E731
        self.features = c.Sequential(conv(3, 16), c.ReLU(), c.MaxPool2d(2), conv(16, 32), c.ReLU(), c.MaxPool2d(2),
                                     conv(32, 64), c.ReLU(), c.MaxPool2d(2), conv(64, 64), c.ReLU())
        self.avgpool = c.AdaptiveAvgPool2d(1)
        self.classifier = c.Sequential(c.Linear(64, classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def load(model, path):
    model.load_state_dict(load_file(path))
    return float(safe_open(path, "pt").metadata()["lr"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True)
    ap.add_argument("--checkpoints", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--tests", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--methods", default="tracincp,fast")
    args = ap.parse_args()
    torch.set_num_threads(2)
    paths = sorted(glob.glob(os.path.join(args.checkpoints, "*.safetensors")))
    x = torch.from_numpy(np.load(os.path.join(args.data, "train_x.npy")))
    y = torch.from_numpy(np.load(os.path.join(args.data, "train_y.npy"))).long()
    xt = torch.from_numpy(np.load(os.path.join(args.data, "test_x.npy")))[: args.tests]
    yt = torch.from_numpy(np.load(os.path.join(args.data, "test_y.npy"))).long()[: args.tests]
    train = torch.utils.data.TensorDataset(x, y)
    loss = torch.nn.CrossEntropyLoss(reduction="sum")
    model = ShapesCNN()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("MALLOC_") and k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    env["OMP_NUM_THREADS"] = "2"
    print(f"# {len(paths)} checkpoints, {len(train)} training images, {args.tests} test example(s), "
          f"2 threads, load average {os.getloadavg()}")
    for method in args.methods.split(","):
        ours, theirs, ours_cpu, theirs_cpu = [], [], [], []
        for r in range(args.rounds):
            scores_file = f"/tmp/compare_tracin_{os.getpid()}.npy"
            out = subprocess.run([args.bench, "--checkpoints", args.checkpoints, "--data", args.data, "--method",
                                  method, "--tests", str(args.tests), "--repeats", "1", "--threads", "2", "--save",
                                  scores_file], env=env, check=True, capture_output=True, text=True).stdout
            rec = json.loads(out.strip().splitlines()[-1])
            ours.append(rec["median_s"])
            ours_cpu.append(rec["cpu_s"])
            ref = np.load(scores_file)
            t0, c0 = time.perf_counter(), time.process_time()
            if method == "tracincp":
                tracin = TracInCP(model, train, paths, checkpoints_load_func=load, layers=["classifier.0"],
                                  loss_fn=loss, batch_size=64, sample_wise_grads_per_batch=True)
            else:
                tracin = TracInCPFast(model, model.classifier[0], train, paths, checkpoints_load_func=load,
                                      loss_fn=loss, batch_size=64)
            scores = tracin.influence((xt, yt)).detach().numpy()
            theirs.append(time.perf_counter() - t0)
            theirs_cpu.append(time.process_time() - c0)
            err = np.abs(scores - ref).max() / max(1e-30, np.abs(scores).max())
            print(f"{method} round {r}: backlight {ours[-1]:.3f} s ({ours_cpu[-1]:.1f} s CPU), "
                  f"captum {theirs[-1]:.3f} s ({theirs_cpu[-1]:.1f} s CPU), "
                  f"max rel diff of scores {err:.2e}", flush=True)
            assert err < 1e-3, "the two sides disagree"
        mo, mt = statistics.median(ours), statistics.median(theirs)
        print(f"{method}: median backlight {mo:.3f} s ({mo / args.tests:.3f} s per test example), captum {mt:.3f} s "
              f"({mt / args.tests:.3f} per test example), captum / backlight = {mt / mo:.2f}; CPU seconds: backlight "
              f"{statistics.median(ours_cpu):.1f}, captum {statistics.median(theirs_cpu):.1f}")
    print(f"# load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
