#!/usr/bin/env python3
"""Prints the C++ literals of tests/engine/test_attention.cpp ("parity with
torch.nn.MultiheadAttention"): a tiny nn.MultiheadAttention(4, 2, batch_first=True) with random
(non-zero) biases, an input x [2, 3, 4], the output and the head-averaged attention weights of
mha(x, x, x, need_weights=True).

Run from the repository root (deterministic, seed 0; torch 1.13):
    /usr/bin/python3 tools/reference/print_mha_literals.py
"""
import torch


def lit(name, t, indent="  ", width=110):
    vals = [f"{v:.9g}f" for v in t.detach().reshape(-1).tolist()]
    shape = ", ".join(str(d) for d in t.shape)
    lines, line = [], ""
    for v in vals:
        if line and len(line) + len(v) + 2 > width:
            lines.append(line + ",")
            line = ""
        line = f"{line}, {v}" if line else v
    lines.append(line)
    body = ("\n" + indent * 3 + " ").join(lines)
    return f"{indent}const Tensor {name} = Tensor::from({{{shape}}},\n{indent * 3}{{{body}}});"


def main():
    torch.manual_seed(0)
    mha = torch.nn.MultiheadAttention(4, 2, batch_first=True)
    with torch.no_grad():
        mha.in_proj_bias.uniform_(-0.5, 0.5)
        mha.out_proj.bias.uniform_(-0.5, 0.5)
    x = torch.randn(2, 3, 4)
    out, weights = mha(x, x, x, need_weights=True)
    print(lit("in_proj_weight", mha.in_proj_weight))
    print(lit("in_proj_bias", mha.in_proj_bias))
    print(lit("out_proj_weight", mha.out_proj.weight))
    print(lit("out_proj_bias", mha.out_proj.bias))
    print(lit("x", x))
    print(lit("expected_out", out))
    print(lit("expected_weights", weights))


if __name__ == "__main__":
    main()
