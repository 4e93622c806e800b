"""The Python column of bench/compare.py (`--python`): the C++ rows of bench_methods beside the
same workloads called through the backlight package in this process (issue 17).

Workloads (PY_WORKLOADS): saliency, ig (IG-50, Gauss-Legendre, 10 rows per forward on
3x224x224 as bench_methods), lrp_epsilon_plus_flat, on mnist_cnn (batch 1), resnet18 and vgg16
(batch 1 and 16); vgg16/b16/ig is left out by default (~5.5 min per call per side; --only
selects it). Same work on both sides: the weights are models/synthetic_weights (seed 2024),
loaded into backlight.zoo from the torch twin tools/reference/synthetic_weights.py (bit-identical);
inputs and targets are the .npy files bench_methods --save wrote; LRP runs on a model whose
BatchNorm was folded once (Model.canonized(), as bench_methods folds it once) with canonize=False.
Before timing, the package's attribution is compared with bench_methods' saved one (relative L2
<= 1e-5: the same C++ code runs, only float rounding of a different buffer layout may differ).

Timing: rounds of [C++, Python] (two rounds when both take under 3 s, else one). C++:
bench_methods --json (its own process, warm-up + --repeats calls, median). Python: one warm-up
call, then the same number of calls, median; numpy in and out (no copies), threads = 2 through
backlight.set_num_threads. This process runs with compare.py's peer environment (glibc malloc
keeping freed memory); bench_methods with the caller's, reusing its Workspace between calls -
the package allocates per call (docs/python.md)."""
import os
import statistics
import sys
import time

PY_WORKLOADS = ("saliency", "ig", "lrp_epsilon_plus_flat")
PY_MODELS = [("mnist_cnn", 1), ("resnet18", 1), ("resnet18", 16), ("vgg16", 1), ("vgg16", 16)]
PY_DROPPED = {"vgg16/b16/ig": "~5.5 min per call per side (50 x 6.5 s forward + input gradient)"}


def python_names(only):
    every = [f"{m}/b{b}/{w}" for m, b in PY_MODELS for w in PY_WORKLOADS]
    if only:
        pats = [p for p in only.split(",") if p]
        return [n for n in every if any(n == p[1:] if p.startswith("=") else p in n for p in pats)]
    return [n for n in every if n not in PY_DROPPED]


class PackageModels:
    """backlight.Model per architecture with bench_methods' synthetic weights (one at a time)."""

    def __init__(self, root, seed, threads):
        build_py = os.path.join(root, "build", "python")
        if build_py not in sys.path:
            sys.path.insert(0, build_py)
        sys.path.insert(0, os.path.join(root, "tools", "reference"))
        sys.path.insert(0, os.path.join(root, "tools"))
        import backlight
        self.backlight = backlight
        backlight.set_num_threads(threads)
        self.seed = seed
        self.name, self.model, self.lrp_model = None, None, None

    def get(self, name):
        if self.name != name:
            from convert_torch import build
            from synthetic_weights import fill_synthetic
            tm = build(name)
            fill_synthetic(tm, self.seed)
            self.model = self.backlight.zoo(name, weights=tm.state_dict())
            self.lrp_model = self.model.canonized()
            self.name = name
        return self.model, self.lrp_model

    def call(self, name, w, x, target):
        """A zero-argument callable running workload `w` through the package."""
        from backlight.captum import IntegratedGradients, Saliency
        bl = self.backlight
        model, lrp_model = self.get(name)
        if w == "saliency":
            sal = Saliency(model)
            return lambda: sal.attribute(x, target=target)
        if w == "ig":
            ig = IntegratedGradients(model)
            rows = 10 if x[0].size >= 10000 else None  # bench_methods' ig_rows()
            return lambda: ig.attribute(x, target=target, n_steps=50, method="gausslegendre",
                                        internal_batch_size=rows)
        if w == "lrp_epsilon_plus_flat":
            comp = bl.EpsilonPlusFlat()
            return lambda: bl.lrp(lrp_model, x, target, comp, canonize=False)
        raise ValueError(f"compare_python: no package call for workload {w}")


def run(args, env, backlight_run, loadavg, log, seed, threads, root):
    """Measures every selected row; returns the rows (dicts)."""
    import numpy as np
    import tempfile
    pkg = PackageModels(root, seed, threads)
    save_root = args.save_dir or tempfile.mkdtemp(prefix="bl_compare_py_")
    rows = []
    for name in python_names(args.only):
        model, b, w = name.split("/")
        batch = int(b[1:])
        batch_dir = os.path.join(save_root, f"{model}_b{batch}")
        os.makedirs(batch_dir, exist_ok=True)
        row = {"name": name, "cpp": [], "py": [], "error": None, "rel_l2": None}
        rounds, r = 1, 0
        while r < rounds:
            rec = backlight_run(args, env, name, batch_dir, 25)
            if "error" in rec or "skipped" in rec:
                row["error"] = rec.get("error") or "skipped: " + rec["skipped"]
                break
            row["cpp"].append(rec["median_s"])
            row["gflop"] = rec["gflop"]
            x = np.load(os.path.join(batch_dir, f"{model}_b{batch}_input.npy")).astype(np.float32)
            target = [int(c) for c in np.load(os.path.join(batch_dir, f"{model}_b{batch}_targets.npy"))]
            fn = pkg.call(model, w, x, target)
            out = np.asarray(fn())  # warm-up, and the agreement check
            if r == 0:
                ours = np.load(os.path.join(batch_dir, f"{model}_b{batch}_{w}.npy")).astype(np.float64)
                err = float(np.linalg.norm(out - ours) / max(np.linalg.norm(ours), 1e-30))
                row["rel_l2"] = err
                if not err <= 1e-5:
                    row["error"] = f"package result differs from bench_methods' (rel L2 {err:.1e})"
                    break
            times = []
            for _ in range(args.repeats if rec["median_s"] < 10 else 1):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
            row["py"].append(statistics.median(times))
            if r == 0 and max(rec["median_s"], row["py"][-1]) < 3:
                rounds = 2
            log(f"{name} round {r + 1}/{rounds}: C++ {rec['median_s']:.4f} s, Python {row['py'][-1]:.4f} s "
                f"(load {loadavg()})")
            r += 1
        if row["error"]:
            log(f"{name}: {row['error']}")
        rows.append(row)
    return rows


def render(rows, load_start, load_end, started, node, cpu, cmd, only="", threads=2):
    lines = [
        f"Measured {started.strftime('%Y-%m-%d %H:%M')} on {node} ({os.cpu_count()} cores, {cpu}), {threads} "
        f"thread(s) both columns; load average (1/5/15 min) {load_start} at start, {load_end} at end.",
        f"Command: `/usr/bin/python3 {cmd}`.",
        "",
        "| workload | C++ bench_methods (s) | Python package (s) | Python / C++ | overhead (ms) | rel L2 |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        if row["error"]:
            lines.append(f"| {row['name']} | {row['error']} | | | | |")
            continue
        c, p = statistics.median(row["cpp"]), statistics.median(row["py"])
        lines.append(f"| {row['name']} | {c:.4f} | {p:.4f} | {p / c:.3f} | {(p - c) * 1e3:+.2f} | "
                     f"{row['rel_l2']:.1e} |")
    for name, why in ([] if only else PY_DROPPED.items()):
        lines.append(f"| {name} | left out: {why} | | | | |")
    return "\n".join(lines)
