#!/usr/bin/env python3
"""Writes the reader fixture tests/data/safetensors/python_dtypes.safetensors with the Python
`safetensors` package, so tests/models/test_safetensors.cpp checks our reader against files the
ecosystem really produces.

Contents (every "<name>" tensor has an F32 "expected.<name>" twin holding torch's own
`.float()` conversion of it, the exact values the C++ reader must produce):
  f16_special   F16  hand-picked bit patterns: +-0, 1, -2, max (65504), min normal, subnormals
                     (min, max, middle, negative), +-inf, NaN, values with full mantissas
  bf16_special  BF16 same idea: subnormals, max, +-inf, NaN, -0
  f16_random    F16  [4,5] randn, bf16_random BF16 [3,3] randn
  f64_values    F64  values that round when narrowed (0.1, 1/3, 1e-40 -> float subnormal, 1e300 -> inf)
  f32_matrix    F32  [2,3]; empty F32 [0,3]; i64_scalar I64 rank 0 (as BatchNorm's
                     num_batches_tracked); i32_vector I32; u8_vector U8; bool_vector BOOL
Narrowing references (no "expected." twin): narrow_input F32 (random values over many binades plus
rounding ties and the half overflow/underflow edges), narrow_f16 = narrow_input.half(),
narrow_bf16 = narrow_input.bfloat16(): torch's round-to-nearest-even results our writer must match;
and metadata {"format": "pt", "source": "make_safetensors_fixture.py"}.

Run from the repository root (deterministic, seed 0):
    /usr/bin/python3 tools/reference/make_safetensors_fixture.py
Needs torch and safetensors (pip).
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_engine_fixtures import save  # noqa: E402  (save_file with a reproducible header)

OUT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "safetensors"))


def from_bits(bits, dtype):
    return torch.tensor(bits, dtype=torch.int32).to(torch.int16).view(dtype)


def main():
    torch.manual_seed(0)
    f16_bits = [0x0000, 0x8000, 0x3C00, 0xC000, 0x7BFF, 0x0400, 0x0001, 0x03FF, 0x0200, 0x8001, 0x8155,
                0x7C00, 0xFC00, 0x7E00, 0x3555, 0xB7FF, 0x2E66, 0x5A4D]
    bf16_bits = [0x0000, 0x8000, 0x3F80, 0xC049, 0x7F7F, 0x0080, 0x0001, 0x007F, 0x8040, 0x7F80, 0xFF80,
                 0x7FC0, 0x3DCD, 0x4B18]
    f16_bits = [b - 0x10000 if b >= 0x8000 else b for b in f16_bits]
    bf16_bits = [b - 0x10000 if b >= 0x8000 else b for b in bf16_bits]
    tensors = {
        "f16_special": from_bits(f16_bits, torch.float16),
        "bf16_special": from_bits(bf16_bits, torch.bfloat16),
        "f16_random": torch.randn(4, 5).half(),
        "bf16_random": torch.randn(3, 3).bfloat16(),
        "f64_values": torch.tensor([0.1, 1.0 / 3.0, -2.5, 1e-40, 1e300, -1e300], dtype=torch.float64),
        "f32_matrix": torch.randn(2, 3),
        "f32_empty": torch.zeros(0, 3),
        "i64_scalar": torch.tensor(12345, dtype=torch.int64),
        "i32_vector": torch.tensor([-7, 0, 2**24], dtype=torch.int32),
        "u8_vector": torch.tensor([0, 1, 255], dtype=torch.uint8),
        "bool_vector": torch.tensor([True, False, True]),
    }
    ties = [1 + 2**-11, 1 + 3 * 2**-11, -(1 + 2**-11), 65519.0, 65520.0, 65535.0, 65536.0, 1e6, 2.0**-25,
            2.0**-25 * 1.0001, 1.5 * 2**-24, 2.5 * 2**-24, 2.0**-14 - 2.0**-26, 1e-8, 1e-30, 0.1, -1e-5,
            1 + 2**-8, 1 + 3 * 2**-8, 3.3961776e38, float("inf"), float("-inf"), 0.0, -0.0]
    narrow = torch.cat([torch.tensor(ties, dtype=torch.float32),
                        torch.randn(64) * torch.pow(10.0, torch.randint(-9, 6, (64,)).float())])
    expected = {"expected." + k: v.float().clone() for k, v in tensors.items()}
    expected.update({"narrow_input": narrow, "narrow_f16": narrow.half(), "narrow_bf16": narrow.bfloat16()})
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "python_dtypes.safetensors")
    save({**tensors, **expected}, path, {"format": "pt", "source": "make_safetensors_fixture.py"})
    print(path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
