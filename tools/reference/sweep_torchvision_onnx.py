#!/usr/bin/env python3
"""Sweeps torchvision classification architectures through tools/export_onnx.py and backlight.

For each architecture (random weights, BatchNorm statistics randomised, small input): export with
tools/export_onnx.py's export() (the same call as `tools/export_onnx.py --arch NAME`), run
`backlight explain --model FILE.onnx --input x.npy --method saliency --json --save sal.npy`, and
compare against torch in float64:
  forward   max |logits_backlight - logits_torch| <= 1e-4 * max |logits_torch|
  saliency  max |sal_backlight - sal_captum| <= 1e-3 * max |sal_captum|  (Captum Saliency, abs) against
            the float64 or the float32 model (near-ties in max pools route float32 and float64
            gradients differently; the row shows both errors and torch's own float32-vs-64 one,
            and says "ok (float32 ties)" when backlight is no further from float64 torch than
            1.5x torch's own float32 result is); otherwise ReLU gates whose float64 input lies
            within 1e-6 x max|input| of zero are flipped one at a time in the float64 model, keeping
            the flips that bring it closer to backlight ("ok (float32 ReLU ties: k gate(s))" when
            that reaches the tolerance, with the gates in the JSON row)
  integrated gradients (--ig-steps > 0)  `--method integrated_gradients --steps S --integration
            gausslegendre --baseline zero` against Captum's IntegratedGradients (same steps, method and
            zero baseline) on the float64 model: max |ig_b - ig_c| <= 1e-3 * max |ig_c|
  lrp       (--lrp) the same architecture exported a second time with every bias, BatchNorm
            running mean, class token and position embedding zeroed (what absorbs relevance by
            design), `--method lrp --json` with the rule set `auto` picks and its stabilisers at
            1e-30 (`--rule-param epsilon=1e-30 --rule-param stabilizer=1e-30`: with the biases gone
            EfficientNet's logits are ~1e-13 and the default 1e-6 would swallow everything): the
            conservation the CLI reports (|sum of input relevance - 1| per item; 2e-3 is what the
            tiny-model tests hold)
BatchNorm layers get random running statistics (mean N(0, 0.1^2), var U(0.5, 1.5)) and random
affine weights (U(0.5, 1.5), N(0, 0.1^2)); every other parameter that is all zero (ViT's head,
biases) is randomised, so the comparison is informative. Inputs: --size / --sizes (H or HxW;
several sizes run each architecture at each), default side_of() and, with --second-size, a
second non-224 size per family (second_size_of(): CNNs 160x192, ViT 192 (built with image_size=192),
Swin 128x160; AlexNet/VGG/MaxViT keep 224 only). Prints one JSON row per architecture (arch, input, status, errors or the first error
line, parameters in millions, load average) and, with --markdown, the table for docs/models.md.
Without --arch: every torchvision classification builder (enumerated from torchvision.models)
except the giant ones (GIANT), at the input side of side_of().

Not run in CI (minutes per architecture, ViT/Swin export hundreds of MB). Usage:
  /usr/bin/python3 tools/reference/sweep_torchvision_onnx.py --backlight build/backlight \\
      [--arch efficientnet_b0 --arch swin_t ...] [--workdir /tmp/bl-sweep] [--markdown]
Needs torch 1.13, torchvision 0.14, captum, numpy.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from export_onnx import IMAGENET_MEAN, IMAGENET_STD, export  # noqa: E402

# Input side per architecture: small where the architecture allows it. The ones pinned to 224
# cannot go smaller in torch 1.13's exporter or in the model: AlexNet's and VGG's
# AdaptiveAvgPool2d(6 / 7) export only when the feature map is a multiple of the output size
# (224 gives exactly 6 / 7), ViT's position embedding is fixed to image_size 224, MaxViT's 7x7
# block and grid partitions need a multiple of 224.
# Swin at 64 pads every stage to whole 7x7 windows (16 -> 21, 8 -> 14) and shifts the first two.
SIDES = {"alexnet": 224, "inception_v3": 96, "googlenet": 64}
PINNED_224 = ("alexnet", "vgg", "vit_", "maxvit")
# Skipped unless named with --arch: above ~110M parameters (export into one protobuf buffer,
# float64 torch and backlight's load take minutes each on 2 shared cores; vit_h_14 needs 518 px),
# and the vgg13-19 variants (vgg11 / vgg11_bn cover the same ops).
GIANT = ("vit_l_16", "vit_l_32", "vit_h_14", "regnet_y_128gf", "regnet_y_32gf", "convnext_large",
         "efficientnet_v2_l", "wide_resnet101_2", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn")
FORWARD_TOL = 1e-4
SALIENCY_TOL = 1e-3


def classification_builders():
    """Every torchvision classification builder (torchvision.models' top level, 0.14)."""
    import inspect
    import torchvision.models as models
    if hasattr(models, "list_models"):  # 0.14 has the registration API; later versions take module=
        try:
            return sorted(models.list_models(module=models))
        except TypeError:
            return sorted(models.list_models())
    names = []
    for name in dir(models):
        f = getattr(models, name)
        if name.startswith("_") or not inspect.isfunction(f) or name.startswith("get_"):
            continue
        params = inspect.signature(f).parameters
        if "weights" in params and "progress" in params:
            names.append(name)
    return sorted(names)


def side_of(arch):
    if arch in SIDES:
        return SIDES[arch]
    return 224 if arch.startswith(PINNED_224) else 64


def second_size_of(arch):
    """A second, non-224 input per family (None: the architecture takes 224 only in torch 1.13's
    exporter or in the model)."""
    if arch.startswith(("alexnet", "vgg", "maxvit")):
        return None
    if arch.startswith("vit_"):
        return (192, 192)  # built with image_size=192: 12x12 patches of 16, 6x6 of 32
    if arch.startswith("swin"):
        return (128, 160)  # 32x40 tokens: every stage padded to whole 7x7 windows
    if arch == "inception_v3":
        return (160, 192)
    return (160, 192)


def parse_size(text):
    parts = [int(v) for v in str(text).lower().split("x")]
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2 or min(parts) <= 0:
        raise SystemExit(f"sweep: size '{text}': expected H or HxW")
    return tuple(parts)


def build_model(arch, size):
    import torchvision
    kwargs = {"weights": None}
    if arch.startswith("vit_") and size != (224, 224):
        if size[0] != size[1]:
            raise ValueError(f"{arch}: ViT takes square inputs (image_size), not {size[0]}x{size[1]}")
        kwargs["image_size"] = size[0]
    return getattr(torchvision.models, arch)(**kwargs).eval()


def randomise_bn(model, gen):
    """Random running statistics and affine parameters for every BatchNorm (eval mode uses them)."""
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            c = m.num_features
            m.running_mean.data = torch.randn(c, generator=gen) * 0.1
            m.running_var.data = torch.rand(c, generator=gen) + 0.5
            if m.affine:
                m.weight.data = torch.rand(c, generator=gen) + 0.5
                m.bias.data = torch.randn(c, generator=gen) * 0.1


def zero_absorbers(model):
    """Zeroes what takes relevance by design under LRP: biases, BatchNorm running means (the folded
    bias is then 0), ViT's class token and position embedding. Returns how many tensors."""
    count = 0
    with torch.no_grad():
        for name, t in list(model.named_parameters()) + list(model.named_buffers()):
            if name.endswith(("bias", "running_mean", "class_token", "pos_embedding")) and t.is_floating_point():
                t.zero_()
                count += 1
    return count


def relu_gate_ties(model, x, target, sal_got, tol, rel_tie=1e-6, max_candidates=64):
    """Float64 saliency with the gates of near-tie ReLUs decided as a float32 forward may decide them.

    A ReLU whose float64 input p satisfies |p| <= rel_tie * max|p| of that call sits within float32
    rounding of zero; backlight's float32 forward may put it on the other side than float64 torch
    (and torch's own float32 run may not), which re-routes the gradient. Candidates are tried in
    order of |p|; a flipped gate is kept when it brings float64 torch closer to `sal_got`. Returns
    (error after the kept flips, flips kept, candidates). nn.ReLU modules only (F.relu calls are not
    hookable)."""
    pre, flips, order = {}, set(), []

    def pre_hook(name):
        def f(mod, inputs):
            k = (name, counts[name])
            counts[name] += 1
            pre[k] = inputs[0].clone()  # before an in-place ReLU overwrites it
            return None
        return f

    def post_hook(name):
        def f(mod, inputs, out):
            k = (name, counts[name] - 1)
            p = pre[k]
            gate = (p > 0).to(p.dtype)
            for (kk, idx) in flips:
                if kk == k:
                    gate.view(-1)[idx] = 1.0 - gate.view(-1)[idx]
            return p * gate  # the ReLU's value (up to the flipped ties) and its gradient
        return f

    hooks = []
    for name, m in model.named_modules():
        if isinstance(m, torch.nn.ReLU):
            hooks += [m.register_forward_pre_hook(pre_hook(name)), m.register_forward_hook(post_hook(name))]

    def saliency():
        nonlocal counts
        counts = {n: 0 for n, m in model.named_modules() if isinstance(m, torch.nn.ReLU)}
        xx = x.clone().requires_grad_(True)
        model(xx)[0, target].backward()
        return xx.grad[0].abs().detach().numpy()

    def err(sal):
        return float(np.abs(sal_got - sal).max() / max(np.abs(sal).max(), 1e-30))

    counts = {}
    try:
        best = err(saliency())
        cands = []
        for k, p in pre.items():
            a = p.abs().view(-1)
            scale = float(a.max())
            for idx in torch.nonzero(a <= rel_tie * scale).view(-1).tolist():
                cands.append((float(a[idx]) / max(scale, 1e-300), k, idx))
        cands.sort()
        cands = cands[:max_candidates]
        for _, k, idx in cands:
            if best <= tol:
                break
            flips.add((k, idx))
            e = err(saliency())
            if e < 0.9 * best:
                best = e
                order.append((k, idx))
            else:
                flips.discard((k, idx))
    finally:
        for h in hooks:
            h.remove()
    return best, order, len(cands)


def randomise_zero_parameters(model, gen):
    """Parameters that are all zero (torchvision zero-initialises ViT's head, many biases, ViT's
    class token) get random values, so logits and saliency are not trivially 0 on both sides."""
    names = []
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.numel() and not bool(p.detach().abs().max() > 0):
                fan_in = p[0].numel() if p.dim() >= 2 else 100
                p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) / fan_in ** 0.5)
                names.append(name)
    return names


def run_backlight(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        return None, lines[-1] if lines else f"exit {r.returncode}"
    return json.loads(r.stdout), None


def rel(got, want):
    return float(np.abs(got - want).max() / max(np.abs(want).max(), 1e-30))


def run_one(arch, size, backlight, workdir, seed, ig_steps=0, lrp=False):
    from captum.attr import IntegratedGradients, Saliency
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    try:
        model = build_model(arch, size)
    except Exception as e:  # noqa: BLE001
        return {"status": "build failed", "detail": f"{type(e).__name__}: {e}".splitlines()[0]}
    mparams = sum(p.numel() for p in model.parameters()) / 1e6
    randomise_bn(model, gen)
    randomised = randomise_zero_parameters(model, gen)
    shape = [1, 3, size[0], size[1]]
    path = os.path.join(workdir, f"{arch}.onnx")
    meta = {"backlight.arch": arch, "backlight.input_shape": "x".join(map(str, shape)),
            "backlight.mean": ",".join(map(str, IMAGENET_MEAN)), "backlight.std": ",".join(map(str, IMAGENET_STD)),
            "backlight.image_size": f"{size[0]}x{size[1]}"}
    t0 = time.time()
    try:
        export(model, shape, "float32", path, meta)
    except Exception as e:  # noqa: BLE001
        return {"status": "export failed", "detail": f"{type(e).__name__}: {e}".splitlines()[0], "mparams": mparams}
    x = torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1
    md = model.double()
    with torch.no_grad():
        logits = md(x)[0]
    target = int(logits.argmax())
    sal = Saliency(md).attribute(x.clone(), target=target, abs=True)[0].detach().numpy()
    # float32 torch as well: a max-pool window whose two largest inputs differ by less than float32
    # rounding can route the gradient differently in float32 and float64 (both are right).
    mf = model.float()
    sal32 = Saliency(mf).attribute(x.float().clone(), target=target, abs=True)[0].detach().double().numpy()
    x_npy = os.path.join(workdir, f"{arch}.x.npy")
    sal_npy = os.path.join(workdir, f"{arch}.sal.npy")
    np.save(x_npy, x.float().numpy())
    cmd = [backlight, "explain", "--model", path, "--input", x_npy, "--method", "saliency", "--target",
           str(target), "--json", "--save", sal_npy, "--out", os.path.join(workdir, f"{arch}.png")]
    r = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.time() - t0
    if r.returncode != 0:
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        return {"status": "backlight failed", "detail": lines[-1] if lines else f"exit {r.returncode}",
                "seconds": seconds, "mparams": mparams, "load": os.getloadavg()[0]}
    out = json.loads(r.stdout)
    got = np.array(out["output"][0] if isinstance(out, dict) else out[0]["output"][0], dtype=np.float64).ravel()
    ref = logits.numpy()
    fwd = float(np.abs(got - ref).max() / max(np.abs(ref).max(), 1e-30))
    sal_got = np.load(sal_npy).astype(np.float64).reshape(sal.shape)
    sal_err = float(np.abs(sal_got - sal).max() / max(np.abs(sal).max(), 1e-30))
    sal32_err = float(np.abs(sal_got - sal32).max() / max(np.abs(sal32).max(), 1e-30))
    torch32_err = float(np.abs(sal32 - sal).max() / max(np.abs(sal).max(), 1e-30))
    ok = fwd <= FORWARD_TOL and min(sal_err, sal32_err) <= SALIENCY_TOL
    # Max-pool near-ties: torch's own float32 saliency is as far from float64 as backlight's.
    ties = fwd <= FORWARD_TOL and not ok and sal_err <= 1.5 * torch32_err
    res = {"status": "ok" if ok else "ok (float32 ties)" if ties else "mismatch", "forward_rel": fwd,
           "saliency_rel": sal_err, "saliency32_rel": sal32_err, "torch32_vs_64": torch32_err}
    if res["status"] == "mismatch" and fwd <= FORWARD_TOL:
        # ReLU gates within float32 rounding of zero that backlight's float32 forward decides the
        # other way (torch's float32 run may decide them as float64 does): float64 torch with those
        # gates flipped is the reference backlight should match.
        gate_err, kept, ncand = relu_gate_ties(model.double(), x, target, sal_got, SALIENCY_TOL)
        res.update({"gate_tie_rel": gate_err, "gate_flips": [f"{k[0]}#{k[1]}[{i}]" for k, i in kept],
                    "gate_candidates": ncand})
        if gate_err <= SALIENCY_TOL:
            res["status"] = f"ok (float32 ReLU ties: {len(kept)} gate(s))"
    base = [backlight, "explain", "--model", path, "--input", x_npy, "--target", str(target), "--json"]
    if ig_steps > 0:
        ig_npy = os.path.join(workdir, f"{arch}.ig.npy")
        out, err = run_backlight(base + ["--method", "integrated_gradients", "--steps", str(ig_steps), "--integration",
                                         "gausslegendre", "--baseline", "zero", "--save", ig_npy, "--out",
                                         os.path.join(workdir, f"{arch}.ig.png")])
        if err:
            res.update({"status": "backlight failed (integrated_gradients)", "detail": err})
        else:
            # model.double() / .float() convert in place: md is float32 again after the saliency check.
            ig = IntegratedGradients(model.double()).attribute(x.clone(), baselines=torch.zeros_like(x), target=target,
                                                   n_steps=ig_steps, method="gausslegendre")[0].detach().numpy()
            ig_got = np.load(ig_npy).astype(np.float64).reshape(ig.shape)
            res["ig_rel"] = rel(ig_got, ig)
            if res["ig_rel"] > SALIENCY_TOL:
                # torch's own float32 run: ReLU and max-pool near-ties at some of the steps (on
                # resnet50 at 160x192 torch float32 is 1e-2 off float64 at 12 of 16 steps).
                xf = x.float()
                ig32 = IntegratedGradients(model.float()).attribute(
                    xf.clone(), baselines=torch.zeros_like(xf), target=target, n_steps=ig_steps,
                    method="gausslegendre")[0].detach().double().numpy()
                res["ig32_rel"] = rel(ig_got, ig32)
                res["ig_torch32_vs_64"] = rel(ig32, ig)
            if res["ig_rel"] > SALIENCY_TOL and res["ig_rel"] <= 1.5 * res["ig_torch32_vs_64"]:
                res["ig_note"] = "float32 ties: torch's float32 IG is as far from float64"
            elif res["ig_rel"] > SALIENCY_TOL and res["ig32_rel"] <= SALIENCY_TOL:
                res["ig_note"] = "matches torch's float32 IG"
            elif res["ig_rel"] > SALIENCY_TOL:
                # A ReLU whose input lies within float32 rounding of zero at one of the steps can
                # open in one evaluation and not in another: the chunked run (all steps in one
                # batch) and a step-at-a-time run (--batch 1) round the convolutions differently.
                # Measured on resnet18 at 64x64: 15 of 16 steps match float64 torch to 1.5e-6
                # per step, one differs in 75% of the pixels (one layer4 gate: its receptive
                # field is the whole image). The step-at-a-time run is reported beside it.
                out1, err1 = run_backlight(base + ["--method", "integrated_gradients", "--steps", str(ig_steps),
                                                   "--integration", "gausslegendre", "--baseline", "zero", "--batch",
                                                   "1", "--save", ig_npy, "--out", os.path.join(workdir, f"{arch}.ig.png")])
                if not err1:
                    res["ig_rel_batch1"] = rel(np.load(ig_npy).astype(np.float64).reshape(ig.shape), ig)
                if res.get("ig_rel_batch1", 1.0) <= SALIENCY_TOL:
                    res["ig_note"] = "float32 ReLU tie at one step of the chunked run; --batch 1 within tolerance"
                elif res["status"].startswith("ok"):
                    res["status"] = "mismatch (integrated_gradients)"
    if lrp:
        zmodel = model.float()
        res["zeroed"] = zero_absorbers(zmodel)
        zpath = os.path.join(workdir, f"{arch}.zero.onnx")
        export(zmodel, shape, "float32", zpath, meta)
        out, err = run_backlight([backlight, "explain", "--model", zpath, "--input", x_npy, "--target", str(target),
                                  "--json", "--method", "lrp", "--rule-param", "epsilon=1e-30", "--rule-param",
                                  "stabilizer=1e-30", "--out", os.path.join(workdir, f"{arch}.lrp.png")])
        if err:
            res.update({"status": "backlight failed (lrp)", "detail": err})
        else:
            rec = out if isinstance(out, dict) else out[0]
            c = rec["methods"][0].get("conservation", {})
            res["lrp_rules"] = c.get("rule_set")
            res["lrp_rel"] = c.get("relative_error")
    res.update({"seconds": time.time() - t0, "mparams": mparams, "randomised": len(randomised),
                "load": os.getloadavg()[0]})
    return res


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--backlight", default=os.path.join(HERE, "..", "..", "build", "backlight"))
    p.add_argument("--arch", action="append", help="architecture (repeatable; default: every classification "
                   "builder but the giant ones)")
    p.add_argument("--size", default="", help="input H or HxW for every --arch (default: per arch)")
    p.add_argument("--sizes", default="", help="comma-separated inputs (H or HxW): each architecture at each")
    p.add_argument("--second-size", action="store_true",
                   help="also run each architecture at its family's second, non-224 size (second_size_of)")
    p.add_argument("--ig-steps", type=int, default=0, help="also compare integrated gradients (Captum, this many "
                   "Gauss-Legendre steps, zero baseline); 0: skip")
    p.add_argument("--lrp", action="store_true", help="also report LRP conservation (absorbers zeroed, rules auto)")
    p.add_argument("--workdir", default="/tmp/bl-sweep")
    p.add_argument("--seed", type=int, default=20261206)
    p.add_argument("--markdown", action="store_true", help="print the docs/models.md table at the end")
    p.add_argument("--keep", action="store_true", help="keep the exported .onnx files")
    args = p.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    archs = args.arch or [a for a in classification_builders() if a not in GIANT]
    rows = []
    for arch in archs:
        if args.sizes:
            sizes = [parse_size(v) for v in args.sizes.split(",")]
        else:
            sizes = [parse_size(args.size) if args.size else (side_of(arch), side_of(arch))]
            if args.second_size and second_size_of(arch) and second_size_of(arch) not in sizes:
                sizes.append(second_size_of(arch))
        for size in sizes:
            res = run_one(arch, size, args.backlight, args.workdir, args.seed, args.ig_steps, args.lrp)
            rows.append((arch, size, res))
            print(json.dumps({"arch": arch, "input": f"{size[0]}x{size[1]}", **res}), flush=True)
        if not args.keep:
            for ext in (".onnx", ".zero.onnx", ".x.npy", ".sal.npy", ".ig.npy", ".png", ".ig.png", ".lrp.png"):
                f = os.path.join(args.workdir, arch + ext)
                if os.path.exists(f):
                    os.remove(f)
    if args.markdown:
        print(f"\n{time.strftime('%Y-%m-%d')}, load average {os.getloadavg()[0]:.1f}\n\n"
              "| architecture | input | result | logits error | saliency error vs float64 (float32) torch | "
              "IG error | LRP conservation (rules) | seconds | load |\n"
              "|---|---|---|---|---|---|---|---|---|")
        for arch, size, r in rows:
            result = r["status"] if "detail" not in r else f"{r['status']}: {r['detail']}"
            fe = f"{r['forward_rel']:.1e}" if "forward_rel" in r else ""
            se = (f"{r['saliency_rel']:.1e} ({r['saliency32_rel']:.1e}; torch float32 vs float64: "
                  f"{r['torch32_vs_64']:.0e})" if "saliency_rel" in r else "")
            ie = f"{r['ig_rel']:.1e}" if "ig_rel" in r else ""
            if "ig32_rel" in r:
                ie += f" ({r['ig32_rel']:.1e}; torch float32 vs float64: {r['ig_torch32_vs_64']:.0e})"
            if "ig_rel_batch1" in r:
                ie += f" (--batch 1: {r['ig_rel_batch1']:.1e})"
            le = f"{r['lrp_rel']:.1e} ({r['lrp_rules']})" if r.get("lrp_rel") is not None else ""
            secs = f"{r['seconds']:.0f}" if "seconds" in r else ""
            load = f"{r['load']:.0f}" if "load" in r else ""
            print(f"| {arch} | {size[0]}x{size[1]} | {result} | {fe} | {se} | {ie} | {le} | {secs} | {load} |")
    return 0 if all(r["status"].startswith("ok") for _, _, r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
