"""TCAV side by side: backlight's `tcav` command against captum.concept.TCAV on the same work.

    /usr/bin/python3 bench/compare_tcav.py [--build build] [--threads 2] [--classifier sgd|logistic]
                                           [--side both|backlight|captum]

Work (issue 18): shapes_cnn with the embedded weights (models/weights/shapes_cnn.safetensors, loaded
into the PyTorch twin below), 200 inputs x 3 layers (features.5, features.8, features.9) x 5 concepts
x 10 runs: 5 concept sets and 10 random sets of 50 images each (seeded uniform noise as .npy stacks,
the content does not change the work), 10 runs per concept (concept vs random i) plus the 10
random-vs-random CAVs per layer, so 180 CAVs; scores of 200 inputs for class 0; Student t-tests.
Both sides read the same .npy files and use 2 threads (torch.set_num_threads, OMP_NUM_THREADS).
Captum: its DefaultClassifier (sklearn SGDClassifier, alpha 0.01, 33 % test split) for `sgd`, or a
Classifier wrapping sklearn LogisticRegression(lbfgs, C=1) with the same split for `logistic`;
Captum keeps activations in its save_path (a temporary folder), as it does by design.
Prints one line per side: seconds (wall), and the load average before the run.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from safetensors.torch import load_file
from scipy import stats

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
LAYERS = ["features.5", "features.8", "features.9"]
N_CONCEPTS, N_RANDOM, SET, INPUTS = 5, 10, 50, 200


class ShapesCNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        c = torch.nn
        self.features = c.Sequential(c.Conv2d(3, 16, 3, padding=1), c.ReLU(), c.MaxPool2d(2),
                                     c.Conv2d(16, 32, 3, padding=1), c.ReLU(), c.MaxPool2d(2),
                                     c.Conv2d(32, 64, 3, padding=1), c.ReLU(), c.MaxPool2d(2),
                                     c.Conv2d(64, 64, 3, padding=1), c.ReLU())
        self.avgpool = c.AdaptiveAvgPool2d(1)
        self.classifier = c.Sequential(c.Linear(64, 4))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def write_data(root):
    rng = np.random.default_rng(0)
    dirs = {}
    for name, n in [(f"concept{i}", SET) for i in range(N_CONCEPTS)] + [(f"random{i}", SET) for i in range(N_RANDOM)] + [
            ("inputs", INPUTS)]:
        d = os.path.join(root, name)
        os.makedirs(d)
        np.save(os.path.join(d, "x.npy"), rng.uniform(0, 1, size=(n, 3, 64, 64)).astype(np.float32))
        dirs[name] = d
    return dirs


def run_captum(dirs, classifier_name, threads):
    from captum.concept import TCAV, Concept
    from captum.concept._utils.classifier import Classifier, DefaultClassifier, _train_test_split
    from sklearn.linear_model import LogisticRegression

    class Logistic(Classifier):
        def __init__(self):
            self.lm = None

        def train_and_eval(self, dataloader, **kwargs):
            xs, ys = zip(*[(x, y) for x, y in dataloader])
            x_tr, x_te, y_tr, y_te = _train_test_split(torch.cat(xs), torch.cat(ys), 0.33)
            self.lm = LogisticRegression(C=1.0, solver="lbfgs", max_iter=1000).fit(x_tr.numpy(), y_tr.numpy())
            return {"accs": self.lm.score(x_te.numpy(), y_te.numpy())}

        def weights(self):
            w = torch.tensor(self.lm.coef_, dtype=torch.float32)
            return torch.stack([-1 * w[0], w[0]])

        def classes(self):
            return self.lm.classes_

    torch.set_num_threads(threads)
    model = ShapesCNN()
    model.load_state_dict(load_file(os.path.join(ROOT, "models", "weights", "shapes_cnn.safetensors")))
    model.eval()

    def loader(d):  # batches of 32 read from the stack, as the C++ side streams them
        x = np.load(os.path.join(d, "x.npy"), mmap_mode="r")
        return [torch.from_numpy(np.array(x[i:i + 32])) for i in range(0, x.shape[0], 32)]

    t0 = time.perf_counter()
    concepts = [Concept(i, f"concept{i}", loader(dirs[f"concept{i}"])) for i in range(N_CONCEPTS)]
    randoms = [Concept(N_CONCEPTS + i, f"random{i}", loader(dirs[f"random{i}"])) for i in range(N_RANDOM)]
    sets = [[c, randoms[i]] for c in concepts for i in range(N_RANDOM)]
    sets += [[randoms[(i + 1) % N_RANDOM], randoms[i]] for i in range(N_RANDOM)]
    inputs = torch.from_numpy(np.load(os.path.join(dirs["inputs"], "x.npy")))
    with tempfile.TemporaryDirectory() as tmp:
        clf = DefaultClassifier() if classifier_name == "sgd" else Logistic()
        tcav = TCAV(model, LAYERS, classifier=clf, save_path=tmp)
        scores = tcav.interpret(inputs, sets, target=0)
    for layer in LAYERS:  # the significance test (the tutorial's scipy ttest_ind)
        rnd = [scores["-".join(str(c.id) for c in s)][layer]["sign_count"][0].item() for s in sets[-N_RANDOM:]]
        for c in range(N_CONCEPTS):
            con = [scores["-".join(str(x.id) for x in s)][layer]["sign_count"][0].item()
                   for s in sets[c * N_RANDOM:(c + 1) * N_RANDOM]]
            stats.ttest_ind(con, rnd)
    return time.perf_counter() - t0


def run_backlight(dirs, build, classifier_name, threads):
    cmd = [os.path.join(build, "backlight"), "tcav", "--layers", ",".join(LAYERS), "--target", "0", "--runs",
           str(N_RANDOM), "--classifier", classifier_name, "--inputs", dirs["inputs"], "--json", "--out",
           os.path.join(os.path.dirname(dirs["inputs"]), "tcav.png")]
    for i in range(N_CONCEPTS):
        cmd += ["--concept", f"concept{i}={dirs[f'concept{i}']}"]
    for i in range(N_RANDOM):
        cmd += ["--random", dirs[f"random{i}"]]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--classifier", default="sgd", choices=["sgd", "logistic"])
    ap.add_argument("--side", default="both", choices=["both", "backlight", "captum"])
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as root:
        dirs = write_data(root)
        for side in ("backlight", "captum") if a.side == "both" else (a.side,):
            load = os.getloadavg()
            t = run_backlight(dirs, a.build, a.classifier, a.threads) if side == "backlight" else run_captum(
                dirs, a.classifier, a.threads)
            print(f"{side:10s} classifier={a.classifier:8s} threads={a.threads} {t:8.2f} s  "
                  f"({INPUTS} inputs x {len(LAYERS)} layers x {N_CONCEPTS} concepts x {N_RANDOM} runs; "
                  f"load before {load[0]:.2f} {load[1]:.2f} {load[2]:.2f})", flush=True)


if __name__ == "__main__":
    sys.exit(main())
