#!/usr/bin/env python3
"""Reads an ember checkpoint (the safetensors format) with nothing but numpy.

    python3 docs/read_checkpoint.py model.safetensors           # names, shapes, a few values
    python3 docs/read_checkpoint.py --values model.safetensors  # every value, one tensor a line

`read_safetensors` is the whole recipe; copy it into your own code.
"""
import json
import struct
import sys

import numpy as np

DTYPES = {"F32": "<f4", "F64": "<f8"}  # little-endian float32 / float64


def read_safetensors(path):
    """Returns ({name: numpy array}, metadata dict), tensors in file order."""
    with open(path, "rb") as f:
        (header_length,) = struct.unpack("<Q", f.read(8))  # u64, little-endian
        header = json.loads(f.read(header_length))
        data = f.read()
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]  # relative to the end of the header
        array = np.frombuffer(data[begin:end], dtype=DTYPES[info["dtype"]])
        tensors[name] = array.reshape(info["shape"])
    return tensors, metadata


def main(argv):
    values = "--values" in argv
    paths = [a for a in argv if a != "--values"]
    if len(paths) != 1:
        sys.exit(__doc__)
    tensors, metadata = read_safetensors(paths[0])
    if not values:
        for key, value in metadata.items():
            print(f"metadata {key} = {value}")
    for name, array in tensors.items():
        shape = json.dumps(list(array.shape))
        if values:
            # repr of a Python float is the shortest text that reads back to
            # the same double, so a float32 or float64 value survives exactly.
            print(name, array.dtype, shape, *(repr(float(v)) for v in array.ravel()), sep="\t")
        else:
            print(f"{name}\t{array.dtype}\t{shape}\t{array.ravel()[:4]}")


if __name__ == "__main__":
    main(sys.argv[1:])
