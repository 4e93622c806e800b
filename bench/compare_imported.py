"""Imported-model rows of bench/compare.py (`compare.py --imported`): torchvision models exported
to ONNX by tools/export_onnx.py and explained by `backlight explain --model FILE.onnx`, against
Captum 0.8 / Zennit 0.5.1 on the same torch module, batch 1 at 224x224, alternating in one run.

Models: efficientnet_b0, convnext_tiny, mobilenet_v3_large, densenet121 (random init,
torch.manual_seed(0)). Workloads: saliency (abs), integrated gradients (50 steps,
Gauss-Legendre, zero baseline), LRP (the rule set backlight's `auto` picks; on the peer side
Zennit's composite of the same name - EpsilonGammaBox(-3, 3) or EpsilonPlusFlat - with
SequentialMergeBatchNorm; Zennit has no gate rule for SiLU/SE products, so the LRP rows compare
time, not maps). Same input (.npy) and the same target (backlight's top-1) on both sides.
backlight: one `explain` process per method and round, the method's own "seconds" from --json
(load excluded); the first round warms nothing up, so the median of `rounds` rounds is reported.
Peer: torch.set_num_threads(2); IG's internal_batch_size swept over IG_BATCHES (one call each),
the best timed. Agreement: relative L2 of backlight's --save output against Captum's.
An architecture that does not import is a row marked pending with the importer's message; a peer
that fails says so beside backlight's own time (Zennit's SequentialMergeBatchNorm cannot merge
DenseNet's BatchNorms, which follow a concatenation, not a conv).
"""
import json
import os
import subprocess
import tempfile
import time

ARCHS = ["efficientnet_b0", "convnext_tiny", "mobilenet_v3_large", "densenet121"]
IG_BATCHES = [10, 25, 50]
METHODS = [("saliency", "saliency"), ("ig", "integrated_gradients"), ("lrp", "lrp")]


def rel_l2(np, a, b):
    return float(np.linalg.norm(a.ravel() - b.ravel()) / max(1e-30, np.linalg.norm(b.ravel())))


def backlight_call(cli, onnx, x_path, method, target, save, env):
    cmd = [cli, "explain", "--model", onnx, "--input", x_path, "--method", method, "--target", str(target),
           "--json", "--out", save + ".png", "--save", save + ".npy"]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise RuntimeError(p.stderr.strip().splitlines()[-1] if p.stderr.strip() else f"exit {p.returncode}")
    j = json.loads(p.stdout)
    m = j["methods"][0]
    return m["seconds"], m.get("conservation", {}).get("rule_set")


def run(root, cli, env, rounds, log, loadavg, workloads=("saliency", "ig", "lrp"), models=()):
    import numpy as np
    import torch
    import torchvision
    import sys
    sys.path.insert(0, os.path.join(root, "tools"))
    from export_onnx import export
    from captum.attr import IntegratedGradients, Saliency
    torch.set_num_threads(2)
    rows = []
    tmp = tempfile.mkdtemp(prefix="bl_imported_")
    unknown = [m for m in models if m not in ARCHS]
    if unknown:
        raise SystemExit(f"compare_imported: unknown model(s) {unknown}; expected some of {ARCHS}")
    for arch in [a for a in ARCHS if not models or a in models]:
        torch.manual_seed(0)
        model = getattr(torchvision.models, arch)(weights=None).eval()
        for p in model.parameters():
            p.requires_grad_(False)
        for mod in model.modules():
            if isinstance(mod, torch.nn.ReLU):
                mod.inplace = False
        onnx = os.path.join(tmp, arch + ".onnx")
        export(model, [1, 3, 224, 224], "float32", onnx, {"backlight.arch": arch})
        x = torch.rand(1, 3, 224, 224) * 4 - 2
        x_path = os.path.join(tmp, arch + "_x.npy")
        np.save(x_path, x.numpy())
        target = int(model(x).argmax())
        log(f"{arch}: exported, target {target}, load {loadavg()}")
        for key, method in METHODS:
            if key not in workloads:
                continue
            row = {"model": arch, "workload": key}
            save = os.path.join(tmp, f"{arch}_{key}")
            ours, peer = [], []
            try:
                if key == "saliency":
                    sal = Saliency(model)
                    fn = lambda: sal.attribute(x, target=target, abs=True)
                elif key == "ig":
                    ig = IntegratedGradients(model)
                    best = None
                    for b in IG_BATCHES:
                        t0 = time.perf_counter()
                        ig.attribute(x, baselines=torch.zeros_like(x), target=target, n_steps=50,
                                     method="gausslegendre", internal_batch_size=b)
                        t = time.perf_counter() - t0
                        if best is None or t < best[0]:
                            best = (t, b)
                    row["peer_knob"] = best[1]
                    fn = lambda: ig.attribute(x, baselines=torch.zeros_like(x), target=target, n_steps=50,
                                              method="gausslegendre", internal_batch_size=best[1])
                else:
                    fn = None
                for _ in range(rounds):
                    s, rule_set = backlight_call(cli, onnx, x_path, method, target, save, env)
                    ours.append(s)
                    if "peer_failed" in row:
                        continue  # backlight's rounds still run: its time is reported alone
                    t0 = time.perf_counter()
                    try:
                        if key == "lrp" and fn is None:
                            row["rule_set"] = rule_set
                            fn = zennit_lrp(torch, model, rule_set, target, x)
                            t0 = time.perf_counter()
                        ref = fn()
                    except RuntimeError as e:  # the peer's failure, not an import failure
                        row["peer_failed"] = f"peer failed ({'Zennit' if key == 'lrp' else 'Captum'}): {e}"
                        continue
                    peer.append(time.perf_counter() - t0)
                row["backlight_s"] = float(np.median(ours))
                if "peer_failed" not in row:
                    if key != "lrp":
                        row["agreement"] = rel_l2(np, np.load(save + ".npy").reshape(-1),
                                                  ref.detach().numpy().reshape(-1))
                    row["peer_s"] = float(np.median(peer))
                    row["speedup"] = row["peer_s"] / row["backlight_s"]
            except RuntimeError as e:
                row["pending"] = str(e)
            row["load"] = loadavg()
            log(f"  {arch}/{key}: {row}")
            rows.append(row)
    return rows


def zennit_lrp(torch, model, rule_set, target, x):
    from zennit.attribution import Gradient
    from zennit.canonizers import SequentialMergeBatchNorm
    from zennit.composites import EpsilonGammaBox, EpsilonPlusFlat
    canon = [SequentialMergeBatchNorm()]
    comp = (EpsilonPlusFlat(canonizers=canon) if rule_set == "lrp_epsilon_plus_flat"
            else EpsilonGammaBox(low=-3.0, high=3.0, canonizers=canon))
    attributor = Gradient(model=model, composite=comp)
    attributor.__enter__()
    one_hot = torch.eye(1000)[[target]]
    return lambda: attributor(x, one_hot)[1]


def render(rows, load_start, load_end):
    out = [f"Imported models (ONNX, random init), batch 1, 224x224; load average {load_start} at the start, "
           f"{load_end} at the end.", "",
           "| model | workload | backlight s | Captum/Zennit s | peer / backlight | agreement | note |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        if "pending" in r:
            out.append(f"| {r['model']} | {r['workload']} | - | - | - | - | pending: {r['pending']} |")
            continue
        agree = f"{r['agreement']:.1e}" if "agreement" in r else "-"
        note = r.get("rule_set", "") + (f" internal_batch_size={r['peer_knob']}" if "peer_knob" in r else "")
        if "peer_failed" in r:
            out.append(f"| {r['model']} | {r['workload']} | {r['backlight_s']:.3f} | - | - | - | {note} "
                       f"{r['peer_failed']} load {r['load']} |")
            continue
        out.append(f"| {r['model']} | {r['workload']} | {r['backlight_s']:.3f} | {r['peer_s']:.3f} | "
                   f"{r['speedup']:.2f}x | {agree} | {note} load {r['load']} |")
    return "\n".join(out) + "\n"
