#!/usr/bin/env python3
"""Convert PyTorch / torchvision weights to a backlight .safetensors file.

    convert_torch.py --arch NAME [--state-dict FILE.pt|.pth] [--pretrained] [--num-classes N]
                     [--mlp-sizes 784,256,128] [--seed S] --out FILE.safetensors

Builds the architecture NAME exactly as backlight's model zoo does (torchvision's builders for
alexnet, vgg*, resnet*, mobilenet_v2, vit_b_16; the small mlp, mnist_cnn, lenet5 and vit_tiny are
defined below the same way as in models/small.cpp and models/zoo.cpp), loads the weights into it
(so PyTorch itself checks every key and shape, and upgrades legacy key names such as ViT's old
MLPBlock "linear_1"), and writes its state_dict:

  --state-dict FILE   a state dict saved with torch.save (also accepted: a whole pickled module,
                      a checkpoint dict holding it under "state_dict" or "model", and keys with a
                      DataParallel "module." prefix)
  --pretrained        torchvision's default pretrained weights (downloads them; needs network
                      access or a filled torch hub cache)
  neither             the random initialisation (torch.manual_seed(--seed)), for tests

--num-classes defaults to the number of rows of the state dict's last weight (the classifier), or
the architecture's default. Tensors are written as F32 (integer buffers such as BatchNorm's
num_batches_tracked keep their I64 dtype) in state_dict order, with metadata
{"arch": NAME, "format": "backlight-1", "num_classes": N} plus "mlp_sizes" (mlp) or "image_size"
(ViT), which load_model() in models/zoo.h reads back.

Uses the `safetensors` package when installed, otherwise writes the format itself with numpy.
Needs torch (and torchvision for its architectures). Exit codes: 0 ok, 2 usage or input error.

Example:
    python3 tools/convert_torch.py --arch resnet18 --pretrained --out resnet18.safetensors
    python3 tools/convert_torch.py --arch mnist_cnn --state-dict mnist.pt --out mnist_cnn.safetensors
"""
import argparse
import json
import os
import struct
import sys
from collections import OrderedDict

FORMAT = "backlight-1"

TORCHVISION_ARCHS = ["alexnet", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19",
                     "vgg19_bn", "resnet18", "resnet34", "resnet50", "mobilenet_v2", "vit_b_16"]
SMALL_ARCHS = ["mlp", "mnist_cnn", "lenet5", "vit_tiny"]
ARCHS = SMALL_ARCHS[:3] + TORCHVISION_ARCHS + SMALL_ARCHS[3:]
DEFAULT_CLASSES = {"mlp": 10, "mnist_cnn": 10, "lenet5": 10, "vit_tiny": 10}
DEFAULT_MLP_SIZES = [784, 256, 128]
VIT_TINY = dict(image_size=32, patch_size=8, num_layers=2, num_heads=4, hidden_dim=64, mlp_dim=128)


class ConvertError(Exception):
    """A user-facing error: printed without a traceback, exit code 2."""


def _torch():
    try:
        import torch
    except ImportError as e:
        raise ConvertError(f"convert_torch.py needs PyTorch (pip install torch): {e}")
    return torch


def _torchvision():
    try:
        import torchvision
    except ImportError as e:
        raise ConvertError(f"this architecture needs torchvision (pip install torchvision): {e}")
    return torchvision


# --- the small architectures (same trees as models/small.cpp) --------------------------------------

def mlp(sizes, num_classes):
    nn = _torch().nn
    layers = [nn.Flatten()]
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    layers.append(nn.Linear(sizes[-1], num_classes))
    return nn.Sequential(*layers)


def _feature_classifier(class_name, features, classifier):
    torch = _torch()

    class FeatureClassifier(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.features = features
            self.classifier = classifier

        def forward(self, x):
            return self.classifier(torch.flatten(self.features(x), 1))

    FeatureClassifier.__name__ = class_name
    return FeatureClassifier()


def mnist_cnn(num_classes):
    nn = _torch().nn
    features = []
    cin = 1
    for cout in (32, 64, 128):
        features += [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
        cin = cout
    classifier = nn.Sequential(nn.Linear(128 * 3 * 3, 256), nn.ReLU(), nn.Linear(256, num_classes))
    return _feature_classifier("MnistCNN", nn.Sequential(*features), classifier)


def lenet5(num_classes):
    nn = _torch().nn
    features = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2))
    classifier = nn.Sequential(nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                               nn.Linear(84, num_classes))
    return _feature_classifier("LeNet5", features, classifier)


def vit_tiny(num_classes):
    return _torchvision().models.VisionTransformer(num_classes=num_classes, **VIT_TINY)


def build(arch, num_classes=None, mlp_sizes=None, weights=None):
    """The torch module of `arch` (torchvision names), randomly initialised unless `weights`."""
    if arch not in ARCHS:
        raise ConvertError(f"unknown architecture '{arch}'; known: {', '.join(ARCHS)}")
    nc = num_classes if num_classes is not None else DEFAULT_CLASSES.get(arch, 1000)
    if arch == "mlp":
        return mlp(mlp_sizes or DEFAULT_MLP_SIZES, nc)
    if arch == "mnist_cnn":
        return mnist_cnn(nc)
    if arch == "lenet5":
        return lenet5(nc)
    if arch == "vit_tiny":
        return vit_tiny(nc)
    builder = getattr(_torchvision().models, arch)
    if weights is not None:
        return builder(weights=weights)
    return builder(weights=None, num_classes=nc)


# --- reading state dicts ---------------------------------------------------------------------------

def read_state_dict(path):
    torch = _torch()
    if not os.path.isfile(path):
        raise ConvertError(f"--state-dict {path}: no such file")
    try:
        obj = torch.load(path, map_location="cpu")
    except Exception as e:  # noqa: BLE001 (pickle errors come in many types)
        raise ConvertError(f"--state-dict {path}: cannot read it with torch.load: {e}")
    if isinstance(obj, torch.nn.Module):
        obj = obj.state_dict()
    if isinstance(obj, dict):
        for wrapper in ("state_dict", "model", "model_state_dict"):
            if wrapper in obj and isinstance(obj[wrapper], dict):
                obj = obj[wrapper]
                break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ConvertError(f"--state-dict {path}: expected a dict of tensors (a state_dict), "
                           f"got {type(obj).__name__}")
    if obj and all(k.startswith("module.") for k in obj):
        obj = OrderedDict((k[len("module."):], v) for k, v in obj.items())
    return obj


def infer_num_classes(state_dict):
    """Rows of the last 2-D weight: the classifier of every zoo architecture."""
    for key in reversed(list(state_dict)):
        if key.endswith("weight") and state_dict[key].dim() == 2:
            return int(state_dict[key].shape[0])
    return None


def infer_mlp_sizes(state_dict):
    weights = [v for k, v in state_dict.items() if k.endswith("weight") and v.dim() == 2]
    if not weights:
        return None
    return [int(weights[0].shape[1])] + [int(w.shape[0]) for w in weights[:-1]]


def load_into(model, state_dict, arch, source):
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as e:
        raise ConvertError(f"{source} does not fit architecture '{arch}':\n{e}")


# --- writing safetensors ---------------------------------------------------------------------------

def to_numpy_state(model):
    torch = _torch()
    out = OrderedDict()
    for key, t in model.state_dict().items():
        t = t.detach().cpu().contiguous()
        if t.is_floating_point():
            t = t.to(torch.float32)
        out[key] = t.numpy()
    return out


def _sort_metadata(path):
    """Rewrites the header with sorted metadata keys (same length): the Rust writer emits them in
    hash-map order, so the same weights would give different files on every run."""
    with open(path, "r+b") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n), object_pairs_hook=OrderedDict)
        if "__metadata__" not in header:
            return
        header["__metadata__"] = OrderedDict(sorted(header["__metadata__"].items()))
        text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
        if len(text) <= n:
            f.seek(8)
            f.write(text + b" " * (n - len(text)))


def write_safetensors(path, arrays, metadata):
    """Writes with the safetensors package when present, else with numpy (same format)."""
    try:
        from safetensors.numpy import save_file
    except ImportError:
        save_file = None
    if save_file is not None:
        save_file(dict(arrays), path, metadata=metadata)
        _sort_metadata(path)
        return
    import numpy as np
    dtypes = {np.dtype("float32"): "F32", np.dtype("int64"): "I64", np.dtype("float16"): "F16",
              np.dtype("int32"): "I32", np.dtype("uint8"): "U8", np.dtype("bool"): "BOOL"}
    header = OrderedDict([("__metadata__", OrderedDict(sorted(metadata.items())))])
    offset = 0
    blobs = []
    for key, a in arrays.items():
        if a.dtype not in dtypes:
            raise ConvertError(f"tensor '{key}' has dtype {a.dtype}, which this writer does not support")
        data = np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        header[key] = {"dtype": dtypes[a.dtype], "shape": list(a.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def metadata_for(arch, model, num_classes, mlp_sizes, source):
    torch = _torch()
    meta = {"arch": arch, "format": FORMAT, "num_classes": str(num_classes), "source": source,
            "torch": torch.__version__}
    if arch == "mlp":
        meta["mlp_sizes"] = ",".join(str(s) for s in mlp_sizes)
    if hasattr(model, "image_size") and arch.startswith("vit"):
        meta["image_size"] = str(model.image_size)
    return meta


def convert(args):
    if args.state_dict and args.pretrained:
        raise ConvertError("give either --state-dict or --pretrained, not both")
    if args.arch not in ARCHS:
        raise ConvertError(f"unknown architecture '{args.arch}'; known: {', '.join(ARCHS)}")
    out_dir = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(out_dir):
        raise ConvertError(f"--out {args.out}: directory {out_dir} does not exist")
    mlp_sizes = [int(s) for s in args.mlp_sizes.split(",")] if args.mlp_sizes else None
    torch = _torch()

    if args.pretrained:
        if args.arch in SMALL_ARCHS:
            raise ConvertError(f"'{args.arch}' is backlight's own architecture; it has no pretrained weights "
                               "(train it in PyTorch and pass --state-dict)")
        tv = _torchvision()
        try:
            weights = tv.models.get_model_weights(args.arch).DEFAULT
            model = build(args.arch, weights=weights)
        except Exception as e:  # noqa: BLE001 (network and hub errors vary)
            raise ConvertError(f"cannot get torchvision's pretrained weights for '{args.arch}' "
                               f"(no network access or no cached copy in {torch.hub.get_dir()}?): {e}")
        nc = infer_num_classes(model.state_dict())
        if args.num_classes is not None and args.num_classes != nc:
            raise ConvertError(f"--num-classes {args.num_classes}: the pretrained '{args.arch}' has {nc} classes")
        source = f"torchvision pretrained {weights}"
    elif args.state_dict:
        sd = read_state_dict(args.state_dict)
        nc = args.num_classes if args.num_classes is not None else infer_num_classes(sd)
        if args.arch == "mlp" and mlp_sizes is None:
            mlp_sizes = infer_mlp_sizes(sd)
        model = build(args.arch, nc, mlp_sizes)
        load_into(model, sd, args.arch, f"--state-dict {args.state_dict}")
        source = os.path.basename(args.state_dict)
    else:
        torch.manual_seed(args.seed)
        model = build(args.arch, args.num_classes, mlp_sizes)
        source = f"random init (torch.manual_seed({args.seed}))"
    nc = infer_num_classes(model.state_dict())
    if args.arch == "mlp" and mlp_sizes is None:
        mlp_sizes = DEFAULT_MLP_SIZES
    write_safetensors(args.out, to_numpy_state(model), metadata_for(args.arch, model, nc, mlp_sizes, source))
    n = sum(t.numel() for t in model.state_dict().values())
    print(f"wrote {args.out}: {args.arch}, {len(model.state_dict())} tensors, {n} values, {nc} classes ({source})")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", required=True, help="architecture: " + ", ".join(ARCHS))
    p.add_argument("--state-dict", help="weights saved with torch.save (.pt/.pth)")
    p.add_argument("--pretrained", action="store_true", help="torchvision's default pretrained weights")
    p.add_argument("--num-classes", type=int, help="outputs of the classifier (default: from the weights)")
    p.add_argument("--mlp-sizes", help="mlp only: in_features,hidden,... (default: from the weights, else 784,256,128)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random init when no weights are given")
    p.add_argument("--out", required=True, help="output .safetensors file")
    args = p.parse_args(argv)
    try:
        convert(args)
    except ConvertError as e:
        print(f"convert_torch.py: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
