#!/usr/bin/env python3
"""Fills the docs pages from the trainers' output.

A generated block in a page is

    <!-- generated: diagnostics_tour/table_step0.txt -->
    ...anything...
    <!-- end generated -->

and becomes the named file (relative to the results folder) in a ```text
fence. With --check nothing is written: the script lists every block whose
text differs from what the file holds now and exits 1, so a test can fail
when a page no longer shows what the code produces.

    scripts/render_docs.py [--results results] [--check] docs/page.md ...

A page can also be generated whole from a template: docs/pages/NAME.md.in
renders to docs/NAME.md (the folder above the template's). A template holds
generated blocks as above and inline values

    {{ vanishing_gradients/summary.json:sigmoid.xavier.test_acc | .1f }}

a key path (dots between keys, [i] for list items) into a JSON file of the
results folder, with an optional Python format spec after '|';
{{ FILE.txt }} inlines a text file as it is (a table a trainer wrote), and
{{ commit }} the commit the results came from (the first line of
results/COMMIT, which examples/make_figures.sh writes). --check ignores the
commit: a page is stale only when its numbers or text differ.

A page records the arithmetic its numbers were computed with,

    <!-- arithmetic: vanishing_gradients/arithmetic.txt -->...<!-- /arithmetic -->

filled from the line the trainer wrote (compiler, SIMD instruction sets,
GEMM library: ember::arithmetic()). Other vector widths or another GEMM round
differently, and a chaotic training run amplifies the last bit, so --check
compares a page's numbers only with results of the same arithmetic: when the
line differs it says so and exits 77 (CTest's skip), unless a page is stale
for other reasons.

    scripts/render_docs.py [--results results] [--check] docs/pages/NAME.md.in ...
"""
import argparse
import difflib
import json
import pathlib
import re
import sys

BLOCK = re.compile(r"(<!-- generated: (?P<name>[^ ]+) -->\n)(?P<body>.*?)(<!-- end generated -->)", re.S)


def render(page, results):
    missing = []

    def fill(m):
        source = results / m.group("name")
        if not source.is_file():
            missing.append(str(source))
            return m.group(0)
        text = source.read_text()
        if not text.endswith("\n"):
            text += "\n"
        return m.group(1) + "```text\n" + text + "```\n" + m.group(4)

    def arith(m):
        source = results / m.group("name")
        if not source.is_file():
            missing.append(str(source))
            return m.group(0)
        line = source.read_text().split("\n")[0].strip()
        return f"<!-- arithmetic: {m.group('name')} -->{line}<!-- /arithmetic -->"

    return ARITH.sub(arith, BLOCK.sub(fill, page)), missing


def arithmetic_lines(page):
    return [m.group("line") for m in ARITH.finditer(page)]


def same_but_arithmetic(new, old):
    """True when the pages differ only in their arithmetic lines."""
    blank = lambda page: ARITH.sub(lambda m: f"<!-- arithmetic: {m.group('name')} --><!-- /arithmetic -->", page)
    return blank(new) == blank(old)


VALUE = re.compile(r"\{\{\s*(?P<ref>[^}|]+?)\s*(\|\s*(?P<spec>[^}]*?)\s*)?\}\}")
ARITH = re.compile(r"<!-- arithmetic: (?P<name>[^ ]+) -->(?P<line>[^<]*)<!-- /arithmetic -->")
SKIP = 77  # CTest's SKIP_RETURN_CODE for the freshness tests
COMMIT = re.compile(r"<!-- commit -->(?P<id>[^<]*)<!-- /commit -->")
KEY = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def lookup(data, path, where):
    for name, index in KEY.findall(path):
        try:
            data = data[int(index)] if index else data[name]
        except (KeyError, IndexError, TypeError):
            raise LookupError(f"{where}: no '{path}' (stuck at '{name or index}')")
    return data


def expand(template, results, commit, where):
    """The template's {{ }} values filled in; LookupError names the first missing one."""
    cache = {}

    def value(m):
        ref, spec = m.group("ref"), m.group("spec") or ""
        if ref == "commit":
            return f"<!-- commit -->{commit}<!-- /commit -->"
        file, _, key = ref.partition(":")
        source = results / file
        if not source.is_file():
            raise LookupError(f"{where}: {source} does not exist (run the trainer first)")
        if not key:
            return source.read_text().rstrip("\n")
        if file not in cache:
            cache[file] = json.loads(source.read_text())
        v = lookup(cache[file], key, f"{where}: {source}")
        return format(v, spec) if spec else str(v)

    return VALUE.sub(value, template)


def render_template(path, results, old_output):
    commit_file = results / "COMMIT"
    commit = commit_file.read_text().split("\n")[0].strip() if commit_file.is_file() else "unknown"
    if old_output is not None:  # --check: keep the page's own commit, compare the rest
        m = COMMIT.search(old_output)
        if m:
            commit = m.group("id")
    header = f"<!-- Generated from {path} by scripts/render_docs.py: edit the template, not this page. -->\n"
    page = header + expand(path.read_text(), results, commit, str(path))
    return render(page, results)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pages", nargs="+", type=pathlib.Path)
    ap.add_argument("--results", type=pathlib.Path, default=pathlib.Path("results"))
    ap.add_argument("--check", action="store_true", help="compare only; exit 1 when a page is stale")
    args = ap.parse_args()
    status = 0
    for path in args.pages:
        source = path
        if path.name.endswith(".md.in"):
            out = path.parent.parent / path.name[: -len(".in")]
            old = out.read_text() if out.is_file() else ""
            try:
                new, missing = render_template(path, args.results, old if args.check else None)
            except LookupError as e:
                print(f"render_docs: {e}", file=sys.stderr)
                status = 1
                continue
            path = out
        else:
            old = path.read_text()
            new, missing = render(old, args.results)
        for m in missing:
            print(f"render_docs: {path}: {m} does not exist (run the trainer first)", file=sys.stderr)
            status = 1
        if new == old or (args.check and same_but_arithmetic(new, old)):
            continue
        if args.check and arithmetic_lines(new) != arithmetic_lines(old):
            print(f"render_docs: {path} was computed with other arithmetic than this build's, so its numbers "
                  f"cannot be compared here (page: {'; '.join(arithmetic_lines(old)) or 'none recorded'} | "
                  f"now: {'; '.join(arithmetic_lines(new))}); regenerate with examples/make_figures.sh")
            status = status or SKIP
            continue
        if args.check:
            status = 1
            print(f"render_docs: {path} is stale; regenerate with scripts/render_docs.py --results {args.results} {source}")
            sys.stdout.writelines(difflib.unified_diff(old.splitlines(True), new.splitlines(True), str(path), "now"))
        else:
            path.write_text(new)
            print(f"render_docs: updated {path}")
    return status


if __name__ == "__main__":
    sys.exit(main())
