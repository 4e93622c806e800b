#!/usr/bin/env python3
"""Cost of the Python binding per call: the same attribution called through the package
(backlight.captum / backlight.attribute, numpy in and out) and repeated inside C++ in the same
process (backlight._core._bench_attribute: no Python in the loop). overhead = python - C++.

    build/python-venv/bin/python bench/python_overhead.py [--repeats 200] [--threads 2] [--rounds 5]

Prints one line per workload: model, batch, method, C++ us/call, Python us/call, overhead us,
ratio. Run it on a quiet machine and write the load average (printed first) beside the figures.
"""
import argparse
import os
import time

import numpy as np

import backlight
from backlight import _core
from backlight.captum import IntegratedGradients, Saliency

WORKLOADS = [
    ("mlp", [12, 16, 8], (1, 12), "saliency", {}),
    ("mnist_cnn", None, (1, 1, 28, 28), "saliency", {}),
    ("mnist_cnn", None, (16, 1, 28, 28), "saliency", {}),
    ("mnist_cnn", None, (1, 1, 28, 28), "integrated_gradients", {"steps": 50}),
    ("mnist_cnn", None, (1, 1, 28, 28), "lrp", {}),
]


def timed(fn, repeats):
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=200)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    backlight.set_num_threads(args.threads)
    print(f"load average: {' '.join(f'{v:.2f}' for v in os.getloadavg())}; threads {backlight.get_num_threads()}")
    print(f"{'model':10} {'batch':>5} {'method':22} {'C++ us':>10} {'Python us':>10} {'overhead us':>12} {'ratio':>6}")
    for arch, sizes, shape, method, opts in WORKLOADS:
        m = backlight.zoo(arch, num_classes=3 if arch == "mlp" else 0, mlp_sizes=sizes, seed=1)
        x = np.random.default_rng(0).uniform(0, 1, shape).astype(np.float32)
        target = [1] * shape[0]
        reps = max(5, args.repeats if np.prod(shape) < 10000 and method != "integrated_gradients" else 20)
        if method == "saliency":
            sal = Saliency(m)
            call = lambda: sal.attribute(x, target=target)  # noqa: E731
        elif method == "integrated_gradients":
            ig = IntegratedGradients(m)
            call = lambda: ig.attribute(x, target=target, n_steps=opts["steps"])  # noqa: E731
        else:
            call = lambda: backlight.attribute(m, method, x, target, **opts)  # noqa: E731
        # Alternating rounds, best of each side (a busy machine only ever adds time).
        cpp = py = float("inf")
        for _ in range(args.rounds):
            cpp = min(cpp, _core._bench_attribute(m._core, method, x, target, opts, reps))
            py = min(py, timed(call, reps))
        print(f"{arch:10} {shape[0]:5d} {method:22} {cpp * 1e6:10.1f} {py * 1e6:10.1f} {(py - cpp) * 1e6:12.1f} "
              f"{py / cpp:6.3f}")


if __name__ == "__main__":
    main()
