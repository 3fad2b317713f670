"""The import rule, read from the source: which package may import which, which modules stay
pure, no import loop inside a package, and tests/ and bench/ sharing only tests/support.

Every ``import`` statement counts wherever it stands: at module level, inside a function, and
under ``if TYPE_CHECKING:``. A type-only import is still a dependency of the design (the module
cannot be read without the other one), and ``TYPE_CHECKING`` is the usual way to hide an import
loop from the interpreter, so it hides nothing here. Names given as strings on purpose (the CLI's
``"realtime.server:serve"`` entry points, RQ job names) are no imports; they are checked to name
something that exists.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# What each package may import from the project (itself always): realtime -> routing -> desk,
# ingest -> routing -> desk; desk imports none of them; realtime and ingest never each other.
LAYERS: dict[str, frozenset[str]] = {
    "desk": frozenset(),
    "routing": frozenset({"desk"}),
    "realtime": frozenset({"routing", "desk"}),
    "ingest": frozenset({"routing", "desk"}),
}

# Sans-I/O cores: decisions, parsing and wire formats, exhaustively unit-tested. They import
# only each other and libraries that do no I/O. (desk.settings reads and writes the secret file
# of a development data dir, so it is not among them.)
PURE = frozenset({
    "desk.automation", "desk.business_hours", "desk.case_links", "desk.contracts", "desk.errors",
    "desk.filetypes", "desk.hooks", "desk.i18n", "desk.identity", "desk.inactivity", "desk.limits",
    "desk.mail_rules", "desk.origins", "desk.search_query", "desk.site_config", "desk.site_form",
    "desk.ticket_fields",
    "desk.sla", "desk.smtp_relay", "desk.status_rules", "desk.ticket_rules",
    "desk.validate", "desk.visibility", "desk.visit_rules",
    "desk.report_math", "desk.kb.render", "desk.kb.rules", "desk.kb.stem", "desk.kb.query",
    "desk.kb.page_html", "desk.kb.report",
    "routing.errors", "routing.events", "routing.keys", "routing.mail_budget", "routing.policy",
    "routing.resp",
    "realtime.errors", "realtime.protocol", "realtime.session", "realtime.frame_meta",
    "realtime.protocol_visits", "realtime.protocol_im", "realtime.whoson",
    "ingest.addresses", "ingest.compose", "ingest.errors", "ingest.headers", "ingest.loops",
    "ingest.mime", "ingest.notices", "ingest.threading",
})
# Event loops, sockets, processes and the clients of every server we talk to.
IO = frozenset({
    "asyncio", "socket", "ssl", "selectors", "subprocess", "threading", "multiprocessing",
    "redis", "rq", "sqlalchemy", "asyncpg", "aiosqlite", "aioimaplib", "aiosmtplib", "smtplib",
    "imaplib", "httpx", "starlette", "uvicorn", "websockets",
})

# The one place that imports by name at run time: the table of entry points.
DYNAMIC_IMPORTERS = frozenset({"desk.entry_points"})


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the module imported (the deepest one of this tree it names), or the name
    path: Path
    line: int
    where: str  # "module level", "in a function" or "TYPE_CHECKING"

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line} imports {self.target} ({self.where})"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(*tops: str) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for top in tops:
        for path in sorted((ROOT / top).rglob("*.py")):
            found[module_name(path)] = path
    return found


PACKAGES = modules(*LAYERS)
EVERYTHING = {**PACKAGES, **modules("tests", "bench")}


@functools.cache
def parsed(module: str) -> ast.Module:
    path = EVERYTHING[module]
    return ast.parse(path.read_text(), str(path))


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and (
                (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
                or (isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING")):
            for stmt in node.body:
                inside.update(id(n) for n in ast.walk(stmt))
    return inside


def _in_functions(tree: ast.AST) -> set[int]:
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            for child in ast.iter_child_nodes(node):
                inside.update(id(n) for n in ast.walk(child))
    return inside


def _resolve(name: str) -> str:
    """The deepest module of this tree that ``name`` names, else ``name`` itself."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in EVERYTHING:
            return candidate
    return name


@functools.cache
def imports(module: str) -> tuple[Import, ...]:
    return tuple(_imports(module))


def _imports(module: str) -> Iterator[Import]:
    path, tree = EVERYTHING[module], parsed(module)
    typing_only, in_function = _type_checking_nodes(tree), _in_functions(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            if base == "__future__":
                continue
            # ``from pkg import mod`` imports the module pkg.mod; ``from mod import name``, mod.
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in EVERYTHING else base
                     for a in node.names]
        else:
            continue
        where = ("TYPE_CHECKING" if id(node) in typing_only
                 else "in a function" if id(node) in in_function else "module level")
        for name in dict.fromkeys(names):
            yield Import(module, _resolve(name), path, node.lineno, where)


def top(name: str) -> str:
    return name.split(".", 1)[0]


def test_every_package_imports_only_the_packages_below_it() -> None:
    wrong = [str(imp) for module in PACKAGES for imp in imports(module)
             if top(imp.target) in LAYERS and top(imp.target) != top(module)
             and top(imp.target) not in LAYERS[top(module)]]
    assert not wrong, "\n".join(["", *wrong])


def test_pure_modules_import_no_io_and_only_pure_modules() -> None:
    assert PURE <= PACKAGES.keys(), "a pure module was renamed: update PURE"
    wrong = [str(imp) for module in sorted(PURE) for imp in imports(module)
             if top(imp.target) in IO or (top(imp.target) in LAYERS and imp.target not in PURE)]
    assert not wrong, "\n".join(["", *wrong])


def import_cycles(package: str) -> list[list[Import]]:
    """Every strongly connected set of modules inside ``package`` (Tarjan), as the imports
    that tie it."""
    edges: dict[str, list[Import]] = {
        m: [i for i in imports(m) if top(i.target) == package and i.target != m]
        for m in PACKAGES if top(m) == package}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(m: str) -> None:
        index[m] = low[m] = len(index)
        stack.append(m)
        for imp in edges[m]:
            if imp.target not in index:
                visit(imp.target)
                low[m] = min(low[m], low[imp.target])
            elif imp.target in stack:
                low[m] = min(low[m], index[imp.target])
        if low[m] == index[m]:  # m is the root of a strongly connected set: take it off
            members = set(stack[stack.index(m):])
            del stack[stack.index(m):]
            if len(members) > 1:
                found.append(members)

    for m in sorted(edges):
        if m not in index:
            visit(m)
    return [[i for m in sorted(c) for i in edges[m] if i.target in c] for c in found]


def _report(cycles: list[list[Import]]) -> str:
    return "".join(f"\nloop {n}:\n" + "\n".join(f"  {i}" for i in cycle)
                   for n, cycle in enumerate(cycles, 1))


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_no_import_loop_inside_a_package(package: str) -> None:
    cycles = import_cycles(package)
    assert not cycles, _report(cycles)


def test_realtime_has_no_import_loop() -> None:
    cycles = import_cycles("realtime")
    assert not cycles, _report(cycles)


def test_names_given_as_strings_exist() -> None:
    """Entry points and job names written as strings on purpose ("realtime.server:serve",
    "ingest.jobs.notify_reply_job") name a module of this tree and a name it defines."""
    pattern = re.compile(rf"(?:{'|'.join(LAYERS)})(?:\.\w+)+(?::\w+)?")
    seen: list[str] = []
    for module in PACKAGES:
        for node in ast.walk(parsed(module)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                    pattern.fullmatch(node.value):
                seen.append(node.value)
                target, _, attr = node.value.replace(":", ".").rpartition(".")
                if node.value in PACKAGES:  # a module named whole, as in "python -m desk.cli"
                    continue
                assert target in PACKAGES, f"{module}: {node.value!r} names no module"
                defined = {n.name for n in parsed(target).body
                           if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)}
                assert attr in defined, f"{module}: {node.value!r}: {target} defines no {attr}"
    assert "realtime.server:serve" in seen and "ingest.jobs.notify_reply_job" in seen


def test_only_the_cli_imports_by_name_at_run_time() -> None:
    calls = [f"{path.relative_to(ROOT)}:{node.lineno}"
             for module, path in PACKAGES.items() if module not in DYNAMIC_IMPORTERS
             for node in ast.walk(parsed(module))
             if isinstance(node, ast.Call) and (
                 (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                 or (isinstance(node.func, ast.Name)
                     and node.func.id in {"import_module", "__import__"}))]
    assert not calls, f"import_module outside {sorted(DYNAMIC_IMPORTERS)}: {calls}"


def _may_import(module: str, target: str) -> bool:
    """bench/ and every test package import tests/support, not each other; tests/support is
    shared by all of them, so it imports none of them."""
    if top(target) not in {"tests", "bench"} or target.startswith("tests.support"):
        return True
    if module.startswith("tests.support"):
        return False
    parts = module.split(".")
    home = "bench" if parts[0] == "bench" else ".".join(parts[:2])  # tests.routing, ...
    return target == home or target.startswith(home + ".")


def test_tests_and_benches_share_only_tests_support() -> None:
    """bench/ imports tests/support and nothing else of tests/; tests/ never imports bench/; a
    test package (tests/routing, ...) imports its own modules and tests/support only."""
    wrong = [str(imp) for module in EVERYTHING.keys() - PACKAGES.keys()
             for imp in imports(module) if not _may_import(module, imp.target)]
    assert not wrong, "\n".join(["", *sorted(wrong)])
