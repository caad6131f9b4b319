#!/usr/bin/env python3
"""Turns `ember_bench --json` output into the markdown tables of
docs/performance.md and, with gnuplot, a plot of the ratios.

    ember_bench --json > results.jsonl
    python3 bench/report.py results.jsonl [--plot docs/performance.svg]
"""
import json
import shutil
import subprocess
import sys
from collections import OrderedDict

GOALS = {  # ember/libtorch, ember/hand (issue 7)
    "tiny_mlp": (0.05, 2.0), "deep_sigmoid_mlp": (0.2, 1.3),
    "mnist_mlp": (0.5, 1.15), "large_mlp": (1.0, 1.05),
}


def fmt_us(us):
    if us >= 1e4:
        return f"{us / 1e3:.1f} ms"
    if us >= 100:
        return f"{us:.0f} µs"
    return f"{us:.2f} µs"


def ratio(a, b):
    return a / b if a is not None and b else None


def fmt_ratio(r, goal=None):
    if r is None:
        return "–"
    s = f"{r:.3f}" if r < 10 else f"{r:.1f}"
    if goal is not None:
        s += " ✓" if r <= goal else " ✗"
    return s


def main():
    args = sys.argv[1:]
    plot = None
    if "--plot" in args:
        i = args.index("--plot")
        plot = args[i + 1]
        del args[i:i + 2]
    rows = [json.loads(line) for line in open(args[0]) if line.strip().startswith("{")]

    mlp = OrderedDict()
    chain = OrderedDict()
    act = OrderedDict()
    other = OrderedDict()  # single-op workloads (layer_norm, ...): no training step, no allocation count
    for r in rows:
        if r["workload"] == "deep_chain":
            chain.setdefault(r["threads"], {})[r["impl"]] = r
        elif r["workload"] == "activation":
            act.setdefault((r["activation"], r["size_label"], r["threads"]), {}).setdefault(r["pass"], {})[r["impl"]] = r
        elif "allocs_per_step" not in r:
            other.setdefault((r["workload"], r["threads"]), {})[r["impl"]] = r
        else:
            mlp.setdefault((r["workload"], r["threads"]), {})[r["impl"]] = r

    print("### Training step (forward, loss, backward, SGD update), median per step\n")
    print("| workload | threads | hand | ember | libtorch | ember / libtorch (goal) | ember / hand (goal) | CPU-time ratios e/t, e/h | allocations per step: hand / ember / libtorch |")
    print("|---|---|---|---|---|---|---|---|---|")
    plot_rows = []
    for (w, t), impls in mlp.items():
        med = {k: v["median_us"] for k, v in impls.items()}
        g = GOALS.get(w, (None, None))
        rt, rh = ratio(med.get("ember"), med.get("libtorch")), ratio(med.get("ember"), med.get("hand"))
        cpu = {k: v.get("thread_cpu_us") for k, v in impls.items()}
        ct, ch = ratio(cpu.get("ember"), cpu.get("libtorch")), ratio(cpu.get("ember"), cpu.get("hand"))
        allocs = " / ".join(f"{impls[k]['allocs_per_step']:.0f}" if k in impls else "–" for k in ("hand", "ember", "libtorch"))
        print(f"| {w} | {t} | {fmt_us(med['hand']) if 'hand' in med else '–'} | {fmt_us(med['ember']) if 'ember' in med else '–'} | "
              f"{fmt_us(med['libtorch']) if 'libtorch' in med else '–'} | {fmt_ratio(rt, g[0])} ({g[0]}) | {fmt_ratio(rh, g[1])} ({g[1]}) | "
              f"{fmt_ratio(ct)}, {fmt_ratio(ch)} | {allocs} |")
        if t == 1:
            plot_rows.append((w, ct, ch))

    if chain:
        print("\n### deep_chain: 10^5 elementwise ops on a [16] vector, forward + backward\n")
        print("| threads | impl | nodes | per run | ns per node (goal ≤ 100) | CPU ns per node | live graph bytes per node | allocations per node (fwd+bwd) |")
        print("|---|---|---|---|---|---|---|---|")
        for t, impls in chain.items():
            for k, r in impls.items():
                mark = (" ✓" if r["ns_per_node"] <= 100 else " ✗") if k == "ember" else ""
                print(f"| {t} | {k} | {r['nodes']:.0f} | {fmt_us(r['median_us'])} | {r['ns_per_node']:.0f}{mark} | "
                      f"{r.get('cpu_ns_per_node', float('nan')):.0f} | {r['bytes_per_node']:.0f} | {r['allocs_per_node']:.1f} |")

    if act:
        print("\n### Activations: ns per element, ember / libtorch (goal: fwd+bwd ≤ 1.0 at every size)\n")
        print("| activation | size | threads | fwd ember | fwd libtorch | fwd ratio | fwd+bwd ember | fwd+bwd libtorch | fwd+bwd ratio |")
        print("|---|---|---|---|---|---|---|---|---|")
        for (a, size, t), passes in act.items():
            cells = []
            for p in ("fwd", "fwd_bwd"):
                d = passes.get(p, {})
                e, l = d.get("ember"), d.get("libtorch")
                cells += [f"{e['ns_per_element']:.3f}" if e else "–", f"{l['ns_per_element']:.3f}" if l else "–",
                          fmt_ratio(ratio(e and e["median_us"], l and l["median_us"]), 1.0 if p == "fwd_bwd" else None)]
            print(f"| {a} | {size} | {t} | " + " | ".join(cells) + " |")

    if other:
        print("\n### Layers: one op forward (+ backward), median per run\n")
        print("| workload | threads | ember | libtorch | ember / libtorch (goal ≤ 1.0) | CPU-time ratio |")
        print("|---|---|---|---|---|---|")
        for (w, t), impls in other.items():
            e, l = impls.get("ember"), impls.get("libtorch")
            rt = ratio(e and e["median_us"], l and l["median_us"])
            ct = ratio(e and e.get("thread_cpu_us"), l and l.get("thread_cpu_us"))
            print(f"| {w} | {t} | {fmt_us(e['median_us']) if e else '–'} | {fmt_us(l['median_us']) if l else '–'} | "
                  f"{fmt_ratio(rt, 1.0)} | {fmt_ratio(ct)} |")

    if plot and shutil.which("gnuplot"):
        data = "\n".join(f'"{n}" {rt if rt else "NaN"} {rh if rh else "NaN"}' for n, rt, rh in plot_rows)
        impls = chain.get(1, {})
        if "ember" in impls and "libtorch" in impls:
            key = "cpu_ns_per_node" if "cpu_ns_per_node" in impls["ember"] else "ns_per_node"
            data += f'\n"deep_chain" {impls["ember"][key] / impls["libtorch"][key]} NaN'
        script = f"""
set terminal svg size 900,420 font "sans,11"
set output "{plot}"
set termoption noenhanced
set title "ember / other implementation, 1 thread, CPU time per step (deep_chain: per node); lower is better"
set style data histogram
set style histogram cluster gap 1
set style fill solid 0.8 border -1
set logscale y
set yrange [0.01:20]
set ytics (0.01, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10)
set grid ytics
set key top left
set arrow from graph 0, first 1 to graph 1, first 1 nohead lw 2 dt 2
$data << EOD
{data}
EOD
plot $data using 2:xtic(1) title "ember / libtorch", '' using 3 title "ember / hand-written Eigen (the floor)"
"""
        subprocess.run(["gnuplot"], input=script, text=True, check=True)
        print(f"\n(plot written to {plot})", file=sys.stderr)


if __name__ == "__main__":
    main()
