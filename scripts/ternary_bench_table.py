#!/usr/bin/env python3
"""Turns ember_bench's ternary_matmul rows (--json lines) into the table and
the verdicts docs/q6-bitnet.md inlines:

    build/bench/bench/ember_bench --threads 1 --filter ternary_matmul --json > results/ember_bench/ternary.jsonl
    scripts/ternary_bench_table.py results/ember_bench/ternary.jsonl results/ember_bench

writes ternary_matmul.md (one row per shape: weight memory, median times,
ratios) and ternary_matmul.json (the ratios, and where the ternary kernel is
faster than each float product).
"""
import json
import pathlib
import sys


def main():
    src, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    rows = [json.loads(line) for line in src.read_text().splitlines() if line.startswith("{")]
    rows = [r for r in rows if r["workload"].startswith("ternary_matmul") and r["threads"] == 1]
    cases = {}
    for r in rows:
        cases.setdefault((r["n"], r["batch"]), {})[r["impl"]] = r
    lines = ["| weight | batch | ternary MB | float32 MB | ternary µs | ember float µs | libtorch float µs "
             "| ternary / ember | ternary / libtorch |",
             "|---|---|---|---|---|---|---|---|---|"]
    summary = {"cases": {}, "ternary_faster_than_ember": [], "ternary_slower_than_ember": [],
               "ternary_faster_than_libtorch": [], "ternary_slower_than_libtorch": []}
    for (n, batch), c in sorted(cases.items()):
        t, e, l = c["ternary"], c["ember"], c.get("libtorch")
        name = f"{n}x{n} b{batch}"
        re = t["median_us"] / e["median_us"]
        rl = t["median_us"] / l["median_us"] if l else float("nan")
        summary["cases"][name] = {"ternary_us": t["median_us"], "ember_us": e["median_us"],
                                  "libtorch_us": l["median_us"] if l else None, "ternary_over_ember": re,
                                  "ternary_over_libtorch": rl if l else None,
                                  "ternary_mb": t["weight_bytes"] / 1e6, "float_mb": e["weight_bytes"] / 1e6,
                                  "memory_ratio": e["weight_bytes"] / t["weight_bytes"]}
        summary["ternary_faster_than_ember" if re < 1 else "ternary_slower_than_ember"].append(name)
        if l:
            summary["ternary_faster_than_libtorch" if rl < 1 else "ternary_slower_than_libtorch"].append(name)
        lines.append(f"| {n}×{n} | {batch} | {t['weight_bytes'] / 1e6:.2f} | {e['weight_bytes'] / 1e6:.1f} "
                     f"| {t['median_us']:.1f} | {e['median_us']:.1f} | {l['median_us']:.1f} | {re:.2f} | {rl:.2f} |"
                     if l else
                     f"| {n}×{n} | {batch} | {t['weight_bytes'] / 1e6:.2f} | {e['weight_bytes'] / 1e6:.1f} "
                     f"| {t['median_us']:.1f} | {e['median_us']:.1f} | - | {re:.2f} | - |")
    for k in list(summary):
        if isinstance(summary[k], list):
            summary[k] = ", ".join(summary[k]) or "none"
    out.mkdir(parents=True, exist_ok=True)
    (out / "ternary_matmul.md").write_text("\n".join(lines) + "\n")
    (out / "ternary_matmul.json").write_text(json.dumps(summary, indent=2) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
