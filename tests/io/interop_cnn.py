#!/usr/bin/env python3
"""A CNN with BatchNorm2d, read from an ember checkpoint and run in plain numpy.

    python3 tests/io/interop_cnn.py DIR

DIR holds what tests/io/test_interop_cnn.cpp writes (build/release/tests/interop_cnn):
  model.safetensors  save_module of the eval-mode model
                     Conv2d(1,8,3,p1)-BatchNorm2d(8)-ReLU-MaxPool2d(2)-
                     Conv2d(8,16,3,p1,groups 2)-ReLU-AdaptiveAvgPool2d(1)-Flatten-Linear(16,10)
  batch.safetensors  "input" [16, 1, 8, 8] and ember's eval "logits" [16, 10]

Both files are read with read_safetensors of docs/read_checkpoint.py (the recipe
of docs/checkpoints.md). The forward pass runs in float64 from the float32
tensors; it must match ember's logits to 1e-5 (times max(1, max |logit|)).
As negative controls, the same pass with the running variance or the running
mean ignored must miss by more than that, or the check proves nothing.
Exit status 0 when all of this holds, 1 otherwise.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs"))
from read_checkpoint import read_safetensors  # noqa: E402

EPS = 1e-5  # BatchNorm2d's default eps, the one the C++ test uses
TOLERANCE = 1e-5


def conv2d(x, weight, bias, padding, groups):
    """x [N, C, H, W], weight [O, C/groups, kh, kw], stride 1: explicit patches."""
    n, c, h, w = x.shape
    o, cg, kh, kw = weight.shape
    x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    oh, ow = h + 2 * padding - kh + 1, w + 2 * padding - kw + 1
    out = np.zeros((n, o, oh, ow))
    og = o // groups
    for g in range(groups):
        xg = x[:, g * cg:(g + 1) * cg]
        wg = weight[g * og:(g + 1) * og]
        for i in range(oh):
            for j in range(ow):
                patch = xg[:, :, i:i + kh, j:j + kw]  # [N, C/groups, kh, kw]
                out[:, g * og:(g + 1) * og, i, j] = np.einsum("nckl,ockl->no", patch, wg)
    return out + bias[None, :, None, None]


def batchnorm2d_eval(x, weight, bias, mean, var, eps):
    scale = weight / np.sqrt(var + eps)
    return (x - mean[None, :, None, None]) * scale[None, :, None, None] + bias[None, :, None, None]


def maxpool2d(x, k):
    n, c, h, w = x.shape
    return x[:, :, :h // k * k, :w // k * k].reshape(n, c, h // k, k, w // k, k).max(axis=(3, 5))


def forward(t, x, ignore=None):
    f64 = {name: np.asarray(a, dtype=np.float64) for name, a in t.items()}
    mean = np.zeros_like(f64["1.running_mean"]) if ignore == "running_mean" else f64["1.running_mean"]
    var = np.ones_like(f64["1.running_var"]) if ignore == "running_var" else f64["1.running_var"]
    y = conv2d(x, f64["0.weight"], f64["0.bias"], padding=1, groups=1)
    y = batchnorm2d_eval(y, f64["1.weight"], f64["1.bias"], mean, var, EPS)
    y = np.maximum(y, 0)
    y = maxpool2d(y, 2)
    groups = y.shape[1] // f64["4.weight"].shape[1]  # weight [out, in/groups, kh, kw]: 8 / 4 = 2
    y = conv2d(y, f64["4.weight"], f64["4.bias"], padding=1, groups=groups)
    y = np.maximum(y, 0)
    y = y.mean(axis=(2, 3))  # AdaptiveAvgPool2d(1) then Flatten: [N, 16]
    return y @ f64["8.weight"].T + f64["8.bias"]


def main(argv):
    if len(argv) != 1:
        sys.exit(__doc__)
    model, metadata = read_safetensors(os.path.join(argv[0], "model.safetensors"))
    batch, _ = read_safetensors(os.path.join(argv[0], "batch.safetensors"))
    for name in ("1.running_mean", "1.running_var", "1.num_batches_tracked"):
        print(f"{name}\t{model[name].dtype}\t{list(model[name].shape)}\t{model[name].ravel()[:4]}")
    x = np.asarray(batch["input"], dtype=np.float64)
    ember = np.asarray(batch["logits"], dtype=np.float64)
    bound = TOLERANCE * max(1.0, float(np.abs(ember).max()))

    diff = float(np.abs(forward(model, x) - ember).max())
    print(f"max |numpy - ember| = {diff:.3g} over logits {list(ember.shape)} "
          f"(max |logit| {float(np.abs(ember).max()):.3g}, bound {bound:.3g}); "
          f"checkpoint trained {metadata.get('steps', '?')} steps")
    ok = diff <= bound
    for ignored in ("running_var", "running_mean"):
        miss = float(np.abs(forward(model, x, ignore=ignored) - ember).max())
        print(f"negative control, {ignored} ignored: max |numpy - ember| = {miss:.3g}")
        if miss <= bound:
            print(f"FAIL: ignoring {ignored} still matches; the check cannot see it")
            ok = False
    if diff > bound:
        print(f"FAIL: numpy forward differs from ember by {diff:.3g} > {bound:.3g}")
    if ok:
        print("numpy forward matches ember")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
