#!/usr/bin/env python3
"""The activation rows of one ember_bench --json run, as the Q3 page shows them.

Reads the JSON lines of `ember_bench --json --threads 1 --filter activation`
(bench/main.cpp; one object per measured case) and writes into OUT:

    activations.md    ns per element (median thread CPU time of the
                      repetitions), forward and forward+backward, per size,
                      ember (and libtorch when the run had it), and ember's
                      cost relative to relu at the same size and pass
    activations.json  the same numbers, keyed activation -> pass -> size label,
                      plus each activation's ratio to relu

    scripts/bench_activation_table.py docs/bench/FILE.jsonl --out results/ember_bench

Timings vary from run to run: the JSON lines are a measurement, committed
under docs/bench/ with their date, and the tables are rendered from them;
nothing here is compared by the pages' staleness test.
"""
import argparse
import json
import pathlib
import sys

ACTIVATIONS = ["relu", "leaky_relu", "elu", "gelu", "sigmoid", "tanh", "silu", "softplus"]
SIZES = ["1K", "64K", "1M", "16M"]
PASSES = [("fwd", "forward"), ("fwd_bwd", "forward+backward")]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("jsonl", type=pathlib.Path)
    ap.add_argument("--out", type=pathlib.Path, required=True)
    args = ap.parse_args()
    rows = [json.loads(line) for line in args.jsonl.read_text().splitlines() if line.strip().startswith("{")]
    rows = [r for r in rows if r.get("workload") == "activation" and r.get("threads") == 1]
    if not rows:
        print(f"bench_activation_table: no single-thread activation rows in {args.jsonl}", file=sys.stderr)
        return 1
    ns = {}  # (impl, activation, pass, size) -> ns per element
    # Thread CPU time, not wall time: on a shared machine the wall clock also
    # counts the time other processes held the core.
    for r in rows:
        ns[(r["impl"], r["activation"], r["pass"], r["size_label"])] = r["thread_cpu_us"] * 1e3 / r["size"]
    impls = [i for i in ("ember", "libtorch") if any(k[0] == i for k in ns)]
    acts = [a for a in ACTIVATIONS if ("ember", a, "fwd", "1K") in ns]
    sizes = [s for s in SIZES if ("ember", "relu", "fwd", s) in ns]
    summary = {"source": str(args.jsonl), "sizes": sizes, "impls": impls, "activations": {}}
    md = []
    for pas, title in PASSES:
        md.append(f"**{title}**, ns of thread CPU time per element (ember; × relu at the same size in parentheses)\n")
        md.append("| activation | " + " | ".join(sizes) + " |")
        md.append("|---|" + "---:|" * len(sizes))
        for a in acts:
            cells = []
            for s in sizes:
                v, relu = ns.get(("ember", a, pas, s)), ns.get(("ember", "relu", pas, s))
                entry = summary["activations"].setdefault(a, {}).setdefault(pas, {})
                entry[s] = {"ns_per_element": v, "vs_relu": v / relu if v and relu else None}
                if "libtorch" in impls:
                    entry[s]["libtorch_ns_per_element"] = ns.get(("libtorch", a, pas, s))
                cells.append("–" if v is None else f"{v:.3f} ({v / relu:.1f}×)")
            md.append(f"| {a} | " + " | ".join(cells) + " |")
        md.append("")
    if "libtorch" in impls:
        md.append("**ember / libtorch**, same run (below 1: ember faster)\n")
        md.append("| activation | pass | " + " | ".join(sizes) + " |")
        md.append("|---|---|" + "---:|" * len(sizes))
        for a in acts:
            for pas, title in PASSES:
                cells = []
                for s in sizes:
                    e, t = ns.get(("ember", a, pas, s)), ns.get(("libtorch", a, pas, s))
                    cells.append(f"{e / t:.2f}" if e and t else "–")
                md.append(f"| {a} | {pas} | " + " | ".join(cells) + " |")
        md.append("")
    # Verdicts from the numbers: sigmoid and tanh against relu in cache (the
    # two smallest sizes) and from memory (the largest).
    def ratios(pas, sizes_):
        return [summary["activations"][a][pas][s]["vs_relu"] for a in ("sigmoid", "tanh") if a in acts
                for s in sizes_ if summary["activations"][a][pas][s]["vs_relu"]]
    verdicts = {}
    for pas, title in PASSES:
        cache, memory = ratios(pas, sizes[:2]), ratios(pas, sizes[-1:])
        if cache and memory:
            verdicts[pas] = (f"{title}: sigmoid and tanh cost {min(cache):.1f}–{max(cache):.1f}× relu in cache "
                             f"({' and '.join(sizes[:2])} elements) and {min(memory):.1f}–{max(memory):.1f}× at "
                             f"{sizes[-1]} elements, from memory")
    summary["verdicts"] = verdicts
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "activations.md").write_text("\n".join(md).rstrip("\n") + "\n")
    (args.out / "activations.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"bench_activation_table: wrote {args.out}/activations.md and activations.json from {args.jsonl}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
