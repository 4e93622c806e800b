#!/usr/bin/env python3
"""Exports a PyTorch classification model to ONNX for `backlight explain --model FILE.onnx`.

    tools/export_onnx.py --arch resnet18 --out resnet18.onnx               # torchvision, random init
    tools/export_onnx.py --arch efficientnet_b0 --weights effnet.pt --out effnet.onnx
    tools/export_onnx.py --module mypkg.models:build_net --weights net.pt \\
                         --input-shape 1x12 --out net.onnx                   # any importable factory
    tools/export_onnx.py --module mypkg.text:encoder --input-shape 1x64 --input-dtype int64 --out enc.onnx

It uses torch's own exporter (torch.onnx.export, opset 17) on the model in eval mode with
training=TrainingMode.PRESERVE and do_constant_folding=False: BatchNormalization nodes and the
state-dict names of the weights are kept (layer1.0.bn1.weight), so backlight shows the names you
know and its canonizer merges the BatchNorms itself. The batch axis is dynamic. Default exports
(BatchNorm folded into the convolutions, weights renamed onnx::Conv_193) load as well.

Metadata written into the file (ModelProto.metadata_props, read by backlight):
    backlight.input_shape   e.g. 1x3x224x224        backlight.input_dtype  float32 | int64
    backlight.num_classes   outputs of the model    backlight.arch         --arch or --module
    backlight.mean / .std   per-channel normalisation of images (ImageNet's for --arch)
    backlight.image_size    HxW of image inputs
The metadata is appended as serialized protobuf fields, so the onnx Python package is not needed.

Tried with torch 1.13.0 (CPU) and torchvision 0.14. Exit codes: 0 ok, 2 usage errors, 1 export failures.
"""
import argparse
import importlib
import io
import os
import sys

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


class UsageError(Exception):
    pass


def parse_shape(text):
    try:
        dims = [int(d) for d in text.lower().split("x")]
    except ValueError:
        raise UsageError(f"--input-shape expects dims like 1x3x224x224, got '{text}'")
    if not dims or any(d <= 0 for d in dims):
        raise UsageError(f"--input-shape expects positive dims like 1x3x224x224, got '{text}'")
    return dims


def parse_floats(text, flag):
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise UsageError(f"{flag} expects comma-separated numbers, e.g. 0.485,0.456,0.406; got '{text}'")


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def metadata_bytes(meta):
    """ModelProto.metadata_props (field 14) entries {key: 1, value: 2}, serialized."""
    out = bytearray()
    for k, v in meta.items():
        k, v = str(k).encode(), str(v).encode()
        entry = b"\x0a" + _varint(len(k)) + k + b"\x12" + _varint(len(v)) + v
        out += b"\x72" + _varint(len(entry)) + entry
    return bytes(out)


def build_model(args, torch):
    if bool(args.arch) == bool(args.module):
        raise UsageError("give exactly one of --arch NAME (torchvision) or --module package.module:factory")
    if args.arch:
        import torchvision
        try:
            builder = getattr(torchvision.models, args.arch)
        except AttributeError:
            names = sorted(n for n in dir(torchvision.models) if not n.startswith("_") and n.islower())
            raise UsageError(f"--arch {args.arch}: not a torchvision model ({', '.join(names[:40])}, ...)")
        kwargs = {"weights": None}
        if args.num_classes:
            kwargs["num_classes"] = args.num_classes
        return builder(**kwargs), args.arch
    if ":" not in args.module:
        raise UsageError(f"--module expects package.module:factory, got '{args.module}'")
    mod_name, fn_name = args.module.split(":", 1)
    sys.path.insert(0, os.getcwd())
    try:
        factory = getattr(importlib.import_module(mod_name), fn_name)
    except (ImportError, AttributeError) as e:
        raise UsageError(f"--module {args.module}: {e}")
    return factory(), args.module


def export(model, shape, dtype, out, meta, opset=17, torch=None):
    """Exports `model` (eval mode, PRESERVE, no constant folding) to `out` (path or BytesIO)."""
    import torch as _torch
    torch = torch or _torch
    model = model.eval()
    if dtype == "int64":
        x = torch.zeros(shape, dtype=torch.int64)
    else:
        x = torch.rand(shape)
    buf = io.BytesIO()
    # Not under no_grad: in eval mode without autograd, nn.TransformerEncoderLayer takes its fused
    # fast path (aten::_transformer_encoder_layer_fwd), which has no ONNX export.
    torch.onnx.export(model, (x,), buf, input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, opset_version=opset,
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    with torch.no_grad():
        y = model(x)
    meta = dict(meta)
    meta.setdefault("backlight.num_classes", int(y.shape[-1]))
    data = buf.getvalue() + metadata_bytes(meta)
    if isinstance(out, (str, os.PathLike)):
        with open(out, "wb") as f:
            f.write(data)
    else:
        out.write(data)
    return data


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--arch", help="torchvision classification model (resnet18, efficientnet_b0, convnext_tiny, ...)")
    p.add_argument("--module", help="package.module:factory returning an nn.Module (imported from the cwd)")
    p.add_argument("--weights", help="state dict (.pt) to load strictly")
    p.add_argument("--num-classes", type=int, default=0, help="--arch: number of classes (default: the model's)")
    p.add_argument("--input-shape", default="1x3x224x224", help="full input shape incl. batch (default 1x3x224x224)")
    p.add_argument("--input-dtype", default="float32", choices=["float32", "int64"], help="int64 for token ids")
    p.add_argument("--mean", help="per-channel mean for images (default for --arch: ImageNet's)")
    p.add_argument("--std", help="per-channel std for images (default for --arch: ImageNet's)")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (11..17 with torch 1.13; default 17)")
    p.add_argument("--out", required=True, help="output .onnx file")
    args = p.parse_args(argv)
    try:
        shape = parse_shape(args.input_shape)
        if not 11 <= args.opset <= 18:
            raise UsageError(f"--opset {args.opset}: backlight imports opsets 11 to 18")
        try:
            import torch
        except ImportError as e:
            print(f"export_onnx: needs PyTorch: {e}", file=sys.stderr)
            return 1
        model, name = build_model(args, torch)
        if args.weights:
            if not os.path.isfile(args.weights):
                raise UsageError(f"--weights {args.weights}: no such file")
            state = torch.load(args.weights, map_location="cpu")
            if isinstance(state, dict) and "state_dict" in state:
                state = state["state_dict"]
            model.load_state_dict(state, strict=True)
        meta = {"backlight.arch": name, "backlight.input_shape": "x".join(map(str, shape)),
                "backlight.input_dtype": args.input_dtype, "backlight.exporter": f"torch {torch.__version__}"}
        image = args.input_dtype == "float32" and len(shape) == 4
        if image:
            mean = parse_floats(args.mean, "--mean") if args.mean else (IMAGENET_MEAN if args.arch else None)
            std = parse_floats(args.std, "--std") if args.std else (IMAGENET_STD if args.arch else None)
            if mean:
                meta["backlight.mean"] = ",".join(f"{v:g}" for v in mean)
            if std:
                meta["backlight.std"] = ",".join(f"{v:g}" for v in std)
            meta["backlight.image_size"] = f"{shape[2]}x{shape[3]}"
        export(model, shape, args.input_dtype, args.out, meta, args.opset)
    except UsageError as e:
        print(f"export_onnx: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - the exporter's own errors, reported without a traceback
        print(f"export_onnx: export failed: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes, opset {args.opset}, input {args.input_shape} "
          f"{args.input_dtype})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
