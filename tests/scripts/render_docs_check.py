#!/usr/bin/env python3
"""What scripts/render_docs.py --check answers: 0 for a fresh page, 1 for a
stale one, 77 (a skip) when the page's numbers came from other arithmetic,
and 1 again when another page is stale in the same call.

    render_docs_check.py path/to/render_docs.py
"""
import pathlib
import subprocess
import sys
import tempfile

TEMPLATE = ("Loss {{ run/summary.json:loss | .3f }}, computed with "
            "<!-- arithmetic: run/arithmetic.txt --><!-- /arithmetic -->.\n")


def main():
    script = sys.argv[1]
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        results = root / "results"
        (results / "run").mkdir(parents=True)
        (root / "pages").mkdir()
        (root / "pages" / "a.md.in").write_text(TEMPLATE)
        (root / "pages" / "b.md.in").write_text(TEMPLATE.split(", computed")[0] + ".\n")  # records no arithmetic

        def run(summary_loss, arithmetic, *pages, check=True):
            (results / "run" / "summary.json").write_text(f'{{"loss": {summary_loss}}}')
            (results / "run" / "arithmetic.txt").write_text(arithmetic + "\n")
            cmd = [sys.executable, script, "--results", str(results)] + (["--check"] if check else [])
            cmd += [str(root / "pages" / f"{p}.md.in") for p in pages]
            return subprocess.run(cmd, capture_output=True, text=True)

        def expect(what, got, code, needle=None):
            if got.returncode != code or (needle and needle not in got.stdout + got.stderr):
                failures.append(f"{what}: exit {got.returncode} (wanted {code}); output: {got.stdout}{got.stderr}")

        run(0.5, "g++ 12; SIMD AVX2; GEMM Eigen", "a", "b", check=False)  # writes a.md and b.md
        page = (root / "a.md").read_text()
        if "0.500" not in page or "SIMD AVX2; GEMM Eigen<!-- /arithmetic -->" not in page:
            failures.append(f"rendered page lacks the value or the arithmetic line: {page!r}")
        expect("fresh page", run(0.5, "g++ 12; SIMD AVX2; GEMM Eigen", "a"), 0)
        expect("other number, same arithmetic", run(0.6, "g++ 12; SIMD AVX2; GEMM Eigen", "a"), 1, "is stale")
        expect("other arithmetic", run(0.6, "g++ 12; SIMD AVX512; GEMM Eigen", "a"), 77, "other arithmetic")
        # Same numbers on other arithmetic: nothing to compare but nothing differs either.
        expect("same numbers, other arithmetic", run(0.5, "g++ 12; SIMD AVX512; GEMM Eigen", "a"), 0)
        (root / "b.md").write_text((root / "b.md").read_text().replace("0.500", "0.400"))
        expect("one page skipped, another stale", run(0.5, "g++ 12; SIMD AVX512; GEMM Eigen", "a", "b"), 1)
    for f in failures:
        print("render_docs_check:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
