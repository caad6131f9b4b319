#!/usr/bin/env python3
"""Turns the C++ examples of docs/api.md into a doctest file, so every
example on the page is compiled and run by the suite.

Each ```cpp block becomes one TEST_CASE named after its section and line.
It runs in its own scope after a default context (a Generator `gen`, `x`
[4, 3], `y` [4, 1], `w` [3, 1] requiring grad, a `model` and an `opt`), so
a block may redeclare any of them. A block that defines a template or a
class goes to namespace scope, where later blocks can use it. Comments
written just above a block (invisible in the rendered page) adjust it:

    <!-- example context: Linear fc(30, 16, gen); -->   code run before the block
    <!-- example throws: GraphError -->                 the block must throw this
    <!-- example skip: why -->                          not compiled (say why)

The block that only includes <ember/ember.hpp> is the file's own preamble.
Blocks run with the source folder as the working directory when they read
examples/, else in a fresh temporary folder of their own, removed afterwards
(so files they save land there and no example sees another's files).

    scripts/api_examples.py docs/api.md out.cpp
"""
import re
import sys

CONTEXT = """  Generator gen(0);
  auto x = Tensor::randn({4, 3}, gen);
  auto y = Tensor::randn({4, 1}, gen);
  auto w = Tensor::randn({3, 1}, gen).requires_grad_();
  auto model = mlp({3, 8, 1}, "relu", Init::kaiming, gen);
  SGD opt(model.parameters(), {.lr = 0.1});
  const int epochs = 3;
  (void)x, (void)y, (void)w, (void)epochs;
"""
PREAMBLE = "#include <ember/ember.hpp>\nusing namespace ember;  // the snippets below assume this"
TOP_LEVEL = re.compile(r"^(template\s*<|class |struct )", re.M)
MARK = re.compile(r"<!-- example (context|throws|skip): (.*?) -->")


def blocks(text):
    section, marks, lines = "", [], text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            section = line.lstrip("#").strip()
        m = MARK.search(line)
        if m:
            marks.append((m.group(1), m.group(2)))
        if line.strip() == "```cpp":
            start, body = i + 1, []
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            yield section, start + 1, "\n".join(body), marks
            marks = []
        elif line.strip() and not m:
            marks = [] if not line.startswith("<!--") else marks
        i += 1


def main():
    page, out = sys.argv[1], sys.argv[2]
    text = open(page).read()
    top, cases, skipped = [], [], []
    for section, line, body, marks in blocks(text):
        opts = {}
        for k, v in marks:
            opts.setdefault(k, []).append(v)
        where = f"{page}:{line}"
        if "skip" in opts:
            skipped.append(f"// {where}: skipped: {'; '.join(opts['skip'])}")
            continue
        if body.strip() == PREAMBLE:
            continue  # the file's own preamble
        if "#include" in body:
            raise SystemExit(f"api_examples: {where}: a block with #include cannot be compiled in a test case; "
                             "mark it <!-- example skip: why -->")
        if TOP_LEVEL.search(body):
            top.append(f"// {where}\n#line {line} \"{page}\"\n{body}\n")
            continue
        context = "\n".join("  " + c for c in opts.get("context", []))
        reads_examples = "examples/" in body
        code = f"#line {line} \"{page}\"\n{body}\n"
        if "throws" in opts:
            code = f"  CHECK_THROWS_AS([&] {{\n{code}  }}(), {opts['throws'][0]});\n"
        name = f"docs/api.md: {section} (line {line})".replace('"', "'")
        cases.append(
            f'TEST_CASE("{name}") {{\n  const ScopedDirectory dir({"true" if reads_examples else "false"});\n'
            f"{CONTEXT}  {{\n{context}\n  {{\n{code}  }}\n  }}\n}}\n")
    with open(out, "w") as f:
        f.write(f"// Generated from {page} by scripts/api_examples.py: edit the page, not this file.\n")
        f.write("#include <ember/ember.hpp>\n\n#include <unistd.h>\n\n#include <filesystem>\n#include <iostream>\n\n#include <doctest/doctest.h>\n\n")
        f.write("using namespace ember;\n\n")
        f.write("""namespace {
// The working directory for one example: the source folder, or a fresh
// temporary one; the previous one is restored at the end.
struct ScopedDirectory {
  std::filesystem::path old = std::filesystem::current_path();
  explicit ScopedDirectory(bool source) {
    if (source) {
      std::filesystem::current_path(EMBER_SOURCE_DIR);
    } else {
      dir = std::filesystem::temp_directory_path() /
            ("ember_api_examples_" + std::to_string(::getpid()) + "_" + std::to_string(++count()));
      std::filesystem::create_directories(dir);
      std::filesystem::current_path(dir);
    }
  }
  ~ScopedDirectory() {
    std::filesystem::current_path(old);
    std::error_code ignored;
    if (!dir.empty()) std::filesystem::remove_all(dir, ignored);
  }
  static int& count() {
    static int n = 0;
    return n;
  }
  std::filesystem::path dir;  // this example's own folder, removed afterwards
};
}  // namespace

""")
        f.write("\n".join(skipped) + "\n\n")
        f.write("\n".join(top) + "\n")
        f.write("\n".join(cases))
    return 0


if __name__ == "__main__":
    sys.exit(main())
