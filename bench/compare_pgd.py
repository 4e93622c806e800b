#!/usr/bin/python3
"""PGD-20 on resnet18 (3x224x224, batch 1): backlight's `backlight attack --attack pgd` against
Captum 0.8's captum.robust.PGD, alternating in one run.

    /usr/bin/python3 bench/compare_pgd.py [--backlight build/backlight] [--repeats 3] [--threads 2]

Same work on both sides: L-infinity PGD, radius 8/255, step 2/255, 20 steps, random start off,
untargeted, bounds [0, 1], the same input (seeded uniform, saved as .npy for backlight), target
the predicted class, cross-entropy on the logits (Captum's default loss -log p on a model that ends
in softmax). Weights: random on both sides (torchvision's init, backlight's zoo init); the time of a
dense resnet18 forward+backward does not depend on the weight values. Parity of the two PGDs is
tested on a small CNN to 1e-5 (tests/attribution/robustness/test_attack.cpp).

Peer at its best (/work/shared/REFERENCE.md "Benchmarking fairly"): torch.set_num_threads(N),
OMP_NUM_THREADS=N and OMP_WAIT_POLICY=passive (unless set) on both sides, parameters frozen
(requires_grad_(False): no weight gradients); one untimed Captum call first (warm-up).
backlight's time is the "seconds" its --json reports (the attack alone: target resolution + 20
steps, the model built beforehand); Captum's is perf_counter around PGD.perturb. The median of
--repeats runs per side, sides alternating.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--backlight", default=os.path.join(os.path.dirname(__file__), "..", "build", "backlight"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    # Both sides wait passively at OpenMP barriers (the backlight CLI's default, docs/robustness.md
    # "Speed"); torch's libgomp reads the variable when torch is imported, below.
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")
    import numpy as np
    import torch
    import torchvision
    from captum.robust import PGD
    torch.set_num_threads(args.threads)

    eps, step, steps = 8 / 255, 2 / 255, 20
    x = np.random.default_rng(0).uniform(0, 1, size=(1, 3, 224, 224)).astype(np.float32)
    tmp = tempfile.mkdtemp()
    xin = os.path.join(tmp, "x.npy")
    np.save(xin, x)

    net = torchvision.models.resnet18().eval()
    for p in net.parameters():
        p.requires_grad_(False)
    model = torch.nn.Sequential(net, torch.nn.Softmax(dim=1)).eval()
    xt = torch.from_numpy(x)
    with torch.no_grad():
        target = int(net(xt).argmax(1))
    pgd = PGD(model, lower_bound=0, upper_bound=1)

    def run_backlight():
        cmd = [args.backlight, "attack", "--model", "resnet18", "--input", xin, "--attack", "pgd", "--epsilon",
               str(eps), "--step-size", str(step), "--steps", str(steps), "--lower-bound", "0", "--upper-bound", "1",
               "--threads", str(args.threads), "--json"]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        return json.loads(out.stdout)["seconds"]

    def run_captum():
        t0 = time.perf_counter()
        pgd.perturb(xt, radius=eps, step_size=step, step_num=steps, target=target)
        return time.perf_counter() - t0

    run_captum()  # warm-up (allocator, MKL-DNN primitives)
    ours, theirs = [], []
    for _ in range(args.repeats):
        ours.append(run_backlight())
        theirs.append(run_captum())
    load = os.getloadavg()
    b, c = statistics.median(ours), statistics.median(theirs)
    print(f"| PGD-20 resnet18 224 batch 1 | {b:.2f} s | {c:.2f} s | {b / c:.2f} | "
          f"load {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} |")
    print(f"backlight runs {['%.2f' % v for v in ours]}, captum runs {['%.2f' % v for v in theirs]}", file=sys.stderr)


if __name__ == "__main__":
    main()
