"""Fixtures for TCAV (tests/attribution/concepts/test_tcav_parity.cpp, test_cav.cpp, test_tcav_stats.cpp).

Run with /usr/bin/python3 (captum 0.8, scikit-learn 1.2, scipy):
    /usr/bin/python3 tools/reference/make_tcav_fixtures.py
Writes tests/data/attribution/tcav_parity.safetensors:

  captum/<layer>/<set>/cav, .../sign_count, .../magnitude
        captum.concept.TCAV.interpret on make_rules_fixtures.py's SmallVGG (synthetic weights) with
        a classifier training sklearn LogisticRegression(lbfgs, C=1, on all examples), for the
        experimental sets c_r1 = [concept, random1], c_r2 = [concept, random2], r1_r2 = [random1,
        random2]; cav is the row of the first set member (Captum's weights, raw coefficients)
  logistic/<case>/x, /y, /coef, /intercept   sklearn LogisticRegression(lbfgs, C) on synthetic data
  sgd/x, /y, /coef, /intercept, /n_iter      sklearn SGDClassifier(alpha=0.01, max_iter=1000,
                                             tol=1e-3, shuffle=False) (Captum's settings, no shuffle)
  ttest/<i>/a, /b, /student_p, /welch_p      scipy.stats.ttest_ind (equal_var True / False)
Inputs of the TCAV part are synthetic_uniform tensors the C++ test regenerates (nothing stored).
"""
import os
import sys
import tempfile

import numpy as np
import torch
from safetensors.numpy import save_file
from scipy import stats
from sklearn.linear_model import LogisticRegression, SGDClassifier

sys.path.insert(0, os.path.dirname(__file__))
from make_rules_fixtures import SEED, make  # noqa: E402
from synthetic_weights import synthetic_uniform  # noqa: E402

from captum.concept import TCAV, Concept  # noqa: E402
from captum.concept._utils.classifier import Classifier  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "attribution", "tcav_parity.safetensors")
LAYERS = ["features.9", "features.10"]
TARGET = 3
C = 1.0


class SkLogistic(Classifier):
    """LogisticRegression(lbfgs) on every example, solved tightly (the C++ side solves to convergence)."""

    def __init__(self):
        self.lm = None

    def train_and_eval(self, dataloader, **kwargs):
        xs, ys = zip(*[(x, y) for x, y in dataloader])
        x = torch.cat(xs).double().numpy()
        y = torch.cat(ys).numpy()
        self.lm = LogisticRegression(C=C, solver="lbfgs", max_iter=100000, tol=1e-12).fit(x, y)
        return {"accs": self.lm.score(x, y)}

    def weights(self):
        w = torch.tensor(self.lm.coef_, dtype=torch.float32)
        return torch.stack([-1 * w[0], w[0]])

    def classes(self):
        return self.lm.classes_


def inputs(name, n, lo, hi):
    return torch.from_numpy(synthetic_uniform((n, 3, 32, 32), SEED, name, lo, hi))


def main():
    out = {}
    model = make("small_vgg_bn")
    concept = Concept(0, "concept", [inputs("tcav/concept", 12, -0.2, 1.0)])
    random1 = Concept(1, "random1", [inputs("tcav/random1", 12, -1.0, 0.8)])
    random2 = Concept(2, "random2", [inputs("tcav/random2", 12, -1.0, 0.8)])
    x = inputs("tcav/inputs", 6, -1.0, 1.0)
    sets = {"c_r1": [concept, random1], "c_r2": [concept, random2], "r1_r2": [random1, random2]}
    with tempfile.TemporaryDirectory() as tmp:
        tcav = TCAV(model, LAYERS, classifier=SkLogistic(), save_path=tmp)
        scores = tcav.interpret(x, list(sets.values()), target=TARGET)
        for name, s in sets.items():
            key = "-".join(str(c.id) for c in s)
            for layer in LAYERS:
                stats_ = tcav.cavs[key][layer].stats
                classes = list(stats_["classes"])
                row = classes.index(s[0].id)
                out[f"captum/{layer}/{name}/cav"] = stats_["weights"][row].numpy()
                out[f"captum/{layer}/{name}/sign_count"] = scores[key][layer]["sign_count"][0:1].numpy()
                out[f"captum/{layer}/{name}/magnitude"] = scores[key][layer]["magnitude"][0:1].numpy()

    rng = np.random.default_rng(7)
    for case, (n, p, c) in {"tall": (40, 10, 1.0), "wide": (30, 120, 0.5)}.items():
        xx = rng.normal(size=(n, p)).astype(np.float32)
        yy = np.where(xx[:, 0] + 0.5 * xx[:, 1] + 0.8 * rng.normal(size=n) > 0, 1.0, -1.0)
        lm = LogisticRegression(C=c, solver="lbfgs", max_iter=100000, tol=1e-12).fit(xx.astype(np.float64), yy)
        out[f"logistic/{case}/x"] = xx
        out[f"logistic/{case}/y"] = yy
        out[f"logistic/{case}/c"] = np.array([c])
        out[f"logistic/{case}/coef"] = lm.coef_[0]
        out[f"logistic/{case}/intercept"] = lm.intercept_

    xx = rng.normal(size=(30, 20)).astype(np.float32)
    yy = np.where(xx[:, 2] - xx[:, 3] + 0.3 * rng.normal(size=30) > 0, 1.0, -1.0)
    sgd = SGDClassifier(alpha=0.01, max_iter=1000, tol=1e-3, shuffle=False).fit(xx, yy)
    out["sgd/x"] = xx
    out["sgd/y"] = yy
    out["sgd/coef"] = sgd.coef_[0]
    out["sgd/intercept"] = sgd.intercept_
    out["sgd/n_iter"] = np.array([sgd.n_iter_])

    cases = [(rng.uniform(0.4, 0.9, 10), rng.uniform(0.3, 0.7, 10)),
             (rng.uniform(0.0, 1.0, 5), rng.uniform(0.2, 1.0, 7)),
             (0.5 + 0.01 * rng.normal(size=20), 0.5 + 0.2 * rng.normal(size=20))]
    for i, (a, b) in enumerate(cases):
        out[f"ttest/{i}/a"] = a
        out[f"ttest/{i}/b"] = b
        out[f"ttest/{i}/student_p"] = np.array([stats.ttest_ind(a, b).pvalue])
        out[f"ttest/{i}/welch_p"] = np.array([stats.ttest_ind(a, b, equal_var=False).pvalue])

    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    # float64 keeps sklearn's and scipy's numbers exact; the CAVs and scores are float32 in Captum.
    save_file({k: np.ascontiguousarray(v, dtype=np.float32 if k.startswith("captum") or k.endswith("/x")
                                       else np.float64) for k, v in out.items()}, OUT,
              metadata={"generator": "tools/reference/make_tcav_fixtures.py", "seed": str(SEED)})
    print("wrote", OUT, os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
