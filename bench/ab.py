#!/usr/bin/env python3
"""Before/after in one run: interleaves two ember_bench binaries (say, one
built at the previous commit and one at HEAD) round by round, and prints each
workload's median time per binary and the after/before ratio.

    python3 bench/ab.py BEFORE/ember_bench AFTER/ember_bench [--rounds 5] [--metric median_us] [--json-out FILE] -- [ember_bench flags]

Rounds alternate the order (before first, then after first) so that a slow
patch of the shared machine hits both. Each round's figure is ember_bench's
own median over its repetitions; the printed figure is the median over rounds.
--metric thread_cpu_us compares the timing thread's CPU time instead of wall
time: on a machine shared with other jobs it leaves out the time the thread
waited for a core (single-threaded runs only: other threads' CPU is not in it).
"""
import argparse
import json
import statistics
import subprocess
import sys


def case(row):
    """A row's case name: the workload, plus what tells its rows apart (activation or op, pass, size)."""
    return " ".join([row["workload"]] + [str(row[k]) for k in ("activation", "op", "pass", "size_label") if k in row])


def run(binary, flags):
    out = subprocess.run([binary, "--json", *flags], check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def main():
    argv = sys.argv[1:]
    extra = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    p = argparse.ArgumentParser()
    p.add_argument("before")
    p.add_argument("after")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--metric", default="median_us", choices=["median_us", "thread_cpu_us"])
    p.add_argument("--json-out")
    a = p.parse_args(argv)
    times = {}  # (case, impl, threads) -> {"before": [...], "after": [...]}
    raw = []
    for r in range(a.rounds):
        order = [("before", a.before), ("after", a.after)]
        if r % 2:
            order.reverse()
        for label, binary in order:
            for row in run(binary, extra):
                row["build"] = label
                row["round"] = r
                raw.append(row)
                key = (case(row), row["impl"], row["threads"])
                times.setdefault(key, {"before": [], "after": []})[label].append(row[a.metric])
        print(f"round {r + 1}/{a.rounds} done", file=sys.stderr)
    print(f"| workload | impl | threads | before ({a.metric}) | after ({a.metric}) | after / before |")
    print("|---|---|---|---|---|---|")
    for (w, impl, th), t in times.items():
        if not t["before"] or not t["after"]:
            continue
        b, f = statistics.median(t["before"]), statistics.median(t["after"])
        print(f"| {w} | {impl} | {th} | {b:.3f} | {f:.3f} | {f / b:.3f} |")
    # ember / hand in the same binary and round: the framework's cost with the
    # binary's code layout factored out (the hand floor's code is the same in
    # both builds, yet its time moves with the binary).
    ratios = {}
    for row in raw:
        if row["impl"] != "ember":
            continue
        hand = [h for h in raw if h["impl"] == "hand" and case(h) == case(row)
                and h["threads"] == row["threads"] and h["build"] == row["build"] and h["round"] == row["round"]]
        if hand:
            ratios.setdefault((case(row), row["threads"]), {"before": [], "after": []})[row["build"]].append(
                row[a.metric] / hand[0][a.metric])
    if ratios:
        print()
        print("| workload | threads | ember / hand before | ember / hand after | change |")
        print("|---|---|---|---|---|")
        for (w, th), t in ratios.items():
            if t["before"] and t["after"]:
                b, f = statistics.median(t["before"]), statistics.median(t["after"])
                print(f"| {w} | {th} | {b:.3f} | {f:.3f} | {f / b:.3f} |")
    if a.json_out:
        with open(a.json_out, "w") as fh:
            for row in raw:
                fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
