"""Writes the counterfactual fixtures under tests/data/counterfactual/ (checked by
tests/attribution/counterfactual/test_counterfactual.cpp and tests/cli/test_counterfactual_cli.cpp).

  credit_mlp.onnx     a tabular MLP [N, 4] -> Linear 16 -> ReLU -> Linear 16 -> ReLU -> Linear 2 (logits),
                      trained (seeded) on the data below; exported by tools/export_onnx.py's export().
  credit_data.npy     float32 [300, 4], the training data: features uniform in [0, 1] (row 0 all 0,
                      row 1 all 1, so dice-ml's min-max normalisation is the identity); label 1 when
                      x0 + x1 - 0.5 x2 + 0.3 x0 x3 > 0.9. Also the MAD reference data.
  credit_queries.npy  float32 [3, 4], three inputs the model puts in class 0 (desired class: 1).
  credit_names.txt    feature names, one a line.
  dice_reference.json dice-ml 0.12's gradient method (DicePyTorch, method="gradient") on the same model
                      and losses: k = 4, proximity_weight 0.5, diversity_weight 1.0, hinge_loss,
                      dpp_style:inverse_dist, feature weights inverse MAD, no post-hoc sparsity,
                      min_iter 200, max_iter 1000 (dice-ml's 500 / 5000 take minutes per query).
                      Per query: validity (argmax == 1), proximity (mean MAD-weighted L1 to the query),
                      diversity (mean pairwise MAD-weighted L1), the counterfactuals themselves.

dice-ml is given the model with softmax(z)[:, 1] as its output (its gradient method expects the
probability of class 1 and takes logit = log(p / (1 - p)) = z1 - z0, so its hinge max(0, 1 - logit)
is backlight's max(0, kappa - margin) with kappa = 1).

Run from anywhere (deterministic up to dice-ml's float rounding): /usr/bin/python3 tools/reference/make_counterfactual_fixtures.py
"""
import json
import os
import sys

import numpy as np
import pandas as pd
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from export_onnx import export  # noqa: E402

OUT = os.path.normpath(os.path.join(HERE, "..", "..", "tests", "data", "counterfactual"))
NAMES = ["income", "savings", "debt", "tenure"]
MIN_ITER, MAX_ITER = 200, 1000  # dice-ml defaults 500 / 5000 take minutes per query in its Python loops


def make_data(rng):
    x = rng.uniform(0, 1, size=(300, 4)).astype(np.float32)
    x[0, :] = 0
    x[1, :] = 1
    y = (x[:, 0] + x[:, 1] - 0.5 * x[:, 2] + 0.3 * x[:, 0] * x[:, 3] > 0.9).astype(np.int64)
    return x, y


def train(x, y):
    torch.manual_seed(0)
    mlp = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 16), torch.nn.ReLU(),
                              torch.nn.Linear(16, 2))
    opt = torch.optim.Adam(mlp.parameters(), lr=0.01)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(600):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(mlp(xt), yt)
        loss.backward()
        opt.step()
    acc = (mlp(xt).argmax(1) == yt).float().mean().item()
    print(f"train accuracy {acc:.3f}")
    return mlp.eval()


class Prob1(torch.nn.Module):
    """dice-ml's view of the model: the probability of class 1, [N, 1] (or [1] for one row)."""

    def __init__(self, mlp):
        super().__init__()
        self.mlp = mlp

    def forward(self, x):
        one = x.dim() == 1
        p = torch.softmax(self.mlp(x.reshape(-1, 4)), dim=1)[:, 1:2]
        return p.reshape(1) if one else p


def mad_weights(x):
    med = np.median(x, axis=0)
    mad = np.median(np.abs(x - med), axis=0)
    return np.where(mad > 0, 1.0 / mad, 1.0)


def main():
    import dice_ml
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(7)
    x, y = make_data(rng)
    mlp = train(x, y)
    with torch.no_grad():
        p1 = torch.softmax(mlp(torch.from_numpy(x)), 1)[:, 1].numpy()
    near = (p1 > 0.05) & (p1 < 0.4)  # class 0, not far from the boundary
    near[:2] = False
    queries = x[near][:3].copy()
    np.save(os.path.join(OUT, "credit_data.npy"), x)
    np.save(os.path.join(OUT, "credit_queries.npy"), queries.astype(np.float32))
    with open(os.path.join(OUT, "credit_names.txt"), "w") as f:
        f.write("\n".join(NAMES) + "\n")
    export(mlp, [1, 4], "float32", os.path.join(OUT, "credit_mlp.onnx"),
           {"backlight.arch": "credit_mlp", "backlight.input_shape": "1x4"})

    df = pd.DataFrame(x, columns=NAMES)
    df["approved"] = y
    d = dice_ml.Data(dataframe=df, continuous_features=NAMES, outcome_name="approved")
    m = dice_ml.Model(model=Prob1(mlp), backend="PYT")
    exp = dice_ml.Dice(d, m, method="gradient")
    w = mad_weights(x)
    out = {"k": 4, "min_iter": MIN_ITER, "max_iter": MAX_ITER, "learning_rate": 0.05, "proximity_weight": 0.5, "diversity_weight": 1.0, "queries": []}
    for q in queries:
        torch.manual_seed(0)
        np.random.seed(0)
        qdf = pd.DataFrame([q], columns=NAMES)
        try:
            res = exp.generate_counterfactuals(qdf, total_CFs=4, desired_class="opposite", proximity_weight=0.5,
                                               diversity_weight=1.0, posthoc_sparsity_param=None, verbose=False,
                                               min_iter=MIN_ITER, max_iter=MAX_ITER)
            cfs = res.cf_examples_list[0].final_cfs_df[NAMES].to_numpy(dtype=np.float32)
        except Exception as e:  # dice-ml raises when it found none
            print(f"query {q}: dice-ml found none ({type(e).__name__})")
            out["queries"].append({"query": q.tolist(), "validity": 0.0, "found": 0})
            continue
        with torch.no_grad():
            valid = (mlp(torch.from_numpy(cfs)).argmax(1) == 1).numpy()
        prox = float(np.mean([np.sum(np.abs(c - q) * w) for c in cfs]))
        pairs = [np.sum(np.abs(cfs[i] - cfs[j]) * w) for i in range(len(cfs)) for j in range(i + 1, len(cfs))]
        out["queries"].append({"query": q.tolist(), "found": len(cfs), "validity": float(valid.mean()), "proximity": prox,
                               "diversity": float(np.mean(pairs)) if pairs else 0.0,
                               "counterfactuals": cfs.tolist()})
        print(f"query {q}: {len(cfs)} found, validity {valid.mean():.2f} proximity {prox:.3f} diversity {out['queries'][-1]['diversity']:.3f}")
    with open(os.path.join(OUT, "dice_reference.json"), "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
