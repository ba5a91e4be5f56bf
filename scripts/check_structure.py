#!/usr/bin/env python3
"""Repository structure check for CI (Python 3.11, standard library only).

Run from anywhere inside the repository:

    python3 scripts/check_structure.py                 # every rule
    python3 scripts/check_structure.py --cycles-only   # only rule 4
    python3 scripts/check_structure.py --edges crates/eval/src/score.rs
    python3 scripts/check_structure.py --self-test     # checks the checker

Exit status 0 when the tree is clean, 1 with one line per violation
(`file:line: message`) otherwise, 2 on a usage error.

Rules
-----
1. `lines`: no `.rs` file has more than 800 lines, except the GEMM kernels
   (`crates/models/src/kernels/`), test folders (`crates/*/tests/`,
   `tests/`), `fuzz/` and the vendored `crates/models/src/t5.rs`.
2. `unsafe`: no `unsafe` code (`unsafe {`, `unsafe fn`, `unsafe impl`,
   `unsafe trait`, `unsafe extern`) outside `crates/models/src/kernels/`,
   except in `crates/models/src/parallel.rs`, `crates/models/src/weights.rs`
   and `crates/cli/memory.rs`; there every unsafe block, impl, trait or extern
   block needs a `// SAFETY:` comment on its own line, on one of the three
   lines above it, or in the comment block that ends on one of those lines.
   Comments, strings and identifiers such as `unsafe_code` do not count.
3. `forbid`: the lib.rs of text, registry, eval, engine and batch starts with
   `#![forbid(unsafe_code)]`.
4. `cycle`: no import cycle between the files of a crate (every
   `crates/*/src` root, and `crates/cli/main.rs` for the binary). Each file
   is a node; file A depends on file B when A names a path (in a `use` or
   inline: `crate::...`, `super::...`, `self::...`, or a name in scope such
   as a child module) that resolves to an item defined in B. Paths through
   re-exports resolve to the file that defines the item. `mod x;`
   declarations and re-export lines (`pub use`, `pub(crate) use`, ...) are
   not edges by themselves, but using a re-exported name elsewhere in the
   same file is. Paths in `#[cfg(test)] mod tests` count too; `use super::*`
   from an inline module names its own file. Every strongly connected
   component of more than one file is reported with the edges inside it.
5. `word`: the word matched by BANNED_WORD (whole word, singular or plural,
   any case) appears in no tracked file, except the Porter stemmer reference
   data (`crates/eval/tests/fixtures/rouge/stems.tsv`) and this script.
   Hits are printed with the word masked.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

MAX_LINES = 800
BANNED_WORD = re.compile(r"\bsessions?\b", re.IGNORECASE)

LINE_EXEMPT_PREFIXES = ("crates/models/src/kernels/", "fuzz/")
LINE_EXEMPT_FILES = {"crates/models/src/t5.rs"}
TEST_DIR = re.compile(r"^(crates/[^/]+/)?tests/")

UNSAFE_EXEMPT_PREFIXES = ("crates/models/src/kernels/",)
UNSAFE_ALLOWED = {
    "crates/models/src/parallel.rs",
    "crates/models/src/weights.rs",
    "crates/cli/memory.rs",
}
FORBID_CRATES = ("text", "registry", "eval", "engine", "batch")
WORD_EXEMPT = {"crates/eval/tests/fixtures/rouge/stems.tsv", "scripts/check_structure.py"}


@dataclass(order=True)
class Violation:
    rule: str
    path: str
    line: int
    message: str

    def render(self) -> str:
        return f"{self.path}:{self.line}: [{self.rule}] {self.message}"


# --------------------------------------------------------------------------
# Lexer: enough of Rust to tell code from comments, strings and lifetimes.
# --------------------------------------------------------------------------


@dataclass
class Tok:
    kind: str  # "ident", "punct", "str", "num", "life"
    text: str
    line: int


@dataclass
class Lexed:
    toks: list[Tok]
    comments: dict[int, list[str]]  # line where the comment starts -> texts


RAW_STR = re.compile(r'[bc]?r(#*)"')
IDENT_START = re.compile(r"[A-Za-z_\u00c0-\uffff]")
IDENT = re.compile(r"[A-Za-z0-9_\u00c0-\uffff]*")
NUMBER = re.compile(r"[0-9][0-9A-Za-z_]*(\.[0-9][0-9A-Za-z_]*)?")


def lex(text: str) -> Lexed:
    toks: list[Tok] = []
    comments: dict[int, list[str]] = {}
    i, n, line = 0, len(text), 1
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
            continue
        if c.isspace():
            i += 1
            continue
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j == -1 else j
            comments.setdefault(line, []).append(text[i:j])
            i = j
            continue
        if text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            comments.setdefault(line, []).append(text[i:j])
            line += text.count("\n", i, j)
            i = j
            continue
        m = RAW_STR.match(text, i)
        if m:
            close = '"' + m.group(1)
            j = text.find(close, m.end())
            j = n if j == -1 else j + len(close)
            toks.append(Tok("str", text[m.end() : max(m.end(), j - len(close))], line))
            line += text.count("\n", i, j)
            i = j
            continue
        if c == '"' or (c in "bc" and text.startswith('"', i + 1)):
            j = i + (1 if c == '"' else 2)
            start = j
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            toks.append(Tok("str", text[start:j], line))
            line += text.count("\n", i, j)
            i = j + 1
            continue
        if c == "'" or (c == "b" and text.startswith("'", i + 1)):
            q = i if c == "'" else i + 1
            if text.startswith("\\", q + 1):
                j = text.find("'", q + 3)
                j = n if j == -1 else j + 1
                toks.append(Tok("str", text[q:j], line))
                i = j
            elif q + 2 < n and text[q + 2] == "'" and text[q + 1] != "\n":
                toks.append(Tok("str", text[q : q + 3], line))
                i = q + 3
            else:
                m = IDENT.match(text, q + 1)
                toks.append(Tok("life", text[q : m.end()], line))
                i = max(m.end(), q + 1)
            continue
        if c == "r" and text.startswith("r#", i) and IDENT_START.match(text, i + 2):
            m = IDENT.match(text, i + 2)
            toks.append(Tok("ident", text[i + 2 : m.end()], line))
            i = m.end()
            continue
        if IDENT_START.match(c):
            m = IDENT.match(text, i)
            toks.append(Tok("ident", text[i : m.end()], line))
            i = m.end()
            continue
        if c.isdigit():
            m = NUMBER.match(text, i)
            toks.append(Tok("num", m.group(0), line))
            i = m.end()
            continue
        if text.startswith("::", i):
            toks.append(Tok("punct", "::", line))
            i += 2
            continue
        toks.append(Tok("punct", c, line))
        i += 1
    return Lexed(toks, comments)


# --------------------------------------------------------------------------
# Module tree, items and paths of one crate.
# --------------------------------------------------------------------------

ITEM_KEYWORDS = {"fn", "struct", "enum", "trait", "type", "const", "static", "union"}
NOT_NAMES = {"fn", "unsafe", "extern", "async", "mut", "_", "for"}


@dataclass
class Def:
    file: str
    line: int
    kind: str


@dataclass
class Import:
    module: "Module"
    segs: list[str]
    file: str
    line: int
    is_pub: bool


@dataclass(eq=False)
class Module:
    name: str
    parent: "Module | None"
    file: str  # the file holding this module's body
    children: dict[str, "Module"] = field(default_factory=dict)
    items: dict[str, list[Def]] = field(default_factory=dict)
    imports: dict[str, list[Import]] = field(default_factory=dict)
    globs: list[Import] = field(default_factory=list)

    def root(self) -> "Module":
        m = self
        while m.parent is not None:
            m = m.parent
        return m

    def qualname(self) -> str:
        parts, m = [], self
        while m.parent is not None:
            parts.append(m.name)
            m = m.parent
        return "::".join(["crate", *reversed(parts)])


@dataclass
class PathUse:
    module: Module
    segs: list[str]
    file: str
    line: int
    via: str  # "use", "path", "name"


@dataclass
class Crate:
    root_file: str
    root: Module | None = None
    files: list[str] = field(default_factory=list)
    uses: list[PathUse] = field(default_factory=list)
    # file -> names used as bare identifiers outside `use` lines -> first line
    bare: dict[str, dict[str, int]] = field(default_factory=dict)
    problems: list[Violation] = field(default_factory=list)


def _display(path: str, base: str) -> str:
    try:
        return os.path.relpath(path, base)
    except ValueError:
        return path


def build_crate(root_file: str) -> Crate:
    crate = Crate(root_file=root_file)
    root = Module("crate", None, root_file)
    crate.root = root
    _parse_file(crate, root_file, root, os.path.dirname(root_file), set())
    return crate


def _child_dir(path: str, via_path_attr: bool) -> str:
    """Where the `mod x;` files of the module file `path` live (crate roots
    are handled by the caller): beside a `mod.rs` (or a `#[path]` file),
    else in the folder named after the file (`foo.rs` -> `foo/`)."""
    base = os.path.basename(path)
    if via_path_attr or base == "mod.rs":
        return os.path.dirname(path)
    return os.path.join(os.path.dirname(path), base[:-3])


def _parse_use_tree(toks: list[Tok], i: int, prefix: list[str], out: list) -> int:
    """Parses one use tree at toks[i]; appends (segs, alias, is_glob, line)."""
    segs = list(prefix)
    if i < len(toks) and toks[i].text == "::":
        segs.append("::")  # `::name`: an extern crate
        i += 1
    while i < len(toks):
        t = toks[i]
        if t.text == "{":
            i += 1
            while i < len(toks) and toks[i].text != "}":
                if toks[i].text == ",":
                    i += 1
                    continue
                i = _parse_use_tree(toks, i, segs, out)
            return i + 1
        if t.text == "*":
            out.append((segs, None, True, t.line))
            return i + 1
        if t.kind == "ident":
            segs = segs + [t.text]
            i += 1
            if i < len(toks) and toks[i].text == "::":
                i += 1
                continue
            alias = None
            if i + 1 < len(toks) and toks[i].text == "as":
                alias = toks[i + 1].text
                i += 2
            out.append((segs, alias, False, t.line))
            return i
        return i + 1  # something unexpected: skip it
    return i


def _is_pub_before(toks: list[Tok], i: int) -> bool:
    """Whether the item starting at toks[i] has a `pub` or `pub(...)`."""
    j = i - 1
    if j >= 0 and toks[j].text == ")":
        depth = 0
        while j >= 0:
            if toks[j].text == ")":
                depth += 1
            elif toks[j].text == "(":
                depth -= 1
                if depth == 0:
                    break
            j -= 1
        j -= 1
    return j >= 0 and toks[j].text == "pub"


def _parse_file(crate: Crate, path: str, module: Module, child_dir: str, seen: set) -> None:
    if path in seen:
        return
    seen.add(path)
    crate.files.append(path)
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        crate.problems.append(Violation("mod", path, 1, f"cannot read: {e}"))
        return
    toks = lex(text).toks
    bare = crate.bare.setdefault(path, {})
    # brace stack entries: (is_module_body, module, child_dir)
    stack: list[tuple[bool, Module, str]] = [(True, module, child_dir)]
    pending_path: str | None = None
    pending_mod: tuple[Module, str] | None = None
    i = 0
    while i < len(toks):
        t = toks[i]
        at_mod_level, cur, cdir = stack[-1]
        if t.text == "#" and i + 5 < len(toks):
            # #[path = "..."]
            k = i + 1
            if toks[k].text == "!":
                k += 1
            if (
                toks[k].text == "["
                and toks[k + 1].text == "path"
                and toks[k + 2].text == "="
                and toks[k + 3].kind == "str"
            ):
                pending_path = toks[k + 3].text
        if t.text == "{":
            if pending_mod is not None:
                stack.append((True, pending_mod[0], pending_mod[1]))
                pending_mod = None
            else:
                stack.append((False, cur, cdir))
            pending_path = None
            i += 1
            continue
        if t.text == "}":
            if len(stack) > 1:
                stack.pop()
            pending_path = None
            i += 1
            continue
        if t.text == ";":
            pending_path = None
        if t.kind != "ident":
            i += 1
            continue
        prev = toks[i - 1].text if i > 0 else ""
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if t.text == "mod" and nxt is not None and nxt.kind == "ident" and prev != "::":
            name = nxt.text
            after = toks[i + 2].text if i + 2 < len(toks) else ""
            if after == ";":
                if pending_path is not None:
                    candidates = [os.path.normpath(os.path.join(os.path.dirname(path), pending_path))]
                    if stack[-1][0] and len(stack) > 1:
                        candidates = [os.path.normpath(os.path.join(cdir, pending_path))]
                    via_attr = True
                else:
                    candidates = [
                        os.path.join(cdir, name + ".rs"),
                        os.path.join(cdir, name, "mod.rs"),
                    ]
                    via_attr = False
                found = next((c for c in candidates if os.path.isfile(c)), None)
                if found is None:
                    crate.problems.append(
                        Violation("mod", path, t.line, f"`mod {name};`: none of {candidates} exists")
                    )
                else:
                    child = Module(name, cur, found)
                    cur.children[name] = child
                    _parse_file(crate, found, child, _child_dir(found, via_attr), seen)
                pending_path = None
                i += 3
                continue
            if after == "{":
                child = Module(name, cur, path)
                cur.children[name] = child
                inline_dir = (
                    os.path.normpath(os.path.join(cdir, pending_path))
                    if pending_path is not None
                    else os.path.join(cdir, name)
                )
                pending_mod = (child, inline_dir)
                pending_path = None
                i += 2
                continue
        if t.text == "use" and prev != "::" and nxt is not None:
            out: list = []
            j = _parse_use_tree(toks, i + 1, [], out)
            is_pub = _is_pub_before(toks, i)
            for segs, alias, is_glob, line in out:
                if segs and segs[0] == "::":
                    continue  # extern crate
                if is_glob:
                    imp = Import(cur, segs, path, line, is_pub)
                    cur.globs.append(imp)
                    if not is_pub:
                        crate.uses.append(PathUse(cur, segs, path, line, "use"))
                    continue
                target = segs
                if len(segs) > 1 and segs[-1] == "self":
                    target = segs[:-1]
                name = alias or target[-1]
                imp = Import(cur, target, path, line, is_pub)
                if name != "_":
                    cur.imports.setdefault(name, []).append(imp)
                if not is_pub:
                    crate.uses.append(PathUse(cur, target, path, line, "use"))
            i = max(j, i + 1)
            continue
        if (
            t.text == "macro_rules"
            and nxt is not None
            and nxt.text == "!"
            and i + 2 < len(toks)
            and toks[i + 2].kind == "ident"
        ):
            # a macro: importable by path once re-exported with `use`
            cur.items.setdefault(toks[i + 2].text, []).append(Def(path, t.line, "macro"))
            i += 3
            continue
        if at_mod_level and t.text in ITEM_KEYWORDS and nxt is not None and nxt.kind == "ident":
            if nxt.text not in NOT_NAMES and prev not in ("::", "."):
                cur.items.setdefault(nxt.text, []).append(Def(path, nxt.line, t.text))
        prev2 = toks[i - 2].text if i > 1 else ""
        starts_path = not (
            prev == "::"
            or (prev == "." and prev2 != ".")  # a method or field, not `..crate::X`
            or (prev == "in" and prev2 == "(")  # pub(in crate::x)
            or (prev == "$" and t.text != "crate")
        )
        if starts_path:
            # a path: ident (:: ident)+, or a bare name
            segs = [t.text]
            j = i + 1
            while j + 1 < len(toks) and toks[j].text == "::" and toks[j + 1].kind == "ident":
                segs.append(toks[j + 1].text)
                j += 2
            if len(segs) > 1 or t.text in ("crate", "super", "self") and nxt and nxt.text == "::":
                if t.text != "Self":
                    crate.uses.append(PathUse(cur, segs, path, t.line, "path"))
                i = j
                continue
            if not (nxt is not None and nxt.text == "!"):
                bare.setdefault(t.text, t.line)
        i += 1


# Resolution ---------------------------------------------------------------


@dataclass
class Target:
    file: str
    line: int
    module: Module | None = None  # set when the target is a module


def _lookup(mod: Module, name: str, guard: set) -> list[Target]:
    key = (id(mod), name)
    if key in guard:
        return []
    guard = guard | {key}
    found: list[Target] = []
    if name in mod.children:
        child = mod.children[name]
        found.append(Target(child.file, 1, child))
    for d in mod.items.get(name, []):
        found.append(Target(d.file, d.line))
    for imp in mod.imports.get(name, []):
        found.extend(_resolve(imp.module, imp.segs, guard))
    if found:
        return found
    for imp in mod.globs:
        for t in _resolve(imp.module, imp.segs, guard):
            if t.module is not None:
                found.extend(_lookup(t.module, name, guard))
    return found


def _resolve(mod: Module, segs: list[str], guard: set | None = None) -> list[Target]:
    """Where the path `segs`, written in `mod`, leads: the defining files."""
    guard = guard or set()
    if not segs:
        return []
    first, rest = segs[0], segs[1:]
    if first == "crate":
        cur = [Target(mod.root().file, 1, mod.root())]
    elif first == "self":
        cur = [Target(mod.file, 1, mod)]
    elif first == "super":
        if mod.parent is None:
            return []
        cur = [Target(mod.parent.file, 1, mod.parent)]
    else:
        cur = _lookup(mod, first, guard)
    for seg in rest:
        mods = [t for t in cur if t.module is not None]
        if not mods:
            # an enum variant, an associated item: the type's file
            return cur
        m = mods[0].module
        if seg == "super":
            if m.parent is None:
                return []
            cur = [Target(m.parent.file, 1, m.parent)]
        elif seg == "self":
            cur = [mods[0]]
        else:
            cur = _lookup(m, seg, guard)
        if not cur:
            return []
    return cur


@dataclass
class Edge:
    src: str
    dst: str
    line: int
    path: str


def crate_edges(crate: Crate) -> list[Edge]:
    edges: list[Edge] = []
    for u in crate.uses:
        for t in _resolve(u.module, u.segs):
            if t.file != u.file:
                edges.append(Edge(u.file, t.file, u.line, "::".join(u.segs)))
    # Names brought in by a re-export and used elsewhere in the same file.
    for file in crate.files:
        bare = crate.bare.get(file, {})
        for mod in _modules(crate.root):
            if mod.file != file:
                continue
            for name, imps in mod.imports.items():
                if name not in bare:
                    continue
                for imp in imps:
                    if not imp.is_pub:
                        continue
                    for t in _resolve(imp.module, imp.segs):
                        if t.file != file:
                            edges.append(Edge(file, t.file, bare[name], f"{name} (re-exported)"))
    return edges


def _modules(root: Module | None):
    if root is None:
        return
    stack = [root]
    while stack:
        m = stack.pop()
        yield m
        stack.extend(m.children.values())


def strongly_connected(nodes: list[str], edges: list[Edge]) -> list[list[str]]:
    adj: dict[str, set[str]] = {n: set() for n in nodes}
    for e in edges:
        adj.setdefault(e.src, set()).add(e.dst)
        adj.setdefault(e.dst, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        # iterative Tarjan
        work = [(v, iter(sorted(adj[v])))]
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        while work:
            node, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(adj[w]))))
                    advanced = True
                    break
                if w in on_stack:
                    low[node] = min(low[node], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))

    for v in sorted(adj):
        if v not in index:
            visit(v)
    return sorted(out)


def find_cycles(root_file: str, base: str) -> tuple[list[Violation], Crate, list[Edge]]:
    crate = build_crate(root_file)
    edges = crate_edges(crate)
    out = list(crate.problems)
    for comp in strongly_connected(crate.files, edges):
        members = set(comp)
        shown = [_display(f, base) for f in comp]
        inner = sorted(
            {(e.src, e.line, e.dst, e.path) for e in edges if e.src in members and e.dst in members}
        )
        detail = "".join(
            f"\n    {_display(s, base)}:{ln} -> {_display(d, base)} ({p})" for s, ln, d, p in inner
        )
        first = inner[0] if inner else (comp[0], 1, "", "")
        out.append(
            Violation(
                "cycle",
                _display(first[0], base),
                first[1],
                f"import cycle in {_display(root_file, base)} between {len(comp)} files: "
                f"{', '.join(shown)}; edges:{detail}",
            )
        )
    return out, crate, edges


def crate_roots(repo: str) -> list[str]:
    roots = []
    crates_dir = os.path.join(repo, "crates")
    if not os.path.isdir(crates_dir):
        return roots
    for name in sorted(os.listdir(crates_dir)):
        d = os.path.join(crates_dir, name)
        for cand in ("src/lib.rs", "src/main.rs", "main.rs", "lib.rs"):
            p = os.path.join(d, cand)
            if os.path.isfile(p):
                roots.append(p)
        bins = os.path.join(d, "src", "bin")
        if os.path.isdir(bins):
            for b in sorted(os.listdir(bins)):
                if b.endswith(".rs"):
                    roots.append(os.path.join(bins, b))
                elif os.path.isfile(os.path.join(bins, b, "main.rs")):
                    roots.append(os.path.join(bins, b, "main.rs"))
    return roots


# --------------------------------------------------------------------------
# The other rules.
# --------------------------------------------------------------------------


def repo_files(repo: str) -> list[str]:
    """Tracked files plus new ones git does not ignore, relative to repo."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=repo,
            check=True,
            capture_output=True,
        ).stdout
        names = sorted({n for n in out.decode("utf-8", "replace").split("\0") if n})
    except (OSError, subprocess.CalledProcessError):
        names = []
        for dirpath, dirnames, filenames in os.walk(repo):
            dirnames[:] = [d for d in dirnames if d not in (".git", "target")]
            for f in filenames:
                names.append(os.path.relpath(os.path.join(dirpath, f), repo))
        names.sort()
    return [n for n in names if os.path.isfile(os.path.join(repo, n))]


def check_lines(repo: str, files: list[str]) -> list[Violation]:
    out = []
    for rel in files:
        if not rel.endswith(".rs"):
            continue
        if rel.startswith(LINE_EXEMPT_PREFIXES) or rel in LINE_EXEMPT_FILES or TEST_DIR.match(rel):
            continue
        text = Path(repo, rel).read_text(encoding="utf-8", errors="replace")
        count = len(text.splitlines())
        if count > MAX_LINES:
            out.append(Violation("lines", rel, MAX_LINES + 1, f"{count} lines (at most {MAX_LINES})"))
    return out


UNSAFE_FOLLOW = {"{", "fn", "impl", "trait", "extern"}
NEEDS_SAFETY = {"{", "impl", "trait", "extern"}


def _has_safety(
    lines: list[str], comments: dict[int, list[str]], unsafe_lines: set[int], line: int
) -> bool:
    """A `// SAFETY:` comment on `line`, on one of the 3 lines above it, or in
    the comment block that ends on one of them; a line with another unsafe
    site in between stops the search (each site needs its own comment)."""

    def comment_has(ln: int) -> bool:
        return any("SAFETY:" in c for c in comments.get(ln, []))

    def is_comment(ln: int) -> bool:
        return lines[ln - 1].strip().startswith(("//", "/*", "*"))

    if comment_has(line):
        return True
    ln = line - 1
    for _ in range(3):
        if ln < 1 or ln in unsafe_lines:
            return False
        if comment_has(ln):
            return True
        if is_comment(ln):
            k = ln - 1
            while k >= 1 and is_comment(k):
                if comment_has(k):
                    return True
                k -= 1
            return False
        ln -= 1
    return False


def check_unsafe(repo: str, files: list[str]) -> list[Violation]:
    out = []
    for rel in files:
        if not rel.endswith(".rs") or rel.startswith(UNSAFE_EXEMPT_PREFIXES):
            continue
        text = Path(repo, rel).read_text(encoding="utf-8", errors="replace")
        if "unsafe" not in text:
            continue
        lexed = lex(text)
        lines = text.splitlines()
        toks = lexed.toks
        unsafe_lines = {t.line for t in toks if t.kind == "ident" and t.text == "unsafe"}
        for i, t in enumerate(toks):
            if t.kind != "ident" or t.text != "unsafe" or i + 1 >= len(toks):
                continue
            nxt = toks[i + 1].text
            attribute = nxt == "(" and i > 0 and toks[i - 1].text == "["
            if nxt not in UNSAFE_FOLLOW and not attribute:
                continue
            what = "attribute" if attribute else "block" if nxt == "{" else nxt
            if rel not in UNSAFE_ALLOWED:
                out.append(
                    Violation("unsafe", rel, t.line, f"unsafe {what} outside the allowed files")
                )
            elif (nxt in NEEDS_SAFETY or attribute) and not _has_safety(lines, lexed.comments, unsafe_lines, t.line):
                out.append(
                    Violation(
                        "unsafe",
                        rel,
                        t.line,
                        f"unsafe {what} without a `// SAFETY:` comment within the 3 lines above",
                    )
                )
    return out


FORBID = re.compile(r"#\s*!\s*\[\s*forbid\s*\(([^)]*)\)\s*\]")


def check_forbid(repo: str) -> list[Violation]:
    out = []
    for name in FORBID_CRATES:
        rel = f"crates/{name}/src/lib.rs"
        p = Path(repo, rel)
        if not p.is_file():
            out.append(Violation("forbid", rel, 1, "lib.rs is missing"))
            continue
        lexed = lex(p.read_text(encoding="utf-8", errors="replace"))
        code = " ".join(t.text for t in lexed.toks)
        ok = any("unsafe_code" in m.group(1) for m in FORBID.finditer(code))
        if not ok:
            out.append(Violation("forbid", rel, 1, "missing `#![forbid(unsafe_code)]`"))
    return out


def check_word(repo: str, files: list[str]) -> list[Violation]:
    out = []
    for rel in files:
        if rel in WORD_EXEMPT:
            continue
        data = Path(repo, rel).read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary
        text = data.decode("utf-8", "replace")
        for no, line in enumerate(text.splitlines(), 1):
            for m in BANNED_WORD.finditer(line):
                lo = max(0, m.start() - 40)
                hi = min(len(line), m.end() + 40)
                snippet = line[lo:m.start()] + "<WORD>" + line[m.end():hi]
                out.append(
                    Violation("word", rel, no, f"col {m.start() + 1}: ...{snippet.strip()}...")
                )
    return out


def check_cycles(repo: str) -> list[Violation]:
    out = []
    for root in crate_roots(repo):
        found, _, _ = find_cycles(root, repo)
        out.extend(found)
    return out


# --------------------------------------------------------------------------
# Self-test.
# --------------------------------------------------------------------------


def _write(base: str, files: dict[str, str]) -> None:
    for rel, text in files.items():
        p = Path(base, rel)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")


def self_test() -> int:
    failures = []

    def expect(cond: bool, what: str) -> None:
        if not cond:
            failures.append(what)

    with tempfile.TemporaryDirectory() as tmp:
        # A crate with three cycles and several traps that are not cycles.
        _write(
            tmp,
            {
                "crates/fake/src/lib.rs": (
                    "//! fake\n#![forbid(unsafe_code)]\n"
                    "mod score;\nmod bleu;\nmod leaf;\npub mod net;\npub mod outer;\n"
                    "pub use score::{Details, Score};\n"
                    "pub use leaf::Shared as Common;\n"
                ),
                "crates/fake/src/score.rs": (
                    "//! score\nuse crate::bleu::BleuDetails;\n"
                    "pub struct Score;\npub enum Details { Bleu(BleuDetails) }\n"
                ),
                "crates/fake/src/bleu.rs": (
                    "//! bleu\npub struct BleuDetails;\n"
                    "pub fn f() -> crate::Details { todo!() }\n"
                    "#[cfg(test)]\nmod tests {\n    use super::*;\n"
                    "    use crate::Common;\n    #[test] fn t() { let _ = f(); }\n}\n"
                ),
                "crates/fake/src/leaf.rs": "//! leaf\npub struct Shared; // crate::score::Score\n",
                # foo.rs + foo/ child dir; the child names super::Thing.
                "crates/fake/src/net.rs": (
                    "//! net\nmod http;\nmod store;\npub struct Thing;\n"
                    "pub(crate) use self::store::Store;\n"
                    "fn g() { let _ = http::get(); }\n"
                ),
                "crates/fake/src/net/http.rs": (
                    "//! http\nuse super::{Thing, store::{self}};\n"
                    'pub fn get() -> Thing { let _ = "crate::leaf::Shared"; Thing }\n'
                ),
                "crates/fake/src/net/store.rs": "//! store\npub struct Store;\n",
                # mod.rs layout, nested inline module, #[path].
                "crates/fake/src/outer/mod.rs": (
                    "//! outer\npub mod inner {\n    pub fn h() { super::other::k(); }\n}\n"
                    '#[path = "elsewhere.rs"]\nmod other;\n'
                ),
                "crates/fake/src/outer/elsewhere.rs": (
                    "//! other\npub fn k() {}\nfn z() { crate::outer::inner::h(); }\n"
                ),
                # a second crate: no cycles, and a binary root
                "crates/clean/src/lib.rs": "//! clean\nmod a;\nmod b;\n",
                "crates/clean/src/a.rs": "//! a\npub use crate::b::B;\n",
                "crates/clean/src/b.rs": "//! b\npub struct B;\n#[cfg(test)]\nmod tests { use super::*; }\n",
                "crates/bin/main.rs": "//! bin\nmod x;\nfn main() { x::run(); }\n",
                "crates/bin/x.rs": "//! x\npub fn run() {}\n",
            },
        )
        got = {}
        for root in crate_roots(tmp):
            found, _, _ = find_cycles(root, tmp)
            got[_display(root, tmp)] = found
        expect(
            set(got) == {"crates/fake/src/lib.rs", "crates/clean/src/lib.rs", "crates/bin/main.rs"},
            f"crate roots: {sorted(got)}",
        )
        fake = got.get("crates/fake/src/lib.rs", [])
        comps = [v.message.split(": ")[1].split(";")[0] for v in fake if v.rule == "cycle"]
        expect(
            "crates/fake/src/bleu.rs, crates/fake/src/score.rs" in comps,
            f"score <-> bleu through a re-export not found: {comps}",
        )
        expect(
            "crates/fake/src/net.rs, crates/fake/src/net/http.rs" in comps,
            f"net.rs <-> net/http.rs (super::Thing) not found: {comps}",
        )
        expect(len(fake) == 3, f"expected 3 cycles in fake, got {len(fake)}: {comps}")
        expect(
            any("outer/elsewhere.rs" in c and "outer/mod.rs" in c for c in comps),
            f"outer/mod.rs <-> #[path] file not found: {comps}",
        )
        expect(not any("leaf.rs" in c for c in comps), f"a comment made an edge: {comps}")
        expect(not any("store.rs" in c for c in comps), f"a re-export made an edge: {comps}")
        expect(got.get("crates/clean/src/lib.rs") == [], f"false cycle: {got.get('crates/clean/src/lib.rs')}")
        expect(got.get("crates/bin/main.rs") == [], f"false cycle in bin: {got.get('crates/bin/main.rs')}")

        # unsafe, SAFETY comments, forbid, line counts, the banned word.
        word = BANNED_WORD.pattern.replace("\\b", "").replace("s?", "")
        _write(
            tmp,
            {
                "crates/models/src/parallel.rs": (
                    "// SAFETY: fine\nunsafe impl Send for X {}\n"
                    "fn a() {\n    // SAFETY: long\n    // explanation\n    // that\n"
                    "    // goes on\n    unsafe { b() }\n}\n"
                    "fn c() { unsafe { d() } }\n"
                    "pub unsafe fn e() {}\n"
                ),
                "crates/clean/src/c.rs": (
                    '#![forbid(unsafe_code)]\n// unsafe { }\nconst S: &str = "unsafe { }";\n'
                    "fn unsafe_path() {}\nfn f() { unsafe { g() } }\n#[unsafe(no_mangle)]\nfn h() {}\n"
                ),
                "crates/text/src/lib.rs": "//! t\n#![forbid(unsafe_code)]\n",
                "crates/eval/src/lib.rs": "//! e\n#![forbid(missing_docs, unsafe_code)]\n",
                "crates/batch/src/lib.rs": "//! b\n// #![forbid(unsafe_code)]\n",
                "crates/models/src/kernels/k.rs": "fn f() { unsafe { g() } }\n",
                "crates/clean/src/long.rs": "//! x\n" + "\n" * 801,
                "crates/clean/tests/long.rs": "//! x\n" + "\n" * 801,
                "notes.md": f"A {word.upper()}s here.\nNot a {word}_id.\n",
            },
        )
        files = repo_files(tmp)
        unsafe = check_unsafe(tmp, files)
        where = sorted((v.path, v.line) for v in unsafe)
        expect(
            where
            == [
                ("crates/clean/src/c.rs", 5),
                ("crates/clean/src/c.rs", 6),
                ("crates/models/src/parallel.rs", 10),
            ],
            f"unsafe: {where}",
        )
        lines = [(v.path, v.line) for v in check_lines(tmp, files)]
        expect(lines == [("crates/clean/src/long.rs", 801)], f"lines: {lines}")
        words = [(v.path, v.line) for v in check_word(tmp, files)]
        expect(words == [("notes.md", 1)], f"word: {words}")
        forbid = {v.path for v in check_forbid(tmp)}
        expect(
            forbid == {f"crates/{c}/src/lib.rs" for c in ("registry", "engine", "batch")},
            f"forbid: {sorted(forbid)}",
        )

    if failures:
        for f in failures:
            print(f"self-test FAILED: {f}")
        return 1
    print("self-test passed")
    return 0


# --------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--self-test", action="store_true", help="check the checker on a fake tree")
    ap.add_argument("--cycles-only", "--list-cycles-only", action="store_true", help="only rule 4")
    ap.add_argument("--edges", metavar="FILE", help="print the edges from FILE (debugging)")
    ap.add_argument("--repo", default=None, help="repository root (default: this script's parent)")
    args = ap.parse_args(argv)

    if args.self_test:
        return self_test()

    repo = os.path.abspath(args.repo or Path(__file__).resolve().parent.parent)

    if args.edges:
        target = os.path.abspath(args.edges)
        for root in crate_roots(repo):
            crate = build_crate(root)
            if target not in crate.files:
                continue
            for e in sorted(crate_edges(crate), key=lambda e: (e.line, e.dst)):
                if e.src == target:
                    print(f"{_display(e.src, repo)}:{e.line} -> {_display(e.dst, repo)} ({e.path})")
        return 0

    violations: list[Violation] = []
    if args.cycles_only:
        violations = check_cycles(repo)
    else:
        files = repo_files(repo)
        violations += check_lines(repo, files)
        violations += check_unsafe(repo, files)
        violations += check_forbid(repo)
        violations += check_cycles(repo)
        violations += check_word(repo, files)

    if violations:
        order = {"lines": 0, "unsafe": 1, "forbid": 2, "mod": 3, "cycle": 3, "word": 4}
        violations.sort(key=lambda v: (order.get(v.rule, 9), v.path, v.line))
        for v in violations:
            print(v.render())
        print(f"check_structure: {len(violations)} violation(s)")
        return 1
    print("check_structure: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
