#!/usr/bin/python3
"""check_layers: the layering rules of docs/design.md, checked on the tree.

1. No circles between modules. A C module is a file pair x.c + x.h in one
   folder; module A depends on module B when a file of A includes a header
   of B or calls (links against) a function or uses an object that B
   defines. Calls are read off the object files of a build (nm), so a
   dependency hidden behind a forward declaration still counts. A Python
   module depends on every project module it imports, at any depth of the
   file (an import inside a function is still a dependency).
2. No function over 120 lines, in C (opening to closing brace) or Python.
3. Layers only call downwards: a library folder never depends on a folder
   above it (see LAYERS below), and clients never include server code.

usage: check_layers.py SOURCE_ROOT [BUILD_DIR]
Without BUILD_DIR only includes are read for C (no call edges).
Exit status 0 when every rule holds, 1 with one line per finding otherwise.
"""
import ast
import os
import re
import subprocess
import sys

MAX_LINES = 120

# Folders of C code, lowest layer first. A folder may use folders of a lower
# rank only (and itself); equal ranks must not use each other.
LAYERS = {
    "lut": 0,
    "space": 1,
    "surrogate": 1,
    "server": 2,
    "clients/c": 2,
}
PY_ROOT = "clients/python"
C_DIRS = list(LAYERS) + ["tests/unit", "bench"]
INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def c_files(root):
    for d in C_DIRS:
        full = os.path.join(root, d)
        if not os.path.isdir(full):
            continue
        for name in sorted(os.listdir(full)):
            if name.endswith((".c", ".h")):
                yield os.path.join(d, name)


def module_of(path):
    """x.c, x.h and x_internal.h are one module: x."""
    stem = os.path.splitext(path)[0]
    return stem[: -len("_internal")] if stem.endswith("_internal") else stem


def folder_of(module):
    return os.path.dirname(module)


def resolve_include(root, src, name, headers):
    """The project header that #include "name" in src means, or None."""
    local = os.path.normpath(os.path.join(os.path.dirname(src), name))
    if os.path.isfile(os.path.join(root, local)):
        return local
    base = os.path.basename(name)
    hits = headers.get(base, [])
    return hits[0] if len(hits) == 1 else (hits[0] if hits else None)


def include_edges(root, files):
    headers = {}
    for f in files:
        if f.endswith(".h"):
            headers.setdefault(os.path.basename(f), []).append(f)
    edges = {}
    for f in files:
        with open(os.path.join(root, f), encoding="utf-8") as fh:
            for line in fh:
                m = INCLUDE_RE.match(line)
                if not m:
                    continue
                target = resolve_include(root, f, m.group(1), headers)
                if target and module_of(target) != module_of(f):
                    edges.setdefault(module_of(f), {}).setdefault(
                        module_of(target), "includes " + m.group(1))
    return edges


def object_files(root, build):
    """(source path relative to the root, object path) for each C object
    whose source still exists (a build dir may keep objects of moved files)."""
    seen = {}
    for dirpath, _, names in os.walk(build):
        for name in names:
            if not name.endswith(".c.o"):
                continue
            obj = os.path.join(dirpath, name)
            # BUILD/SUBDIR/CMakeFiles/TARGET.dir/REL.c.o compiles SUBDIR/REL.c
            # (REL may climb out of SUBDIR with "__" for "..").
            head, sep, rel = os.path.relpath(obj, build).partition(".dir" + os.sep)
            if not sep:
                continue
            subdir = head.split("CMakeFiles")[0]
            rel = rel[: -len(".o")].replace("__" + os.sep, ".." + os.sep)
            src = os.path.normpath(os.path.join(subdir, rel))
            if os.path.isfile(os.path.join(root, src)):
                seen.setdefault(src, obj)
    return seen


def call_edges(root, build):
    defined, undefined = {}, {}
    for src, obj in object_files(root, build).items():
        out = subprocess.run(["nm", obj], capture_output=True, text=True,
                             check=True).stdout
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == "U":
                undefined.setdefault(module_of(src), set()).add(parts[1])
            elif len(parts) == 3 and parts[1] in "TDBRC":
                defined.setdefault(parts[2], module_of(src))
    edges = {}
    for mod, syms in undefined.items():
        for sym in sorted(syms):
            owner = defined.get(sym)
            if owner and owner != mod:
                edges.setdefault(mod, {}).setdefault(owner, "calls " + sym)
    return edges


def python_edges(root):
    base = os.path.join(root, PY_ROOT)
    modules = {}
    for dirpath, _, names in os.walk(base):
        for name in names:
            if name.endswith(".py"):
                rel = os.path.relpath(os.path.join(dirpath, name), base)
                dotted = rel[:-3].replace(os.sep, ".")
                if dotted.endswith(".__init__"):
                    dotted = dotted[: -len(".__init__")]
                modules[dotted] = os.path.join(PY_ROOT, rel)
    edges = {}

    def add(src, target, why):
        while target and target not in modules:
            target = target.rpartition(".")[0]
        if target and target != src:
            edges.setdefault(src, {}).setdefault(target, why)

    for dotted, path in modules.items():
        with open(os.path.join(root, path), encoding="utf-8") as fh:
            tree = ast.parse(fh.read(), path)
        pkg = dotted if path.endswith("__init__.py") else dotted.rpartition(".")[0]
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    add(dotted, a.name, "imports " + a.name)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    parts = pkg.split(".")
                    anchor = ".".join(parts[: len(parts) - node.level + 1])
                    mod = anchor + ("." + node.module if node.module else "")
                else:
                    mod = node.module or ""
                for a in node.names:
                    full = mod + "." + a.name
                    add(dotted, full if full in modules else mod,
                        "imports " + full)
    return edges, modules


def merge(a, b):
    for src, dsts in b.items():
        for dst, why in dsts.items():
            a.setdefault(src, {}).setdefault(dst, why)
    return a


def cycles(edges):
    """Strongly connected components of more than one node (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]
    nodes = set(edges) | {d for ds in edges.values() for d in ds}

    def visit(v):
        work = [(v, iter(sorted(edges.get(v, {}))))]
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        while work:
            node, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges.get(w, {})))))
                    advanced = True
                    break
                if w in on:
                    low[node] = min(low[node], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def describe_cycle(comp, edges):
    members = set(comp)
    links = []
    for src in comp:
        for dst, why in sorted(edges.get(src, {}).items()):
            if dst in members:
                links.append(f"{src} -> {dst} ({why})")
    return "; ".join(links)


def layer_findings(edges):
    found = []
    for src, dsts in sorted(edges.items()):
        sf = folder_of(src)
        if sf not in LAYERS:
            continue
        for dst, why in sorted(dsts.items()):
            df = folder_of(dst)
            if df == sf or df not in LAYERS:
                continue
            if LAYERS[df] >= LAYERS[sf]:
                found.append(f"layer: {src} ({sf}) depends on {dst} ({df}): {why}")
    return found


def c_long_functions(root, files):
    found = []
    for f in files:
        if not f.endswith(".c"):
            continue
        with open(os.path.join(root, f), encoding="utf-8") as fh:
            lines = fh.read().split("\n")
        start = None
        for i, line in enumerate(lines):
            if start is None and (line == "{" or (re.match(r"^[A-Za-z_].*\)\s*\{$", line)
                                                  and not line.startswith(("struct", "typedef",
                                                                           "enum", "union")))):
                start = i
            elif start is not None and line == "}":
                n = i - start + 1
                if n > MAX_LINES:
                    sig = lines[start - 1] if lines[start] == "{" else lines[start]
                    found.append(f"long function: {f}:{start + 1} {sig.strip()} is {n} lines")
                start = None
    return found


def py_long_functions(root):
    found = []
    for dirpath, _, names in sorted(os.walk(root)):
        if "/." in dirpath or "/build" in dirpath or "/var" in dirpath \
                or "node_modules" in dirpath:
            continue
        for name in sorted(names):
            if not name.endswith(".py"):
                continue
            path = os.path.join(dirpath, name)
            with open(path, encoding="utf-8") as fh:
                tree = ast.parse(fh.read(), path)
            for node in ast.walk(tree):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    n = node.end_lineno - node.lineno + 1
                    if n > MAX_LINES:
                        found.append(f"long function: {os.path.relpath(path, root)}:"
                                     f"{node.lineno} {node.name} is {n} lines")
    return found


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__.strip().splitlines()[-3], file=sys.stderr)
        return 2
    root = argv[1]
    build = argv[2] if len(argv) == 3 else None
    files = list(c_files(root))
    edges = include_edges(root, files)
    if build:
        merge(edges, call_edges(root, build))
    pyedges, _ = python_edges(root)
    findings = []
    for comp in cycles(edges) + cycles(pyedges):
        findings.append("circle: " + describe_cycle(comp, merge(dict(edges), pyedges)))
    findings += layer_findings(edges)
    findings += c_long_functions(root, files)
    findings += py_long_functions(root)
    for line in findings:
        print(line)
    nmods = len(set(edges) | {d for ds in edges.values() for d in ds})
    print(f"check_layers: {nmods} C modules, {len(pyedges)} Python modules with imports, "
          f"{len(findings)} findings")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
