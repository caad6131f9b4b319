#!/usr/bin/env python3
"""Fills the generated blocks of the docs pages from the trainers' output.

A generated block in a page is

    <!-- generated: diagnostics_tour/table_step0.txt -->
    ...anything...
    <!-- end generated -->

and becomes the named file (relative to the results folder) in a ```text
fence. With --check nothing is written: the script lists every block whose
text differs from what the file holds now and exits 1, so a test can fail
when a page no longer shows what the code produces.

    scripts/render_docs.py [--results results] [--check] docs/page.md ...
"""
import argparse
import difflib
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

    return BLOCK.sub(fill, page), missing


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pages", nargs="+", type=pathlib.Path)
    ap.add_argument("--results", type=pathlib.Path, default=pathlib.Path("results"))
    ap.add_argument("--check", action="store_true", help="compare only; exit 1 when a page is stale")
    args = ap.parse_args()
    status = 0
    for path in args.pages:
        old = path.read_text()
        new, missing = render(old, args.results)
        for m in missing:
            print(f"render_docs: {path}: {m} does not exist (run the trainer first)", file=sys.stderr)
            status = 1
        if new == old:
            continue
        if args.check:
            status = 1
            print(f"render_docs: {path} is stale; regenerate with scripts/render_docs.py --results {args.results} {path}")
            sys.stdout.writelines(difflib.unified_diff(old.splitlines(True), new.splitlines(True), str(path), "now"))
        else:
            path.write_text(new)
            print(f"render_docs: updated {path}")
    return status


if __name__ == "__main__":
    sys.exit(main())
