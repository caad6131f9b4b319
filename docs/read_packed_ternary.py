#!/usr/bin/env python3
"""Reads ember's packed ternary weights (save_packed_ternary) with nothing but numpy.

    python3 docs/read_packed_ternary.py layer.safetensors   # shape, scale, then one row of -1/0/1 a line

`load_packed_ternary` is the whole recipe (layout: docs/q6-bitnet.md); copy it
into your own code. tests/ops/test_ternary.cpp runs this script on a file
ember wrote and compares every code.
"""
import json
import struct
import sys

import numpy as np


def load_packed_ternary(path):
    """Returns (ternary int8 array [out, in] of -1/0/1, scale); the real weight is ternary * scale."""
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])  # header length, u64 little-endian
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]

    def tensor(name, dtype):
        e = header[name]
        begin, end = e["data_offsets"]
        return np.frombuffer(data[begin:end], dtype=dtype).reshape(e["shape"])

    assert header["__metadata__"]["format"] == "ember-ternary-2bit-quarters"
    packed = tensor("packed", np.uint8)  # [out, Q], Q = ceil(in / 4)
    scale = float(tensor("scale", "<f8"))
    n_in = int(header["__metadata__"]["in_features"])
    out, q = packed.shape
    # byte k of a row holds weights k, Q + k, 2Q + k, 3Q + k in bits 0-1, 2-3, 4-5, 6-7
    codes = (packed[:, None, :] >> (2 * np.arange(4))[None, :, None]) & 3  # [out, quarter, k]
    codes = codes.reshape(out, 4 * q)[:, :n_in]  # quarter-major order is weight order j
    ternary = np.select([codes == 1, codes == 2], [1, -1], 0).astype(np.int8)  # 0b01 = +1, 0b10 = -1
    return ternary, scale


if __name__ == "__main__":
    ternary, scale = load_packed_ternary(sys.argv[1])
    print(ternary.shape[0], ternary.shape[1], repr(scale))
    for row in ternary:
        print(" ".join(str(int(v)) for v in row))
