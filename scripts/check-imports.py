#!/usr/bin/env python3
"""Checks the module import graph of the core (core/src): the engine imports no feature module
and is part of no import circle (docs/architecture.md, "Layers of the core"). Prints the graph
with --print. Exits 1 on a violation. Reads the sources as text: `crate::module` paths and names
re-exported at the crate root, outside comments and unit-test modules."""
import collections
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "core", "src")
# What the engine may import: the model layer only.
ENGINE_MAY_IMPORT = {"commit_log", "crypto", "error", "json", "options", "schema", "types"}


def module_of(rel):
    parts = rel.split(os.sep)
    return parts[0][:-3] if len(parts) == 1 else parts[0]


def sources():
    for folder, _, files in os.walk(ROOT):
        for name in files:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, ROOT)
            module = module_of(rel)
            if module == "lib" or "tests" in rel.split(os.sep):
                continue
            text = open(path, encoding="utf-8").read()
            text = re.split(r"#\[cfg\(test\)\]\s*mod tests", text)[0]
            yield module, re.sub(r"//.*", "", text)


def graph():
    lib = open(os.path.join(ROOT, "lib.rs"), encoding="utf-8").read()
    modules = {module_of(os.path.relpath(os.path.join(f, n), ROOT)) for f, _, ns in os.walk(ROOT) for n in ns}
    reexported = {}
    for m in re.finditer(r"pub use ([a-z_]+)::\{?([^;]*)\}?;", lib):
        for name in re.findall(r"[A-Za-z_]+", m.group(2)):
            reexported[name] = m.group(1)
    edges = collections.defaultdict(set)
    for module, text in sources():
        for target in re.findall(r"crate::([a-z_]+)", text):
            if target in modules and target != module:
                edges[module].add(target)
        uses = re.findall(r"use crate::\{([^;]*)\};", text, re.S) + re.findall(r"crate::([A-Za-z_]+)", text)
        for use in uses:
            for name in re.findall(r"\b[A-Za-z_]+\b", use):
                target = reexported.get(name)
                if target and target != module and target in modules:
                    edges[module].add(target)
    return edges


def cycles(edges):
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in list(edges):
        if v not in index:
            visit(v)
    return found


def main():
    edges = graph()
    if "--print" in sys.argv:
        for module in sorted(edges):
            print(f"{module} -> {', '.join(sorted(edges[module]))}")
    problems = []
    extra = edges.get("engine", set()) - ENGINE_MAY_IMPORT
    if extra:
        problems.append(f"the engine imports {', '.join(sorted(extra))} (only {', '.join(sorted(ENGINE_MAY_IMPORT))})")
    for component in cycles(edges):
        if "engine" in component:
            problems.append(f"the engine is in an import circle: {', '.join(component)}")
    for problem in problems:
        print(f"check-imports: {problem}", file=sys.stderr)
    if not problems:
        print("check-imports: the engine imports only the model and is in no import circle")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
