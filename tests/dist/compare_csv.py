#!/usr/bin/env python3
"""Compares the CSV files two trainer runs wrote, column by column, leaving
out the columns that hold CPU or wall-clock time (they differ between any two
runs). Exits 1 at the first difference, naming file, line and column.

    compare_csv.py DIR_A DIR_B FILE.csv ...
"""
import csv
import pathlib
import sys

TIME_COLUMNS = {"seconds", "seconds_to_90", "seconds_to_95", "ms_per_step"}


def rows(path):
    with open(path, newline="") as f:
        r = list(csv.reader(f))
    keep = [i for i, name in enumerate(r[0]) if name not in TIME_COLUMNS]
    return [[row[i] for i in keep] for row in r], [r[0][i] for i in keep]


def main():
    a, b, files = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3:]
    for name in files:
        ra, header = rows(a / name)
        rb, _ = rows(b / name)
        if len(ra) != len(rb):
            print(f"{name}: {len(ra)} lines in {a}, {len(rb)} in {b}")
            return 1
        for n, (x, y) in enumerate(zip(ra, rb), start=1):
            if x != y:
                col = next(i for i in range(len(x)) if x[i] != y[i])
                print(f"{name}: line {n} column {header[col]}: {x[col]!r} in {a} vs {y[col]!r} in {b}")
                return 1
        print(f"{name}: {len(ra) - 1} rows identical ({', '.join(sorted(TIME_COLUMNS & set(open(a / name).readline().strip().split(','))))} left out)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
