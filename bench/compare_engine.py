#!/usr/bin/python3
"""backlight bench_engine vs PyTorch on the same 8 workloads, alternating in one run.

    /usr/bin/python3 bench/compare_engine.py --bench build-bench/bench/bench_engine \\
        [--rounds 3] [--repeats 5] [--only resnet18/b1/forward,...] [--out bench/results_engine.md]

Workloads: {vgg16, resnet18} x {b1, b16} x {forward, forward_input_grad}, 3x224x224.
Both sides run the same weights (tools/reference/synthetic_weights.py, seed 2024, identical bit
for bit to the C++ fill) and the same input (synthetic_uniform(seed 2024, "input", -2, 2)).

PyTorch side (REFERENCE.md "Benchmarking fairly"): torchvision vgg16 / resnet18, eval(),
torch.set_num_threads(2), parameters frozen with requires_grad_(False);
  forward            under torch.no_grad()
  forward_input_grad input.requires_grad_(True), out = model(x),
                     torch.autograd.grad(out, x, seed) with seed one-hot on class 0 per row
                     (input gradient only: frozen parameters get no gradient)
and its process runs with OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset and glibc malloc told to
keep freed memory (MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ / MALLOC_TOP_PAD_); the script
re-executes itself with that environment. bench_engine runs as a child process in the caller's
original environment (backlight must reuse its own buffers).

Before timing: PyTorch's batch-1 logits and input gradient are written to --reference-dir and
bench_engine checks its own against them (its run fails if they differ).

Per round and workload: bench_engine --json --only =<workload> (its median over --repeats
calls after one warm-up), then PyTorch (one warm-up, --repeats calls, median). The table gives
the median over rounds of those per-round medians (GFLOP/s from the medians), and the ratio of
the fastest single calls of each side (on a busy machine the medians include waits for a CPU;
the minima show what each side does when it gets both cores). GFLOP/s for both sides uses
bench_engine's count of conv + linear FLOPs (forward, plus the input-gradient products).
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SEED = 2024
WORKLOADS = [f"{m}/b{b}/{k}" for m in ("resnet18", "vgg16") for b in (1, 16)
             for k in ("forward", "forward_input_grad")]
PEER_ENV = {
    "MALLOC_MMAP_THRESHOLD_": "4294967296",
    "MALLOC_TRIM_THRESHOLD_": "68719476736",
    "MALLOC_TOP_PAD_": "268435456",
}
UNSET_FOR_PEER = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def reexec_with_peer_env():
    """Restart this script with the PyTorch-friendly environment; remember the original one."""
    if os.environ.get("BL_COMPARE_PEER_ENV") == "1":
        return json.loads(os.environ["BL_COMPARE_ORIG_ENV"])
    env = dict(os.environ)
    for k in UNSET_FOR_PEER:
        env.pop(k, None)
    env.update(PEER_ENV)
    env["BL_COMPARE_PEER_ENV"] = "1"
    env["BL_COMPARE_ORIG_ENV"] = json.dumps(dict(os.environ))
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    orig_env = reexec_with_peer_env()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bench", default=os.path.join(ROOT, "build-bench", "bench", "bench_engine"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--only", default="", help="comma-separated workload names (default: all 8)")
    ap.add_argument("--reference-dir", default="/tmp/backlight_engine_reference")
    ap.add_argument("--out", default="", help="write the markdown table here (default: stdout only)")
    ap.add_argument("--json-out", default="", help="write all per-round samples here")
    args = ap.parse_args()

    sys.path.insert(0, os.path.join(ROOT, "tools", "reference"))
    import numpy as np
    import torch
    import torchvision
    from synthetic_weights import fill_synthetic, synthetic_uniform

    torch.set_num_threads(2)
    workloads = [w for w in WORKLOADS if not args.only or w in args.only.split(",")]
    models = {}
    for name in sorted({w.split("/")[0] for w in workloads}):
        m = getattr(torchvision.models, name)(weights=None)
        fill_synthetic(m, SEED)
        m.eval()
        for p in m.parameters():
            p.requires_grad_(False)
        models[name] = m

    def inputs(batch):
        x = torch.from_numpy(synthetic_uniform((batch, 3, 224, 224), SEED, "input", -2.0, 2.0))
        seed = torch.zeros(batch, 1000)
        seed[:, 0] = 1.0
        return x, seed

    # Reference outputs at batch 1 for bench_engine's validation.
    os.makedirs(args.reference_dir, exist_ok=True)
    for name, m in models.items():
        x, seed = inputs(1)
        with torch.no_grad():
            m(x).numpy().astype(np.float32).tofile(os.path.join(args.reference_dir, f"{name}_b1_logits.f32"))
        xg = x.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(m(xg), xg, seed)
        g.numpy().astype(np.float32).tofile(os.path.join(args.reference_dir, f"{name}_b1_input_grad.f32"))

    def torch_run(workload):
        name, b, kind = workload.split("/")
        m = models[name]
        x, seed = inputs(int(b[1:]))
        if kind == "forward":
            def call():
                with torch.no_grad():
                    m(x)
        else:
            def call():
                xg = x.detach().requires_grad_(True)
                torch.autograd.grad(m(xg), xg, seed)
        call()  # warm-up
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            call()
            times.append(time.perf_counter() - t0)
        return statistics.median(times), min(times)

    def engine_run(workload):
        cmd = [args.bench, "--json", "--only", "=" + workload, "--reference", args.reference_dir,
               "--repeats", str(args.repeats), "--max-repeats", str(args.repeats), "--min-time", "0"]
        out = subprocess.run(cmd, env=orig_env, capture_output=True, text=True)
        recs = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
        summary = [r for r in recs if r.get("summary")]
        rec = [r for r in recs if r.get("name") == workload and "median_s" in r]
        if out.returncode != 0 or not rec or not summary or summary[0]["checks_failed"]:
            sys.exit(f"compare_engine: bench_engine failed on {workload} (exit {out.returncode}):\n"
                     f"{out.stdout}\n{out.stderr}")
        return rec[0]

    load_start = loadavg()
    samples = {w: {"engine": [], "torch": [], "engine_min": [], "torch_min": [], "gflop": None} for w in workloads}
    for r in range(args.rounds):
        for w in workloads:
            rec = engine_run(w)
            samples[w]["engine"].append(rec["median_s"])
            samples[w]["engine_min"].append(rec["min_s"])
            samples[w]["gflop"] = rec["gflop"]
            t_med, t_min = torch_run(w)
            samples[w]["torch"].append(t_med)
            samples[w]["torch_min"].append(t_min)
            print(f"round {r + 1}/{args.rounds} {w}: backlight {rec['median_s'] * 1e3:.1f} ms, "
                  f"PyTorch {samples[w]['torch'][-1] * 1e3:.1f} ms  (load {loadavg()})", file=sys.stderr, flush=True)
    load_end = loadavg()

    lines = [
        f"Measured {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')} on {platform.node()} "
        f"({os.cpu_count()} cores), torch {torch.__version__}, torchvision {torchvision.__version__}, "
        f"2 threads both sides; load average (1/5/15 min) {load_start} at start, {load_end} at end.",
        f"Command: `{' '.join([os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:])}` "
        f"({args.rounds} rounds x {args.repeats} calls per side and workload, alternating).",
        "PyTorch: eval, parameters frozen (requires_grad_(False)), forward under no_grad, "
        "forward_input_grad = autograd.grad of the logits (seed one-hot class 0) w.r.t. the input only.",
        "",
        "| workload | backlight median (s) | PyTorch median (s) | backlight / PyTorch | backlight GFLOP/s "
        "| PyTorch GFLOP/s | best-of ratio (min / min) |",
        "|---|---|---|---|---|---|---|",
    ]
    for w in workloads:
        s = samples[w]
        e, t = statistics.median(s["engine"]), statistics.median(s["torch"])
        emin, tmin = min(s["engine_min"]), min(s["torch_min"])
        lines.append(f"| {w} | {e:.4f} | {t:.4f} | {e / t:.2f} | {s['gflop'] / e:.0f} | {s['gflop'] / t:.0f} "
                     f"| {emin / tmin:.2f} ({emin:.4f} / {tmin:.4f}) |")
    table = "\n".join(lines)
    print(table)
    if args.out:
        with open(args.out, "w") as f:
            f.write(table + "\n")
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"load_start": load_start, "load_end": load_end, "samples": samples}, f, indent=1)


if __name__ == "__main__":
    main()
